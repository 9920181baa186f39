// OffloadPool: the node-wide threads that run CPU-bound functions (`offload = true`) off the
// io_uring workers, a bounded queue in front of them, and one inbox per worker through which
// finished jobs go back to the worker that submitted them.
//
// Ownership: a job is shared (std::shared_ptr) between the connection that submitted it and the
// pool. A connection that stops caring (timeout, closed socket) calls abandon() and lets go of
// its reference; the pool then drops the job once it has run instead of handing it back, so the
// job's memory stays valid for as long as a pool thread may touch it, and no late result reaches
// a connection that moved on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/manifest.h"

namespace edgefn::runtime {

class OffloadJob {
 public:
  // `owner`: the worker that submits the job and gets it back; `slot`: which of its connections.
  OffloadJob(unsigned owner, std::uint32_t slot) : owner_(owner), slot_(slot) {}
  virtual ~OffloadJob() = default;
  OffloadJob(const OffloadJob&) = delete;
  OffloadJob& operator=(const OffloadJob&) = delete;

  // Runs on a pool thread, once; may block and may take as long as it needs.
  virtual void run() = 0;

  unsigned owner() const { return owner_; }
  std::uint32_t slot() const { return slot_; }
  // Any thread: nobody wants the result any more; the pool drops it instead of delivering it.
  void abandon() { abandoned_.store(true, std::memory_order_release); }
  bool abandoned() const { return abandoned_.load(std::memory_order_acquire); }

 private:
  const unsigned owner_;
  const std::uint32_t slot_;
  std::atomic<bool> abandoned_{false};
};

class OffloadPool {
 public:
  // A pool of `threads` (>= 1) threads, started by the first submit(): start-up pays nothing
  // for a pool no request has used yet (threads made at start-up compete with the pinned worker
  // for its CPU, which cost bench/coldstart a 4 ms scheduler tick in a run out of ten). At most
  // `capacity` submitted jobs wait for a thread. `owners` inboxes; `wake(owner)` runs on a pool
  // thread after a job landed in that owner's inbox (the Server passes Worker::wake: an eventfd
  // write).
  // `priority`: how the threads are scheduled next to the workers' loops (see OffloadPriority).
  // `thread_name`: what ps and top call them (at most 15 characters).
  OffloadPool(unsigned threads, std::size_t capacity, unsigned owners,
              std::function<void(unsigned)> wake,
              OffloadPriority priority = OffloadPriority::kNormal,
              const char* thread_name = "edgefn-offload");
  ~OffloadPool();  // stop()
  OffloadPool(const OffloadPool&) = delete;
  OffloadPool& operator=(const OffloadPool&) = delete;

  // Any thread: queues the job; false when the queue is full of jobs not abandoned, or the pool
  // stopped (the caller answers 503). Takes a short lock and never waits for a pool thread; the
  // first call also creates the threads (clone, no I/O).
  bool submit(std::shared_ptr<OffloadJob> job);

  // The owner's thread: moves the finished, not abandoned jobs of `owner` into `out`.
  void take_finished(unsigned owner, std::vector<std::shared_ptr<OffloadJob>>& out);

  // Refuses new jobs, drops the queued ones (abandoned: their connections are gone or get 503
  // from the drain), lets running jobs finish and joins the threads. Idempotent.
  void stop();

  std::size_t queued() const;

 private:
  void serve();

  const unsigned thread_count_;
  const std::size_t capacity_;
  const OffloadPriority priority_;
  const char* const thread_name_;
  std::function<void(unsigned)> wake_;
  mutable std::mutex mutex_;  // guards queue_ and stopping_; held for a push or a pop only
  std::condition_variable ready_;
  std::deque<std::shared_ptr<OffloadJob>> queue_;
  bool stopping_ = false;

  struct Inbox {
    std::mutex mutex;  // taken by one pool thread to deliver, by the owner to take
    std::vector<std::shared_ptr<OffloadJob>> jobs;
  };
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  std::vector<std::thread> threads_;  // guarded by mutex_: made by the first submit()
};

}  // namespace edgefn::runtime
