// Node-wide token-bucket rate limiting for one function: one bucket per key (the client IP or a
// request header's value), shared by every worker of the process.
//
// Threads: a RateLimiter is built once with the App and then used by every worker at the same
// time; admit() is thread-safe. The key space is split into kShards shards chosen by the key's
// hash, each with its own small mutex and map, so two workers contend only when their keys land
// in the same shard, and then only for a lookup and a few arithmetic operations. A plain mutex
// is acceptable here: admission of a rate-limited route is not the L1 cache path, and with 64
// shards the chance two of a handful of workers meet on one lock is small.
//
// Allocation: admit() allocates only when it stores a key it has not seen (a map node and the
// key's bytes); a key already tracked costs no allocation. Memory is bounded: a shard holds at
// most max_keys / kShards keys. When a shard is full, buckets that have refilled completely are
// dropped first (a full bucket carries no state: a fresh one is identical); if none has, the one
// idle the longest is dropped, which can only favour that key, never grow the table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgefn::router {

struct RateLimitSettings {
  double per_second = 1;          // refill rate in tokens per second; > 0, fractions allowed
  std::uint64_t burst = 1;        // bucket capacity; >= 1
  std::string header;             // lower-case header name to key on; empty: the client IP
  std::size_t max_keys = 100000;  // tracked keys, over all shards
};

// Which bucket a request draws from. Header values and client IPs are separate key spaces, so a
// header cannot name (and drain) the bucket of an address.
struct RateKey {
  bool from_header = false;
  std::string_view text;
};

struct RateDecision {
  bool allowed = false;
  std::uint64_t limit = 0;      // the burst
  std::uint64_t remaining = 0;  // whole tokens left after this request
  // Refused only: seconds until one token is available, rounded up, at least 1.
  std::uint64_t retry_after_seconds = 0;
};

class RateLimiter {
 public:
  static constexpr std::size_t kShards = 64;
  // Longer keys are tracked by their first kMaxKeyBytes bytes, bounding each entry's size.
  static constexpr std::size_t kMaxKeyBytes = 128;

  // Monotonic nanoseconds. The default reads CLOCK_MONOTONIC; tests inject a fake.
  using Clock = std::function<std::int64_t()>;
  static std::int64_t monotonic_now();

  explicit RateLimiter(RateLimitSettings settings, Clock clock = &monotonic_now);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  const RateLimitSettings& settings() const { return settings_; }

  // The key of a request: the configured header's value when the request has it, else the
  // client IP. `header_value` is that header's value (nullopt-like: pass `has_header = false`).
  RateKey key_for(bool has_header, std::string_view header_value, std::string_view client_ip) const;

  // Takes one token from `key`'s bucket when it has one. Thread-safe.
  RateDecision admit(RateKey key);

  // Keys currently tracked (all shards); for tests and the admin view.
  std::size_t tracked_keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t last_ns = 0;  // when tokens was last brought up to date
  };
  // Map keys are a tag byte ('h' header, 'i' IP) followed by the key text.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const RateKey& key) const;
    std::size_t operator()(const std::string& key) const;
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(const std::string& a, const std::string& b) const { return a == b; }
    bool operator()(const RateKey& a, const std::string& b) const;
    bool operator()(const std::string& a, const RateKey& b) const { return (*this)(b, a); }
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket, Hash, Equal> buckets;
  };

  double refilled(const Bucket& bucket, std::int64_t now_ns) const;
  void make_room(Shard& shard, std::int64_t now_ns);

  RateLimitSettings settings_;
  Clock clock_;
  std::size_t max_per_shard_ = 1;
  std::array<Shard, kShards> shards_;
};

}  // namespace edgefn::router
