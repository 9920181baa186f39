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

StatusCounters& WorkerMetrics::route(const std::string& function, const std::string& route) {
  FunctionMetrics& metrics = this->function(function);
  std::lock_guard lock(mutex_);
  auto found = metrics.routes.find(route);
  if (found == metrics.routes.end()) {
    found = metrics.routes.emplace(route, std::make_unique<StatusCounters>()).first;
  }
  return *found->second;
}

void WorkerMetrics::index(const App& app) {
  by_index_.clear();
  by_route_.clear();
  for (const Function& function : app.functions()) {
    by_index_.push_back(&this->function(function.name));
    // Spec order is every function's routes in turn (see App::route_name).
    for (const std::string& route : function.routes)
      by_route_.push_back(&this->route(function.name, route));
  }
}

}  // namespace edgefn::runtime
