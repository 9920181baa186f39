// ConcurrencyLimit: slots up to max, a bounded queue, releases that point at a worker with
// waiters, and counters that stay exact when several threads acquire and release at once.
#include "router/concurrency_limit.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace edgefn::router {
namespace {

TEST(ConcurrencyLimitTest, GrantsUpToMaxThenQueuesUpToTheQueueBound) {
  ConcurrencyLimit limit({.max = 2, .queue = 1});
  EXPECT_TRUE(limit.try_acquire());
  EXPECT_TRUE(limit.try_acquire());
  EXPECT_FALSE(limit.try_acquire());
  EXPECT_TRUE(limit.enter_queue(0));
  EXPECT_FALSE(limit.enter_queue(1));  // full: one place, taken
  EXPECT_EQ(limit.running(), 2u);
  EXPECT_EQ(limit.queued(), 1u);
}

TEST(ConcurrencyLimitTest, ReleaseNamesAnotherWorkerWithWaiters) {
  ConcurrencyLimit limit({.max = 1, .queue = 4});
  ASSERT_TRUE(limit.try_acquire());
  ASSERT_TRUE(limit.enter_queue(2));
  // Worker 0 has no waiter of its own: it must wake worker 2.
  EXPECT_EQ(limit.release(0), 2u);
  EXPECT_EQ(limit.running(), 0u);
  // Worker 2 wakes, takes the slot for its waiter.
  EXPECT_TRUE(limit.try_acquire());
  limit.leave_queue(2);
  EXPECT_EQ(limit.queued(), 0u);
  EXPECT_EQ(limit.release(2), std::nullopt);  // nobody waits any more
}

TEST(ConcurrencyLimitTest, NoQueueMeansRefuseAtOnce) {
  ConcurrencyLimit limit({.max = 1, .queue = 0});
  ASSERT_TRUE(limit.try_acquire());
  EXPECT_FALSE(limit.enter_queue(0));
  EXPECT_EQ(limit.queued(), 0u);
}

TEST(ConcurrencyLimitTest, CountsStayExactUnderConcurrentUse) {
  constexpr unsigned kThreads = 4;
  ConcurrencyLimit limit({.max = 3, .queue = 2});
  std::atomic<std::uint32_t> over_limit{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        if (limit.try_acquire()) {
          if (limit.running() > 3) over_limit.fetch_add(1);
          limit.release(t);
        } else if (limit.enter_queue(t)) {
          limit.leave_queue(t);
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(over_limit.load(), 0u);
  EXPECT_EQ(limit.running(), 0u);
  EXPECT_EQ(limit.queued(), 0u);
}

}  // namespace
}  // namespace edgefn::router
