// TimerList: the connections waiting on one kind of timeout, in deadline order. Every entry of a
// list has the same timeout, so appending keeps the order and expiry only looks at the head:
// O(1) arm, disarm and check, no heap, no allocation (the hooks live in the entries).
#pragma once

#include <chrono>

namespace edgefn::runtime {

class TimerList;

// Embedded in each object that can wait on a TimerList; in at most one list at a time.
struct TimerHook {
  using Clock = std::chrono::steady_clock;
  TimerHook* prev = nullptr;
  TimerHook* next = nullptr;
  TimerList* list = nullptr;
  void* owner = nullptr;  // the object the hook is embedded in
  Clock::time_point deadline{};
};

class TimerList {
 public:
  using Clock = TimerHook::Clock;

  void set_timeout(Clock::duration timeout) { timeout_ = timeout; }
  Clock::duration timeout() const { return timeout_; }

  // Moves `hook` (from whichever list holds it) to this list's tail, due at now + timeout.
  void arm(TimerHook& hook, Clock::time_point now) {
    disarm(hook);
    hook.deadline = now + timeout_;
    hook.list = this;
    hook.prev = tail_;
    hook.next = nullptr;
    (tail_ ? tail_->next : head_) = &hook;
    tail_ = &hook;
  }

  // Removes `hook` from whichever list holds it (no-op if none).
  static void disarm(TimerHook& hook) {
    TimerList* list = hook.list;
    if (list == nullptr) return;
    (hook.prev ? hook.prev->next : list->head_) = hook.next;
    (hook.next ? hook.next->prev : list->tail_) = hook.prev;
    hook.prev = hook.next = nullptr;
    hook.list = nullptr;
  }

  // The earliest entry if it is due at `now`, else null. The caller disarms or re-arms it.
  TimerHook* due(Clock::time_point now) const {
    return head_ != nullptr && head_->deadline <= now ? head_ : nullptr;
  }

  bool empty() const { return head_ == nullptr; }

 private:
  TimerHook* head_ = nullptr;
  TimerHook* tail_ = nullptr;
  Clock::duration timeout_{};
};

}  // namespace edgefn::runtime
