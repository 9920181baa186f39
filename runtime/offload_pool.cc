// The offload pool's threads, queue and inboxes.
#include "runtime/offload_pool.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "runtime/thread_name.h"

namespace edgefn::runtime {

namespace {

// Pool threads share cores with the workers (one of each per core by default); a render that
// competes with a worker's loop for a core should lose, or every request of that worker waits
// behind it. SCHED_IDLE runs the thread only when no loop wants the core, and a waking loop
// preempts it at once; nice 10 leaves it about a tenth of a contended core. Lowering one's own
// priority needs no privilege; a refusal leaves the thread as it was.
void apply(OffloadPriority priority) {
  switch (priority) {
    case OffloadPriority::kIdle: {
      const sched_param param{};
      ::sched_setscheduler(0, SCHED_IDLE, &param);  // 0: the calling thread
      break;
    }
    case OffloadPriority::kLow:
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
      break;
    case OffloadPriority::kNormal:
      break;
  }
}

}  // namespace

OffloadPool::OffloadPool(unsigned threads, std::size_t capacity, unsigned owners,
                         std::function<void(unsigned)> wake, OffloadPriority priority,
                         const char* thread_name)
    : thread_count_(std::max(1u, threads)),
      capacity_(capacity),
      priority_(priority),
      thread_name_(thread_name),
      wake_(std::move(wake)) {
  for (unsigned i = 0; i < owners; ++i)
    inboxes_.push_back(std::make_unique<Inbox>());
}

OffloadPool::~OffloadPool() {
  stop();
}

bool OffloadPool::submit(std::shared_ptr<OffloadJob> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    if (threads_.size() < thread_count_) {
      // They wait on mutex_ until this push is done. A thread the system refuses (EAGAIN) is
      // tried again by the next submit; with none at all, the request gets the 503.
      try {
        while (threads_.size() < thread_count_)
          threads_.emplace_back([this] {
            name_thread(thread_name_);
            apply(priority_);
            serve();
          });
      } catch (const std::system_error&) {
        if (threads_.empty()) return false;
      }
    }
    // Abandoned jobs (their requests timed out or left) would be skipped when popped; a full
    // queue drops them first so they do not take places live requests could have. O(queue) only
    // when full.
    if (queue_.size() >= capacity_) std::erase_if(queue_, [](auto& j) { return j->abandoned(); });
    if (queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

void OffloadPool::take_finished(unsigned owner, std::vector<std::shared_ptr<OffloadJob>>& out) {
  Inbox& inbox = *inboxes_[owner];
  std::lock_guard lock(inbox.mutex);
  for (auto& job : inbox.jobs) {
    // Abandoned after it was delivered: the connection no longer waits for it.
    if (!job->abandoned()) out.push_back(std::move(job));
  }
  inbox.jobs.clear();
}

std::size_t OffloadPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void OffloadPool::stop() {
  std::deque<std::shared_ptr<OffloadJob>> dropped;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& job : dropped)
    job->abandon();
  for (auto& thread : threads) {
    if (thread.joinable()) thread.join();
  }
}

void OffloadPool::serve() {
  for (;;) {
    std::shared_ptr<OffloadJob> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and stop() took what was queued
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // A job abandoned while it waited (its request timed out) is not worth running.
    if (!job->abandoned()) job->run();
    if (job->abandoned()) continue;  // dropped here: the last reference, freed on this thread
    const unsigned owner = job->owner();
    {
      Inbox& inbox = *inboxes_[owner];
      std::lock_guard lock(inbox.mutex);
      inbox.jobs.push_back(std::move(job));
    }
    wake_(owner);
  }
}

}  // namespace edgefn::runtime
