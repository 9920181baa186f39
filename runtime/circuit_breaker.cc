// CircuitBreaker: the state machine on atomics.
//
// One compare-exchange decides every probe: `probe_started_` holds the time of the last
// admission, and opening the breaker sets it to the opening time. A caller may probe once
// `reset` has passed since that time, and only the caller whose compare-exchange moves it to
// `now` does; everyone else sees the new time and waits another `reset`. The same rule covers
// the first probe after opening and the replacement of a probe that never reported, so there is
// no window in which two callers see "probe due".
//
// Timestamps are written before the state that makes them meaningful (release on the state,
// acquire on reading it): a caller that sees kOpen also sees the opening time, never the
// previous opening's.
#include "runtime/circuit_breaker.h"

namespace edgefn::runtime {

CircuitBreaker::CircuitBreaker(std::uint32_t failures, Clock::duration reset)
    : threshold_(failures), reset_(reset) {}

bool CircuitBreaker::allow(Clock::time_point now) {
  if (state_.load(std::memory_order_acquire) == State::kClosed) return true;
  const Clock::rep t = now.time_since_epoch().count();
  Clock::rep last = probe_started_.load(std::memory_order_acquire);
  // A `now` older than the last admission (another thread's clock read raced ours) is "not yet".
  if (t - last < reset_.count()) return false;
  if (!probe_started_.compare_exchange_strong(last, t, std::memory_order_acq_rel)) return false;
  // This caller is the probe. From kOpen the breaker becomes half-open; if it is half-open the
  // lost probe is replaced; if a late success closed it meanwhile, it stays closed.
  State expected = State::kOpen;
  state_.compare_exchange_strong(expected, State::kHalfOpen, std::memory_order_acq_rel);
  return true;
}

void CircuitBreaker::succeeded() {
  // Loads first: on the common path (closed, no failures) no cache line is written, so workers
  // calling the same upstream do not contend.
  if (failures_.load(std::memory_order_relaxed) != 0) {
    failures_.store(0, std::memory_order_relaxed);
  }
  if (state_.load(std::memory_order_relaxed) != State::kClosed) {
    state_.store(State::kClosed, std::memory_order_release);
  }
}

void CircuitBreaker::failed(Clock::time_point now) {
  const std::uint32_t count = failures_.fetch_add(1, std::memory_order_acq_rel) + 1;
  State from = state_.load(std::memory_order_acquire);
  // While open, calls already refused say nothing new; a failure while half-open is the probe's
  // (or a call from before the opening, which is as bad a sign).
  if (from == State::kOpen) return;
  if (from == State::kClosed && (threshold_ == 0 || count < threshold_)) return;

  const Clock::rep t = now.time_since_epoch().count();
  opened_at_.store(t, std::memory_order_relaxed);
  probe_started_.store(t, std::memory_order_relaxed);
  // Only one of the threads failing at the same moment opens it, and counts the opening.
  if (state_.compare_exchange_strong(from, State::kOpen, std::memory_order_acq_rel)) {
    opened_.fetch_add(1, std::memory_order_relaxed);
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  return state_.load(std::memory_order_acquire);
}

std::uint32_t CircuitBreaker::consecutive_failures() const {
  return failures_.load(std::memory_order_relaxed);
}

std::uint64_t CircuitBreaker::times_opened() const {
  return opened_.load(std::memory_order_relaxed);
}

CircuitBreaker::Clock::time_point CircuitBreaker::opened_at() const {
  return Clock::time_point(Clock::duration(opened_at_.load(std::memory_order_acquire)));
}

std::string_view describe(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace edgefn::runtime
