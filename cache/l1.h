// L1: the per-worker response cache. A byte-bounded LRU of serialized responses, looked up by
// CacheKey, owned by one worker thread and never locked. A hit hands back the stored bytes, ready
// to send, without allocating.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cache/key.h"

namespace edgefn::cache {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// When a stored response may be used (RFC 9111 section 4.2): it is fresh before `fresh_until`;
// from then until `stale_until` it may only be served stale (stale-while-revalidate,
// stale-if-error; the caller decides which window applies); at `stale_until` it is gone.
// `stored_at` is when the response was received, for the Age header.
struct Lifetime {
  TimePoint stored_at{};
  TimePoint fresh_until{};
  TimePoint stale_until{};
};

// Counters since construction, for edgefn_cache_* metrics. Reading them is free.
struct L1Stats {
  std::uint64_t hits = 0;        // find() returned a fresh entry
  std::uint64_t stale_hits = 0;  // find() returned an entry past fresh_until
  std::uint64_t misses = 0;      // find() returned null (including expired entries)
  std::uint64_t expired = 0;     // entries find() removed because now >= stale_until
  std::uint64_t inserts = 0;     // insert() admitted an entry
  std::uint64_t rejected = 0;    // insert() refused: too large, already expired, or no memory
  std::uint64_t evictions = 0;   // entries removed, least recently used first, to make room
};

class L1Cache {
 public:
  // One stored response: key, serialized response and lifetime, all in one allocation sized to
  // it. Read-only to users; its address is stable for as long as it stays valid (see find()).
  class Entry {
   public:
    std::string_view key() const { return {bytes(), key_size_}; }
    // The complete serialized response (status line, headers, body), sent as is.
    std::string_view response() const { return {bytes() + key_size_, response_size_}; }
    std::uint64_t hash() const { return hash_; }
    const Lifetime& lifetime() const { return lifetime_; }
    // The caller's word stored with the entry (the runtime keeps the URI's invalidation
    // generation there).
    std::uint64_t tag() const { return tag_; }
    // A second word of the caller's, which it may change in place (set_mark): the runtime keeps
    // the purge sequence the entry has been checked against there.
    std::uint64_t mark() const { return mark_; }
    bool fresh(TimePoint now) const { return now < lifetime_.fresh_until; }
    // Time since stored_at, never negative.
    Clock::duration age(TimePoint now) const {
      return now > lifetime_.stored_at ? now - lifetime_.stored_at : Clock::duration::zero();
    }
    // Bytes this entry counts against the budget: key + response + kEntryOverhead.
    std::size_t charge() const { return kEntryOverhead + key_size_ + response_size_; }

   private:
    friend class L1Cache;
    Entry(std::uint64_t hash, std::uint32_t key_size, std::size_t response_size,
          const Lifetime& lifetime, std::uint32_t slot)
        : hash_(hash),
          lifetime_(lifetime),
          response_size_(response_size),
          key_size_(key_size),
          slot_(slot) {}
    // The key and response bytes follow the Entry in its allocation.
    const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
    char* bytes() { return reinterpret_cast<char*>(this + 1); }

    std::uint64_t hash_;
    std::uint64_t tag_ = 0;
    std::uint64_t mark_ = 0;
    Lifetime lifetime_;
    std::size_t response_size_;
    std::uint32_t key_size_;
    std::uint32_t pins_ = 0;
    std::uint32_t slot_;  // index in the slab; kNoSlot once removed while pinned
  };

  // What each entry costs beyond its key and response bytes: the Entry header, its slab slot
  // (counted twice: the slab grows by doubling), its share of the index (up to four 8-byte
  // buckets: the index runs between 1/4 and 1/2 full) and the allocator's own header. l1.cc
  // checks the parts fit. The index and slab keep their peak size until clear().
  static constexpr std::size_t kEntryOverhead = 152;
  static constexpr double kDefaultMaxEntryFraction = 1.0 / 8;

  // A cache holding at most `budget_bytes` (keys + responses + kEntryOverhead per entry), which
  // refuses entries charging more than budget_bytes * max_entry_fraction. Allocates a small
  // initial index. A fraction outside (0, 1] is a caller bug and aborts.
  explicit L1Cache(std::size_t budget_bytes, double max_entry_fraction = kDefaultMaxEntryFraction);
  // Frees every entry. Every pin must have been released (a pinned entry still being sent when
  // its cache goes away is a broken invariant and aborts).
  ~L1Cache();
  L1Cache(const L1Cache&) = delete;
  L1Cache& operator=(const L1Cache&) = delete;
  // Moves leave `other` empty with a zero budget. Pins taken on `other` are released on the new
  // owner.
  L1Cache(L1Cache&& other) noexcept;
  L1Cache& operator=(L1Cache&& other) noexcept;

  // The entry for `key` if one exists with now < stale_until, promoted to most recently used;
  // Entry::fresh(now) tells a fresh hit from a stale one. An entry found at or past stale_until
  // is removed and null returned. Allocates nothing.
  //
  // The pointer stays valid until that entry is removed: by insert() (eviction, or a new
  // response for the same key), erase(), clear(), or a find() of its key at or past
  // stale_until. To keep the bytes across those (an asynchronous send), pin() it.
  const Entry* find(const CacheKey& key, TimePoint now);

  // Stores a copy of `key` and `response` (and `tag`, see Entry::tag), replacing any entry for the
  // key, evicting least recently used entries until it fits. Returns false, and leaves no entry for
  // the key, when the entry would charge more than max_entry_bytes(), when lifetime.stale_until <=
  // stored_at, or when memory runs out. A stale_until before fresh_until is raised to fresh_until.
  // Allocates the entry (one allocation) and, when the index must grow, the index.
  bool insert(const CacheKey& key, std::string_view response, const Lifetime& lifetime,
              std::uint64_t tag = 0, std::uint64_t mark = 0);

  // Changes an entry's mark (see Entry::mark). Allocates nothing.
  void set_mark(const Entry& entry, std::uint64_t mark) { const_cast<Entry&>(entry).mark_ = mark; }

  // Removes the entry for `key`; false if there was none. Allocates nothing.
  bool erase(const CacheKey& key);

  // Removes every entry and gives the index memory back.
  void clear();

  // pin() keeps an entry's memory (key, response, lifetime) valid after it is removed from the
  // cache, until the matching unpin(); pins nest. A removed entry's charge moves from
  // size_bytes() to detached_bytes() until its last unpin() frees it. Allocate nothing. Unpin
  // without a pin aborts.
  void pin(const Entry& entry);
  void unpin(const Entry& entry);

  // Bytes charged by the entries in the cache; never more than budget_bytes().
  std::size_t size_bytes() const { return size_bytes_; }
  // Bytes still held by removed entries that are pinned.
  std::size_t detached_bytes() const { return detached_bytes_; }
  std::size_t entries() const { return count_; }
  std::size_t budget_bytes() const { return budget_bytes_; }
  std::size_t max_entry_bytes() const { return max_entry_bytes_; }
  const L1Stats& stats() const { return stats_; }

 private:
  // A slab slot: the entry and its neighbours in recency order (kNoSlot ends the list). Free
  // slots chain through `next`.
  struct Slot {
    Entry* entry;
    std::uint32_t prev;
    std::uint32_t next;
  };
  // An index bucket: the low 32 bits of the key's hash (its home position and a filter checked
  // before the entry is touched) and its slot; slot == kNoSlot marks an empty bucket.
  struct Bucket {
    std::uint32_t hash_lo;
    std::uint32_t slot;
  };

  static constexpr std::uint32_t kNoSlot = 0xffffffffu;

  std::size_t find_bucket(const CacheKey& key) const;
  void remove_at(std::size_t bucket);
  void release(Entry* entry);
  void evict_lru();
  void grow_index();
  void place_in_index(std::uint32_t hash_lo, std::uint32_t slot);
  void link_front(std::uint32_t slot);
  void unlink(std::uint32_t slot);
  void free_all();

  std::vector<Bucket> buckets_;  // power-of-two size, linear probing, at most half full
  std::vector<Slot> slots_;
  std::uint32_t free_slot_ = kNoSlot;
  std::uint32_t head_ = kNoSlot;  // most recently used
  std::uint32_t tail_ = kNoSlot;  // least recently used
  std::size_t count_ = 0;
  std::size_t size_bytes_ = 0;
  std::size_t detached_bytes_ = 0;
  std::size_t pinned_ = 0;  // entries with pins_ > 0, in the cache or detached
  std::size_t budget_bytes_ = 0;
  std::size_t max_entry_bytes_ = 0;
  L1Stats stats_;
};

}  // namespace edgefn::cache
