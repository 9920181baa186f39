// Purges: rules that make stored responses unusable in every layer of the node at once, as
// Varnish's bans do. A rule matches a stored response by its path (exact, or a prefix; on one
// host or any) or by a tag the response listed in Cache-Tag.
//
// Rules are checked lazily, never by scanning a cache: a layer stores with each response the
// sequence of the newest rule when its request began (its mark), and a lookup checks it only
// against the rules added since. With no new rule that is one relaxed atomic load, so L1 stays
// lock-free; otherwise a shared lock and the few new rules. L1 then moves an entry's mark up, so
// it is checked once per purge. A response read back from Redis carries no mark: its wall-clock
// store time is compared with the rules' instead.
//
// Memory is bounded: the newest kMaxRules rules are kept. A response older than the rules that
// were dropped counts as purged (a miss, never a stale answer).
//
// Threads: every member function is thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

namespace edgefn::cache {

struct PurgeRule {
  enum class Kind : std::uint8_t {
    kPath,    // the path, exactly (every query and variant of it)
    kPrefix,  // every path that starts with `text`
    kTag,     // every response whose Cache-Tag lists `text`
  };
  Kind kind = Kind::kPath;
  std::string text;
  std::string host;  // lower-case, without a port; empty: any host (paths only)
};

class PurgeList {
 public:
  static constexpr std::size_t kMaxRules = 4096;

  // Adds one purge's rules at `wall_ms` (Unix milliseconds), all under one new sequence, which
  // it returns. Responses stored by requests that began before it are purged when they match.
  std::uint64_t add(std::span<const PurgeRule> rules, std::int64_t wall_ms);

  // The newest sequence: what a request that begins now stores as its mark.
  std::uint64_t latest() const { return latest_.load(std::memory_order_acquire); }

  // Whether a response stored with `mark` is purged: `key` is its canonical cache key (its host
  // and path are read from it, cache/key.h) and `header_lines` its stored header lines.
  // Allocates nothing.
  bool purged(std::uint64_t mark, std::string_view key, std::string_view header_lines) const;
  // The same for a response stored at `stored_at_ms` (wall clock): one read back from Redis.
  bool purged_since(std::int64_t stored_at_ms, std::string_view key,
                    std::string_view header_lines) const;

 private:
  struct Entry {
    PurgeRule rule;
    std::uint64_t sequence;
    std::int64_t wall_ms;
  };
  // Whether a rule for which after(rule) holds matches; also true when even the oldest rule kept
  // is after it and older ones were dropped.
  template <class After>
  bool any_match(After after, std::string_view key, std::string_view header_lines) const;

  mutable std::shared_mutex mutex_;
  std::deque<Entry> rules_;        // oldest first
  std::uint64_t forgotten_ = 0;    // the newest sequence dropped, 0 while none was
  std::int64_t forgotten_ms_ = 0;  // and its time
  std::atomic<std::uint64_t> latest_{0};
};

// The host and path of a canonical cache key (cache/key.h); false if it is not one.
bool key_host_and_path(std::string_view key, std::string_view& host, std::string_view& path);

// Whether the stored header lines carry `tag` in a Cache-Tag field (comma-separated, any case of
// the field name, the tag compared exactly).
bool lists_cache_tag(std::string_view header_lines, std::string_view tag);

}  // namespace edgefn::cache
