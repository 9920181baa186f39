// L2Cache: kShards independent tables behind their own mutexes, each an open-addressing index
// (linear probing, backward-shift deletion) over a chunked slab of slots linked in recency order.
// References leave a shard through a small fixed array and are dropped after the lock is released.
#include "cache/l2.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace edgefn::cache {
namespace {

[[noreturn]] void broken_invariant(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: broken invariant: %s\n", file, line, what);
  std::abort();
}
#define EDGEFN_L2_CHECK(condition)                                      \
  do {                                                                  \
    if (!(condition)) broken_invariant(#condition, __FILE__, __LINE__); \
  } while (0)

// 16 buckets: a shard that never holds more than 8 entries never grows its index.
constexpr std::size_t kInitialBuckets = 16;
constexpr std::uint32_t kNoSlot = 0xffffffffu;
// Slots come in chunks of 256 (6 KiB) rather than from one doubling vector: a chunk never moves,
// and the slab wastes at most one partly used chunk per shard instead of up to half of itself,
// which is what lets kEntryOverhead count a slot once.
constexpr unsigned kChunkBits = 8;
constexpr std::uint32_t kChunkSlots = std::uint32_t{1} << kChunkBits;
// Slot indices are 32-bit; 2^31 entries in one shard would be 384 GiB of overhead alone.
constexpr std::size_t kMaxEntriesPerShard = std::size_t{1} << 31;
// glibc's malloc header; mimalloc (the release build's allocator) has none.
constexpr std::size_t kAllocatorOverhead = 16;
// libstdc++'s shared control block ahead of a make_shared value: a vtable pointer and two 32-bit
// counts (tests/cache/l2_test.cc measures the real block).
constexpr std::size_t kControlBlock = sizeof(void*) + 2 * sizeof(std::int32_t);

static_assert(std::has_single_bit(L2Cache::kShards));
// The top bits pick the shard; the index uses the low 32, so the two choices are independent.
constexpr int kShardShift = 64 - std::countr_zero(L2Cache::kShards);

// A slab slot: the cache's reference and the neighbours in recency order (kNoSlot ends the
// list). A free slot has no value and chains the free list through `next`.
struct Slot {
  L2Ref value;
  std::uint32_t prev;
  std::uint32_t next;
};
// An index bucket: the low 32 bits of the key's hash (home position and a filter checked before
// the value is touched) and its slot; slot == kNoSlot marks an empty bucket.
struct Bucket {
  std::uint32_t hash_lo;
  std::uint32_t slot;
};

// The charge must cover what an entry really costs: the value and its control block (one
// make_shared allocation, with its allocator header), its slot, and up to four buckets (the
// index runs between 1/4 and 1/2 full). A key or blob longer than std::string's inline capacity
// (15 bytes) is a further allocation of its exact size; glibc adds about 16 bytes to each, which
// this does not cover, mimalloc nothing but its size-class rounding.
static_assert(sizeof(L2Value) + kControlBlock + kAllocatorOverhead + sizeof(Slot) +
                  4 * sizeof(Bucket) <=
              L2Cache::kEntryOverhead);

std::size_t charge_of(const L2Value& value) {
  return L2Cache::kEntryOverhead + value.key.size() + value.blob.size();
}

// References taken out of a shard under its lock, released once the lock is gone so that a last
// reference frees its value without holding up the shard. A fixed array, so neither find() nor
// insert() allocates for it; a caller removing more than kCapacity at once unlocks, clears it
// and locks again.
class Dropped {
 public:
  static constexpr std::size_t kCapacity = 16;
  bool full() const { return size_ == kCapacity; }
  void add(L2Ref ref) { refs_[size_++] = std::move(ref); }
  void clear() {
    for (std::size_t i = 0; i < size_; ++i)
      refs_[i].reset();
    size_ = 0;
  }

 private:
  std::array<L2Ref, kCapacity> refs_;
  std::size_t size_ = 0;
};

// One shard's entries: not synchronized (the shard's mutex guards it). The same structure as
// L1Cache's, holding references instead of owning entries.
class Table {
 public:
  Table() : buckets_(kInitialBuckets, Bucket{0, kNoSlot}) {}

  std::size_t count() const { return count_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t npos() const { return buckets_.size(); }

  // The bucket holding `key`, or npos(). Hash first, then bytes.
  std::size_t find(const CacheKey& key) const {
    if (count_ == 0) return npos();
    const std::size_t mask = buckets_.size() - 1;
    const auto hash_lo = static_cast<std::uint32_t>(key.hash());
    // Terminates: the index is at most half full, so an empty bucket ends every probe run.
    for (std::size_t i = hash_lo & mask;; i = (i + 1) & mask) {
      const Bucket& b = buckets_[i];
      if (b.slot == kNoSlot) return npos();
      if (b.hash_lo != hash_lo) continue;
      const L2Value& v = *slot(b.slot).value;
      if (v.hash == key.hash() && v.key == key.bytes()) return i;
    }
  }

  const L2Ref& value_at(std::size_t bucket) const { return slot(buckets_[bucket].slot).value; }

  void promote(std::size_t bucket) {
    const std::uint32_t s = buckets_[bucket].slot;
    if (head_ == s) return;
    unlink(s);
    link_front(s);
  }

  // Slots [0, slot_limit()) exist; value_at_slot() is null for a free one.
  std::uint32_t slot_limit() const {
    return static_cast<std::uint32_t>(chunks_.size()) * kChunkSlots;
  }
  const L2Value* value_at_slot(std::uint32_t s) const { return slot(s).value.get(); }

  // Each takes the entry out of the table and hands its reference to the caller.
  L2Ref remove_at(std::size_t bucket) {
    const std::uint32_t s = buckets_[bucket].slot;

    // Backward-shift deletion (Knuth's Algorithm R), as in L1Cache::remove_at: no tombstones,
    // so probe runs never lengthen with age.
    const std::size_t mask = buckets_.size() - 1;
    std::size_t hole = bucket;
    for (std::size_t next = (hole + 1) & mask;; next = (next + 1) & mask) {
      const Bucket& b = buckets_[next];
      if (b.slot == kNoSlot) break;
      const std::size_t home = b.hash_lo & mask;
      const bool reachable_without_hole =
          hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
      if (reachable_without_hole) continue;
      buckets_[hole] = b;
      hole = next;
    }
    buckets_[hole] = Bucket{0, kNoSlot};

    unlink(s);
    Slot& freed = slot(s);
    L2Ref value = std::move(freed.value);  // leaves the slot empty
    freed.next = free_slot_;
    free_slot_ = s;
    --count_;
    bytes_ -= charge_of(*value);
    return value;
  }
  L2Ref remove_slot(std::uint32_t s) {
    const std::size_t mask = buckets_.size() - 1;
    std::size_t i = static_cast<std::uint32_t>(slot(s).value->hash) & mask;
    while (buckets_[i].slot != s)
      i = (i + 1) & mask;
    return remove_at(i);
  }
  L2Ref remove_lru() {
    EDGEFN_L2_CHECK(tail_ != kNoSlot);
    return remove_slot(tail_);
  }

  // Makes room for one more entry: the index doubles past half full, the slab gains a chunk
  // when no slot is free. False when memory is out or the shard is at its entry cap; the table
  // is unchanged then.
  bool reserve_one() {
    if (count_ >= kMaxEntriesPerShard) return false;
    try {
      if ((count_ + 1) * 2 > buckets_.size()) grow_index();
      if (free_slot_ == kNoSlot) add_chunk();
    } catch (const std::bad_alloc&) {
      return false;
    }
    return true;
  }

  // Adds a value whose key is not in the table, as most recently used; reserve_one() first.
  void add(L2Ref value) {
    const std::uint32_t s = free_slot_;
    Slot& target = slot(s);
    free_slot_ = target.next;
    const std::size_t charge = charge_of(*value);
    const auto hash_lo = static_cast<std::uint32_t>(value->hash);
    target.value = std::move(value);
    link_front(s);
    place_in_index(hash_lo, s);
    ++count_;
    bytes_ += charge;
  }

  void swap(Table& other) noexcept {
    buckets_.swap(other.buckets_);
    chunks_.swap(other.chunks_);
    std::swap(free_slot_, other.free_slot_);
    std::swap(head_, other.head_);
    std::swap(tail_, other.tail_);
    std::swap(count_, other.count_);
    std::swap(bytes_, other.bytes_);
  }

 private:
  Slot& slot(std::uint32_t s) { return chunks_[s >> kChunkBits][s & (kChunkSlots - 1)]; }
  const Slot& slot(std::uint32_t s) const {
    return chunks_[s >> kChunkBits][s & (kChunkSlots - 1)];
  }

  void grow_index() {
    // Built aside and swapped in, so running out of memory leaves the old index intact.
    std::vector<Bucket> old(buckets_.size() * 2, Bucket{0, kNoSlot});
    old.swap(buckets_);
    for (const Bucket& b : old) {
      if (b.slot != kNoSlot) place_in_index(b.hash_lo, b.slot);
    }
  }

  void add_chunk() {
    const std::uint32_t first = slot_limit();
    chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
    // Chained so the lowest index is handed out first.
    for (std::uint32_t s = first + kChunkSlots; s-- > first;) {
      slot(s).next = free_slot_;
      free_slot_ = s;
    }
  }

  void place_in_index(std::uint32_t hash_lo, std::uint32_t s) {
    const std::size_t mask = buckets_.size() - 1;
    std::size_t i = hash_lo & mask;
    while (buckets_[i].slot != kNoSlot)
      i = (i + 1) & mask;
    buckets_[i] = Bucket{hash_lo, s};
  }

  void link_front(std::uint32_t s) {
    Slot& x = slot(s);
    x.prev = kNoSlot;
    x.next = head_;
    if (head_ != kNoSlot) {
      slot(head_).prev = s;
    } else {
      tail_ = s;
    }
    head_ = s;
  }

  void unlink(std::uint32_t s) {
    Slot& x = slot(s);
    (x.prev != kNoSlot ? slot(x.prev).next : head_) = x.next;
    (x.next != kNoSlot ? slot(x.next).prev : tail_) = x.prev;
    x.prev = x.next = kNoSlot;
  }

  std::vector<Bucket> buckets_;  // power-of-two size, linear probing, at most half full
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::uint32_t free_slot_ = kNoSlot;
  std::uint32_t head_ = kNoSlot;  // most recently used
  std::uint32_t tail_ = kNoSlot;  // least recently used
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

// Counters are written only with the shard's lock held, so a plain load and store cannot lose
// an update, and it avoids a locked read-modify-write on every lookup; readers take no lock.
void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// The shard a hash belongs to.
std::size_t shard_index(std::uint64_t hash) {
  return static_cast<std::size_t>(hash >> kShardShift);
}

// A refused insert: a new response supersedes the stored one whether or not it is admitted, as
// serving the old one after the origin answered differently would be wrong. (A template so it
// can take L2Cache's private Shard type without naming it.)
template <typename ShardType>
void reject(ShardType& shard, const CacheKey& key) {
  L2Ref old;  // declared before the lock: released after it
  std::lock_guard lock(shard.mutex);
  const std::size_t bucket = shard.table.find(key);
  if (bucket != shard.table.npos()) {
    old = shard.table.remove_at(bucket);
    shard.publish();
  }
  bump(shard.rejected);
}

// The shared value for an insert, built before any lock is taken; null when memory is out (a
// response too big for what is left is a miss to cache, not an error to throw).
L2Ref make_value(const CacheKey& key, std::string_view blob, const Lifetime& lifetime,
                 std::uint64_t tag, std::uint64_t mark) {
  try {
    // Braced: clang before 16 has no parenthesized aggregate initialization (the fuzz build).
    return std::make_shared<L2Value>(
        L2Value{std::string(key.bytes()), std::string(blob), lifetime, key.hash(), tag, mark});
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace

// Aligned to a cache line so that two workers on different shards never write the same line.
struct alignas(64) L2Cache::Shard {
  std::mutex mutex;
  Table table;  // guarded by mutex
  std::size_t budget = 0;
  // Written under mutex (see bump()), read without it.
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> stale_hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> inserts{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> expired{0};
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::size_t> entries{0};

  // Makes the table's size visible to size_bytes() and entries(); with mutex held.
  void publish() {
    bytes.store(table.bytes(), std::memory_order_relaxed);
    entries.store(table.count(), std::memory_order_relaxed);
  }
};

L2Cache::L2Cache(std::size_t budget_bytes, double max_entry_fraction)
    : budget_bytes_(budget_bytes),
      max_entry_bytes_(0),
      shards_(std::make_unique<Shard[]>(kShards)) {
  // Written so that NaN fails too.
  EDGEFN_L2_CHECK(max_entry_fraction > 0.0 && max_entry_fraction <= 1.0);
  // The double product may round above the budget for budgets beyond 2^53; clamp, which also
  // keeps the conversion back to size_t in range.
  const double limit = static_cast<double>(budget_bytes) * max_entry_fraction;
  const std::size_t fraction_bytes =
      limit >= static_cast<double>(budget_bytes) ? budget_bytes : static_cast<std::size_t>(limit);
  const std::size_t shard_budget = budget_bytes / kShards;
  max_entry_bytes_ = std::min(fraction_bytes, shard_budget);
  for (std::size_t i = 0; i < kShards; ++i)
    shards_[i].budget = shard_budget;
}

L2Cache::~L2Cache() = default;

L2Ref L2Cache::find(const CacheKey& key, TimePoint now) {
  Shard& shard = shards_[shard_index(key.hash())];
  L2Ref gone;  // declared before the lock: released after it
  std::lock_guard lock(shard.mutex);
  const std::size_t bucket = shard.table.find(key);
  if (bucket == shard.table.npos()) {
    bump(shard.misses);
    return nullptr;
  }
  const L2Ref& value = shard.table.value_at(bucket);
  if (now >= value->lifetime.stale_until) {
    // Lazy expiry: nothing can serve it any more, so give its bytes back now rather than wait
    // for it to drift to the LRU tail.
    gone = shard.table.remove_at(bucket);
    shard.publish();
    bump(shard.expired);
    bump(shard.misses);
    return nullptr;
  }
  shard.table.promote(bucket);
  bump(value->fresh(now) ? shard.hits : shard.stale_hits);
  return value;
}

bool L2Cache::insert(const CacheKey& key, std::string_view blob, const Lifetime& lifetime,
                     std::uint64_t tag, std::uint64_t mark) {
  Shard& shard = shards_[shard_index(key.hash())];
  const std::size_t key_size = key.bytes().size();
  const std::size_t limit = max_entry_bytes_;
  const bool too_large = limit < kEntryOverhead || key_size > limit - kEntryOverhead ||
                         blob.size() > limit - kEntryOverhead - key_size;
  Lifetime life = lifetime;
  if (life.stale_until < life.fresh_until) life.stale_until = life.fresh_until;
  if (too_large || life.stale_until <= life.stored_at) {
    reject(shard, key);
    return false;
  }
  // Copied before the lock: `key` and `blob` may view a value of this cache (a 304 revalidation
  // re-stores the bytes it found), which the caller's reference keeps alive meanwhile.
  L2Ref value = make_value(key, blob, life, tag, mark);
  if (value == nullptr) {
    reject(shard, key);
    return false;
  }
  const std::size_t charge = kEntryOverhead + key_size + blob.size();

  Dropped dropped;  // declared before the lock: released after it
  std::unique_lock lock(shard.mutex);
  // charge <= max_entry_bytes_ <= the shard's budget, so emptying the shard always makes room.
  // Each round drops the old value for the key (another thread may have stored one while the
  // lock was released) and evicts until the entry fits or `dropped` is full; a large entry
  // displacing many small ones takes several rounds, releasing the lock between them so the
  // values are freed outside it.
  for (;;) {
    const std::size_t old = shard.table.find(key);
    if (old != shard.table.npos()) dropped.add(shard.table.remove_at(old));
    std::uint64_t evicted = 0;
    while (shard.table.bytes() + charge > shard.budget && !dropped.full()) {
      dropped.add(shard.table.remove_lru());
      ++evicted;
    }
    bump(shard.evictions, evicted);
    if (shard.table.bytes() + charge <= shard.budget) break;
    shard.publish();
    lock.unlock();
    dropped.clear();
    lock.lock();
  }
  if (!shard.table.reserve_one()) {
    shard.publish();
    bump(shard.rejected);
    return false;
  }
  shard.table.add(std::move(value));
  shard.publish();
  bump(shard.inserts);
  return true;
}

bool L2Cache::erase(const CacheKey& key) {
  Shard& shard = shards_[shard_index(key.hash())];
  L2Ref old;
  std::lock_guard lock(shard.mutex);
  const std::size_t bucket = shard.table.find(key);
  if (bucket == shard.table.npos()) return false;
  old = shard.table.remove_at(bucket);
  shard.publish();
  return true;
}

std::size_t L2Cache::erase_prefix(std::string_view prefix) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    Shard& shard = shards_[i];
    Dropped dropped;
    std::unique_lock lock(shard.mutex);
    // By slot rather than recency order: slot numbers stay meaningful across the unlocked gaps
    // (a slot reused meanwhile just holds another entry to test), list positions do not.
    for (std::uint32_t s = 0; s < shard.table.slot_limit(); ++s) {
      if (dropped.full()) {
        shard.publish();
        lock.unlock();
        dropped.clear();
        lock.lock();
        if (s >= shard.table.slot_limit()) break;  // cleared meanwhile
      }
      const L2Value* value = shard.table.value_at_slot(s);
      if (value == nullptr || !value->key.starts_with(prefix)) continue;
      dropped.add(shard.table.remove_slot(s));
      ++removed;
    }
    shard.publish();
  }
  return removed;
}

void L2Cache::clear() {
  for (std::size_t i = 0; i < kShards; ++i) {
    Shard& shard = shards_[i];
    // The empty table is built here and the full one destroyed here, both outside the lock.
    Table old;
    std::lock_guard lock(shard.mutex);
    shard.table.swap(old);
    shard.publish();
  }
}

std::size_t L2Cache::size_bytes() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < kShards; ++i)
    total += shards_[i].bytes.load(std::memory_order_relaxed);
  return total;
}

std::size_t L2Cache::entries() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < kShards; ++i)
    total += shards_[i].entries.load(std::memory_order_relaxed);
  return total;
}

L2Stats L2Cache::stats() const {
  L2Stats s;
  for (std::size_t i = 0; i < kShards; ++i) {
    const Shard& shard = shards_[i];
    s.hits += shard.hits.load(std::memory_order_relaxed);
    s.stale_hits += shard.stale_hits.load(std::memory_order_relaxed);
    s.misses += shard.misses.load(std::memory_order_relaxed);
    s.inserts += shard.inserts.load(std::memory_order_relaxed);
    s.rejected += shard.rejected.load(std::memory_order_relaxed);
    s.evictions += shard.evictions.load(std::memory_order_relaxed);
    s.expired += shard.expired.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace edgefn::cache
