// Upstream: one [upstreams.*] entry made runnable — its settings, where it is (a fixed address
// for a numeric host; a name the node's Resolver keeps current otherwise), its circuit breaker
// and its counters. Node-wide and shared by every worker: it lives in the App, and its breaker
// and counters are atomics reached through pointers that the App's constness does not extend to
// (as for rate limits). A reload builds new ones: every circuit starts closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/address.h"
#include "runtime/circuit_breaker.h"
#include "runtime/manifest.h"

namespace edgefn::runtime {

// What the admin page shows of an upstream; relaxed atomics, summed over every worker.
struct UpstreamCounters {
  std::atomic<std::uint64_t> calls{0};      // ctx.fetch calls that reached the upstream's pool
  std::atomic<std::uint64_t> responses{0};  // complete responses (any status)
  std::atomic<std::uint64_t> failures{0};   // calls that ended without one
  std::atomic<std::uint64_t> timeouts{0};   // attempts that ran out of time
  std::atomic<std::uint64_t> retries{0};    // attempts after the first
  std::atomic<std::uint64_t> rejected{0};   // refused at once: the circuit was open
  std::atomic<std::uint64_t> connects{0};   // connections opened
  std::atomic<std::int64_t> open{0};        // connections open now
};

struct Upstream {
  explicit Upstream(const UpstreamConfig& settings);

  UpstreamConfig config;
  std::optional<SocketAddress> address;  // a numeric host's; absent: resolve config.host
  std::unique_ptr<CircuitBreaker> breaker;
  std::unique_ptr<UpstreamCounters> counters;
};

// The methods a retry may repeat (RFC 9110 section 9.2.2): GET HEAD OPTIONS TRACE PUT DELETE.
bool is_idempotent(std::string_view method);

}  // namespace edgefn::runtime
