// The route table: built once from the manifest's routes, then matched on every request with no
// allocation and no lock. Patterns are '/'-separated segments: literals, `:name` (exactly one
// non-empty segment) and `*rest` (the remainder, possibly empty; last segment only). At each
// segment a literal beats a parameter beats a wildcard, with backtracking when the better choice
// leads nowhere. Routes with a `host` are tried before host-less routes: the host-less table is
// consulted only when no route of the request's host matches the path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "functions/api/request.h"

namespace edgefn::router {

// Methods a route may declare. A GET route also answers HEAD.
enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kCount };
using MethodMask = std::uint16_t;

// "GET" -> kGet; nullopt-like kCount for a method no route can declare.
Method parse_method(std::string_view method);
std::string_view method_name(Method method);
// "GET, HEAD, POST": the Allow header value for a mask, in enum order.
std::string allow_header(MethodMask mask);

struct RouteSpec {
  std::string host;          // lower-case, no port; empty = any host
  std::string method;        // "GET", "POST", ...
  std::string pattern;       // "/hello/:name"
  std::uint32_t target = 0;  // what a match returns (the runtime's function index)
};

// One problem with one spec; `spec` indexes the specs passed to build().
struct RouteError {
  std::size_t spec = 0;
  std::string message;  // e.g. `conflicts with route 2 "GET /a/:id"` (0-based spec index)
  // For a conflict: the spec it clashes with, so a caller can name it in its own terms.
  std::optional<std::size_t> conflicts_with;
};

// Upper bound on parameters per route; build() rejects patterns with more.
inline constexpr std::size_t kMaxParams = 16;

struct Match {
  enum class Status : std::uint8_t { kFound, kNotFound, kMethodNotAllowed };
  Status status = Status::kNotFound;
  std::uint32_t target = 0;     // kFound: the spec's target
  std::uint32_t route = 0;      // kFound: index of the matched spec
  MethodMask allow = 0;         // kMethodNotAllowed: methods the path does accept
  std::size_t param_count = 0;  // kFound: entries written to the params array
};

class RouteTable {
 public:
  RouteTable();
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;

  // Builds a table; every invalid pattern, unknown method and conflict (two routes that would
  // match exactly the same requests) is appended to `errors`. The table is usable only if no
  // error was added.
  static RouteTable build(std::span<const RouteSpec> specs, std::vector<RouteError>& errors);

  // Matches a decoded path. `host` may carry a port (ignored) and any case. Parameter values
  // are views into `path`. Allocates nothing; safe to call from many threads at once.
  Match match(std::string_view host, std::string_view method, std::string_view path,
              std::span<api::Param, kMaxParams> params) const;

  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefn::router
