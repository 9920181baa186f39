// App: a manifest made runnable — modules created (their init ran), routes compiled. Immutable
// once built and shared read-only by every worker; a reload builds a new App.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "functions/api/module.h"
#include "router/concurrency_limit.h"
#include "router/cors.h"
#include "router/rate_limit.h"
#include "router/route_table.h"
#include "router/validation.h"
#include "runtime/manifest.h"
#include "runtime/upstream.h"

namespace edgefn::runtime {

struct Function {
  std::string name;
  std::string module_name;
  std::unique_ptr<api::Module> module;
  api::Config config;
  std::uint64_t max_body_bytes = 0;  // resolved: the function's or the server's
  std::vector<std::string> routes;   // "GET /hello/:name", as declared
  std::string host;
  router::RequestRules rules;  // body schema, query and header rules; checked before handle()
  std::optional<router::CorsPolicy> cors;  // absent: no CORS headers, OPTIONS as routed
  // The manifest's response_headers, preformatted: "Name: value\r\n" lines added to every
  // response of the function (they replace fields of the same name the module set).
  std::string response_header_lines;
  // The manifest's rate_limit: one limiter for the whole node, shared by every worker. The App
  // is immutable, but the limiter is internally synchronized (see router/rate_limit.h) and is
  // reached through this pointer, which the App's constness does not extend to. Absent: no
  // limit. A reload builds a new App, and so starts every bucket full.
  std::unique_ptr<router::RateLimiter> rate_limit;
  // The manifest's max_concurrency (with queue and queue_timeout): node-wide like rate_limit,
  // and reached the same way. Absent: no limit.
  std::unique_ptr<router::ConcurrencyLimit> concurrency;
  // The manifest's cache policy: GET and HEAD answered from the cache layers. Absent: none.
  std::optional<CachePolicyDecl> cache;
  // The manifest's timeout: the function's time to answer before the client gets 504. Zero: none.
  Duration timeout{};
  // The manifest's offload: handle() runs on the node's offload pool (runtime/offload_pool.h).
  bool offload = false;
  // The upstreams ctx.fetch may reach: indices into App::upstreams(), in the manifest's order.
  std::vector<std::uint32_t> upstreams;
};

class App {
 public:
  App(Manifest manifest, std::vector<Function> functions, router::RouteTable routes)
      : manifest_(std::move(manifest)),
        functions_(std::move(functions)),
        routes_(std::move(routes)) {
    for (const Function& function : functions_)
      route_names_.insert(route_names_.end(), function.routes.begin(), function.routes.end());
    upstreams_.reserve(manifest_.upstreams.size());
    for (const UpstreamConfig& upstream : manifest_.upstreams)
      upstreams_.emplace_back(upstream);
  }

  const Manifest& manifest() const { return manifest_; }
  const ServerConfig& server() const { return manifest_.server; }
  const router::RouteTable& routes() const { return routes_; }
  // Indexed by the route table's targets.
  std::span<const Function> functions() const { return functions_; }
  // "GET /hello/:name": the route a Match names (router::Match::route), for logs.
  const std::string& route_name(std::uint32_t route) const { return route_names_[route]; }
  // The manifest's [upstreams.*], in file order.
  std::span<const Upstream> upstreams() const { return upstreams_; }

 private:
  Manifest manifest_;
  std::vector<Function> functions_;
  std::vector<Upstream> upstreams_;
  std::vector<std::string> route_names_;  // in the route table's spec order
  router::RouteTable routes_;
};

// Resolves modules against the registry (an unknown one lists the known ones), runs each
// module's create(config), compiles each function's request rules (its body_schema file, read
// relative to the manifest's directory, and its query/header patterns), and builds the route
// table; a route conflict, a failing create, an unreadable or invalid schema and an invalid
// pattern are each a diagnostic at its manifest position. Returns nullptr when anything was
// appended to `errors`.
std::unique_ptr<const App> build_app(Manifest manifest, std::vector<Diagnostic>& errors);

}  // namespace edgefn::runtime
