// CircuitBreaker: the threshold, fail-fast while open, exactly one probe per `reset`, what a
// probe's answer does, a lost probe's replacement, and one probe among racing threads.
#include "runtime/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

// Any fixed point: the breaker only compares differences.
const CircuitBreaker::Clock::time_point kT0 = CircuitBreaker::Clock::time_point(1000h);

// A breaker with threshold 3 and reset 10s, opened at kT0.
struct Opened {
  Opened() {
    for (int i = 0; i < 3; ++i) {
      breaker.failed(kT0);
    }
  }
  CircuitBreaker breaker{3, 10s};
};

TEST(CircuitBreaker, ClosedUntilTheThreshold) {
  CircuitBreaker breaker(3, 10s);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.allow(kT0));
  breaker.failed(kT0);
  breaker.failed(kT0);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_EQ(breaker.consecutive_failures(), 2u);
  EXPECT_TRUE(breaker.allow(kT0));
  EXPECT_EQ(breaker.times_opened(), 0u);

  breaker.failed(kT0 + 1s);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.times_opened(), 1u);
  EXPECT_EQ(breaker.opened_at(), kT0 + 1s);
}

TEST(CircuitBreaker, OpenRefusesUntilReset) {
  Opened o;
  EXPECT_FALSE(o.breaker.allow(kT0));
  EXPECT_FALSE(o.breaker.allow(kT0 + 5s));
  EXPECT_FALSE(o.breaker.allow(kT0 + 10s - 1ns));
  EXPECT_EQ(o.breaker.state(), State::kOpen);
  // A failure reported while open (a call from before) neither reopens nor moves the time.
  o.breaker.failed(kT0 + 9s);
  EXPECT_EQ(o.breaker.times_opened(), 1u);
  EXPECT_EQ(o.breaker.opened_at(), kT0);
}

TEST(CircuitBreaker, ExactlyOneProbeAfterReset) {
  Opened o;
  EXPECT_TRUE(o.breaker.allow(kT0 + 10s));
  EXPECT_EQ(o.breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(o.breaker.allow(kT0 + 10s));
  EXPECT_FALSE(o.breaker.allow(kT0 + 15s));
  EXPECT_EQ(o.breaker.state(), State::kHalfOpen);
  EXPECT_EQ(o.breaker.opened_at(), kT0);
}

TEST(CircuitBreaker, ProbeSuccessCloses) {
  Opened o;
  ASSERT_TRUE(o.breaker.allow(kT0 + 10s));
  o.breaker.succeeded();
  EXPECT_EQ(o.breaker.state(), State::kClosed);
  EXPECT_EQ(o.breaker.consecutive_failures(), 0u);
  EXPECT_TRUE(o.breaker.allow(kT0 + 10s));
  EXPECT_TRUE(o.breaker.allow(kT0 + 10s));
  // The count starts again from zero.
  o.breaker.failed(kT0 + 11s);
  o.breaker.failed(kT0 + 11s);
  EXPECT_EQ(o.breaker.state(), State::kClosed);
  o.breaker.failed(kT0 + 12s);
  EXPECT_EQ(o.breaker.state(), State::kOpen);
  EXPECT_EQ(o.breaker.times_opened(), 2u);
}

TEST(CircuitBreaker, ProbeFailureReopens) {
  Opened o;
  ASSERT_TRUE(o.breaker.allow(kT0 + 10s));
  o.breaker.failed(kT0 + 12s);
  EXPECT_EQ(o.breaker.state(), State::kOpen);
  EXPECT_EQ(o.breaker.times_opened(), 2u);
  EXPECT_EQ(o.breaker.opened_at(), kT0 + 12s);
  // The next probe waits a whole reset from the reopening.
  EXPECT_FALSE(o.breaker.allow(kT0 + 12s));
  EXPECT_FALSE(o.breaker.allow(kT0 + 22s - 1ns));
  EXPECT_TRUE(o.breaker.allow(kT0 + 22s));
  EXPECT_FALSE(o.breaker.allow(kT0 + 22s));
  EXPECT_EQ(o.breaker.state(), State::kHalfOpen);
}

TEST(CircuitBreaker, LostProbeIsReplacedAfterReset) {
  Opened o;
  ASSERT_TRUE(o.breaker.allow(kT0 + 10s));
  // The probe never reports.
  EXPECT_FALSE(o.breaker.allow(kT0 + 19s));
  EXPECT_TRUE(o.breaker.allow(kT0 + 20s));
  EXPECT_FALSE(o.breaker.allow(kT0 + 20s));
  EXPECT_EQ(o.breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(o.breaker.allow(kT0 + 29s));
  EXPECT_TRUE(o.breaker.allow(kT0 + 30s));
  // The replacement's answer counts like the first probe's.
  o.breaker.succeeded();
  EXPECT_EQ(o.breaker.state(), State::kClosed);
  EXPECT_EQ(o.breaker.times_opened(), 1u);
}

TEST(CircuitBreaker, ThresholdZeroNeverOpens) {
  CircuitBreaker breaker(0, 10s);
  for (int i = 0; i < 1000; ++i) {
    breaker.failed(kT0);
  }
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.allow(kT0));
  EXPECT_EQ(breaker.times_opened(), 0u);
}

TEST(CircuitBreaker, SuccessInBetweenResetsTheCount) {
  CircuitBreaker breaker(3, 10s);
  breaker.failed(kT0);
  breaker.failed(kT0);
  breaker.succeeded();
  EXPECT_EQ(breaker.consecutive_failures(), 0u);
  breaker.failed(kT0);
  breaker.failed(kT0);
  EXPECT_EQ(breaker.state(), State::kClosed);
  breaker.failed(kT0);
  EXPECT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreaker, ThresholdOneOpensAtTheFirstFailure) {
  CircuitBreaker breaker(1, 1s);
  breaker.failed(kT0);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.allow(kT0));
}

TEST(CircuitBreaker, RacingThreadsGetOneProbe) {
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 1000;
  for (int round = 0; round < 20; ++round) {
    Opened o;
    std::atomic<int> ready{0};
    std::atomic<int> probes{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) {
          std::this_thread::yield();
        }
        for (int i = 0; i < kCallsEach; ++i) {
          if (o.breaker.allow(kT0 + 10s)) probes.fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(probes.load(), 1) << "round " << round;
    EXPECT_EQ(o.breaker.state(), State::kHalfOpen);
  }
}

TEST(CircuitBreaker, RacingFailuresOpenOnce) {
  CircuitBreaker breaker(4, 10s);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        breaker.failed(kT0);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.times_opened(), 1u);
}

TEST(CircuitBreaker, Describe) {
  EXPECT_EQ(describe(State::kClosed), "closed");
  EXPECT_EQ(describe(State::kOpen), "open");
  EXPECT_EQ(describe(State::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace edgefn::runtime
