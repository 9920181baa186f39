// Randomized model test: L1Cache against a plain std::list + std::map LRU with the same rules,
// over 100k mixed operations per hash mode (real XXH3 hashes and forced collisions), with a
// moving fake clock and pins held across removals.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <list>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cache/l1.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

// prefix + decimal i. Built with append rather than `"k" + std::to_string(i)`, which trips
// g++ 12's -Wrestrict false positive (GCC bug 105651) at -O2.
std::string numbered(std::string_view prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// The reference: obviously correct, allocation-happy, and slow. Items carry a generation so
// pins can tell whether the entry they hold is still the resident one.
class ReferenceCache {
 public:
  struct Item {
    std::size_t id;
    std::uint64_t generation;
    std::string response;
    Lifetime life;
    std::size_t charge;
  };

  ReferenceCache(std::size_t budget, std::size_t max_entry) : budget_(budget), max_(max_entry) {}

  const Item* find(std::size_t id, TimePoint now) {
    auto it = index_.find(id);
    if (it == index_.end()) return nullptr;
    if (now >= it->second->life.stale_until) {
      remove(it);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return &lru_.front();
  }

  bool insert(std::size_t id, std::size_t key_size, const std::string& response, Lifetime life,
              std::uint64_t generation) {
    if (life.stale_until < life.fresh_until) life.stale_until = life.fresh_until;
    const std::size_t charge = L1Cache::kEntryOverhead + key_size + response.size();
    erase(id);
    if (charge > max_ || life.stale_until <= life.stored_at) return false;
    while (size_ + charge > budget_) {
      auto victim = index_.find(lru_.back().id);
      remove(victim);
    }
    lru_.push_front(Item{id, generation, response, life, charge});
    index_[id] = lru_.begin();
    size_ += charge;
    return true;
  }

  bool erase(std::size_t id) {
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    remove(it);
    return true;
  }

  void clear() {
    lru_.clear();
    index_.clear();
    size_ = 0;
  }

  bool resident(std::size_t id, std::uint64_t generation) const {
    auto it = index_.find(id);
    return it != index_.end() && it->second->generation == generation;
  }

  std::size_t size() const { return size_; }
  std::size_t entries() const { return index_.size(); }

 private:
  using Index = std::map<std::size_t, std::list<Item>::iterator>;
  void remove(Index::iterator it) {
    size_ -= it->second->charge;
    lru_.erase(it->second);
    index_.erase(it);
  }

  std::list<Item> lru_;  // front: most recently used
  Index index_;
  std::size_t size_ = 0;
  std::size_t budget_;
  std::size_t max_;
};

enum class HashMode { kXxh3, kFewDistinct, kAllEqual, kLowBitsEqual };

struct Pin {
  const L1Cache::Entry* entry;
  std::size_t id;
  std::uint64_t generation;
  std::string response;
  std::size_t charge;
};

class L1Model : public ::testing::TestWithParam<HashMode> {};

TEST_P(L1Model, MatchesTheReferenceOver100kOperations) {
  constexpr std::size_t kBudget = 24000;
  constexpr std::size_t kIds = 100;
  constexpr int kOperations = 100000;
  L1Cache cache(kBudget, 1.0 / 8);
  ReferenceCache reference(kBudget, cache.max_entry_bytes());

  std::vector<std::string> key_bytes;
  std::vector<CacheKey> keys;
  for (std::size_t id = 0; id < kIds; ++id)
    key_bytes.push_back(numbered("k", id) + std::string(id % 23, '.'));
  for (std::size_t id = 0; id < kIds; ++id) {
    const std::string& b = key_bytes[id];
    switch (GetParam()) {
      case HashMode::kXxh3:
        keys.push_back(CacheKey::of(b));
        break;
      case HashMode::kFewDistinct:
        keys.push_back(CacheKey::with_hash(b, id % 4));
        break;
      case HashMode::kAllEqual:
        keys.push_back(CacheKey::with_hash(b, 0x5555));
        break;
      case HashMode::kLowBitsEqual:
        keys.push_back(CacheKey::with_hash(b, (static_cast<std::uint64_t>(id) << 32) | 9u));
        break;
    }
  }

  std::mt19937_64 rng(20240611 + static_cast<unsigned>(GetParam()));
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::uint64_t generation = 0;
  std::vector<Pin> pins;
  // A failed ASSERT returns early; release the pins first so the cache's destructor reports
  // the failure instead of aborting the whole binary on its pinned-entry check.
  struct ReleasePins {
    L1Cache& cache;
    std::vector<Pin>& pins;
    ~ReleasePins() {
      for (const Pin& p : pins)
        cache.unpin(*p.entry);
    }
  } release_pins{cache, pins};
  std::uint64_t hits = 0;

  auto expected_detached = [&] {
    std::set<const L1Cache::Entry*> counted;
    std::size_t bytes = 0;
    for (const Pin& p : pins) {
      if (!reference.resident(p.id, p.generation) && counted.insert(p.entry).second) {
        bytes += p.charge;
      }
    }
    return bytes;
  };

  for (int op = 0; op < kOperations; ++op) {
    if (uniform(0, 4) == 0) now += std::chrono::milliseconds(uniform(0, 2000));
    const std::size_t id = uniform(0, kIds - 1);
    const std::uint64_t dice = uniform(0, 999);

    if (dice < 450) {
      ::edgefn::testing::AllocationScope scope;
      const L1Cache::Entry* got = cache.find(keys[id], now);
      ASSERT_EQ(scope.count(), 0u) << "find allocated at op " << op;
      const ReferenceCache::Item* want = reference.find(id, now);
      ASSERT_EQ(got != nullptr, want != nullptr) << "op " << op << " id " << id;
      if (got != nullptr) {
        ++hits;
        ASSERT_EQ(got->key(), key_bytes[id]);
        ASSERT_EQ(got->response(), want->response) << "op " << op;
        ASSERT_EQ(got->fresh(now), now < want->life.fresh_until);
        ASSERT_EQ(got->lifetime().stale_until, want->life.stale_until);
        ASSERT_EQ(got->charge(), want->charge);
        if (pins.size() < 20 && uniform(0, 9) == 0) {
          cache.pin(*got);
          pins.push_back(Pin{got, id, want->generation, want->response, want->charge});
        }
      }
    } else if (dice < 850) {
      ++generation;
      const std::size_t length = uniform(0, 4) == 0 ? uniform(800, 4000) : uniform(0, 800);
      std::string response = numbered("r", generation) + ":";
      response.append(length, static_cast<char>('a' + generation % 26));
      Lifetime life{now, now + std::chrono::milliseconds(uniform(0, 10000)), {}};
      life.stale_until = life.fresh_until + std::chrono::milliseconds(uniform(0, 10000));
      const std::uint64_t shape = uniform(0, 19);
      if (shape == 0) life.fresh_until = life.stale_until = life.stored_at;  // rejected
      if (shape == 1) life.stale_until = life.fresh_until - std::chrono::milliseconds(1);
      const bool stored = cache.insert(keys[id], response, life);
      ASSERT_EQ(stored, reference.insert(id, key_bytes[id].size(), response, life, generation))
          << "op " << op;
    } else if (dice < 960) {
      ASSERT_EQ(cache.erase(keys[id]), reference.erase(id)) << "op " << op;
    } else if (dice < 999) {
      if (!pins.empty()) {
        const std::size_t i = uniform(0, pins.size() - 1);
        ASSERT_EQ(pins[i].entry->response(), pins[i].response);
        cache.unpin(*pins[i].entry);
        pins.erase(pins.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else {
      cache.clear();
      reference.clear();
    }

    ASSERT_EQ(cache.entries(), reference.entries()) << "op " << op;
    ASSERT_EQ(cache.size_bytes(), reference.size()) << "op " << op;
    ASSERT_LE(cache.size_bytes(), kBudget);
    ASSERT_EQ(cache.detached_bytes(), expected_detached()) << "op " << op;
  }

  for (const Pin& p : pins)
    EXPECT_EQ(p.entry->response(), p.response);
  for (const Pin& p : pins)
    cache.unpin(*p.entry);
  pins.clear();
  EXPECT_EQ(cache.detached_bytes(), 0u);
  // The mix must exercise the interesting paths, not just misses.
  EXPECT_GT(hits, 5000u);
  EXPECT_GT(cache.stats().evictions, 1000u);
  EXPECT_GT(cache.stats().stale_hits, 1000u);
  EXPECT_GT(cache.stats().expired, 1000u);
  EXPECT_GT(cache.stats().rejected, 1000u);
}

INSTANTIATE_TEST_SUITE_P(Hashes, L1Model,
                         ::testing::Values(HashMode::kXxh3, HashMode::kFewDistinct,
                                           HashMode::kAllEqual, HashMode::kLowBitsEqual));

}  // namespace
}  // namespace edgefn::cache
