// The manifest (edgefn.toml), parsed with toml++ into typed, validated structs. Parsing reports
// every problem it finds, each as `file:line:column: key.path: reason`, instead of stopping at
// the first. A Manifest that parse returns is complete and checked except for what needs the
// module registry and the router: build_app() (runtime/app.h) checks those.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "functions/api/config.h"
#include "runtime/address.h"
#include "runtime/log_level.h"
#include "runtime/units.h"

namespace edgefn::runtime {

struct SourcePosition {
  std::uint32_t line = 0;  // 1-based; 0 = unknown
  std::uint32_t column = 0;
};

struct Diagnostic {
  std::string file;
  SourcePosition position;
  std::string key;      // "functions.hello.routes[1]"; empty for syntax errors
  std::string message;  // "unknown key", "expected a duration such as \"250ms\""

  // "file:line:column: key: message" (or "file:line:column: message" without a key).
  std::string to_string() const;
};

// How the offload pool's threads are scheduled next to the workers' loops.
enum class OffloadPriority : std::uint8_t {
  kIdle,    // SCHED_IDLE: only CPU time no loop wants (the default: loops keep their latency)
  kLow,     // nice 10: a small share of a core a loop wants, all of an idle one
  kNormal,  // as the workers: renders and loops share cores evenly
};

// [server]. Defaults are the values used when a key is absent.
struct ServerConfig {
  SocketAddress listen;                                // "0.0.0.0:8080"
  SocketAddress admin;                                 // "127.0.0.1:9901"
  unsigned workers = 0;                                // 0 = one per core
  std::uint32_t max_connections = 10000;               // per process; beyond: accept then close
  std::uint64_t max_header_bytes = 16 * 1024;          // request line + headers -> 431
  std::uint64_t max_target_bytes = 8 * 1024;           // request target -> 414
  std::uint64_t max_body_bytes = 1024 * 1024;          // default for every function -> 413
  Duration header_timeout = std::chrono::seconds(10);  // head incomplete -> 408, close
  Duration idle_timeout = std::chrono::seconds(30);    // idle keep-alive -> close
  Duration drain_timeout = std::chrono::seconds(30);   // SIGTERM: in-flight work gets this long
  unsigned offload_threads = 0;                        // offload pool threads; 0 = one per core
  std::uint32_t offload_queue = 1024;                  // offloaded requests waiting; full -> 503
  OffloadPriority offload_priority = OffloadPriority::kIdle;
};

// [cache.redis]: the upstream cache layer (L3), shared by every worker and every node that
// names the same server.
struct RedisConfig {
  SocketAddress address;   // numeric: "127.0.0.1:6379"; unset when `host` names the server
  std::string host;        // "redis.cache.svc": resolved by the node's Resolver; empty: numeric
  std::uint16_t port = 0;  // with `host`
  Duration timeout = std::chrono::milliseconds(50);  // per call: no answer by then is a miss
  unsigned connections = 2;                          // per worker, pipelined
  std::uint64_t max_value_bytes = 1024 * 1024;       // larger answers are not sent to Redis
};

// [cache]: the layers' budgets, and the optional Redis layer.
struct CacheConfig {
  std::uint64_t l1_bytes = 64ull * 1024 * 1024;   // per worker
  std::uint64_t l2_bytes = 256ull * 1024 * 1024;  // node-wide
  std::uint64_t kv_bytes = 64ull * 1024 * 1024;   // node-wide ctx.kv() store, without redis
  // L1 and L2 do not admit a response charging more than this share of their budget.
  double max_entry_fraction = 1.0 / 8;
  std::optional<RedisConfig> redis;  // absent: no L3
};

// [upstreams.<name>]: an HTTP/1.1 origin that functions reach with ctx.fetch (and the proxy
// module), through a keep-alive pool on every worker.
struct UpstreamConfig {
  std::string name;
  SourcePosition position;
  std::string url;          // as written: "http://origin.internal:9000/base"
  std::string host;         // lower-case name, or a numeric address (IPv6 without brackets)
  std::uint16_t port = 80;  // the URL's, else 80
  std::string base_path;    // the URL's path without its trailing '/': "/base"; "" for none
  std::string host_header;  // sent as Host: the URL's authority, lower-case
  Duration timeout = std::chrono::seconds(2);         // per attempt: connect, send, whole response
  unsigned retries = 1;                               // more attempts, for idempotent methods only
  unsigned connections = 16;                          // pooled keep-alive connections per worker
  std::uint32_t circuit_failures = 5;                 // consecutive failures that open; 0: never
  Duration circuit_reset = std::chrono::seconds(10);  // open this long, then one probe
  std::uint64_t max_response_bytes = 8ull * 1024 * 1024;  // head and body -> kTooLarge
};

struct RouteDecl {
  std::string method;   // "GET"
  std::string pattern;  // "/hello/:name"
  SourcePosition position;
};

// One entry of a function's `query` or `headers` rules: a name listed in `required`, a
// `name = "pattern"` (an ECMAScript regex the whole value must match), or both. Patterns are
// compiled by build_app.
struct ParamDecl {
  std::string name;  // query: as written; headers: lower-case
  bool required = false;
  bool has_pattern = false;
  std::string pattern;
  std::string key;          // "functions.api.query.page": where a bad pattern is reported
  SourcePosition position;  // of the pattern (or of the name in `required`)
};

// A function's `cors` table. Origins are lower-case; methods empty = the route methods.
struct CorsDecl {
  std::vector<std::string> origins;  // "https://app.example.com" or "*"; at least one
  std::vector<std::string> methods;  // upper-case; empty: the function's route methods
  std::vector<std::string> headers;  // lower-case
  std::vector<std::string> expose;   // lower-case
  std::optional<std::uint64_t> max_age_seconds;
  bool credentials = false;  // never with the origin "*"
  SourcePosition position;
};

// A function's `rate_limit` table: a token bucket per key, node-wide.
struct RateLimitDecl {
  double per_second = 0;    // > 0; fractions allowed
  std::uint64_t burst = 0;  // >= 1; absent: per_second rounded up
  std::string header;       // lower-case header name for key = "header:<name>"; empty: client_ip
  SourcePosition position;
};

// A function's `max_concurrency` with its `queue` and `queue_timeout`: node-wide.
struct ConcurrencyDecl {
  std::uint32_t max = 1;                             // >= 1
  std::uint32_t queue = 0;                           // waiting requests; 0: refuse at once
  Duration queue_timeout = std::chrono::seconds(1);  // longest wait, then 503
  SourcePosition position;                           // of max_concurrency
};

// At most this many request headers in a cache policy's `vary`.
inline constexpr std::size_t kMaxVaryHeaders = 16;

// A function's `cache = { ttl, stale_while_revalidate, stale_if_error, vary, key }`: GET and
// HEAD requests are answered from the cache layers while a stored response is fresh.
struct CachePolicyDecl {
  Duration ttl{};                     // > 0
  Duration stale_while_revalidate{};  // 0: none
  Duration stale_if_error{};          // 0: none
  std::vector<std::string> vary;      // lower-case request header names; at most kMaxVaryHeaders
  // What of the request, besides method and path, tells responses apart: the host and the
  // query (default both), or only named query parameters.
  bool key_host = true;
  bool key_query = true;
  std::vector<std::string> key_query_params;  // "query:<name>" items, in order; then !key_query
  SourcePosition position;
};

// One `response_headers` entry: added to every response of the function.
struct ResponseHeaderDecl {
  std::string name;   // a valid token, as written
  std::string value;  // free of CR, LF and NUL
  SourcePosition position;
};

// [functions.<name>]
struct FunctionConfig {
  std::string name;
  SourcePosition position;
  std::string module;
  SourcePosition module_position;
  std::vector<RouteDecl> routes;
  std::string host;  // lower-case; empty = any host
  api::Config config;
  SourcePosition config_position;
  SourcePosition config_upstream_position;      // of config.upstream, which must be in `upstreams`
  std::optional<std::uint64_t> max_body_bytes;  // absent: the server's
  std::string body_schema;  // JSON Schema file as written (relative to Manifest::dir); "" = none
  SourcePosition body_schema_position;
  std::vector<ParamDecl> query;    // in file order of the pattern, else of the `required` name
  std::vector<ParamDecl> headers;  // likewise
  std::optional<CorsDecl> cors;
  std::vector<ResponseHeaderDecl> response_headers;  // in file order
  std::optional<RateLimitDecl> rate_limit;
  std::optional<Duration> timeout;  // absent: none; else 504 when it passes
  std::optional<CachePolicyDecl> cache;
  std::optional<ConcurrencyDecl> concurrency;
  bool offload = false;  // handle() runs on the node's offload pool, not on the worker
  // The upstreams ctx.fetch may reach, by name (each one of Manifest::upstreams).
  std::vector<std::string> upstreams;
  SourcePosition upstreams_position;
};

// [log]: what goes to stdout, as JSON lines.
struct LogConfig {
  bool access = true;   // one line per request; false: none (the level does not apply to them)
  double sample = 1.0;  // the share of requests logged, 0 < sample <= 1
  LogLevel level = LogLevel::kInfo;  // the other lines: at least this level (--log-level wins)
};

struct Manifest {
  std::string path;  // as given
  std::string dir;   // directory of path: relative file names resolve against it
  ServerConfig server;
  CacheConfig cache;
  LogConfig log;
  std::vector<UpstreamConfig> upstreams;  // in file order
  std::vector<FunctionConfig> functions;  // in file order
};

// Parses manifest text; `path` names it in diagnostics and sets Manifest::dir. Returns nullopt
// when anything was appended to `errors`.
std::optional<Manifest> parse_manifest(std::string_view text, std::string_view path,
                                       std::vector<Diagnostic>& errors);

// Reads and parses a file (a read failure is one diagnostic at line 0).
std::optional<Manifest> load_manifest(const std::string& path, std::vector<Diagnostic>& errors);

}  // namespace edgefn::runtime
