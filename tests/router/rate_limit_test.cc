// RateLimiter: token-bucket math against a fake clock, Retry-After rounding, key choice and the
// bound on tracked keys.
#include "router/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace edgefn::router {
namespace {

constexpr std::int64_t kSecond = 1000000000;

class RateLimiterTest : public ::testing::Test {
 protected:
  RateLimiter make(double per_second, std::uint64_t burst, std::string header = {},
                   std::size_t max_keys = 100000) {
    return RateLimiter(RateLimitSettings{per_second, burst, std::move(header), max_keys},
                       [this] { return now_; });
  }
  static RateKey ip(std::string_view text) { return RateKey{false, text}; }
  std::int64_t now_ = 1000 * kSecond;
};

TEST_F(RateLimiterTest, BurstIsAllowedThenRefused) {
  RateLimiter limiter = make(1, 3);
  for (std::uint64_t remaining : {2u, 1u, 0u}) {
    const RateDecision decision = limiter.admit(ip("10.0.0.1"));
    EXPECT_TRUE(decision.allowed);
    EXPECT_EQ(decision.limit, 3u);
    EXPECT_EQ(decision.remaining, remaining);
  }
  const RateDecision refused = limiter.admit(ip("10.0.0.1"));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 3u);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
}

TEST_F(RateLimiterTest, RefillsAtTheRateUpToTheBurst) {
  RateLimiter limiter = make(2, 4);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(limiter.admit(ip("a")).allowed);
  EXPECT_FALSE(limiter.admit(ip("a")).allowed);
  now_ += kSecond / 2;  // one token at 2/s
  EXPECT_TRUE(limiter.admit(ip("a")).allowed);
  EXPECT_FALSE(limiter.admit(ip("a")).allowed);
  now_ += 100 * kSecond;  // refill stops at the burst
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(limiter.admit(ip("a")).allowed) << i;
  EXPECT_FALSE(limiter.admit(ip("a")).allowed);
}

TEST_F(RateLimiterTest, FractionalRateAndRetryAfterRounding) {
  RateLimiter limiter = make(0.5, 1);
  EXPECT_TRUE(limiter.admit(ip("a")).allowed);
  RateDecision refused = limiter.admit(ip("a"));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 2u);  // a token every 2s, exactly
  now_ += kSecond / 2;                         // 0.25 token: 1.5s to go -> 2
  refused = limiter.admit(ip("a"));
  EXPECT_EQ(refused.retry_after_seconds, 2u);
  now_ += kSecond;  // 0.75 token: 0.5s to go -> 1
  refused = limiter.admit(ip("a"));
  EXPECT_EQ(refused.retry_after_seconds, 1u);
  now_ += kSecond / 2;
  EXPECT_TRUE(limiter.admit(ip("a")).allowed);
}

TEST_F(RateLimiterTest, RetryAfterIsAtLeastOneSecond) {
  RateLimiter limiter = make(1000, 1);
  EXPECT_TRUE(limiter.admit(ip("a")).allowed);
  const RateDecision refused = limiter.admit(ip("a"));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
}

TEST_F(RateLimiterTest, KeysHaveSeparateBuckets) {
  RateLimiter limiter = make(1, 1);
  EXPECT_TRUE(limiter.admit(ip("10.0.0.1")).allowed);
  EXPECT_FALSE(limiter.admit(ip("10.0.0.1")).allowed);
  EXPECT_TRUE(limiter.admit(ip("10.0.0.2")).allowed);
  // A header whose value is an address does not share that address's bucket.
  EXPECT_TRUE(limiter.admit(RateKey{true, "10.0.0.1"}).allowed);
  EXPECT_FALSE(limiter.admit(RateKey{true, "10.0.0.1"}).allowed);
}

TEST_F(RateLimiterTest, HeaderKeyFallsBackToTheClientIp) {
  RateLimiter by_header = make(1, 1, "x-api-key");
  RateKey key = by_header.key_for(true, "k1", "10.0.0.1");
  EXPECT_TRUE(key.from_header);
  EXPECT_EQ(key.text, "k1");
  key = by_header.key_for(false, "", "10.0.0.1");
  EXPECT_FALSE(key.from_header);
  EXPECT_EQ(key.text, "10.0.0.1");

  RateLimiter by_ip = make(1, 1);
  key = by_ip.key_for(true, "k1", "10.0.0.1");
  EXPECT_FALSE(key.from_header);
  EXPECT_EQ(key.text, "10.0.0.1");
}

TEST_F(RateLimiterTest, LongKeysAreClipped) {
  RateLimiter limiter = make(1, 1, "x-api-key");
  const std::string long_key(RateLimiter::kMaxKeyBytes + 50, 'k');
  EXPECT_EQ(limiter.key_for(true, long_key, "ip").text.size(), RateLimiter::kMaxKeyBytes);
  EXPECT_TRUE(limiter.admit(RateKey{true, long_key}).allowed);
  EXPECT_FALSE(limiter.admit(RateKey{true, long_key + "x"}).allowed);  // same first 128 bytes
}

TEST_F(RateLimiterTest, TrackedKeysStayBounded) {
  const std::size_t max_keys = RateLimiter::kShards * 4;
  RateLimiter limiter = make(1, 2, {}, max_keys);
  // Every key stays limited (nothing refills between requests): eviction must still hold.
  for (int i = 0; i < 10000; ++i) {
    limiter.admit(ip("key-" + std::to_string(i)));
    ASSERT_LE(limiter.tracked_keys(), max_keys);
  }
  EXPECT_GT(limiter.tracked_keys(), max_keys / 2);
}

TEST_F(RateLimiterTest, FullBucketsAreEvictedFirst) {
  const std::size_t max_keys = RateLimiter::kShards * 4;
  RateLimiter limiter = make(1, 2, {}, max_keys);
  for (int i = 0; i < 10000; ++i)
    limiter.admit(ip("key-" + std::to_string(i)));
  ASSERT_EQ(limiter.tracked_keys(), max_keys);  // every shard full
  now_ += 2 * kSecond;                          // every bucket refilled: none carries state
  // A new key's full shard drops all four refilled buckets at once, then stores the new one.
  limiter.admit(ip("new"));
  EXPECT_EQ(limiter.tracked_keys(), max_keys - 3);
}

TEST_F(RateLimiterTest, SharedAcrossThreadsAdmitsExactlyTheBurst) {
  RateLimiter limiter = make(0.001, 100);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.admit(ip("shared")).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(allowed.load(), 100);
}

TEST_F(RateLimiterTest, MonotonicClockAdvances) {
  const std::int64_t first = RateLimiter::monotonic_now();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_GT(RateLimiter::monotonic_now(), first);
}

}  // namespace
}  // namespace edgefn::router
