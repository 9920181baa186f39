// Tests the offload pool: the bounded queue refuses when full, finished jobs reach the inbox of
// the worker that submitted them (and wake it), abandoned jobs are dropped — not run when still
// queued, not delivered when finished — and stop() drops what is queued.
#include "runtime/offload_pool.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;

// A gate jobs wait at until the test opens it, so a test knows what a pool thread is doing.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int entered = 0;

  void pass() {
    std::unique_lock lock(mutex);
    ++entered;
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
  }
  void wait_entered(int count) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return entered >= count; }));
  }
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    changed.notify_all();
  }
};

class TestJob final : public OffloadJob {
 public:
  TestJob(unsigned owner, std::uint32_t slot, Gate* gate = nullptr)
      : OffloadJob(owner, slot), gate_(gate) {}
  void run() override {
    if (gate_ != nullptr) gate_->pass();
    ran = true;
  }
  bool ran = false;  // read by the test only after the pool handed the job back or stopped

 private:
  Gate* gate_;
};

// Records the pool's wake(owner) calls.
struct Wakes {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<unsigned> owners;

  std::function<void(unsigned)> callback() {
    return [this](unsigned owner) {
      std::lock_guard lock(mutex);
      owners.push_back(owner);
      changed.notify_all();
    };
  }
  void wait_for(std::size_t count) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return owners.size() >= count; }));
  }
  std::size_t count(unsigned owner) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count(owners.begin(), owners.end(), owner));
  }
};

TEST(OffloadPool, RefusesWhenTheQueueIsFull) {
  Gate gate;
  Wakes wakes;
  OffloadPool pool(1, 2, 1, wakes.callback());
  ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(0, 0, &gate)));
  gate.wait_entered(1);  // the only thread holds the first job: the queue is empty again
  EXPECT_TRUE(pool.submit(std::make_shared<TestJob>(0, 1)));
  EXPECT_TRUE(pool.submit(std::make_shared<TestJob>(0, 2)));
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_FALSE(pool.submit(std::make_shared<TestJob>(0, 3)));  // full
  gate.release();
  wakes.wait_for(3);
  std::vector<std::shared_ptr<OffloadJob>> finished;
  pool.take_finished(0, finished);
  ASSERT_EQ(finished.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(finished[i]->slot(), i);  // one thread: in submission order
    EXPECT_TRUE(static_cast<TestJob&>(*finished[i]).ran);
  }
  // Room again once the queue drained.
  EXPECT_TRUE(pool.submit(std::make_shared<TestJob>(0, 4)));
}

TEST(OffloadPool, ResultsComeBackToTheSubmittingOwner) {
  Wakes wakes;
  OffloadPool pool(2, 64, 3, wakes.callback());
  constexpr unsigned kPerOwner = 10;
  for (unsigned i = 0; i < kPerOwner; ++i) {
    for (unsigned owner = 0; owner < 3; ++owner)
      ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(owner, owner * 100 + i)));
  }
  wakes.wait_for(3 * kPerOwner);
  for (unsigned owner = 0; owner < 3; ++owner) {
    EXPECT_EQ(wakes.count(owner), kPerOwner);
    std::vector<std::shared_ptr<OffloadJob>> finished;
    pool.take_finished(owner, finished);
    ASSERT_EQ(finished.size(), kPerOwner);
    for (const auto& job : finished) {
      EXPECT_EQ(job->owner(), owner);
      EXPECT_EQ(job->slot() / 100, owner);
    }
    pool.take_finished(owner, finished);  // taken once only
    EXPECT_EQ(finished.size(), kPerOwner);
  }
}

TEST(OffloadPool, AbandonedWhileRunningIsDroppedNotDelivered) {
  Gate gate;
  Wakes wakes;
  OffloadPool pool(1, 4, 1, wakes.callback());
  auto abandoned = std::make_shared<TestJob>(0, 7, &gate);
  const std::weak_ptr<TestJob> watch = abandoned;
  ASSERT_TRUE(pool.submit(abandoned));
  gate.wait_entered(1);
  // What a connection does on timeout: abandon, then let go of its reference.
  abandoned->abandon();
  abandoned.reset();
  ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(0, 8)));
  gate.release();
  wakes.wait_for(1);  // one thread: the abandoned job was done with before this one ran
  EXPECT_EQ(wakes.count(0), 1u);
  std::vector<std::shared_ptr<OffloadJob>> finished;
  pool.take_finished(0, finished);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0]->slot(), 8u);
  EXPECT_TRUE(watch.expired());  // freed by the pool, nobody holds it
}

TEST(OffloadPool, AbandonedWhileQueuedDoesNotRun) {
  Gate gate;
  Wakes wakes;
  OffloadPool pool(1, 4, 1, wakes.callback());
  ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(0, 1, &gate)));
  gate.wait_entered(1);
  auto queued = std::make_shared<TestJob>(0, 2);
  ASSERT_TRUE(pool.submit(queued));
  queued->abandon();
  ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(0, 3)));
  gate.release();
  wakes.wait_for(2);
  std::vector<std::shared_ptr<OffloadJob>> finished;
  pool.take_finished(0, finished);
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0]->slot(), 1u);
  EXPECT_EQ(finished[1]->slot(), 3u);
  EXPECT_FALSE(queued->ran);
}

TEST(OffloadPool, AbandonedQueuedJobsGiveTheirPlaceBack) {
  Gate gate;
  Wakes wakes;
  OffloadPool pool(1, 1, 1, wakes.callback());
  ASSERT_TRUE(pool.submit(std::make_shared<TestJob>(0, 1, &gate)));
  gate.wait_entered(1);
  auto queued = std::make_shared<TestJob>(0, 2);
  ASSERT_TRUE(pool.submit(queued));
  EXPECT_FALSE(pool.submit(std::make_shared<TestJob>(0, 3)));  // full
  queued->abandon();
  EXPECT_TRUE(pool.submit(std::make_shared<TestJob>(0, 4)));  // takes the abandoned one's place
  EXPECT_EQ(pool.queued(), 1u);
  gate.release();
  wakes.wait_for(2);
  std::vector<std::shared_ptr<OffloadJob>> finished;
  pool.take_finished(0, finished);
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[1]->slot(), 4u);
  EXPECT_FALSE(queued->ran);
}

TEST(OffloadPool, AbandonedAfterDeliveryIsNotTaken) {
  Wakes wakes;
  OffloadPool pool(1, 4, 1, wakes.callback());
  auto job = std::make_shared<TestJob>(0, 1);
  ASSERT_TRUE(pool.submit(job));
  wakes.wait_for(1);
  job->abandon();  // the request timed out between delivery and the worker's look
  std::vector<std::shared_ptr<OffloadJob>> finished;
  pool.take_finished(0, finished);
  EXPECT_TRUE(finished.empty());
}

TEST(OffloadPool, StopDropsQueuedJobsAndLetsTheRunningOneFinish) {
  Gate gate;
  Wakes wakes;
  // Room enough that only stop() refuses the submissions below.
  OffloadPool pool(1, 1'000'000, 1, wakes.callback());
  auto running = std::make_shared<TestJob>(0, 1, &gate);
  auto queued = std::make_shared<TestJob>(0, 2);
  ASSERT_TRUE(pool.submit(running));
  gate.wait_entered(1);
  ASSERT_TRUE(pool.submit(queued));
  std::thread stopper([&] { pool.stop(); });
  // stop() refuses new work before it waits for the running job.
  while (pool.submit(std::make_shared<TestJob>(0, 3))) {
    std::this_thread::yield();
  }
  gate.release();
  stopper.join();
  EXPECT_TRUE(running->ran);
  EXPECT_FALSE(queued->ran);
  EXPECT_TRUE(queued->abandoned());
  EXPECT_FALSE(pool.submit(std::make_shared<TestJob>(0, 4)));
}

// What a job sees of its thread's scheduling: the policy and the nice value.
class SchedulingJob final : public OffloadJob {
 public:
  SchedulingJob() : OffloadJob(0, 0) {}
  void run() override {
    policy = ::sched_getscheduler(0);
    errno = 0;
    nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  }
  int policy = -1;
  int nice = -100;
};

TEST(OffloadPool, ThreadsRunAtTheConfiguredPriority) {
  const std::pair<OffloadPriority, std::pair<int, int>> cases[] = {
      {OffloadPriority::kIdle, {SCHED_IDLE, 0}},
      {OffloadPriority::kLow, {SCHED_OTHER, 10}},
      {OffloadPriority::kNormal, {SCHED_OTHER, ::getpriority(PRIO_PROCESS, 0)}},
  };
  for (const auto& [priority, expected] : cases) {
    Wakes wakes;
    OffloadPool pool(1, 4, 1, wakes.callback(), priority);
    auto job = std::make_shared<SchedulingJob>();
    ASSERT_TRUE(pool.submit(job));
    wakes.wait_for(1);
    std::vector<std::shared_ptr<OffloadJob>> done;
    pool.take_finished(0, done);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(job->policy, expected.first) << static_cast<int>(priority);
    if (priority != OffloadPriority::kIdle) {
      EXPECT_EQ(job->nice, expected.second);
    }
  }
}

}  // namespace
}  // namespace edgefn::runtime
