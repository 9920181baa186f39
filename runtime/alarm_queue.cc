// The binary heap behind AlarmQueue.
#include "runtime/alarm_queue.h"

#include <utility>

namespace edgefn::runtime {

void AlarmQueue::schedule(api::Alarm& alarm) {
  if (alarm.scheduled()) {
    const std::size_t slot = alarm.slot;
    sift_up(slot);
    sift_down(alarm.slot);
    return;
  }
  heap_.push_back(&alarm);
  alarm.slot = heap_.size() - 1;
  sift_up(alarm.slot);
}

void AlarmQueue::cancel(api::Alarm& alarm) noexcept {
  if (!alarm.scheduled()) return;
  const std::size_t slot = alarm.slot;
  alarm.slot = api::Alarm::kIdle;
  api::Alarm* last = heap_.back();
  heap_.pop_back();
  if (last == &alarm) return;
  // The last alarm fills the hole; it may belong above or below it.
  place(slot, last);
  sift_up(slot);
  sift_down(last->slot);
}

api::Alarm* AlarmQueue::pop_due(Clock::time_point now) noexcept {
  if (heap_.empty() || heap_.front()->deadline > now) return nullptr;
  api::Alarm* due = heap_.front();
  cancel(*due);
  return due;
}

void AlarmQueue::place(std::size_t slot, api::Alarm* alarm) noexcept {
  heap_[slot] = alarm;
  alarm->slot = slot;
}

void AlarmQueue::sift_up(std::size_t slot) noexcept {
  api::Alarm* alarm = heap_[slot];
  while (slot > 0) {
    const std::size_t parent = (slot - 1) / 2;
    if (!(alarm->deadline < heap_[parent]->deadline)) break;
    place(slot, heap_[parent]);
    slot = parent;
  }
  place(slot, alarm);
}

void AlarmQueue::sift_down(std::size_t slot) noexcept {
  api::Alarm* alarm = heap_[slot];
  const std::size_t size = heap_.size();
  while (true) {
    std::size_t child = 2 * slot + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
    if (!(heap_[child]->deadline < alarm->deadline)) break;
    place(slot, heap_[child]);
    slot = child;
  }
  place(slot, alarm);
}

}  // namespace edgefn::runtime
