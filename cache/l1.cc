// L1Cache: an open-addressing index (linear probing, backward-shift deletion) of slots in a slab,
// the slots linked in recency order by index, each entry one allocation of header + key + bytes.
#include "cache/l1.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace edgefn::cache {
namespace {

[[noreturn]] void broken_invariant(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: broken invariant: %s\n", file, line, what);
  std::abort();
}
#define EDGEFN_L1_CHECK(condition)                                      \
  do {                                                                  \
    if (!(condition)) broken_invariant(#condition, __FILE__, __LINE__); \
  } while (0)

// 16 buckets: a cache that never holds more than 8 entries never grows its index.
constexpr std::size_t kInitialBuckets = 16;
// Slot indices are 32-bit and the index is at most twice the entry count; 2^31 entries would
// also be 256 GiB of overhead alone, so the cap is never what limits a real budget.
constexpr std::size_t kMaxEntries = std::size_t{1} << 31;
// glibc's malloc header; mimalloc's is smaller. Counted so that many tiny entries cannot
// outgrow the budget by their allocator overhead.
constexpr std::size_t kAllocatorOverhead = 16;

// An entry block, or null when memory is out (a response too big for what is left is a miss to
// cache, not an error to throw). The plain operator new is used rather than the nothrow one so
// that a replaced global operator new/delete pair (the tests' counting allocator) sees every
// entry, and so that the operator delete in release() is its exact match.
void* allocate_entry(std::size_t bytes) {
  try {
    return ::operator new(bytes);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace

// The per-entry charge must cover what an entry really costs; if a field is added to Entry,
// Slot or Bucket, this says so at compile time rather than letting the budget drift.
static_assert(sizeof(L1Cache::Entry) + 2 * 16 /* Slots */ + 4 * 8 /* Buckets */ +
                  kAllocatorOverhead <=
              L1Cache::kEntryOverhead);
// Entries are freed with operator delete and never destroyed: nothing in them needs it.
static_assert(std::is_trivially_destructible_v<L1Cache::Entry>);

L1Cache::L1Cache(std::size_t budget_bytes, double max_entry_fraction)
    : buckets_(kInitialBuckets, Bucket{0, kNoSlot}), budget_bytes_(budget_bytes) {
  static_assert(sizeof(Slot) == 16 && sizeof(Bucket) == 8);
  // Written so that NaN fails too.
  EDGEFN_L1_CHECK(max_entry_fraction > 0.0 && max_entry_fraction <= 1.0);
  // The double product may round above the budget for budgets beyond 2^53; clamp, which also
  // keeps the conversion back to size_t in range.
  const double limit = static_cast<double>(budget_bytes) * max_entry_fraction;
  max_entry_bytes_ =
      limit >= static_cast<double>(budget_bytes) ? budget_bytes : static_cast<std::size_t>(limit);
}

L1Cache::~L1Cache() {
  free_all();
}

L1Cache::L1Cache(L1Cache&& other) noexcept
    : buckets_(std::move(other.buckets_)),
      slots_(std::move(other.slots_)),
      free_slot_(std::exchange(other.free_slot_, kNoSlot)),
      head_(std::exchange(other.head_, kNoSlot)),
      tail_(std::exchange(other.tail_, kNoSlot)),
      count_(std::exchange(other.count_, 0)),
      size_bytes_(std::exchange(other.size_bytes_, 0)),
      detached_bytes_(std::exchange(other.detached_bytes_, 0)),
      pinned_(std::exchange(other.pinned_, 0)),
      budget_bytes_(std::exchange(other.budget_bytes_, 0)),
      max_entry_bytes_(std::exchange(other.max_entry_bytes_, 0)),
      stats_(std::exchange(other.stats_, L1Stats{})) {
  // A moved-from vector is empty in practice but only "valid but unspecified" by the standard;
  // find() and erase() rely on count_ == 0, insert() on the zero budget, so make it certain.
  other.buckets_.clear();
  other.slots_.clear();
}

L1Cache& L1Cache::operator=(L1Cache&& other) noexcept {
  if (this == &other) return *this;
  free_all();
  buckets_ = std::move(other.buckets_);
  slots_ = std::move(other.slots_);
  free_slot_ = std::exchange(other.free_slot_, kNoSlot);
  head_ = std::exchange(other.head_, kNoSlot);
  tail_ = std::exchange(other.tail_, kNoSlot);
  count_ = std::exchange(other.count_, 0);
  size_bytes_ = std::exchange(other.size_bytes_, 0);
  detached_bytes_ = std::exchange(other.detached_bytes_, 0);
  pinned_ = std::exchange(other.pinned_, 0);
  budget_bytes_ = std::exchange(other.budget_bytes_, 0);
  max_entry_bytes_ = std::exchange(other.max_entry_bytes_, 0);
  stats_ = std::exchange(other.stats_, L1Stats{});
  other.buckets_.clear();
  other.slots_.clear();
  return *this;
}

const L1Cache::Entry* L1Cache::find(const CacheKey& key, TimePoint now) {
  if (count_ == 0) {
    ++stats_.misses;
    return nullptr;
  }
  const std::size_t bucket = find_bucket(key);
  if (bucket == buckets_.size()) {
    ++stats_.misses;
    return nullptr;
  }
  const std::uint32_t slot = buckets_[bucket].slot;
  Entry* entry = slots_[slot].entry;
  if (now >= entry->lifetime_.stale_until) {
    // Lazy expiry: nothing can serve it any more, so give its bytes back now rather than wait
    // for it to drift to the LRU tail.
    remove_at(bucket);
    ++stats_.expired;
    ++stats_.misses;
    return nullptr;
  }
  if (head_ != slot) {
    unlink(slot);
    link_front(slot);
  }
  ++(entry->fresh(now) ? stats_.hits : stats_.stale_hits);
  return entry;
}

bool L1Cache::insert(const CacheKey& key, std::string_view response, const Lifetime& lifetime,
                     std::uint64_t tag, std::uint64_t mark) {
  const std::size_t key_size = key.bytes().size();
  const std::size_t limit = max_entry_bytes_;
  const bool too_large = limit < kEntryOverhead || key_size > limit - kEntryOverhead ||
                         response.size() > limit - kEntryOverhead - key_size;
  Lifetime life = lifetime;
  if (life.stale_until < life.fresh_until) life.stale_until = life.fresh_until;
  if (too_large || life.stale_until <= life.stored_at || count_ >= kMaxEntries) {
    // A new response supersedes the stored one whether or not it is admitted: serving the old
    // one after the origin answered differently would be wrong.
    erase(key);
    ++stats_.rejected;
    return false;
  }

  // Copy before anything is removed: `key` and `response` may be views into the entry being
  // replaced (a 304 revalidation re-stores the same bytes with a new lifetime).
  void* block = allocate_entry(sizeof(Entry) + key_size + response.size());
  if (block == nullptr) {
    erase(key);
    ++stats_.rejected;
    return false;
  }
  Entry* entry = new (block)
      Entry(key.hash(), static_cast<std::uint32_t>(key_size), response.size(), life, kNoSlot);
  entry->tag_ = tag;
  entry->mark_ = mark;
  if (key_size > 0) std::memcpy(entry->bytes(), key.bytes().data(), key_size);
  if (!response.empty()) std::memcpy(entry->bytes() + key_size, response.data(), response.size());
  erase(key);  // `key` and `response` must not be read past this point

  // charge <= max_entry_bytes_ <= budget_bytes_, so emptying the cache always makes room: the
  // budget holds after every insert, not just within one entry of it.
  const std::size_t charge = entry->charge();
  while (size_bytes_ + charge > budget_bytes_)
    evict_lru();
  if ((count_ + 1) * 2 > buckets_.size()) grow_index();

  std::uint32_t slot = free_slot_;
  if (slot != kNoSlot) {
    free_slot_ = slots_[slot].next;
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(Slot{nullptr, kNoSlot, kNoSlot});
  }
  entry->slot_ = slot;
  slots_[slot].entry = entry;
  link_front(slot);
  place_in_index(static_cast<std::uint32_t>(entry->hash_), slot);
  ++count_;
  size_bytes_ += charge;
  ++stats_.inserts;
  return true;
}

bool L1Cache::erase(const CacheKey& key) {
  if (count_ == 0) return false;
  const std::size_t bucket = find_bucket(key);
  if (bucket == buckets_.size()) return false;
  remove_at(bucket);
  return true;
}

void L1Cache::clear() {
  for (std::uint32_t slot = head_; slot != kNoSlot;) {
    const std::uint32_t next = slots_[slot].next;
    release(slots_[slot].entry);
    slot = next;
  }
  // Swapping with fresh vectors is what actually returns the memory (clear() keeps capacity).
  std::vector<Bucket>(kInitialBuckets, Bucket{0, kNoSlot}).swap(buckets_);
  std::vector<Slot>().swap(slots_);
  free_slot_ = head_ = tail_ = kNoSlot;
  count_ = 0;
  size_bytes_ = 0;
}

void L1Cache::pin(const Entry& entry) {
  // The cache created every Entry non-const; users only ever see const views of them.
  Entry& e = const_cast<Entry&>(entry);
  if (e.pins_++ == 0) ++pinned_;
}

void L1Cache::unpin(const Entry& entry) {
  Entry& e = const_cast<Entry&>(entry);
  EDGEFN_L1_CHECK(e.pins_ > 0);
  if (--e.pins_ > 0) return;
  --pinned_;
  if (e.slot_ == kNoSlot) {
    detached_bytes_ -= e.charge();
    ::operator delete(&e);
  }
}

std::size_t L1Cache::find_bucket(const CacheKey& key) const {
  const std::size_t mask = buckets_.size() - 1;
  const auto hash_lo = static_cast<std::uint32_t>(key.hash());
  // Terminates: the index is at most half full, so an empty bucket ends every probe run.
  for (std::size_t i = hash_lo & mask;; i = (i + 1) & mask) {
    const Bucket& b = buckets_[i];
    if (b.slot == kNoSlot) return buckets_.size();
    if (b.hash_lo != hash_lo) continue;
    const Entry* e = slots_[b.slot].entry;
    if (e->hash_ == key.hash() && e->key() == key.bytes()) return i;
  }
}

void L1Cache::remove_at(std::size_t bucket) {
  const std::uint32_t slot = buckets_[bucket].slot;
  Entry* entry = slots_[slot].entry;

  // Backward-shift deletion (Knuth's Algorithm R for linear probing): walk the rest of the probe
  // run and move back every bucket whose home is not between the hole and where it sits, so
  // lookups never need tombstones and never slow down with age. Runs interleave buckets of
  // different homes, so one bucket at its home does not end the walk; only an empty one does.
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

  unlink(slot);
  slots_[slot] = Slot{nullptr, kNoSlot, free_slot_};
  free_slot_ = slot;
  --count_;
  size_bytes_ -= entry->charge();
  release(entry);
}

void L1Cache::release(Entry* entry) {
  if (entry->pins_ > 0) {
    // Still being read (an in-flight send): keep the bytes, account them apart, and let the
    // last unpin() free them.
    entry->slot_ = kNoSlot;
    detached_bytes_ += entry->charge();
    return;
  }
  ::operator delete(entry);
}

void L1Cache::evict_lru() {
  EDGEFN_L1_CHECK(tail_ != kNoSlot);
  const std::uint32_t slot = tail_;
  const std::size_t mask = buckets_.size() - 1;
  std::size_t i = static_cast<std::uint32_t>(slots_[slot].entry->hash_) & mask;
  while (buckets_[i].slot != slot)
    i = (i + 1) & mask;
  remove_at(i);
  ++stats_.evictions;
}

void L1Cache::grow_index() {
  std::vector<Bucket> old(buckets_.size() * 2, Bucket{0, kNoSlot});
  old.swap(buckets_);
  for (const Bucket& b : old) {
    if (b.slot != kNoSlot) place_in_index(b.hash_lo, b.slot);
  }
}

void L1Cache::place_in_index(std::uint32_t hash_lo, std::uint32_t slot) {
  const std::size_t mask = buckets_.size() - 1;
  std::size_t i = hash_lo & mask;
  while (buckets_[i].slot != kNoSlot)
    i = (i + 1) & mask;
  buckets_[i] = Bucket{hash_lo, slot};
}

void L1Cache::link_front(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.prev = kNoSlot;
  s.next = head_;
  if (head_ != kNoSlot) {
    slots_[head_].prev = slot;
  } else {
    tail_ = slot;
  }
  head_ = slot;
}

void L1Cache::unlink(std::uint32_t slot) {
  Slot& s = slots_[slot];
  (s.prev != kNoSlot ? slots_[s.prev].next : head_) = s.next;
  (s.next != kNoSlot ? slots_[s.next].prev : tail_) = s.prev;
  s.prev = s.next = kNoSlot;
}

void L1Cache::free_all() {
  // A pinned entry is being read by someone (an in-flight send); freeing it under them is the
  // use-after-free this check exists to prevent.
  EDGEFN_L1_CHECK(pinned_ == 0);
  for (std::uint32_t slot = head_; slot != kNoSlot;) {
    const std::uint32_t next = slots_[slot].next;
    ::operator delete(slots_[slot].entry);
    slot = next;
  }
  buckets_.clear();
  slots_.clear();
  free_slot_ = head_ = tail_ = kNoSlot;
  count_ = 0;
  size_bytes_ = 0;
}

}  // namespace edgefn::cache
