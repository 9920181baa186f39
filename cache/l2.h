// L2: the node-wide response cache shared by every worker. A byte-bounded LRU of immutable,
// reference-counted values, split into shards by key hash.
//
// Threads: every member function is thread-safe. Each shard has its own mutex, index and recency
// list and an equal share of the budget, so two workers meet only on the same shard, and then
// only for an index probe and a few pointer moves: no allocation, copy or free happens under a
// shard lock except the index or the slot table growing on insert (about once per 256 new peak
// entries of a shard). (The L1 path takes no lock at all; L2 is asked
// only after an L1 miss.)
//
// Values are immutable once published and shared through std::shared_ptr: a reader keeps the
// value it found (to copy it into its L1, or to send it) while eviction and replacement only drop
// the cache's reference — they never wait for a reader, and a reader never copies a body to read
// it. A value's memory is freed by whichever thread drops the last reference, outside any lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cache/key.h"
#include "cache/l1.h"  // Clock, TimePoint, Lifetime

namespace edgefn::cache {

// One stored response: its key bytes, its blob (cache/stored.h) and its steady-clock lifetime.
struct L2Value {
  std::string key;
  std::string blob;
  Lifetime lifetime;
  std::uint64_t hash = 0;
  std::uint64_t tag = 0;   // the caller's word, as L1Cache::Entry::tag
  std::uint64_t mark = 0;  // and its second, as L1Cache::Entry::mark (fixed here: immutable)
  bool fresh(TimePoint now) const { return now < lifetime.fresh_until; }
};

using L2Ref = std::shared_ptr<const L2Value>;

// Counters since construction (relaxed atomics, summed over shards when read).
struct L2Stats {
  std::uint64_t hits = 0;
  std::uint64_t stale_hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;
  std::uint64_t rejected = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expired = 0;
};

class L2Cache {
 public:
  static constexpr std::size_t kShards = 16;
  // Charged per entry beyond its key and blob: the value, its control block, index and list
  // share, and allocator headers (l2.cc checks the parts fit).
  static constexpr std::size_t kEntryOverhead = 200;

  // At most `budget_bytes` over all shards (each shard budget_bytes / kShards); an entry
  // charging more than budget_bytes * max_entry_fraction, or more than one shard's budget, is
  // refused. A fraction outside (0, 1] aborts.
  explicit L2Cache(std::size_t budget_bytes, double max_entry_fraction = 1.0 / 8);
  ~L2Cache();
  L2Cache(const L2Cache&) = delete;
  L2Cache& operator=(const L2Cache&) = delete;

  // The value for `key` if one exists with now < stale_until (promoted to most recently used in
  // its shard); null otherwise. An entry found expired is dropped. Allocates nothing.
  L2Ref find(const CacheKey& key, TimePoint now);

  // Stores a copy of `key` and `blob` (the value with its control block, and the key's and the
  // blob's bytes: three allocations, all outside the lock), replacing any
  // value for the key and evicting the shard's least recently used values until it fits.
  // False, and no value left for the key, when too large or when stale_until <= stored_at.
  bool insert(const CacheKey& key, std::string_view blob, const Lifetime& lifetime,
              std::uint64_t tag = 0, std::uint64_t mark = 0);

  // Removes the value for `key`; false if there was none.
  bool erase(const CacheKey& key);
  // Removes every value whose key bytes start with `prefix`; returns how many.
  std::size_t erase_prefix(std::string_view prefix);
  void clear();

  std::size_t size_bytes() const;  // charged bytes over all shards; never above the budget
  std::size_t entries() const;
  std::size_t budget_bytes() const { return budget_bytes_; }
  std::size_t max_entry_bytes() const { return max_entry_bytes_; }
  L2Stats stats() const;

 private:
  struct Shard;
  std::size_t budget_bytes_;
  std::size_t max_entry_bytes_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace edgefn::cache
