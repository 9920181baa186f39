// Upstreams from the manifest: numeric hosts parsed once, breakers and counters made.
#include "runtime/upstream.h"

#include <string>

namespace edgefn::runtime {

Upstream::Upstream(const UpstreamConfig& settings)
    : config(settings),
      breaker(std::make_unique<CircuitBreaker>(settings.circuit_failures, settings.circuit_reset)),
      counters(std::make_unique<UpstreamCounters>()) {
  const std::string port = std::to_string(settings.port);
  // A name never parses as a number; an IPv6 host was written in brackets and kept without.
  address = parse_socket_address(settings.host + ":" + port);
  if (!address) address = parse_socket_address("[" + settings.host + "]:" + port);
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

}  // namespace edgefn::runtime
