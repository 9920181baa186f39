// Micro benchmarks for the L1 and L2 caches and cache keys. Every case reports `allocs_per_iter`:
// it must be 0 for lookups and key building (they run on every request), 1 for an L1 insert (the
// entry's single allocation; the index is already grown) and 3 for an L2 insert (the shared
// value with its control block, and the key's and the response's bytes).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cache/key.h"
#include "cache/l1.h"
#include "cache/l2.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

const TimePoint kNow = TimePoint{} + std::chrono::hours(1);
const Lifetime kLifetime{kNow, kNow + std::chrono::hours(1), kNow + std::chrono::hours(2)};

// prefix + decimal i. Built with append rather than `"k" + std::to_string(i)`, which trips
// g++ 12's -Wrestrict false positive (GCC bug 105651) at -O2.
std::string numbered(std::string_view prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// Canonical keys shaped like real ones: "v1|3:GET,15:api.example.com,..." for /items/<i>.
std::vector<std::string> make_keys(std::size_t count, std::size_t first) {
  std::vector<std::string> keys;
  keys.reserve(count);
  std::string buffer;
  for (std::size_t i = first; i < first + count; ++i) {
    const std::string path = numbered("/api/v1/items/", i);
    build_key(KeyParts{"GET", "api.example.com", path, "", {}, "items"}, buffer);
    keys.push_back(buffer);
  }
  return keys;
}

void report_allocations(benchmark::State& state, std::size_t before) {
  // Read the count before touching state.counters: adding a counter allocates.
  const std::size_t allocations = testing::allocation_count() - before;
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

// find() hits on a cache holding Arg entries of 512-byte responses, cycling through all of them
// so the index and the entries come from memory, not one hot cache line: the cost of an L1 hit
// (probe, key compare, LRU promotion). Arg: 1000 (fits in CPU caches), 100000 (does not).
void BM_FindHit(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const std::vector<std::string> keys = make_keys(count, 0);
  std::vector<CacheKey> cache_keys;
  for (const std::string& k : keys)
    cache_keys.push_back(CacheKey::of(k));
  L1Cache cache(std::size_t{1} << 30);
  const std::string response(512, 'r');
  for (const CacheKey& k : cache_keys)
    cache.insert(k, response, kLifetime);
  if (cache.entries() != count) {
    state.SkipWithError("entries were not all admitted");
    return;
  }
  std::size_t i = 0;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    const L1Cache::Entry* e = cache.find(cache_keys[i], kNow);
    benchmark::DoNotOptimize(e);
    if (++i == count) i = 0;
  }
  report_allocations(state, before);
  if (cache.stats().misses != 0) state.SkipWithError("a lookup missed");
}
BENCHMARK(BM_FindHit)->Arg(1000)->Arg(100000);

// find() misses on the same caches: keys that were never inserted, so each lookup walks its probe
// run to an empty bucket. The cost every uncached request pays before going to L2 or a function.
void BM_FindMiss(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const std::vector<std::string> present = make_keys(count, 0);
  const std::vector<std::string> absent = make_keys(count, count);
  std::vector<CacheKey> absent_keys;
  for (const std::string& k : absent)
    absent_keys.push_back(CacheKey::of(k));
  L1Cache cache(std::size_t{1} << 30);
  const std::string response(512, 'r');
  for (const std::string& k : present)
    cache.insert(CacheKey::of(k), response, kLifetime);
  std::size_t i = 0;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    const L1Cache::Entry* e = cache.find(absent_keys[i], kNow);
    benchmark::DoNotOptimize(e);
    if (++i == count) i = 0;
  }
  report_allocations(state, before);
  if (cache.stats().hits != 0) state.SkipWithError("a lookup hit");
}
BENCHMARK(BM_FindMiss)->Arg(1000)->Arg(100000);

// insert() of a new key into a full 4 MiB cache: allocate and copy the entry, evict the least
// recently used entries to make room, index it. Arg: response bytes (256, 4096, 65536); bytes/s
// counts the response bytes copied.
void BM_InsertWithEviction(benchmark::State& state) {
  const auto response_size = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kBudget = std::size_t{4} << 20;
  // Twice as many distinct keys as fit, so every insert is of a key that is not cached.
  const std::size_t fits = kBudget / (response_size + L1Cache::kEntryOverhead + 32);
  const std::vector<std::string> keys = make_keys(2 * fits + 2, 0);
  std::vector<CacheKey> cache_keys;
  for (const std::string& k : keys)
    cache_keys.push_back(CacheKey::of(k));
  L1Cache cache(kBudget);
  const std::string response(response_size, 'r');
  for (const CacheKey& k : cache_keys)
    cache.insert(k, response, kLifetime);  // fills the cache and grows the index once
  std::size_t i = 0;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    const bool stored = cache.insert(cache_keys[i], response, kLifetime);
    benchmark::DoNotOptimize(stored);
    if (++i == cache_keys.size()) i = 0;
  }
  report_allocations(state, before);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(response_size));
}
BENCHMARK(BM_InsertWithEviction)->Arg(256)->Arg(4096)->Arg(65536);

// build_key() for a typical API request varying on two headers, into a warm buffer: composing
// the canonical bytes plus the XXH3 hash, the per-request cost of keying a cacheable route.
void BM_BuildKey(benchmark::State& state) {
  const std::array<KeyHeader, 2> vary = {
      {{"accept-language", "en-US,en;q=0.9"}, {"accept-encoding", "gzip, deflate, br"}}};
  const KeyParts parts{"GET", "api.example.com", "/api/v1/users/42/orders", "page=2&limit=50",
                       vary,  "orders"};
  std::string buffer;
  build_key(parts, buffer);
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    CacheKey key = build_key(parts, buffer);
    benchmark::DoNotOptimize(key);
  }
  report_allocations(state, before);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(buffer.size()));
}
BENCHMARK(BM_BuildKey);

// An L2 holding `count` entries of 512-byte responses, shared by every thread of a run: built by
// the first thread to ask for that count and kept until the process exits.
struct L2Fixture {
  std::vector<std::string> keys;
  std::vector<CacheKey> cache_keys;
  L2Cache cache{std::size_t{1} << 30};

  explicit L2Fixture(std::size_t count) : keys(make_keys(count, 0)) {
    const std::string response(512, 'r');
    for (const std::string& k : keys) {
      cache_keys.push_back(CacheKey::of(k));
      cache.insert(cache_keys.back(), response, kLifetime);
    }
  }
};

L2Fixture& l2_fixture(std::size_t count) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<L2Fixture>> fixtures;
  std::lock_guard lock(mutex);
  std::unique_ptr<L2Fixture>& fixture = fixtures[count];
  if (fixture == nullptr) fixture = std::make_unique<L2Fixture>(count);
  return *fixture;
}

// L2 find() hits, cycling through Arg entries as BM_FindHit does: the cost after an L1 miss
// (shard lock, probe, key compare, LRU promotion, and the reference count taken and dropped).
// Arg: 1000 (fits in CPU caches), 100000 (does not), 1 (the same key every time). With two
// threads each starts half way through the keys, so they meet on a shard about one lookup in
// kShards; with Arg 1 they always meet: one shard lock and one reference count bouncing between
// the cores, the worst case. Times are per lookup in each thread, so without contention the
// two-thread figures equal the one-thread ones.
void BM_L2FindHit(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  L2Fixture& fixture = l2_fixture(count);
  if (fixture.cache.entries() != count) {
    state.SkipWithError("entries were not all admitted");
    return;
  }
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (count / 2) % count;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    L2Ref value = fixture.cache.find(fixture.cache_keys[i], kNow);
    benchmark::DoNotOptimize(value.get());
    if (++i == count) i = 0;
  }
  report_allocations(state, before);
  if (fixture.cache.stats().misses != 0) state.SkipWithError("a lookup missed");
}
BENCHMARK(BM_L2FindHit)->Arg(1)->Arg(1000)->Arg(100000);
BENCHMARK(BM_L2FindHit)->Arg(1)->Arg(1000)->Arg(100000)->Threads(2);

// L2 insert() of a new key into a full 4 MiB cache, as BM_InsertWithEviction: build the shared
// value outside the lock, evict the shard's least recently used values, index it, and free the
// evicted values after unlocking. Arg: response bytes; bytes/s counts the response bytes copied.
void BM_L2InsertWithEviction(benchmark::State& state) {
  const auto response_size = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kBudget = std::size_t{4} << 20;
  // Twice as many distinct keys as fit, so every insert is of a key that is not cached.
  const std::size_t fits = kBudget / (response_size + L2Cache::kEntryOverhead + 32);
  const std::vector<std::string> keys = make_keys(2 * fits + 2, 0);
  std::vector<CacheKey> cache_keys;
  for (const std::string& k : keys)
    cache_keys.push_back(CacheKey::of(k));
  L2Cache cache(kBudget);
  const std::string response(response_size, 'r');
  for (const CacheKey& k : cache_keys)
    cache.insert(k, response, kLifetime);  // fills the cache and grows every shard's index once
  std::size_t i = 0;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    const bool stored = cache.insert(cache_keys[i], response, kLifetime);
    benchmark::DoNotOptimize(stored);
    if (++i == cache_keys.size()) i = 0;
  }
  report_allocations(state, before);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(response_size));
}
BENCHMARK(BM_L2InsertWithEviction)->Arg(256)->Arg(4096)->Arg(65536);

}  // namespace
}  // namespace edgefn::cache
