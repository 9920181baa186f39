// AlarmQueue: alarms come out in deadline order, cancelling and re-scheduling keep the heap
// intact, and a queue that has grown schedules without allocating.
#include "runtime/alarm_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::runtime {
namespace {

using Clock = AlarmQueue::Clock;

struct Recorder final : api::Alarm {
  void fire() override { fired.push_back(id); }
  int id = 0;
  std::vector<int>& fired;
  Recorder(int alarm_id, std::vector<int>& log) : id(alarm_id), fired(log) {}
};

std::vector<int> drain(AlarmQueue& queue, Clock::time_point now) {
  std::vector<int> order;
  while (api::Alarm* alarm = queue.pop_due(now)) {
    EXPECT_FALSE(alarm->scheduled());
    order.push_back(static_cast<Recorder*>(alarm)->id);
  }
  return order;
}

TEST(AlarmQueueTest, PopsOnlyDueAlarmsInDeadlineOrder) {
  const Clock::time_point t0{};
  std::vector<int> fired;
  Recorder a(1, fired), b(2, fired), c(3, fired);
  a.deadline = t0 + std::chrono::milliseconds(30);
  b.deadline = t0 + std::chrono::milliseconds(10);
  c.deadline = t0 + std::chrono::milliseconds(20);
  AlarmQueue queue;
  for (api::Alarm* alarm :
       {static_cast<api::Alarm*>(&a), static_cast<api::Alarm*>(&b), static_cast<api::Alarm*>(&c)}) {
    queue.schedule(*alarm);
  }
  EXPECT_EQ(queue.earliest(), b.deadline);
  EXPECT_EQ(queue.pop_due(t0 + std::chrono::milliseconds(5)), nullptr);
  EXPECT_EQ(drain(queue, t0 + std::chrono::milliseconds(20)), (std::vector<int>{2, 3}));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(drain(queue, t0 + std::chrono::hours(1)), (std::vector<int>{1}));
  EXPECT_TRUE(queue.empty());
}

TEST(AlarmQueueTest, CancelAndRescheduleKeepOrderUnderRandomOperations) {
  std::mt19937 random(7);
  std::vector<int> fired;
  std::vector<std::unique_ptr<Recorder>> alarms;
  for (int i = 0; i < 200; ++i)
    alarms.push_back(std::make_unique<Recorder>(i, fired));
  AlarmQueue queue;
  std::uniform_int_distribution<int> pick(0, 199);
  std::uniform_int_distribution<int> when(0, 1000);
  for (int step = 0; step < 5000; ++step) {
    Recorder& alarm = *alarms[static_cast<std::size_t>(pick(random))];
    if (step % 3 == 0) {
      queue.cancel(alarm);
      EXPECT_FALSE(alarm.scheduled());
    } else {
      alarm.deadline = Clock::time_point{} + std::chrono::milliseconds(when(random));
      queue.schedule(alarm);  // new or moved
    }
  }
  std::vector<Clock::time_point> expected;
  for (const auto& alarm : alarms) {
    if (alarm->scheduled()) expected.push_back(alarm->deadline);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<Clock::time_point> popped;
  while (api::Alarm* alarm = queue.pop_due(Clock::time_point::max())) {
    popped.push_back(alarm->deadline);
  }
  EXPECT_EQ(popped, expected);
}

TEST(AlarmQueueTest, SchedulingIntoAGrownQueueAllocatesNothing) {
  std::vector<int> fired;
  std::vector<std::unique_ptr<Recorder>> alarms;
  for (int i = 0; i < 64; ++i)
    alarms.push_back(std::make_unique<Recorder>(i, fired));
  AlarmQueue queue;
  for (auto& alarm : alarms)
    queue.schedule(*alarm);
  for (auto& alarm : alarms)
    queue.cancel(*alarm);
  EXPECT_NO_ALLOC({
    for (auto& alarm : alarms)
      queue.schedule(*alarm);
    while (queue.pop_due(Clock::time_point::max()) != nullptr) {
    }
  });
}

TEST(AlarmQueueTest, SleepCancelsItsAlarmWhenDestroyedWhileScheduled) {
  AlarmQueue queue;
  {
    api::Sleep sleep(queue, Clock::now() + std::chrono::hours(1));
    EXPECT_FALSE(sleep.await_ready());
    sleep.await_suspend(std::noop_coroutine());
    EXPECT_EQ(queue.size(), 1u);
  }
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace edgefn::runtime
