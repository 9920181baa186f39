// Per-worker metrics: the duration histogram and the registry of function counters.
#include "runtime/metrics.h"

#include "runtime/app.h"

namespace edgefn::runtime {

void DurationHistogram::observe(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      buckets_[i].add();
      break;
    }
  }
  count_.add();
  sum_.add(static_cast<std::uint64_t>(duration.count() > 0 ? duration.count() : 0));
}

FunctionMetrics& WorkerMetrics::function(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto found = functions_.find(name);
  if (found == functions_.end()) {
    found = functions_.emplace(name, std::make_unique<FunctionMetrics>()).first;
  }
  return *found->second;
}

void WorkerMetrics::index(const App& app) {
  by_index_.clear();
  for (const Function& function : app.functions())
    by_index_.push_back(&this->function(function.name));
}

}  // namespace edgefn::runtime
