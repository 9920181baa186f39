// Node-wide concurrency limit for one function: at most `max` requests run at once over all
// workers, up to `queue` more wait (each at most `queue_timeout`), and the rest are refused.
//
// Threads: built once with the App, then used by every worker at the same time through atomics
// only — no lock. The waiting requests themselves stay on the worker that received them (their
// connection is there); this object only counts them, per worker, so that a worker releasing a
// slot it cannot hand to a local waiter knows which other worker to wake.
//
// The protocol, for a worker W with a request R:
//   1. try_acquire(): a slot — run R.
//   2. else enter_queue(W): false — refuse R (503); true — R waits on W, and W calls
//      try_acquire() once more, because a slot released between 1 and 2 woke nobody.
//   3. When R's function ends, W hands the slot to its own oldest waiter for this limit if it has
//      one (leave_queue(W), the slot stays taken); else release(W) returns a worker with waiters
//      to wake, which then tries try_acquire() for its waiters.
// Every counter operation is sequentially consistent, so of a releasing worker (fetch_sub, then
// reads the waiter counts) and a queueing one (increments its count, then retries the acquire)
// at least one sees the other: no waiter sleeps through a free slot.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace edgefn::router {

struct ConcurrencySettings {
  std::uint32_t max = 1;    // requests running at once; >= 1
  std::uint32_t queue = 0;  // requests waiting at once; 0: refuse at once when all slots are taken
  std::chrono::nanoseconds queue_timeout = std::chrono::seconds(1);  // longest wait; then 503
};

class ConcurrencyLimit {
 public:
  // Worker ids are below kMaxWorkers (the command line's limit on --workers).
  static constexpr unsigned kMaxWorkers = 1024;

  explicit ConcurrencyLimit(ConcurrencySettings settings);
  ConcurrencyLimit(const ConcurrencyLimit&) = delete;
  ConcurrencyLimit& operator=(const ConcurrencyLimit&) = delete;

  const ConcurrencySettings& settings() const { return settings_; }

  bool try_acquire() noexcept;
  // Counts a request waiting on `worker`; false (and nothing counted) when the queue is full.
  bool enter_queue(unsigned worker) noexcept;
  // A waiting request of `worker` got a slot, timed out or went away.
  void leave_queue(unsigned worker) noexcept;
  // Gives a slot back; returns a worker other than `worker` with waiting requests, if any.
  std::optional<unsigned> release(unsigned worker) noexcept;

  std::uint32_t running() const noexcept { return running_.load(); }
  std::uint32_t queued() const noexcept { return queued_.load(); }

 private:
  const ConcurrencySettings settings_;
  std::atomic<std::uint32_t> running_{0};
  std::atomic<std::uint32_t> queued_{0};
  // Waiting requests per worker; release() looks at the first `worker_span_` only. Touched only
  // while the function is saturated.
  std::atomic<unsigned> worker_span_{0};
  std::array<std::atomic<std::uint32_t>, kMaxWorkers> waiting_{};
};

}  // namespace edgefn::router
