// CORS (Cross-Origin Resource Sharing) for one function: which origins may call it, and the
// Access-Control-* header lines of preflight and actual responses. Built once with the App.
//
// Threads: a CorsPolicy is immutable after make() and shared read-only by every worker.
// Allocation: make() allocates; the per-request calls append to a caller's string only (which
// allocates only when it must grow).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgefn::router {

struct CorsSettings {
  std::vector<std::string> origins;  // exact "scheme://host[:port]" (lower-case) or "*"
  std::vector<std::string> methods;  // upper-case, e.g. "GET"
  std::vector<std::string> headers;  // request headers allowed, lower-case
  std::vector<std::string> expose;   // response headers exposed to scripts
  std::optional<std::uint64_t> max_age_seconds;
  bool credentials = false;  // never together with the origin "*" (the manifest refuses it)
};

class CorsPolicy {
 public:
  // Preformats every constant header line.
  static CorsPolicy make(CorsSettings settings);

  const CorsSettings& settings() const { return settings_; }

  // True when `origin` (the request's Origin header) is listed, or "*" is.
  bool origin_allowed(std::string_view origin) const;

  // A preflight for `method` (Access-Control-Request-Method) and `request_headers` (the
  // comma-separated Access-Control-Request-Headers, possibly empty) from `origin`. When origin,
  // method (a listed one, or GET, HEAD or POST, which browsers never check) and every header are
  // allowed, appends the Access-Control-* lines (and Vary: Origin
  // unless the answer is "*") to `out` and returns true; otherwise appends nothing.
  bool preflight(std::string_view origin, std::string_view method, std::string_view request_headers,
                 std::string& out) const;

  // An actual request from `origin`: when it is allowed, appends Access-Control-Allow-Origin,
  // Vary, Access-Control-Allow-Credentials and Access-Control-Expose-Headers as configured and
  // returns true; otherwise appends nothing.
  bool actual(std::string_view origin, std::string& out) const;

 private:
  void append_origin(std::string_view origin, std::string& out) const;

  CorsSettings settings_;
  bool any_origin_ = false;
  std::string methods_line_;      // "Access-Control-Allow-Methods: GET, POST\r\n"
  std::string headers_line_;      // empty when no headers are allowed
  std::string max_age_line_;      // empty when unset
  std::string credentials_line_;  // empty when credentials is false
  std::string expose_line_;       // empty when nothing is exposed
};

}  // namespace edgefn::router
