// Micro benchmarks for the router: matching against a realistic table, and path decoding.
// Every case reports `allocs_per_iter`, which must stay 0: both run on every request.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "router/path.h"
#include "router/route_table.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::router {
namespace {

// 50 routes shaped like a small API gateway's: static pages, REST resources with ids, nested
// resources, catch-all asset paths, and a few host-specific routes.
RouteTable realistic_table() {
  static constexpr std::array<std::array<const char*, 3>, 50> kRoutes = {{
      {"", "GET", "/"},
      {"", "GET", "/hello"},
      {"", "GET", "/hello/:name"},
      {"", "GET", "/favicon.ico"},
      {"", "GET", "/robots.txt"},
      {"", "GET", "/sitemap.xml"},
      {"", "GET", "/static/*path"},
      {"", "GET", "/assets/*path"},
      {"", "GET", "/.well-known/*path"},
      {"", "GET", "/api/v1/users"},
      {"", "POST", "/api/v1/users"},
      {"", "GET", "/api/v1/users/me"},
      {"", "GET", "/api/v1/users/:id"},
      {"", "PUT", "/api/v1/users/:id"},
      {"", "PATCH", "/api/v1/users/:id"},
      {"", "DELETE", "/api/v1/users/:id"},
      {"", "GET", "/api/v1/users/:id/orders"},
      {"", "POST", "/api/v1/users/:id/orders"},
      {"", "GET", "/api/v1/users/:id/orders/:order"},
      {"", "GET", "/api/v1/orders"},
      {"", "POST", "/api/v1/orders"},
      {"", "GET", "/api/v1/orders/:id"},
      {"", "DELETE", "/api/v1/orders/:id"},
      {"", "GET", "/api/v1/orders/:id/items"},
      {"", "GET", "/api/v1/products"},
      {"", "GET", "/api/v1/products/:sku"},
      {"", "GET", "/api/v1/products/:sku/reviews"},
      {"", "POST", "/api/v1/products/:sku/reviews"},
      {"", "GET", "/api/v1/search"},
      {"", "GET", "/api/v2/users/:id"},
      {"", "GET", "/api/v2/orders/:id"},
      {"", "POST", "/api/v2/checkout"},
      {"", "GET", "/kv/:key"},
      {"", "PUT", "/kv/:key"},
      {"", "DELETE", "/kv/:key"},
      {"", "POST", "/markdown"},
      {"", "POST", "/echo"},
      {"", "GET", "/echo/*rest"},
      {"", "GET", "/blog"},
      {"", "GET", "/blog/tags/:tag"},
      {"", "GET", "/blog/:year/:month/:slug"},
      {"", "GET", "/docs/*page"},
      {"", "GET", "/login"},
      {"", "POST", "/login"},
      {"", "POST", "/logout"},
      {"", "GET", "/account/settings"},
      {"", "POST", "/webhooks/:provider"},
      {"api.example.com", "GET", "/orders"},
      {"api.example.com", "POST", "/orders"},
      {"cdn.example.com", "GET", "/images/*path"},
  }};
  std::vector<RouteSpec> specs;
  for (std::size_t i = 0; i < kRoutes.size(); ++i) {
    specs.push_back({kRoutes[i][0], kRoutes[i][1], kRoutes[i][2], static_cast<std::uint32_t>(i)});
  }
  std::vector<RouteError> errors;
  RouteTable table = RouteTable::build(specs, errors);
  if (!errors.empty()) std::abort();  // the table above is fixed; an error is a bug here
  return table;
}

const RouteTable& table() {
  static const RouteTable t = realistic_table();
  return t;
}

// Runs `match` over the loop and checks the status once, so a broken table cannot report a
// fast "hit" that is really a 404.
void run_match(benchmark::State& state, std::string_view host, std::string_view method,
               std::string_view path, Match::Status expected) {
  const RouteTable& t = table();
  std::array<api::Param, kMaxParams> params;
  if (t.match(host, method, path, params).status != expected) {
    state.SkipWithError("unexpected match status");
    return;
  }
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    Match m = t.match(host, method, path, params);
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(params.data());
  }
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(testing::allocation_count() - before),
                         benchmark::Counter::kAvgIterations);
}

// A four-segment all-literal path whose last level also has a parameter sibling
// ("/api/v1/users/me" next to "/api/v1/users/:id").
void BM_MatchLiteral(benchmark::State& state) {
  run_match(state, "example.com", "GET", "/api/v1/users/me", Match::Status::kFound);
}
BENCHMARK(BM_MatchLiteral);

// Two parameters five segments deep, capturing "42" and "1001".
void BM_MatchParam(benchmark::State& state) {
  run_match(state, "example.com", "GET", "/api/v1/users/42/orders/1001", Match::Status::kFound);
}
BENCHMARK(BM_MatchParam);

// A wildcard taking a three-segment remainder ("css/site/main.css").
void BM_MatchWildcard(benchmark::State& state) {
  run_match(state, "example.com", "GET", "/static/css/site/main.css", Match::Status::kFound);
}
BENCHMARK(BM_MatchWildcard);

// A path no route matches, which walks "/api" before giving up: the cost of a 404.
void BM_MatchNotFound(benchmark::State& state) {
  run_match(state, "example.com", "GET", "/api/v3/unknown/thing", Match::Status::kNotFound);
}
BENCHMARK(BM_MatchNotFound);

// A path whose patterns lack the method: every matching pattern is visited for the Allow mask.
void BM_MatchMethodNotAllowed(benchmark::State& state) {
  run_match(state, "example.com", "POST", "/api/v1/users/42", Match::Status::kMethodNotAllowed);
}
BENCHMARK(BM_MatchMethodNotAllowed);

// A host-specific route, with the host in mixed case and a port to strip.
void BM_MatchHostRoute(benchmark::State& state) {
  run_match(state, "API.Example.com:443", "GET", "/orders", Match::Status::kFound);
}
BENCHMARK(BM_MatchHostRoute);

// decode_path over a typical path; Arg 0: no escapes (a straight copy with checks), Arg 1: the
// same length with four percent-escapes, one of them an encoded '/'.
void BM_DecodePath(benchmark::State& state) {
  const std::string_view raw = state.range(0) == 0 ? "/api/v1/users/42/orders/1001/items/xyz"
                                                   : "/api/v1/users/caf%C3%A9/orders%2F10%21";
  std::array<char, 64> out{};
  if (decode_path(raw, out.data()).error != PathError::kNone) {
    state.SkipWithError("unexpected decode error");
    return;
  }
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    DecodedPath d = decode_path(raw, out.data());
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(out.data());
  }
  // Read the count before SetBytesProcessed: adding a counter allocates.
  const std::size_t allocations = testing::allocation_count() - before;
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(raw.size()));
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_DecodePath)->Arg(0)->Arg(1);

}  // namespace
}  // namespace edgefn::router
