// MemoryKv: get/put/remove semantics, TTL on a clock the test moves, atomic incr across threads,
// Redis' integer rules, and the byte budget (LRU eviction, refusal of what cannot fit).
#include "runtime/kv_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <memory_resource>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::runtime {
namespace {

using std::chrono::milliseconds;
using Status = api::KvStatus;

class MemoryKvTest : public ::testing::Test {
 protected:
  api::KvResult get(MemoryKv& store, std::string_view key) { return store.get(key, now, &arena); }

  MemoryKv::TimePoint now = MemoryKv::TimePoint() + std::chrono::hours(1);
  std::pmr::monotonic_buffer_resource arena;
};

TEST_F(MemoryKvTest, PutGetRemove) {
  MemoryKv store(1 << 20);
  EXPECT_EQ(get(store, "a").status, Status::kNotFound);
  EXPECT_EQ(store.put("a", "one", milliseconds(0), now), Status::kOk);
  api::KvResult got = get(store, "a");
  ASSERT_EQ(got.status, Status::kOk);
  EXPECT_EQ(got.value, "one");
  // Last writer wins; the earlier copy stays valid in the arena.
  EXPECT_EQ(store.put("a", "two", milliseconds(0), now), Status::kOk);
  EXPECT_EQ(got.value, "one");
  EXPECT_EQ(get(store, "a").value, "two");
  EXPECT_EQ(store.put("empty", "", milliseconds(0), now), Status::kOk);
  EXPECT_EQ(get(store, "empty").status, Status::kOk);
  EXPECT_EQ(get(store, "empty").value, "");
  EXPECT_EQ(store.entries(), 2u);
  EXPECT_EQ(store.remove("a", now), Status::kOk);
  EXPECT_EQ(store.remove("a", now), Status::kNotFound);
  EXPECT_EQ(get(store, "a").status, Status::kNotFound);
  EXPECT_EQ(store.entries(), 1u);
}

TEST_F(MemoryKvTest, ValuesAreBinarySafe) {
  MemoryKv store(1 << 20);
  const std::string value("a\0b\r\n\xff", 6);
  const std::string key("k\0ey", 4);
  ASSERT_EQ(store.put(key, value, milliseconds(0), now), Status::kOk);
  EXPECT_EQ(get(store, key).value, value);
  EXPECT_EQ(get(store, "k").status, Status::kNotFound);
}

TEST_F(MemoryKvTest, GetCopiesIntoTheArenaWithoutAHeapAllocation) {
  MemoryKv store(1 << 20);
  ASSERT_EQ(store.put("key", std::string(300, 'v'), milliseconds(0), now), Status::kOk);
  std::array<std::byte, 1024> buffer;
  std::pmr::monotonic_buffer_resource local(buffer.data(), buffer.size(),
                                            std::pmr::null_memory_resource());
  api::KvResult got;
  EXPECT_NO_ALLOC(got = store.get("key", now, &local));
  EXPECT_EQ(got.value, std::string(300, 'v'));
  const auto* inside = reinterpret_cast<const std::byte*>(got.value.data());
  EXPECT_TRUE(inside >= buffer.data() && inside < buffer.data() + buffer.size());
}

TEST_F(MemoryKvTest, GetCanCopyStraightIntoAString) {
  MemoryKv store(1 << 20);
  ASSERT_EQ(store.put("key", "value", milliseconds(0), now), Status::kOk);
  std::pmr::string body("old contents", &arena);
  const api::KvResult got = store.get("key", now, &arena, &body);
  EXPECT_EQ(got.status, Status::kOk);
  EXPECT_EQ(std::string_view(body), "value");
  EXPECT_EQ(got.value.data(), body.data());
  std::pmr::string untouched("kept", &arena);
  EXPECT_EQ(store.get("other", now, &arena, &untouched).status, Status::kNotFound);
  EXPECT_EQ(std::string_view(untouched), "kept");
}

TEST_F(MemoryKvTest, ValuesExpireAfterTheirTtl) {
  MemoryKv store(1 << 20);
  ASSERT_EQ(store.put("short", "s", milliseconds(100), now), Status::kOk);
  ASSERT_EQ(store.put("forever", "f", milliseconds(0), now), Status::kOk);
  now += milliseconds(99);
  EXPECT_EQ(get(store, "short").status, Status::kOk);
  now += milliseconds(1);
  EXPECT_EQ(get(store, "short").status, Status::kNotFound);
  EXPECT_EQ(store.remove("short", now), Status::kNotFound);
  now += std::chrono::hours(24 * 365);
  EXPECT_EQ(get(store, "forever").value, "f");
  // A put without a ttl clears the one an earlier put set.
  ASSERT_EQ(store.put("k", "1", milliseconds(10), now), Status::kOk);
  ASSERT_EQ(store.put("k", "2", milliseconds(0), now), Status::kOk);
  now += milliseconds(20);
  EXPECT_EQ(get(store, "k").value, "2");
  // The expired entry's bytes were given back when it was found expired.
  EXPECT_EQ(store.entries(), 2u);
}

TEST_F(MemoryKvTest, IncrCountsFromZeroAndKeepsDecimalText) {
  MemoryKv store(1 << 20);
  EXPECT_EQ(store.incr("n", 1, milliseconds(0), now).integer, 1);
  EXPECT_EQ(store.incr("n", 41, milliseconds(0), now).integer, 42);
  EXPECT_EQ(store.incr("n", -50, milliseconds(0), now).integer, -8);
  EXPECT_EQ(get(store, "n").value, "-8");
  ASSERT_EQ(store.put("p", "100", milliseconds(0), now), Status::kOk);
  const api::KvResult counted = store.incr("p", 5, milliseconds(0), now);
  EXPECT_EQ(counted.status, Status::kOk);
  EXPECT_EQ(counted.integer, 105);
}

TEST_F(MemoryKvTest, IncrRefusesWhatRedisWouldNotCount) {
  MemoryKv store(1 << 20);
  for (std::string_view bad :
       {"abc", "", " 1", "1 ", "+1", "01", "-0", "1.5", "0x10", "-", "99999999999999999999"}) {
    ASSERT_EQ(store.put("bad", bad, milliseconds(0), now), Status::kOk);
    EXPECT_EQ(store.incr("bad", 1, milliseconds(0), now).status, Status::kNotInteger) << bad;
    EXPECT_EQ(get(store, "bad").value, bad) << "a refused incr leaves the value";
  }
  ASSERT_EQ(store.put("max", std::to_string(std::numeric_limits<std::int64_t>::max()),
                      milliseconds(0), now),
            Status::kOk);
  EXPECT_EQ(store.incr("max", 1, milliseconds(0), now).status, Status::kNotInteger);
  EXPECT_EQ(store.incr("max", -1, milliseconds(0), now).integer,
            std::numeric_limits<std::int64_t>::max() - 1);
  ASSERT_EQ(store.put("min", "-9223372036854775808", milliseconds(0), now), Status::kOk);
  EXPECT_EQ(store.incr("min", -1, milliseconds(0), now).status, Status::kNotInteger);
  EXPECT_EQ(store.incr("min", 0, milliseconds(0), now).integer,
            std::numeric_limits<std::int64_t>::min());
}

TEST(ParseKvInteger, FollowsRedisRules) {
  std::int64_t value = 7;
  EXPECT_TRUE(parse_kv_integer("0", value));
  EXPECT_EQ(value, 0);
  EXPECT_TRUE(parse_kv_integer("-12", value));
  EXPECT_EQ(value, -12);
  EXPECT_TRUE(parse_kv_integer("9223372036854775807", value));
  EXPECT_FALSE(parse_kv_integer("9223372036854775808", value));
  EXPECT_FALSE(parse_kv_integer("00", value));
  EXPECT_FALSE(parse_kv_integer("-", value));
}

TEST_F(MemoryKvTest, IncrGivesANewCounterItsWindowAndKeepsIt) {
  MemoryKv store(1 << 20);
  EXPECT_EQ(store.incr("window", 1, milliseconds(1000), now).integer, 1);
  now += milliseconds(600);
  // A later incr does not push the window's end out.
  EXPECT_EQ(store.incr("window", 1, milliseconds(1000), now).integer, 2);
  now += milliseconds(400);
  EXPECT_EQ(get(store, "window").status, Status::kNotFound);
  EXPECT_EQ(store.incr("window", 1, milliseconds(1000), now).integer, 1);
  // A value put without a ttl gets the window on its first incr.
  ASSERT_EQ(store.put("kept", "5", milliseconds(0), now), Status::kOk);
  EXPECT_EQ(store.incr("kept", 1, milliseconds(50), now).integer, 6);
  now += milliseconds(50);
  EXPECT_EQ(get(store, "kept").status, Status::kNotFound);
}

TEST_F(MemoryKvTest, ConcurrentIncrFromFourThreadsGivesTheExactSum) {
  MemoryKv store(1 << 20);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t, this] {
      for (int i = 0; i < kPerThread; ++i) {
        // One shared counter, plus traffic on other keys of every shard.
        store.incr("shared", t + 1, milliseconds(0), now);
        store.incr("own" + std::to_string(t) + ":" + std::to_string(i % 64), 1, milliseconds(0),
                   now);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  // 1 + 2 + 3 + 4 per round.
  EXPECT_EQ(store.incr("shared", 0, milliseconds(0), now).integer, 10 * kPerThread);
  EXPECT_EQ(get(store, "own3:63").value, std::to_string(kPerThread / 64 + (kPerThread % 64 > 63)));
  EXPECT_EQ(store.entries(), 1u + kThreads * 64);
}

TEST_F(MemoryKvTest, TheBudgetEvictsTheLeastRecentlyUsed) {
  // 16 shards of 4 KiB: a 1000-byte value costs about 1.2 KiB, so three fit one shard.
  MemoryKv store(16 * 4096);
  const std::string value(1000, 'x');
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) {
    keys.push_back("key" + std::to_string(i));
    ASSERT_EQ(store.put(keys.back(), value, milliseconds(0), now), Status::kOk);
    ASSERT_LE(store.size_bytes(), store.budget_bytes());
    // The first key stays the most recently read one, so eviction passes it by.
    ASSERT_EQ(get(store, keys.front()).status, Status::kOk) << i;
  }
  EXPECT_GT(store.evictions(), 300u);
  EXPECT_LE(store.entries(), 16u * 3);
  // The newest key always survives its own put.
  EXPECT_EQ(get(store, keys.back()).value, value);
  std::size_t found = 0;
  for (const std::string& key : keys)
    found += get(store, key).status == Status::kOk;
  EXPECT_EQ(found, store.entries());
}

TEST_F(MemoryKvTest, AnEntryLargerThanAShardIsRefused) {
  MemoryKv store(16 * 4096);
  EXPECT_EQ(store.max_value_bytes(), 4096 - MemoryKv::kEntryOverhead);
  const std::string fits(store.max_value_bytes() - 1, 'f');
  EXPECT_EQ(store.put("k", fits, milliseconds(0), now), Status::kOk);
  EXPECT_EQ(store.put("k", std::string(4096, 'b'), milliseconds(0), now), Status::kTooLarge);
  // The refused put left the old value.
  EXPECT_EQ(get(store, "k").value, fits);
  EXPECT_EQ(store.incr(std::string(4096, 'k'), 1, milliseconds(0), now).status, Status::kTooLarge);
}

}  // namespace
}  // namespace edgefn::runtime
