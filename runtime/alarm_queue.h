// AlarmQueue: a worker's alarms (function timeouts, queue waits, sleeping functions) in deadline
// order — a binary min-heap of pointers into the alarms themselves, each of which records its
// own slot, so cancelling is O(log n) and nothing is allocated once the heap has grown to the
// most alarms held at a time. One thread only.
#pragma once

#include <vector>

#include "functions/api/alarm.h"

namespace edgefn::runtime {

class AlarmQueue final : public api::Scheduler {
 public:
  using Clock = api::Alarm::Clock;

  // Re-scheduling an alarm that is already queued moves it to its new deadline.
  void schedule(api::Alarm& alarm) override;
  void cancel(api::Alarm& alarm) noexcept override;

  // Takes the earliest alarm out if it is due at `now`, else returns null. The caller fires it:
  // firing may schedule and cancel others, so take them one at a time.
  api::Alarm* pop_due(Clock::time_point now) noexcept;

  bool empty() const { return heap_.empty(); }
  // The earliest deadline; the queue must not be empty.
  Clock::time_point earliest() const { return heap_.front()->deadline; }
  std::size_t size() const { return heap_.size(); }

 private:
  void place(std::size_t slot, api::Alarm* alarm) noexcept;
  void sift_up(std::size_t slot) noexcept;
  void sift_down(std::size_t slot) noexcept;

  std::vector<api::Alarm*> heap_;
};

}  // namespace edgefn::runtime
