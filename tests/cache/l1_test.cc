// Tests for L1Cache: hits and misses, LRU eviction within the byte budget, admission, replace and
// erase, fresh/stale/expired windows on a fake clock, hash collisions, pins, and no allocation on
// the lookup path.
#include "cache/l1.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

using std::chrono::seconds;

// A fixed origin for the fake clock: every time in these tests is t0 + something.
const TimePoint t0 = TimePoint{} + std::chrono::hours(1000);

Lifetime fresh_for(seconds fresh, seconds stale = seconds(0), TimePoint at = t0) {
  return Lifetime{at, at + fresh, at + fresh + stale};
}

// Keys own their bytes here; a CacheKey is only a view.
struct OwnedKey {
  std::string bytes;
  CacheKey key;
  explicit OwnedKey(std::string b) : bytes(std::move(b)), key(CacheKey::of(bytes)) {}
  OwnedKey(std::string b, std::uint64_t hash)
      : bytes(std::move(b)), key(CacheKey::with_hash(bytes, hash)) {}
  OwnedKey(const OwnedKey&) = delete;
  OwnedKey& operator=(const OwnedKey&) = delete;
};

// prefix + decimal i. Built with append rather than `"k" + std::to_string(i)`, which trips
// g++ 12's -Wrestrict false positive (GCC bug 105651) at -O2.
std::string numbered(std::string_view prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

std::string_view response_of(const L1Cache::Entry* entry) {
  return entry == nullptr ? std::string_view("<miss>") : entry->response();
}

TEST(L1Cache, MissOnEmptyThenHitAfterInsert) {
  L1Cache cache(1 << 20);
  OwnedKey k("v1|3:GET,1:h,2:/a,0:,");
  EXPECT_EQ(cache.find(k.key, t0), nullptr);
  ASSERT_TRUE(cache.insert(k.key, "HTTP/1.1 200 OK\r\n\r\nhi", fresh_for(seconds(60))));
  const L1Cache::Entry* e = cache.find(k.key, t0 + seconds(1));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->key(), k.bytes);
  EXPECT_EQ(e->response(), "HTTP/1.1 200 OK\r\n\r\nhi");
  EXPECT_EQ(e->hash(), k.key.hash());
  EXPECT_TRUE(e->fresh(t0 + seconds(1)));
  EXPECT_EQ(e->lifetime().stored_at, t0);
  EXPECT_EQ(e->age(t0 + seconds(7)), seconds(7));
  EXPECT_EQ(e->age(t0 - seconds(7)), seconds(0));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.size_bytes(), e->charge());
  EXPECT_EQ(e->charge(), L1Cache::kEntryOverhead + k.bytes.size() + e->response().size());
}

TEST(L1Cache, OtherKeysMissIncludingSameBytesWithAnotherHash) {
  L1Cache cache(1 << 20);
  OwnedKey a("a");
  OwnedKey b("b");
  OwnedKey a_rehashed("a", a.key.hash() ^ 1);
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(60))));
  EXPECT_EQ(cache.find(b.key, t0), nullptr);
  EXPECT_EQ(cache.find(a_rehashed.key, t0), nullptr);
  EXPECT_EQ(response_of(cache.find(a.key, t0)), "A");
}

TEST(L1Cache, EmptyKeyAndEmptyResponseAreStored) {
  L1Cache cache(1 << 20);
  OwnedKey k("");
  ASSERT_TRUE(cache.insert(k.key, "", fresh_for(seconds(1))));
  const L1Cache::Entry* e = cache.find(k.key, t0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->key(), "");
  EXPECT_EQ(e->response(), "");
  EXPECT_EQ(cache.size_bytes(), L1Cache::kEntryOverhead);
}

// Budget for exactly three entries of key size 1 and response size 100.
constexpr std::size_t kThreeEntries = 3 * (L1Cache::kEntryOverhead + 1 + 100);

TEST(L1Cache, EvictsTheLeastRecentlyUsedEntryFirst) {
  L1Cache cache(kThreeEntries, 1.0);
  OwnedKey a("a"), b("b"), c("c"), d("d"), e("e");
  const std::string body(100, 'x');
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(b.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(c.key, body, fresh_for(seconds(60))));
  EXPECT_EQ(cache.size_bytes(), kThreeEntries);
  ASSERT_NE(cache.find(a.key, t0), nullptr);                       // recency now: a c b
  ASSERT_TRUE(cache.insert(d.key, body, fresh_for(seconds(60))));  // evicts b
  EXPECT_EQ(cache.find(b.key, t0), nullptr);
  EXPECT_NE(cache.find(a.key, t0), nullptr);                       // a d c
  EXPECT_NE(cache.find(c.key, t0), nullptr);                       // c a d
  ASSERT_TRUE(cache.insert(e.key, body, fresh_for(seconds(60))));  // evicts d
  EXPECT_EQ(cache.find(d.key, t0), nullptr);
  EXPECT_NE(cache.find(a.key, t0), nullptr);
  EXPECT_NE(cache.find(c.key, t0), nullptr);
  EXPECT_NE(cache.find(e.key, t0), nullptr);
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(L1Cache, ALargeInsertEvictsAsManyEntriesAsItNeeds) {
  L1Cache cache(kThreeEntries, 1.0);
  OwnedKey a("a"), b("b"), c("c"), big("z");
  const std::string body(100, 'x');
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(b.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(c.key, body, fresh_for(seconds(60))));
  // Needs the room of two entries: a and b (the two least recent) go, c stays.
  const std::string large(2 * (L1Cache::kEntryOverhead + 101) - L1Cache::kEntryOverhead - 1, 'y');
  ASSERT_TRUE(cache.insert(big.key, large, fresh_for(seconds(60))));
  EXPECT_EQ(cache.find(a.key, t0), nullptr);
  EXPECT_EQ(cache.find(b.key, t0), nullptr);
  EXPECT_NE(cache.find(c.key, t0), nullptr);
  EXPECT_NE(cache.find(big.key, t0), nullptr);
  EXPECT_EQ(cache.size_bytes(), kThreeEntries);
}

TEST(L1Cache, SizeNeverExceedsTheBudget) {
  constexpr std::size_t kBudget = 64 * 1024;
  L1Cache cache(kBudget, 0.25);
  std::mt19937 rng(1);
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i)
    keys.push_back(numbered("key-", i) + std::string(static_cast<std::size_t>(i % 37), 'k'));
  std::size_t admitted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string& key = keys[rng() % keys.size()];
    const std::string body(std::uniform_int_distribution<std::size_t>(0, 20000)(rng), 'b');
    admitted += cache.insert(CacheKey::of(key), body, fresh_for(seconds(60))) ? 1 : 0;
    ASSERT_LE(cache.size_bytes(), kBudget) << "after insert " << i;
  }
  EXPECT_GT(admitted, 10000u);
  EXPECT_GT(cache.stats().evictions, 1000u);
  EXPECT_GT(cache.size_bytes(), kBudget / 2);
}

TEST(L1Cache, EntriesLargerThanTheFractionAreNotAdmitted) {
  L1Cache cache(8000, 1.0 / 8);
  EXPECT_EQ(cache.max_entry_bytes(), 1000u);
  OwnedKey k("key");
  const std::size_t fits = 1000 - L1Cache::kEntryOverhead - k.bytes.size();
  EXPECT_FALSE(cache.insert(k.key, std::string(fits + 1, 'x'), fresh_for(seconds(60))));
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.stats().rejected, 1u);
  ASSERT_TRUE(cache.insert(k.key, std::string(fits, 'x'), fresh_for(seconds(60))));
  EXPECT_EQ(cache.size_bytes(), 1000u);
  // A rejected replacement still removes the old response: it is outdated.
  EXPECT_FALSE(cache.insert(k.key, std::string(fits + 1, 'y'), fresh_for(seconds(60))));
  EXPECT_EQ(cache.find(k.key, t0), nullptr);
  EXPECT_EQ(cache.size_bytes(), 0u);
}

TEST(L1Cache, AKeyLargerThanTheLimitIsNotAdmitted) {
  L1Cache cache(1000, 1.0);
  OwnedKey huge(std::string(1000, 'k'));
  EXPECT_FALSE(cache.insert(huge.key, "", fresh_for(seconds(60))));
  L1Cache tiny(L1Cache::kEntryOverhead - 1, 1.0);
  OwnedKey k("k");
  EXPECT_FALSE(tiny.insert(k.key, "", fresh_for(seconds(60))));
  L1Cache empty(0);
  EXPECT_FALSE(empty.insert(k.key, "", fresh_for(seconds(60))));
  EXPECT_EQ(empty.find(k.key, t0), nullptr);
}

TEST(L1Cache, InsertingTheSameKeyReplacesTheEntry) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "first response", fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(k.key, "second", fresh_for(seconds(5), seconds(0), t0 + seconds(1))));
  EXPECT_EQ(cache.entries(), 1u);
  const L1Cache::Entry* e = cache.find(k.key, t0 + seconds(1));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->response(), "second");
  EXPECT_EQ(e->lifetime().stored_at, t0 + seconds(1));
  EXPECT_EQ(cache.size_bytes(), L1Cache::kEntryOverhead + 1 + 6);
}

// A 304 revalidation re-stores the entry's own bytes with a new lifetime; the views passed in
// point into the entry being replaced (AddressSanitizer would flag a use after free).
TEST(L1Cache, ReinsertingFromTheEntrysOwnBytesIsSafe) {
  L1Cache cache(1 << 20);
  OwnedKey k("the key");
  ASSERT_TRUE(cache.insert(k.key, "the response", fresh_for(seconds(1))));
  const L1Cache::Entry* old = cache.find(k.key, t0);
  ASSERT_NE(old, nullptr);
  const CacheKey self = CacheKey::with_hash(old->key(), old->hash());
  ASSERT_TRUE(cache.insert(self, old->response(), fresh_for(seconds(60), seconds(0), t0)));
  const L1Cache::Entry* e = cache.find(k.key, t0 + seconds(30));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->key(), "the key");
  EXPECT_EQ(e->response(), "the response");
  EXPECT_TRUE(e->fresh(t0 + seconds(30)));
}

TEST(L1Cache, EraseRemovesOnlyThatKey) {
  L1Cache cache(1 << 20);
  OwnedKey a("a"), b("b");
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(b.key, "B", fresh_for(seconds(60))));
  EXPECT_TRUE(cache.erase(a.key));
  EXPECT_FALSE(cache.erase(a.key));
  EXPECT_EQ(cache.find(a.key, t0), nullptr);
  EXPECT_EQ(response_of(cache.find(b.key, t0)), "B");
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.size_bytes(), L1Cache::kEntryOverhead + 2);
}

TEST(L1Cache, ClearEmptiesTheCacheWhichStaysUsable) {
  L1Cache cache(1 << 20);
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i)
    keys.push_back(numbered("k", i));
  for (const std::string& k : keys)
    ASSERT_TRUE(cache.insert(CacheKey::of(k), k, fresh_for(seconds(60))));
  cache.clear();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
  for (const std::string& k : keys)
    EXPECT_EQ(cache.find(CacheKey::of(k), t0), nullptr);
  ASSERT_TRUE(cache.insert(CacheKey::of(keys[5]), "again", fresh_for(seconds(60))));
  EXPECT_EQ(response_of(cache.find(CacheKey::of(keys[5]), t0)), "again");
}

TEST(L1Cache, FreshThenStaleThenGone) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "R", fresh_for(seconds(10), seconds(30))));
  const L1Cache::Entry* e = cache.find(k.key, t0 + seconds(9));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->fresh(t0 + seconds(9)));
  e = cache.find(k.key, t0 + seconds(10));  // fresh_until is exclusive
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->fresh(t0 + seconds(10)));
  e = cache.find(k.key, t0 + seconds(39));
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->fresh(t0 + seconds(39)));
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().stale_hits, 2u);
  EXPECT_EQ(cache.find(k.key, t0 + seconds(40)), nullptr);  // stale_until is exclusive too
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
  EXPECT_EQ(cache.stats().expired, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  // Gone for good, even for a clock that goes back.
  EXPECT_EQ(cache.find(k.key, t0), nullptr);
}

TEST(L1Cache, ExpiredEntriesAreOnlyRemovedWhenLookedUpOrEvicted) {
  L1Cache cache(1 << 20);
  OwnedKey a("a"), b("b");
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(1))));
  ASSERT_TRUE(cache.insert(b.key, "B", fresh_for(seconds(100))));
  EXPECT_EQ(response_of(cache.find(b.key, t0 + seconds(50))), "B");
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.find(a.key, t0 + seconds(50)), nullptr);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(L1Cache, LifetimesThatEndBeforeTheyStartAreRejected) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  EXPECT_FALSE(cache.insert(k.key, "R", Lifetime{t0, t0, t0}));
  EXPECT_FALSE(cache.insert(k.key, "R", Lifetime{t0, t0 - seconds(1), t0 - seconds(1)}));
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.stats().rejected, 2u);
  // Stale-only (fresh_until == stored_at) is fine: a response that must always revalidate.
  EXPECT_TRUE(cache.insert(k.key, "R", Lifetime{t0, t0, t0 + seconds(5)}));
  const L1Cache::Entry* e = cache.find(k.key, t0);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->fresh(t0));
}

TEST(L1Cache, AStaleWindowEndingBeforeFreshnessIsRaisedToIt) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "R", Lifetime{t0, t0 + seconds(10), t0 + seconds(2)}));
  const L1Cache::Entry* e = cache.find(k.key, t0 + seconds(5));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->fresh(t0 + seconds(5)));
  EXPECT_EQ(e->lifetime().stale_until, t0 + seconds(10));
  EXPECT_EQ(cache.find(k.key, t0 + seconds(10)), nullptr);
}

// Hash collision handling, parameterized by how the hashes are forced: every key on one hash,
// a few hashes for many keys, hashes equal in their low 32 bits only, and hashes whose home
// buckets sit at the end of the index so probe runs wrap around.
enum class Collisions { kAllEqual, kFewDistinct, kLowBitsEqual, kWrapAround };

std::uint64_t forced_hash(Collisions mode, std::size_t i) {
  switch (mode) {
    case Collisions::kAllEqual:
      return 42;
    case Collisions::kFewDistinct:
      return i % 5;
    case Collisions::kLowBitsEqual:
      return (static_cast<std::uint64_t>(i) << 32) | 7u;
    case Collisions::kWrapAround:
      return 0xffffffffu - (i % 3);
  }
  return 0;
}

class L1Collisions : public ::testing::TestWithParam<Collisions> {};

TEST_P(L1Collisions, EveryKeyIsFoundAndErasedExactly) {
  L1Cache cache(64 << 20);
  constexpr std::size_t kKeys = 600;
  std::vector<std::unique_ptr<OwnedKey>> keys;
  for (std::size_t i = 0; i < kKeys; ++i)
    keys.push_back(std::make_unique<OwnedKey>(numbered("key-", i), forced_hash(GetParam(), i)));
  for (std::size_t i = 0; i < kKeys; ++i)
    ASSERT_TRUE(cache.insert(keys[i]->key, numbered("R", i), fresh_for(seconds(60))));
  for (std::size_t i = 0; i < kKeys; ++i)
    ASSERT_EQ(response_of(cache.find(keys[i]->key, t0)), numbered("R", i));

  // Erase a random half; the other half must survive every backward shift.
  std::vector<std::size_t> order(kKeys);
  for (std::size_t i = 0; i < kKeys; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(3));
  std::vector<bool> erased(kKeys, false);
  for (std::size_t n = 0; n < kKeys / 2; ++n) {
    ASSERT_TRUE(cache.erase(keys[order[n]]->key));
    erased[order[n]] = true;
    if (n % 50 == 0) {
      for (std::size_t i = 0; i < kKeys; ++i) {
        ASSERT_EQ(cache.find(keys[i]->key, t0) != nullptr, !erased[i]) << "key " << i;
      }
    }
  }
  for (std::size_t i = 0; i < kKeys; ++i) {
    if (erased[i]) {
      EXPECT_EQ(cache.find(keys[i]->key, t0), nullptr) << i;
    } else {
      EXPECT_EQ(response_of(cache.find(keys[i]->key, t0)), numbered("R", i)) << i;
    }
  }
  EXPECT_EQ(cache.entries(), kKeys / 2);
}

INSTANTIATE_TEST_SUITE_P(Forced, L1Collisions,
                         ::testing::Values(Collisions::kAllEqual, Collisions::kFewDistinct,
                                           Collisions::kLowBitsEqual, Collisions::kWrapAround));

TEST(L1Cache, TheIndexGrowsToManyEntries) {
  L1Cache cache(std::size_t{1} << 30);
  constexpr int kKeys = 100000;
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i)
    keys.push_back(numbered("/item/", i));
  for (const std::string& k : keys)
    ASSERT_TRUE(cache.insert(CacheKey::of(k), k, fresh_for(seconds(60))));
  EXPECT_EQ(cache.entries(), static_cast<std::size_t>(kKeys));
  for (const std::string& k : keys)
    ASSERT_EQ(response_of(cache.find(CacheKey::of(k), t0)), k);
  EXPECT_EQ(cache.find(CacheKey::of("/item/-1"), t0), nullptr);
}

TEST(L1Cache, LookupsAllocateNothing) {
  L1Cache cache(1 << 20);
  OwnedKey hit("hit"), stale("stale"), miss("miss"), expired("expired");
  ASSERT_TRUE(cache.insert(hit.key, std::string(4096, 'h'), fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(stale.key, "S", fresh_for(seconds(1), seconds(600))));
  ASSERT_TRUE(cache.insert(expired.key, "E", fresh_for(seconds(1))));
  const L1Cache::Entry* e = nullptr;
  EXPECT_NO_ALLOC(e = cache.find(hit.key, t0 + seconds(2)));
  ASSERT_NE(e, nullptr);
  EXPECT_NO_ALLOC(e = cache.find(stale.key, t0 + seconds(2)));
  ASSERT_NE(e, nullptr);
  EXPECT_NO_ALLOC(e = cache.find(miss.key, t0 + seconds(2)));
  EXPECT_EQ(e, nullptr);
  EXPECT_NO_ALLOC(e = cache.find(expired.key, t0 + seconds(2)));  // removes it
  EXPECT_EQ(e, nullptr);
  EXPECT_NO_ALLOC(cache.pin(*cache.find(hit.key, t0)));
  EXPECT_NO_ALLOC(cache.unpin(*cache.find(hit.key, t0)));
  bool erased = false;
  EXPECT_NO_ALLOC(erased = cache.erase(stale.key));
  EXPECT_TRUE(erased);
}

TEST(L1Cache, AnInsertIntoAWarmCacheIsOneAllocation) {
  L1Cache cache(1 << 20);
  OwnedKey a("a"), b("b");
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(60))));
  ASSERT_TRUE(cache.erase(a.key));  // leaves a free slot; the index has room
  ::edgefn::testing::AllocationScope scope;
  ASSERT_TRUE(
      cache.insert(b.key, std::string_view("a response of some length"), fresh_for(seconds(60))));
  EXPECT_EQ(scope.count(), 1u);
}

TEST(L1Cache, APinnedEntryOutlivesItsRemoval) {
  L1Cache cache(kThreeEntries, 1.0);
  OwnedKey a("a"), b("b"), c("c"), d("d");
  const std::string body(100, 'a');
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(60))));
  const L1Cache::Entry* pinned = cache.find(a.key, t0);
  ASSERT_NE(pinned, nullptr);
  cache.pin(*pinned);
  cache.pin(*pinned);  // pins nest
  ASSERT_TRUE(cache.insert(b.key, std::string(100, 'b'), fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(c.key, std::string(100, 'c'), fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(d.key, std::string(100, 'd'), fresh_for(seconds(60))));  // evicts a
  EXPECT_EQ(cache.find(a.key, t0), nullptr);
  EXPECT_EQ(cache.size_bytes(), kThreeEntries);
  EXPECT_EQ(cache.detached_bytes(), pinned->charge());
  EXPECT_EQ(pinned->response(), body);  // still readable (ASan checks the memory is live)
  EXPECT_EQ(pinned->key(), "a");
  cache.unpin(*pinned);
  EXPECT_EQ(pinned->response(), body);
  cache.unpin(*pinned);  // frees it
  EXPECT_EQ(cache.detached_bytes(), 0u);
}

TEST(L1Cache, PinsSurviveReplaceEraseExpiryAndClear) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  std::vector<const L1Cache::Entry*> pinned;
  ASSERT_TRUE(cache.insert(k.key, "one", fresh_for(seconds(1))));
  pinned.push_back(cache.find(k.key, t0));
  cache.pin(*pinned.back());
  ASSERT_TRUE(cache.insert(k.key, "two", fresh_for(seconds(1))));  // replace
  pinned.push_back(cache.find(k.key, t0));
  cache.pin(*pinned.back());
  EXPECT_TRUE(cache.erase(k.key));
  ASSERT_TRUE(cache.insert(k.key, "three", fresh_for(seconds(1))));
  pinned.push_back(cache.find(k.key, t0));
  cache.pin(*pinned.back());
  EXPECT_EQ(cache.find(k.key, t0 + seconds(1)), nullptr);  // expired
  ASSERT_TRUE(cache.insert(k.key, "four", fresh_for(seconds(1))));
  pinned.push_back(cache.find(k.key, t0));
  cache.pin(*pinned.back());
  cache.clear();
  EXPECT_EQ(cache.size_bytes(), 0u);
  std::size_t detached = 0;
  for (const L1Cache::Entry* e : pinned)
    detached += e->charge();
  EXPECT_EQ(cache.detached_bytes(), detached);
  EXPECT_EQ(pinned[0]->response(), "one");
  EXPECT_EQ(pinned[1]->response(), "two");
  EXPECT_EQ(pinned[2]->response(), "three");
  EXPECT_EQ(pinned[3]->response(), "four");
  for (const L1Cache::Entry* e : pinned)
    cache.unpin(*e);
  EXPECT_EQ(cache.detached_bytes(), 0u);
}

TEST(L1Cache, UnpinningAResidentEntryLeavesItCached) {
  L1Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "R", fresh_for(seconds(60))));
  cache.pin(*cache.find(k.key, t0));
  cache.unpin(*cache.find(k.key, t0));
  EXPECT_EQ(response_of(cache.find(k.key, t0)), "R");
  EXPECT_EQ(cache.detached_bytes(), 0u);
}

TEST(L1Cache, MovingTransfersEntriesAndLeavesAnEmptyCache) {
  L1Cache a(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(a.insert(k.key, "R", fresh_for(seconds(60))));
  L1Cache b(std::move(a));
  EXPECT_EQ(response_of(b.find(k.key, t0)), "R");
  EXPECT_EQ(a.entries(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is API
  EXPECT_EQ(a.find(k.key, t0), nullptr);
  EXPECT_FALSE(a.erase(k.key));
  EXPECT_FALSE(a.insert(k.key, "R", fresh_for(seconds(60))));
  L1Cache c(1 << 10);
  c = std::move(b);
  EXPECT_EQ(response_of(c.find(k.key, t0)), "R");
  EXPECT_EQ(c.budget_bytes(), std::size_t{1} << 20);
  EXPECT_EQ(b.entries(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST(L1Cache, StatsCountEveryOutcome) {
  L1Cache cache(kThreeEntries, 1.0);
  OwnedKey a("a"), b("b"), c("c"), d("d");
  const std::string body(100, 'x');
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(1), seconds(1))));
  ASSERT_TRUE(cache.insert(b.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(c.key, body, fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(d.key, body, fresh_for(seconds(60))));  // evicts a
  EXPECT_FALSE(cache.insert(a.key, std::string(kThreeEntries, 'x'), fresh_for(seconds(60))));
  cache.find(b.key, t0);                 // hit
  cache.find(c.key, t0 + seconds(100));  // expired
  cache.find(a.key, t0);                 // miss
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(1), seconds(10))));
  cache.find(a.key, t0 + seconds(5));  // stale hit
  const L1Stats& s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.stale_hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.inserts, 5u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.evictions, 1u);
}

TEST(L1CacheDeathTest, AFractionOutsideZeroToOneAborts) {
  EXPECT_DEATH(L1Cache(1000, 0.0), "broken invariant");
  EXPECT_DEATH(L1Cache(1000, 1.5), "broken invariant");
  EXPECT_DEATH(L1Cache(1000, std::nan("")), "broken invariant");
}

TEST(L1CacheDeathTest, UnpinWithoutPinAborts) {
  EXPECT_DEATH(
      {
        L1Cache cache(1 << 20);
        OwnedKey k("k");
        cache.insert(k.key, "R", fresh_for(seconds(60)));
        cache.unpin(*cache.find(k.key, t0));
      },
      "broken invariant");
}

TEST(L1CacheDeathTest, DestroyingACacheWithPinsAborts) {
  EXPECT_DEATH(
      {
        L1Cache cache(1 << 20);
        OwnedKey k("k");
        cache.insert(k.key, "R", fresh_for(seconds(60)));
        cache.pin(*cache.find(k.key, t0));
      },
      "broken invariant");
}

}  // namespace
}  // namespace edgefn::cache
