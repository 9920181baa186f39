// CircuitBreaker: one upstream's breaker, node-wide (every worker's calls count). After
// `failures` consecutive failed calls it opens: calls fail fast without being sent. Once `reset`
// has passed since it opened, one call is let through as a probe (half-open); its success closes
// the breaker, its failure opens it again for another `reset`. A probe that never reports (its
// caller went away) is replaced by another after `reset`.
//
// Lock-free: atomics only, safe from any thread. Time is passed in, so tests need no clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace edgefn::runtime {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : std::uint8_t { kClosed, kOpen, kHalfOpen };

  // `failures` 0: the breaker never opens.
  CircuitBreaker(std::uint32_t failures, Clock::duration reset);

  // Whether a call may be sent now. While open, false until `reset` has passed; then true for
  // exactly one caller (the probe) and the breaker is half-open until it reports.
  bool allow(Clock::time_point now);
  // A call (or the probe) got an answer that counts as healthy: the breaker closes.
  void succeeded();
  // A call (or the probe) failed: counted; the breaker opens at the threshold, or again when
  // half-open.
  void failed(Clock::time_point now);

  State state() const;
  std::uint32_t consecutive_failures() const;
  std::uint64_t times_opened() const;
  // Since when the breaker is open or half-open; meaningless while closed.
  Clock::time_point opened_at() const;

 private:
  const std::uint32_t threshold_;
  const Clock::duration reset_;
  std::atomic<State> state_{State::kClosed};
  std::atomic<std::uint32_t> failures_{0};
  std::atomic<std::uint64_t> opened_{0};
  std::atomic<Clock::rep> opened_at_{0};  // when it last opened
  // When the current probe was let through, or the breaker opened if none was yet: the next
  // probe is due `reset` after it (one compare-exchange on it elects the probe).
  std::atomic<Clock::rep> probe_started_{0};
};

// "closed", "open", "half_open": for the admin page.
std::string_view describe(CircuitBreaker::State state);

}  // namespace edgefn::runtime
