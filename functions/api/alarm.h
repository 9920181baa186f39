// Alarm and Scheduler: how a suspended function is woken at a point in time. The runtime gives
// each request a Scheduler (its worker's deadline queue); modules reach it through ctx.sleep().
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <limits>

namespace edgefn::api {

// Something due at `deadline`. An Alarm is in at most one Scheduler at a time; `fire` runs on
// the scheduler's thread once the deadline has passed, after the alarm was taken out of it.
class Alarm {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kIdle = std::numeric_limits<std::size_t>::max();

  Alarm() = default;
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

  virtual void fire() = 0;

  bool scheduled() const { return slot != kIdle; }

  Clock::time_point deadline{};
  // Where the scheduler keeps the alarm (kIdle when in none); maintained by the scheduler only.
  std::size_t slot = kIdle;

 protected:
  ~Alarm() = default;
};

// A queue of alarms served by one thread. Implementations allocate nothing per alarm once they
// have held as many at a time before.
class Scheduler {
 public:
  virtual void schedule(Alarm& alarm) = 0;
  // Takes a scheduled alarm out; a no-op for one that is not scheduled.
  virtual void cancel(Alarm& alarm) noexcept = 0;

 protected:
  ~Scheduler() = default;
};

// `co_await ctx.sleep(...)`: resumes the awaiting coroutine once the deadline has passed. When
// the coroutine is destroyed while it sleeps (the request timed out, or its client left), the
// alarm is cancelled with it.
class [[nodiscard]] Sleep final : private Alarm {
 public:
  Sleep(Scheduler& scheduler, Clock::time_point until) : scheduler_(&scheduler) {
    deadline = until;
  }
  ~Sleep() { scheduler_->cancel(*this); }

  bool await_ready() const { return deadline <= Clock::now(); }
  void await_suspend(std::coroutine_handle<> waiter) {
    waiter_ = waiter;
    scheduler_->schedule(*this);
  }
  void await_resume() const noexcept {}

 private:
  void fire() override { waiter_.resume(); }

  Scheduler* scheduler_;
  std::coroutine_handle<> waiter_;
};

}  // namespace edgefn::api
