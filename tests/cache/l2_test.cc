// Tests for L2Cache: hits, misses, stale and expired windows, replacement, LRU order and the
// byte budget per shard, admission, forced hash collisions, erase/erase_prefix/clear, readers
// holding values across their removal, allocation counts, and four threads at once.
#include "cache/l2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
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

std::string_view blob_of(const L2Ref& value) {
  return value == nullptr ? std::string_view("<miss>") : std::string_view(value->blob);
}

constexpr std::size_t charge(std::size_t key_size, std::size_t blob_size) {
  return L2Cache::kEntryOverhead + key_size + blob_size;
}

// Keys with equal hashes always share a shard, whichever bits pick it; tests that need one
// shard force this hash.
constexpr std::uint64_t kOneShard = 42;

TEST(L2Cache, MissOnEmptyThenHitAfterInsert) {
  L2Cache cache(1 << 20);
  OwnedKey k("v2|1:f,3:GET,1:h,2:/a,0:,");
  EXPECT_EQ(cache.find(k.key, t0), nullptr);
  ASSERT_TRUE(cache.insert(k.key, "stored blob", fresh_for(seconds(60)), 77));
  const L2Ref v = cache.find(k.key, t0 + seconds(1));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->key, k.bytes);
  EXPECT_EQ(v->blob, "stored blob");
  EXPECT_EQ(v->hash, k.key.hash());
  EXPECT_EQ(v->tag, 77u);
  EXPECT_EQ(v->lifetime.stored_at, t0);
  EXPECT_TRUE(v->fresh(t0 + seconds(1)));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.size_bytes(), charge(k.bytes.size(), 11));
  const L2Stats s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.inserts, 1u);
}

TEST(L2Cache, OtherKeysMissIncludingSameBytesWithAnotherHash) {
  L2Cache cache(1 << 20);
  OwnedKey a("a");
  OwnedKey b("b");
  OwnedKey a_rehashed("a", a.key.hash() ^ 1);
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(60))));
  EXPECT_EQ(cache.find(b.key, t0), nullptr);
  EXPECT_EQ(cache.find(a_rehashed.key, t0), nullptr);
  EXPECT_EQ(blob_of(cache.find(a.key, t0)), "A");
}

TEST(L2Cache, FreshThenStaleThenExpired) {
  L2Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "R", fresh_for(seconds(10), seconds(30))));
  L2Ref v = cache.find(k.key, t0 + seconds(9));
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->fresh(t0 + seconds(9)));
  v = cache.find(k.key, t0 + seconds(10));  // fresh_until is exclusive
  ASSERT_NE(v, nullptr);
  EXPECT_FALSE(v->fresh(t0 + seconds(10)));
  v = cache.find(k.key, t0 + seconds(39));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().stale_hits, 2u);
  EXPECT_EQ(cache.find(k.key, t0 + seconds(40)), nullptr);  // stale_until is exclusive too
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
  EXPECT_EQ(cache.stats().expired, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  // The value found before it expired is still whole; and the entry is gone for good, even for
  // a clock that goes back.
  EXPECT_EQ(v->blob, "R");
  EXPECT_EQ(v.use_count(), 1);
  EXPECT_EQ(cache.find(k.key, t0), nullptr);
}

TEST(L2Cache, LifetimesThatEndBeforeTheyStartAreRejected) {
  L2Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "old", fresh_for(seconds(60))));
  EXPECT_FALSE(cache.insert(k.key, "R", Lifetime{t0, t0, t0}));
  EXPECT_EQ(cache.find(k.key, t0), nullptr);  // the refused insert removed the old value
  EXPECT_FALSE(cache.insert(k.key, "R", Lifetime{t0, t0 - seconds(1), t0 - seconds(1)}));
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.stats().rejected, 2u);
  // Stale-only (fresh_until == stored_at) is fine: a response that must always revalidate.
  ASSERT_TRUE(cache.insert(k.key, "R", Lifetime{t0, t0, t0 + seconds(5)}));
  const L2Ref v = cache.find(k.key, t0);
  ASSERT_NE(v, nullptr);
  EXPECT_FALSE(v->fresh(t0));
}

TEST(L2Cache, AStaleWindowEndingBeforeFreshnessIsRaisedToIt) {
  L2Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "R", Lifetime{t0, t0 + seconds(10), t0 + seconds(2)}));
  const L2Ref v = cache.find(k.key, t0 + seconds(5));
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->fresh(t0 + seconds(5)));
  EXPECT_EQ(v->lifetime.stale_until, t0 + seconds(10));
  EXPECT_EQ(cache.find(k.key, t0 + seconds(10)), nullptr);
}

TEST(L2Cache, InsertingTheSameKeyReplacesTheValueAndOldReadersKeepTheirs) {
  L2Cache cache(1 << 20);
  OwnedKey k("k");
  ASSERT_TRUE(cache.insert(k.key, "first response", fresh_for(seconds(60)), 1));
  const L2Ref first = cache.find(k.key, t0);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(cache.insert(k.key, "second", fresh_for(seconds(5), seconds(0), t0 + seconds(1)), 2));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.size_bytes(), charge(1, 6));
  const L2Ref second = cache.find(k.key, t0 + seconds(1));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->blob, "second");
  EXPECT_EQ(second->tag, 2u);
  EXPECT_EQ(second->lifetime.stored_at, t0 + seconds(1));
  // The cache dropped its reference to the first value; the reader's is the only one left.
  EXPECT_EQ(first->blob, "first response");
  EXPECT_EQ(first->tag, 1u);
  EXPECT_EQ(first.use_count(), 1);
}

// A 304 revalidation re-stores a value's own bytes with a new lifetime; the views passed in
// point into the value being replaced (AddressSanitizer would flag a use after free).
TEST(L2Cache, ReinsertingFromTheValuesOwnBytesIsSafe) {
  L2Cache cache(1 << 20);
  OwnedKey k("the key");
  ASSERT_TRUE(cache.insert(k.key, "the response", fresh_for(seconds(1))));
  L2Ref old = cache.find(k.key, t0);
  ASSERT_NE(old, nullptr);
  const CacheKey self = CacheKey::with_hash(old->key, old->hash);
  ASSERT_TRUE(cache.insert(self, old->blob, fresh_for(seconds(60), seconds(0), t0)));
  old.reset();
  const L2Ref v = cache.find(k.key, t0 + seconds(30));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->key, "the key");
  EXPECT_EQ(v->blob, "the response");
}

// Shard budget for exactly three entries of key size 1 and blob size 100.
constexpr std::size_t kThreeEntries = 3 * charge(1, 100);

TEST(L2Cache, EvictsTheLeastRecentlyUsedValueOfTheShardFirst) {
  L2Cache cache(L2Cache::kShards * kThreeEntries, 1.0);
  EXPECT_EQ(cache.max_entry_bytes(), kThreeEntries);
  OwnedKey a("a", kOneShard), b("b", kOneShard), c("c", kOneShard), d("d", kOneShard),
      e("e", kOneShard);
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
  EXPECT_EQ(cache.size_bytes(), kThreeEntries);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

// One insert that must evict more values than the insert can set aside under one lock hold
// (the set-aside array has 16 places): the rounds between must still evict in LRU order and
// end with the budget met exactly.
TEST(L2Cache, ALargeInsertEvictsAsManyValuesAsItNeeds) {
  constexpr std::size_t kSmall = charge(5, 100);
  constexpr std::size_t kFit = 40;
  L2Cache cache(L2Cache::kShards * kFit * kSmall, 1.0);
  std::vector<std::unique_ptr<OwnedKey>> keys;
  for (std::size_t i = 0; i < kFit; ++i) {
    keys.push_back(std::make_unique<OwnedKey>(numbered("k", 1000 + i), kOneShard));
    ASSERT_TRUE(cache.insert(keys[i]->key, std::string(100, 'x'), fresh_for(seconds(60))));
  }
  ASSERT_EQ(cache.size_bytes(), kFit * kSmall);
  const L2Ref oldest = cache.find(keys[0]->key, t0);  // now the most recent: evicted last
  ASSERT_NE(oldest, nullptr);
  const L2Ref second = cache.find(keys[1]->key, t0);
  ASSERT_NE(second, nullptr);

  // Needs the room of 30 entries: keys 2..31 go (the least recent), 32..39, 0 and 1 stay.
  OwnedKey big("big", kOneShard);
  const std::string large(30 * kSmall - L2Cache::kEntryOverhead - 3, 'y');
  ASSERT_TRUE(cache.insert(big.key, large, fresh_for(seconds(60))));
  EXPECT_EQ(cache.stats().evictions, 30u);
  EXPECT_EQ(cache.entries(), 11u);
  EXPECT_EQ(cache.size_bytes(), kFit * kSmall);
  for (std::size_t i = 2; i < 32; ++i)
    EXPECT_EQ(cache.find(keys[i]->key, t0), nullptr) << i;
  for (std::size_t i = 32; i < kFit; ++i)
    EXPECT_NE(cache.find(keys[i]->key, t0), nullptr) << i;
  EXPECT_NE(cache.find(keys[0]->key, t0), nullptr);
  EXPECT_NE(cache.find(keys[1]->key, t0), nullptr);
  EXPECT_EQ(blob_of(cache.find(big.key, t0)), large);
}

TEST(L2Cache, SizeNeverExceedsTheBudget) {
  constexpr std::size_t kBudget = L2Cache::kShards * 4096;
  L2Cache cache(kBudget, 0.25);
  std::mt19937 rng(1);
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i)
    keys.push_back(numbered("key-", i) + std::string(static_cast<std::size_t>(i % 37), 'k'));
  std::size_t admitted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string& key = keys[rng() % keys.size()];
    const std::string body(std::uniform_int_distribution<std::size_t>(0, 4500)(rng), 'b');
    admitted += cache.insert(CacheKey::of(key), body, fresh_for(seconds(60))) ? 1 : 0;
    ASSERT_LE(cache.size_bytes(), kBudget) << "after insert " << i;
  }
  EXPECT_GT(admitted, 10000u);
  EXPECT_GT(cache.stats().evictions, 1000u);
  EXPECT_GT(cache.size_bytes(), kBudget / 2);

  // entries() and size_bytes() agree with what find() sees.
  std::size_t present = 0;
  std::size_t bytes = 0;
  for (const std::string& key : keys) {
    if (const L2Ref v = cache.find(CacheKey::of(key), t0)) {
      ++present;
      bytes += charge(v->key.size(), v->blob.size());
    }
  }
  EXPECT_EQ(cache.entries(), present);
  EXPECT_EQ(cache.size_bytes(), bytes);
}

TEST(L2Cache, EntriesLargerThanTheFractionOrAShardAreNotAdmitted) {
  // The shard's share (16000 / 16) is the tighter limit here, the fraction in the second.
  L2Cache by_shard(16000, 1.0);
  EXPECT_EQ(by_shard.max_entry_bytes(), 1000u);
  L2Cache by_fraction(160000, 1.0 / 32);
  EXPECT_EQ(by_fraction.max_entry_bytes(), 5000u);

  OwnedKey k("key");
  const std::size_t fits = 1000 - L2Cache::kEntryOverhead - k.bytes.size();
  EXPECT_FALSE(by_shard.insert(k.key, std::string(fits + 1, 'x'), fresh_for(seconds(60))));
  EXPECT_EQ(by_shard.entries(), 0u);
  EXPECT_EQ(by_shard.stats().rejected, 1u);
  ASSERT_TRUE(by_shard.insert(k.key, std::string(fits, 'x'), fresh_for(seconds(60))));
  EXPECT_EQ(by_shard.size_bytes(), 1000u);
  // A refused replacement still removes the old value: it is outdated.
  EXPECT_FALSE(by_shard.insert(k.key, std::string(fits + 1, 'y'), fresh_for(seconds(60))));
  EXPECT_EQ(by_shard.find(k.key, t0), nullptr);
  EXPECT_EQ(by_shard.size_bytes(), 0u);
  EXPECT_EQ(by_shard.stats().rejected, 2u);
}

TEST(L2Cache, AKeyLargerThanTheLimitAndZeroBudgetsAreRefused) {
  L2Cache cache(16000, 1.0);
  OwnedKey huge(std::string(1000, 'k'));
  EXPECT_FALSE(cache.insert(huge.key, "", fresh_for(seconds(60))));
  L2Cache tiny(L2Cache::kShards * (L2Cache::kEntryOverhead - 1), 1.0);
  OwnedKey k("k");
  EXPECT_FALSE(tiny.insert(k.key, "", fresh_for(seconds(60))));
  L2Cache empty(0);
  EXPECT_EQ(empty.max_entry_bytes(), 0u);
  EXPECT_FALSE(empty.insert(k.key, "", fresh_for(seconds(60))));
  EXPECT_EQ(empty.find(k.key, t0), nullptr);
  EXPECT_EQ(empty.size_bytes(), 0u);
}

// Hash collision handling, parameterized by how the hashes are forced: every key on one hash,
// a few hashes for many keys, hashes equal in their low 32 bits only, and hashes whose home
// buckets sit at the end of the index so probe runs wrap around.
enum class Collisions { kAllEqual, kFewDistinct, kLowBitsEqual, kWrapAround };

std::uint64_t forced_hash(Collisions mode, std::size_t i) {
  switch (mode) {
    case Collisions::kAllEqual:
      return kOneShard;
    case Collisions::kFewDistinct:
      return i % 5;
    case Collisions::kLowBitsEqual:
      return (static_cast<std::uint64_t>(i) << 32) | 7u;
    case Collisions::kWrapAround:
      return 0xffffffffu - (i % 3);
  }
  return 0;
}

class L2Collisions : public ::testing::TestWithParam<Collisions> {};

TEST_P(L2Collisions, EveryKeyIsFoundAndErasedExactly) {
  L2Cache cache(std::size_t{1} << 30);
  constexpr std::size_t kKeys = 600;
  std::vector<std::unique_ptr<OwnedKey>> keys;
  for (std::size_t i = 0; i < kKeys; ++i)
    keys.push_back(std::make_unique<OwnedKey>(numbered("key-", i), forced_hash(GetParam(), i)));
  for (std::size_t i = 0; i < kKeys; ++i)
    ASSERT_TRUE(cache.insert(keys[i]->key, numbered("R", i), fresh_for(seconds(60))));
  for (std::size_t i = 0; i < kKeys; ++i)
    ASSERT_EQ(blob_of(cache.find(keys[i]->key, t0)), numbered("R", i));

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
      EXPECT_EQ(blob_of(cache.find(keys[i]->key, t0)), numbered("R", i)) << i;
    }
  }
  EXPECT_EQ(cache.entries(), kKeys / 2);
}

INSTANTIATE_TEST_SUITE_P(Forced, L2Collisions,
                         ::testing::Values(Collisions::kAllEqual, Collisions::kFewDistinct,
                                           Collisions::kLowBitsEqual, Collisions::kWrapAround));

TEST(L2Cache, EraseRemovesOnlyThatKey) {
  L2Cache cache(1 << 20);
  OwnedKey a("a"), b("b");
  ASSERT_TRUE(cache.insert(a.key, "A", fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(b.key, "B", fresh_for(seconds(60))));
  EXPECT_TRUE(cache.erase(a.key));
  EXPECT_FALSE(cache.erase(a.key));
  EXPECT_EQ(cache.find(a.key, t0), nullptr);
  EXPECT_EQ(blob_of(cache.find(b.key, t0)), "B");
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.size_bytes(), charge(1, 1));
}

TEST(L2Cache, ErasePrefixRemovesExactlyTheMatchingKeysInEveryShard) {
  L2Cache cache(std::size_t{1} << 30);
  std::vector<std::string> purge;
  std::vector<std::string> keep;
  for (std::size_t i = 0; i < 300; ++i) {
    purge.push_back(numbered("v2|1:f,3:GET,4:a.io,", i));
    keep.push_back(numbered("v2|1:f,3:GET,4:b.io,", i));
  }
  for (std::size_t i = 0; i < 300; ++i) {
    ASSERT_TRUE(cache.insert(CacheKey::of(purge[i]), "P", fresh_for(seconds(60))));
    ASSERT_TRUE(cache.insert(CacheKey::of(keep[i]), "K", fresh_for(seconds(60))));
  }
  // Forced into one shard, so that shard alone holds more matches than one lock hold sets aside.
  std::vector<std::unique_ptr<OwnedKey>> crowded;
  for (std::size_t i = 0; i < 50; ++i) {
    crowded.push_back(std::make_unique<OwnedKey>(numbered("v2|1:f,3:GET,4:a.io,x", i), kOneShard));
    ASSERT_TRUE(cache.insert(crowded.back()->key, "C", fresh_for(seconds(60))));
  }
  EXPECT_EQ(cache.erase_prefix("v2|1:f,3:GET,4:a.io,"), 350u);
  EXPECT_EQ(cache.entries(), 300u);
  std::size_t kept_bytes = 0;
  for (const std::string& k : keep)
    kept_bytes += charge(k.size(), 1);
  EXPECT_EQ(cache.size_bytes(), kept_bytes);
  for (std::size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(cache.find(CacheKey::of(purge[i]), t0), nullptr) << i;
    EXPECT_EQ(blob_of(cache.find(CacheKey::of(keep[i]), t0)), "K") << i;
  }
  for (const auto& k : crowded)
    EXPECT_EQ(cache.find(k->key, t0), nullptr);
  EXPECT_EQ(cache.erase_prefix("nothing"), 0u);
  EXPECT_EQ(cache.erase_prefix(""), 300u);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
}

TEST(L2Cache, ClearEmptiesTheCacheWhichStaysUsable) {
  L2Cache cache(1 << 20);
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i)
    keys.push_back(numbered("k", i));
  for (const std::string& k : keys)
    ASSERT_TRUE(cache.insert(CacheKey::of(k), k, fresh_for(seconds(60))));
  const L2Ref held = cache.find(CacheKey::of(keys[7]), t0);
  cache.clear();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
  for (const std::string& k : keys)
    EXPECT_EQ(cache.find(CacheKey::of(k), t0), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->blob, "k7");
  EXPECT_EQ(held.use_count(), 1);
  ASSERT_TRUE(cache.insert(CacheKey::of(keys[5]), "again", fresh_for(seconds(60))));
  EXPECT_EQ(blob_of(cache.find(CacheKey::of(keys[5]), t0)), "again");
  EXPECT_EQ(cache.stats().inserts, 101u);  // counters survive clear()
}

// A worker sending a value it found keeps it while the cache evicts it: its bytes stay intact
// and the worker's reference becomes the only one.
TEST(L2Cache, AReaderKeepsItsValueAcrossEviction) {
  L2Cache cache(L2Cache::kShards * kThreeEntries, 1.0);
  OwnedKey a("a", kOneShard);
  const std::string body(100, 'a');
  ASSERT_TRUE(cache.insert(a.key, body, fresh_for(seconds(60)), 5));
  const L2Ref held = cache.find(a.key, t0);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held.use_count(), 2);
  std::vector<std::unique_ptr<OwnedKey>> others;
  for (std::size_t i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<OwnedKey>(numbered("o", i), kOneShard));
    ASSERT_TRUE(cache.insert(others[i]->key, std::string(99, 'o'), fresh_for(seconds(60))));
  }
  EXPECT_EQ(cache.find(a.key, t0), nullptr);
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(held->key, "a");
  EXPECT_EQ(held->blob, body);
  EXPECT_EQ(held->tag, 5u);
  EXPECT_EQ(held->hash, kOneShard);
}

TEST(L2Cache, LookupsAndErasesAllocateNothing) {
  L2Cache cache(1 << 20);
  OwnedKey hit("hit"), stale("stale"), miss("miss"), expired("expired");
  ASSERT_TRUE(cache.insert(hit.key, std::string(4096, 'h'), fresh_for(seconds(60))));
  ASSERT_TRUE(cache.insert(stale.key, "S", fresh_for(seconds(1), seconds(600))));
  ASSERT_TRUE(cache.insert(expired.key, "E", fresh_for(seconds(1))));
  L2Ref v;
  EXPECT_NO_ALLOC(v = cache.find(hit.key, t0 + seconds(2)));
  ASSERT_NE(v, nullptr);
  EXPECT_NO_ALLOC(v = cache.find(stale.key, t0 + seconds(2)));
  ASSERT_NE(v, nullptr);
  EXPECT_NO_ALLOC(v = cache.find(miss.key, t0 + seconds(2)));
  EXPECT_EQ(v, nullptr);
  EXPECT_NO_ALLOC(v = cache.find(expired.key, t0 + seconds(2)));  // removes it
  EXPECT_EQ(v, nullptr);
  bool erased = false;
  EXPECT_NO_ALLOC(erased = cache.erase(stale.key));
  EXPECT_TRUE(erased);
  std::size_t stats_hits = 0;
  EXPECT_NO_ALLOC(stats_hits = cache.stats().hits);
  EXPECT_EQ(stats_hits, 1u);
}

// What an insert allocates, once its shard's index and slab have room: the value with its
// control block, plus the key's and the blob's bytes when they are longer than std::string
// keeps inline. Eviction and replacement allocate nothing.
TEST(L2Cache, AnInsertAllocatesOnlyTheValue) {
  L2Cache cache(L2Cache::kShards * kThreeEntries, 1.0);
  OwnedKey a("a", kOneShard), b("b", kOneShard);
  ASSERT_TRUE(cache.insert(a.key, std::string(100, 'x'), fresh_for(seconds(60))));
  {
    testing::AllocationScope scope;
    ASSERT_TRUE(cache.insert(a.key, "short", fresh_for(seconds(60))));  // replaces
    EXPECT_EQ(scope.count(), 1u);
  }
  OwnedKey long_key(std::string(40, 'L'), kOneShard);
  ASSERT_TRUE(cache.insert(b.key, std::string(100, 'x'), fresh_for(seconds(60))));
  ASSERT_EQ(cache.entries(), 2u);
  const std::string blob(500, 'y');
  {
    testing::AllocationScope scope;
    ASSERT_TRUE(cache.insert(long_key.key, blob, fresh_for(seconds(60))));  // evicts a and b
    EXPECT_EQ(scope.count(), 3u);
  }
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

// l2.cc's compile-time check of kEntryOverhead assumes libstdc++'s control block (a vtable
// pointer and two 32-bit counts) shares one allocation with the value; measure the real block.
std::size_t g_block_bytes = 0;
std::size_t g_blocks = 0;

template <typename T>
struct RecordingAllocator {
  using value_type = T;
  RecordingAllocator() = default;
  template <typename U>
  explicit RecordingAllocator(const RecordingAllocator<U>&) {}
  T* allocate(std::size_t n) {
    g_block_bytes += n * sizeof(T);
    ++g_blocks;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(const RecordingAllocator&, const RecordingAllocator&) { return true; }
};

TEST(L2Cache, EntryOverheadCoversTheValueAndItsControlBlock) {
  g_block_bytes = g_blocks = 0;
  {
    auto v = std::allocate_shared<L2Value>(RecordingAllocator<L2Value>());
    EXPECT_EQ(v.use_count(), 1);
  }
  EXPECT_EQ(g_blocks, 1u);
  EXPECT_LE(g_block_bytes, sizeof(L2Value) + sizeof(void*) + 2 * sizeof(std::int32_t));
  // Value and control block, a glibc allocation header (16), a 24-byte slot and four 8-byte
  // index buckets.
  EXPECT_LE(g_block_bytes + 16 + 24 + 4 * 8, L2Cache::kEntryOverhead);
}

// Four threads find, insert, replace, erase and purge overlapping keys in a small cache (heavy
// eviction), and hold some values across all of it. Every value found must be whole and belong
// to its key; afterwards the sizes must match what find() sees and the counters must add up.
// Run it under the sanitizer builds too (ThreadSanitizer sees the locking).
TEST(L2Cache, FourThreadsOnOverlappingKeysStayConsistent) {
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kOps = 20000;
  constexpr std::size_t kKeys = 256;
  constexpr std::size_t kBudget = L2Cache::kShards * 8192;
  L2Cache cache(kBudget, 0.25);
  ASSERT_EQ(cache.max_entry_bytes(), 8192u);
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < kKeys; ++i)
    keys.push_back(numbered("/k/", i));

  // A value of thread t with n filler bytes: key + '|' + n times ('a' + t), tagged (t << 32) | n,
  // so a torn or misplaced value cannot pass valid().
  auto blob_for = [](const std::string& key, std::size_t t, std::size_t n) {
    std::string blob = key;
    blob += '|';
    blob.append(n, static_cast<char>('a' + t));
    return blob;
  };
  auto valid = [&](const L2Value& v, const std::string& key) {
    const std::size_t t = v.tag >> 32;
    const std::size_t n = v.tag & 0xffffffffu;
    return t < kThreads && v.key == key && v.hash == CacheKey::of(key).hash() &&
           v.blob == blob_for(key, t, n);
  };

  struct Counts {
    std::uint64_t finds = 0;
    std::uint64_t inserted = 0;
    std::uint64_t refused = 0;
    std::uint64_t oversized = 0;
    std::uint64_t erased = 0;
    std::uint64_t purged = 0;
    std::uint64_t invalid = 0;
  };
  std::vector<Counts> counts(kThreads);
  auto work = [&](std::size_t t) {
    Counts& c = counts[t];
    std::mt19937 rng(static_cast<std::uint32_t>(t + 1));
    std::vector<std::pair<L2Ref, const std::string*>> held(8);
    for (std::size_t op = 0; op < kOps; ++op) {
      const std::string& key = keys[rng() % kKeys];
      const CacheKey k = CacheKey::of(key);
      const unsigned roll = rng() % 100;
      if (roll < 50) {
        L2Ref v = cache.find(k, t0);
        ++c.finds;
        if (v != nullptr) {
          if (!valid(*v, key)) ++c.invalid;
          if (rng() % 4 == 0) held[rng() % held.size()] = {std::move(v), &key};
        }
      } else if (roll < 85) {
        const std::size_t n = rng() % 1500;
        const bool ok = cache.insert(k, blob_for(key, t, n), fresh_for(seconds(600)),
                                     (static_cast<std::uint64_t>(t) << 32) | n);
        ++(ok ? c.inserted : c.refused);
      } else if (roll < 90) {
        ++c.oversized;
        if (cache.insert(k, blob_for(key, t, 9000), fresh_for(seconds(600)))) ++c.inserted;
      } else if (roll < 99) {
        if (cache.erase(k)) ++c.erased;
      } else {
        c.purged += cache.erase_prefix(numbered("/k/", rng() % 10));
      }
    }
    for (const auto& [v, key] : held) {
      if (v != nullptr && !valid(*v, *key)) ++c.invalid;
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t)
    threads.emplace_back(work, t);
  for (std::thread& th : threads)
    th.join();

  Counts total;
  for (const Counts& c : counts) {
    total.finds += c.finds;
    total.inserted += c.inserted;
    total.refused += c.refused;
    total.oversized += c.oversized;
    total.erased += c.erased;
    total.purged += c.purged;
    total.invalid += c.invalid;
  }
  EXPECT_EQ(total.invalid, 0u);
  EXPECT_EQ(total.refused, 0u);  // only the oversized inserts are refused
  const L2Stats s = cache.stats();
  EXPECT_EQ(s.hits + s.stale_hits + s.misses, total.finds);
  EXPECT_EQ(s.stale_hits, 0u);
  EXPECT_EQ(s.expired, 0u);
  EXPECT_EQ(s.inserts, total.inserted);
  EXPECT_EQ(s.rejected, total.oversized);
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_LE(cache.size_bytes(), kBudget);

  std::size_t present = 0;
  std::size_t bytes = 0;
  for (const std::string& key : keys) {
    if (const L2Ref v = cache.find(CacheKey::of(key), t0)) {
      EXPECT_TRUE(valid(*v, key)) << key;
      ++present;
      bytes += charge(v->key.size(), v->blob.size());
    }
  }
  EXPECT_EQ(cache.entries(), present);
  EXPECT_EQ(cache.size_bytes(), bytes);
  // Every value stored was evicted, erased, purged, replaced, or is still there; replacements
  // (and refused inserts replacing a value) are not counted apart, hence >=.
  EXPECT_GE(s.inserts, s.evictions + total.erased + total.purged + present);
}

}  // namespace
}  // namespace edgefn::cache
