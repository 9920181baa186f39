// Micro benchmarks for the node-wide memory kv store (runtime/kv_memory.h), the backend of
// ctx.kv() without Redis. Every case reports `allocs_per_iter`: 0 for get (the value lands in a
// request arena) and for incr of an existing counter, 1 for a put that replaces a value (the
// value's copy, made outside the shard lock). Threads(2): two workers on the same store, so the
// figure includes shard-lock contention (16 shards, keys spread over all of them).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <memory_resource>
#include <string>
#include <vector>

#include "runtime/kv_memory.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::runtime {
namespace {

using std::chrono::milliseconds;

const MemoryKv::TimePoint kNow = MemoryKv::TimePoint{} + std::chrono::hours(1);
constexpr std::size_t kKeys = 10'000;

std::vector<std::string> make_keys(std::string_view prefix) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < kKeys; ++i) {
    std::string key(prefix);
    key += std::to_string(i);
    keys.push_back(std::move(key));
  }
  return keys;
}

// One store for every case and thread, filled once: 10k keys of 256-byte values, 10k counters.
MemoryKv& store() {
  static MemoryKv* kv = [] {
    auto* made = new MemoryKv(std::size_t{64} << 20);
    const std::string value(256, 'v');
    for (const std::string& key : make_keys("key:"))
      made->put(key, value, milliseconds(0), kNow);
    return made;
  }();
  return *kv;
}

void report_allocations(benchmark::State& state, std::size_t before) {
  const std::size_t allocations = testing::allocation_count() - before;
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

// get() hits a 256-byte value, copied into an arena reset every 16 KiB.
void BM_KvGetHit(benchmark::State& state) {
  MemoryKv& kv = store();
  const std::vector<std::string> keys = make_keys("key:");
  alignas(std::max_align_t) std::array<std::byte, 16 * 1024> buffer;
  std::pmr::monotonic_buffer_resource arena(buffer.data(), buffer.size(),
                                            std::pmr::null_memory_resource());
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  std::size_t used = 0;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    if (used + 256 > buffer.size()) {
      arena.release();
      used = 0;
    }
    benchmark::DoNotOptimize(kv.get(keys[i++ % kKeys], kNow, &arena));
    used += 256;
  }
  report_allocations(state, before);
}
BENCHMARK(BM_KvGetHit)->Threads(1)->Threads(2);

// put() replaces an existing 256-byte value (no new table node).
void BM_KvPutReplace(benchmark::State& state) {
  MemoryKv& kv = store();
  const std::vector<std::string> keys = make_keys("key:");
  const std::string value(256, 'w');
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state)
    benchmark::DoNotOptimize(kv.put(keys[i++ % kKeys], value, milliseconds(0), kNow));
  report_allocations(state, before);
}
BENCHMARK(BM_KvPutReplace)->Threads(1)->Threads(2);

// incr() of existing counters: parse, add, format, under the shard lock.
void BM_KvIncr(benchmark::State& state) {
  MemoryKv& kv = store();
  const std::vector<std::string> keys = make_keys("counter:");
  for (const std::string& key : keys)
    kv.incr(key, 0, milliseconds(0), kNow);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state)
    benchmark::DoNotOptimize(kv.incr(keys[i++ % kKeys], 1, milliseconds(0), kNow));
  report_allocations(state, before);
}
BENCHMARK(BM_KvIncr)->Threads(1)->Threads(2);

}  // namespace
}  // namespace edgefn::runtime
