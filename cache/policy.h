// HTTP caching semantics for a shared cache, as pure functions over views: Cache-Control
// parsing (RFC 9111 5.2), whether and how long a function's response may be stored (RFC 9111 3
// and 4.2, RFC 5861's stale-while-revalidate and stale-if-error), conditional requests against a
// stored response (RFC 9110 13), and the Cache-Status field (RFC 9211).
//
// Nothing here reads a clock: `now` is a parameter, so tests pin time. Nothing allocates except
// where a function appends to a caller's string. Nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cache/l1.h"  // Clock, TimePoint, Lifetime

namespace edgefn::cache {

using Duration = Clock::duration;

// A route's `cache = { ttl, stale_while_revalidate, stale_if_error, vary, key }` as far as
// freshness goes (the key parts are the runtime's business).
struct RoutePolicy {
  Duration ttl{};                     // freshness when the response gives none; > 0
  Duration stale_while_revalidate{};  // 0: none
  Duration stale_if_error{};          // 0: none
  // Request headers the key varies on, lower-case, in the route's order. A response whose own
  // Vary names a header outside this list (or "*") is not stored: its variants could not be
  // told apart.
  std::span<const std::string> vary;
};

// The directives of a response's Cache-Control (all its fields, joined with ", "). Unknown
// directives are ignored; names are case-insensitive; a delta-seconds value may be quoted.
// A malformed delta-seconds makes its directive count as 0 (RFC 9111 4.2.1: when in doubt, the
// response is stale); one too large for 31 bits counts as 2^31 seconds (RFC 9111 1.2.2). A
// directive repeated with different values counts as 0.
struct CacheControl {
  bool no_store = false;
  bool no_cache = false;  // with or without a field list: treated as a whole
  bool private_ = false;  // likewise
  bool public_ = false;
  bool must_revalidate = false;  // must-revalidate or proxy-revalidate: never served stale
  std::optional<Duration> max_age;
  std::optional<Duration> s_maxage;
  std::optional<Duration> stale_while_revalidate;
  std::optional<Duration> stale_if_error;
};

CacheControl parse_cache_control(std::string_view value);

// What the cache needs to know about a function's response to decide on storing it.
struct ResponseFacts {
  int status = 200;
  CacheControl cache_control;
  std::string_view vary;  // the response's Vary value(s), joined with ", "; empty: none
  bool has_set_cookie = false;
  // The request carried Authorization (RFC 9111 3.5: stored only with public or s-maxage).
  bool request_authorized = false;
};

enum class StoreVerdict : std::uint8_t {
  kStore,
  kNoStore,        // no-store, no-cache or private
  kStatus,         // a status code not cacheable by default and no explicit freshness
  kSetCookie,      // personalised: never shared
  kVary,           // Vary names a header outside the route's list, or "*"
  kAuthorization,  // an authorized request without public, s-maxage or must-revalidate
  kZeroLifetime,   // fresh for 0 seconds and no stale window: nothing to keep
};

struct StorePlan {
  StoreVerdict verdict = StoreVerdict::kNoStore;
  Lifetime lifetime;  // meaningful for kStore only
};

// Decides, for a response received at `now`:
//  - freshness: the response's s-maxage, else max-age, capped by the route's ttl (the stricter
//    of the two wins); neither: the route's ttl;
//  - the stale windows: the route's, each capped by the response's directive of the same name
//    when present; must-revalidate closes both;
//  - statuses cacheable by default (RFC 9110 15.1): 200, 203, 204, 300, 301, 308, 404, 405,
//    410, 414, 501; any other status in 200-599 is stored only with an explicit max-age or
//    s-maxage; 206 (no range support), 304 and statuses outside 200-599 never are.
StorePlan plan_store(const RoutePolicy& route, const ResponseFacts& response, TimePoint now);

// A short lower-case reason for logs and Cache-Status details ("no-store", "status", ...).
std::string_view describe(StoreVerdict verdict);

// RFC 9110 13.1.2 and 13.1.3 for a GET or HEAD answered from a stored response with validators
// `etag` (empty: none) and `last_modified` (an HTTP-date; empty: none). True when the client's
// copy is current and a 304 is the answer. If-None-Match, when present, decides alone (weak
// comparison; "*" matches any stored response with an ETag); otherwise If-Modified-Since
// against Last-Modified, both parsed as HTTP-dates (IMF-fixdate, RFC 850 and asctime forms).
// An unparseable date never matches.
bool not_modified(std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since, std::string_view etag,
                  std::string_view last_modified);

// Seconds since the Unix epoch of an HTTP-date (RFC 9110 5.6.7), or nullopt.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// One Cache-Status entry (RFC 9211) for this cache, named "edgefn":
//   hit                      Cache-Status: edgefn; hit; ttl=42; detail=l1
//   stale while revalidating Cache-Status: edgefn; hit; fwd=stale; ttl=-3; detail=l2
//   miss, stored             Cache-Status: edgefn; fwd=miss; fwd-status=200; stored
//   miss, not stored         Cache-Status: edgefn; fwd=miss; fwd-status=500; detail=status
//   stale-if-error           Cache-Status: edgefn; fwd=stale; fwd-status=503; ttl=-9;
//   detail=stale-if-error not cacheable (method)   Cache-Status: edgefn; fwd=method
struct CacheStatus {
  bool hit = false;
  std::string_view fwd;  // "", "miss", "stale", "method", "bypass", ...
  int fwd_status = 0;    // 0: omitted
  bool stored = false;
  std::optional<std::int64_t> ttl_seconds;  // remaining freshness, negative when stale
  std::string_view detail;  // "", "l1", "l2", "redis", a StoreVerdict description, ...
};

// Appends "Cache-Status: ...\r\n" to `out`.
void append_cache_status(std::string& out, const CacheStatus& status);

}  // namespace edgefn::cache
