// The counters behind ConcurrencyLimit (see the protocol in the header).
#include "router/concurrency_limit.h"

namespace edgefn::router {

ConcurrencyLimit::ConcurrencyLimit(ConcurrencySettings settings) : settings_(settings) {}

bool ConcurrencyLimit::try_acquire() noexcept {
  std::uint32_t running = running_.load();
  while (running < settings_.max) {
    if (running_.compare_exchange_weak(running, running + 1)) return true;
  }
  return false;
}

bool ConcurrencyLimit::enter_queue(unsigned worker) noexcept {
  std::uint32_t queued = queued_.load();
  do {
    if (queued >= settings_.queue) return false;
  } while (!queued_.compare_exchange_weak(queued, queued + 1));
  worker %= kMaxWorkers;
  unsigned span = worker_span_.load();
  while (span <= worker && !worker_span_.compare_exchange_weak(span, worker + 1)) {
  }
  waiting_[worker].fetch_add(1);
  return true;
}

void ConcurrencyLimit::leave_queue(unsigned worker) noexcept {
  waiting_[worker % kMaxWorkers].fetch_sub(1);
  queued_.fetch_sub(1);
}

std::optional<unsigned> ConcurrencyLimit::release(unsigned worker) noexcept {
  running_.fetch_sub(1);
  if (queued_.load() == 0) return std::nullopt;
  // Start after the releasing worker, so repeated releases spread over the waiting workers.
  const unsigned span = worker_span_.load();
  for (unsigned step = 1; step <= span; ++step) {
    const unsigned other = (worker + step) % span;
    if (other != worker && waiting_[other].load() != 0) return other;
  }
  return std::nullopt;
}

}  // namespace edgefn::router
