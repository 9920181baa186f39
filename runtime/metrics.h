// Metrics: what GET /metrics reports, counted per worker with no shared atomics on the request
// path. Each counter has one writer (its worker) and is read by the scrape on another thread:
// relaxed atomics written with a plain load and store, which compile to ordinary instructions,
// so counting costs what an integer increment costs. The scrape sums the workers.
//
// Functions are counted by name, so a reload that keeps a function keeps its series. A worker
// finds its function's counters through a table rebuilt when it takes a new App; only that
// rebuild and the scrape take the registry's lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace edgefn::runtime {

class App;

// A monotonically increasing count with a single writer.
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A level that goes up and down, with a single writer.
class Gauge {
 public:
  void add(std::int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Where a request of a caching route was answered from.
enum class CacheOutcome : std::uint8_t {
  kL1Hit,
  kL1Stale,  // stale while revalidating
  kL2Hit,
  kL2Stale,
  kRedisHit,
  kStaleIfError,  // the function failed; a stale answer was served instead
  kMiss,          // the function answered
};
inline constexpr std::size_t kCacheOutcomes = 7;

// What a public connection is doing, as nginx's stub_status tells it (plus closing).
enum class ConnectionState : std::uint8_t {
  kIdle,     // between requests (or before the first): nothing received, nothing to send
  kReading,  // part of a request received
  kActive,   // its request is being answered: a function, the cache, Redis or a queue
  kWriting,  // a response is on its way to the client
  kClosing,  // its last response sent, waiting for the peer's end
  kNone,     // not open
};
inline constexpr std::size_t kConnectionStates = 5;

// Request durations, Prometheus-style cumulative buckets from 50 µs to 10 s.
class DurationHistogram {
 public:
  // Upper bounds, in seconds, of the finite buckets (the +Inf bucket is the count).
  static constexpr std::array<double, 17> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};

  void observe(std::chrono::nanoseconds duration);

  // Samples at most kBounds[i] (not cumulative: the scrape sums).
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].value(); }
  std::uint64_t count() const { return count_.value(); }
  std::uint64_t sum_nanoseconds() const { return sum_.value(); }

 private:
  std::array<Counter, kBounds.size()> buckets_;
  Counter count_;
  Counter sum_;
};

// Response statuses 100..599, one counter each.
class StatusCounters {
 public:
  static constexpr int kFirst = 100;
  static constexpr int kLast = 599;

  void add(int status) {
    if (status >= kFirst && status <= kLast)
      counts_[static_cast<std::size_t>(status - kFirst)].add();
  }
  std::uint64_t value(int status) const {
    return counts_[static_cast<std::size_t>(status - kFirst)].value();
  }

 private:
  std::array<Counter, kLast - kFirst + 1> counts_;
};

struct FunctionMetrics {
  // Every response of a request routed to the function, by route ("GET /hello/:name").
  std::map<std::string, std::unique_ptr<StatusCounters>, std::less<>> routes;
  DurationHistogram duration;
};

// One worker's counters.
class WorkerMetrics {
 public:
  // The counters of `function` (by name), created on first use. Takes the registry's lock: for
  // the table rebuild, not for each request.
  FunctionMetrics& function(const std::string& name);
  // Makes function(i) answer for the App's function i (the worker's own App).
  void index(const App& app);
  // The counters of the indexed App's function `i`, and of its route table's route `r`.
  FunctionMetrics& function(std::size_t i) { return *by_index_[i]; }
  StatusCounters& route(std::size_t r) { return *by_route_[r]; }
  // The same by name, for a request that began on an older App (takes the lock).
  StatusCounters& route(const std::string& function, const std::string& route);

  // Requests whose function is running (or waiting for the offload pool) on this worker.
  Gauge inflight;
  // Answers of caching routes, by where they came from.
  std::array<Counter, kCacheOutcomes> cache;
  // Open public connections by state (kNone is not counted).
  std::array<Gauge, kConnectionStates> connections;
  void move_connection(ConnectionState from, ConnectionState to) {
    if (from != ConnectionState::kNone) connections[static_cast<std::size_t>(from)].add(-1);
    if (to != ConnectionState::kNone) connections[static_cast<std::size_t>(to)].add(1);
  }
  // The worker's L1 cache, copied by its periodic tick (the L1 itself is never shared).
  Gauge l1_bytes;
  Gauge l1_entries;

  // Responses the edge gave without running a function (parse errors, limits, routing,
  // validation, rate limits, full queues), by status.
  StatusCounters rejected;
  // How late the worker's loop served its periodic timer: the single best sign of a blocked
  // loop (a function computing on it, a slow syscall).
  DurationHistogram loop_lag;

  // For the scrape: calls `each(name, metrics)` for every function counted, under the lock (which
  // also keeps each function's route map still).
  template <class Each>
  void for_each_function(Each each) const {
    std::lock_guard lock(mutex_);
    for (const auto& [name, metrics] : functions_)
      each(name, *metrics);
  }

 private:
  mutable std::mutex mutex_;  // guards functions_' structure, not the counters
  std::map<std::string, std::unique_ptr<FunctionMetrics>, std::less<>> functions_;
  std::vector<FunctionMetrics*> by_index_;
  std::vector<StatusCounters*> by_route_;  // in the route table's spec order
};

}  // namespace edgefn::runtime
