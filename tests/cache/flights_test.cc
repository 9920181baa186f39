// FlightTable: one leader per key, followers recorded per worker and reported once on landing.
#include "cache/flights.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace edgefn::cache {
namespace {

TEST(FlightTable, FirstMissLeadsOthersFollowUntilItLands) {
  FlightTable table;
  const CacheKey key = CacheKey::of("v2|k");
  EXPECT_FALSE(table.in_flight(key));
  EXPECT_TRUE(table.lead_or_follow(key, 0));
  EXPECT_TRUE(table.in_flight(key));
  EXPECT_FALSE(table.lead_or_follow(key, 3));
  EXPECT_FALSE(table.lead_or_follow(key, 3));
  EXPECT_FALSE(table.lead_or_follow(key, 1));
  std::vector<unsigned> woken;
  table.land(key, [&](unsigned worker) { woken.push_back(worker); });
  EXPECT_EQ(woken, (std::vector<unsigned>{1, 3}));  // each worker once
  EXPECT_FALSE(table.in_flight(key));
  EXPECT_EQ(table.flights(), 0u);
  // Landing twice, or a key never flown, wakes nobody.
  table.land(key, [&](unsigned) { ADD_FAILURE(); });
  EXPECT_TRUE(table.lead_or_follow(key, 2));  // a new flight
}

TEST(FlightTable, KeysWithTheSameHashAreDifferentFlights) {
  FlightTable table;
  const CacheKey a = CacheKey::with_hash("v2|a", 7);
  const CacheKey b = CacheKey::with_hash("v2|b", 7);
  EXPECT_TRUE(table.lead_or_follow(a, 0));
  EXPECT_TRUE(table.lead_or_follow(b, 0));
  EXPECT_EQ(table.flights(), 2u);
  table.land(a, [](unsigned) {});
  EXPECT_FALSE(table.in_flight(a));
  EXPECT_TRUE(table.in_flight(b));
}

TEST(FlightTable, ExactlyOneLeaderAmongThreadsRacingForAKey) {
  FlightTable table;
  const CacheKey key = CacheKey::of("v2|race");
  std::atomic<int> leaders{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (table.lead_or_follow(key, t)) leaders.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(leaders.load(), 1);
  int woken = 0;
  table.land(key, [&](unsigned) { ++woken; });
  EXPECT_EQ(woken, 4);  // every thread followed (the leader's own later calls too)
}

}  // namespace
}  // namespace edgefn::cache
