// Admin pages. Liveness is the process answering; readiness ends when a drain starts.
#include "runtime/admin.h"

#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "cache/purge.h"
#include "functions/api/ascii.h"
#include "functions/api/json.h"
#include "functions/api/response.h"
#include "router/path.h"
#include "runtime/cli.h"
#include "runtime/redis_client.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

void respond_json(std::string& out, int status, std::string_view body,
                  const http::ResponseFraming& framing) {
  api::Response response;
  response.status = status;
  response.set_header("Content-Type", "application/json");
  response.set_header("Cache-Control", "no-store");
  response.body = body;
  http::write_response(out, response, framing);
}

}  // namespace

void respond_admin(std::string_view method, std::string_view path, const SharedState& shared,
                   const App& app, std::string& out, const http::ResponseFraming& framing) {
  const bool known = path == "/healthz" || path == "/readyz" || path == "/functions" ||
                     path == "/upstreams" || path == "/metrics" || path == "/purge";
  if (path == "/purge") {
    // Routed by the connection to respond_purge; reaching here is a method it does not take.
    http::write_error(out, 405, "method not allowed for this path", framing, "Allow: POST\r\n");
    return;
  }
  if (!known) {
    http::write_error(out, 404, "no such admin page", framing);
    return;
  }
  if (method != "GET" && method != "HEAD") {
    http::write_error(out, 405, "method not allowed for this path", framing,
                      "Allow: GET, HEAD\r\n");
    return;
  }
  if (path == "/healthz") {
    respond_json(out, 200, "{\"status\":\"ok\"}\n", framing);
  } else if (path == "/readyz") {
    if (shared.draining.load(std::memory_order_relaxed)) {
      respond_json(out, 503, "{\"status\":\"draining\"}\n", framing);
    } else {
      respond_json(out, 200, "{\"status\":\"ready\"}\n", framing);
    }
  } else if (path == "/metrics") {
    // The connection hands a scrape to the admin pool (MetricsScrape) and lands here only when
    // the pool is full of scrapes: the next one in a moment will find room.
    http::write_error(out, 503, "too many scrapes at once", framing, "Retry-After: 1\r\n");
  } else if (path == "/upstreams") {
    respond_json(out, 200, upstreams_json(app, shared.resolver.get()), framing);
  } else {
    respond_json(out, 200, functions_json(app, shared.io_backend), framing);
  }
}

namespace {

// The Redis side of a purge, one script per rule: Redis keys name a URI (cache key layout in
// runtime/redis_client.h), so paths and prefixes are found by scanning them, and a tag's URIs
// are the members of the set stored beside them (see store_response).
constexpr std::string_view kPurgeScript = R"lua(
local mode, text, host = ARGV[1], ARGV[2], ARGV[3]
if mode == "tag" then
  local members = redis.call("SMEMBERS", KEYS[1])
  for _, key in ipairs(members) do redis.call("DEL", key) end
  redis.call("DEL", KEYS[1])
  return #members
end
local cursor, deleted = "0", 0
repeat
  local page = redis.call("SCAN", cursor, "MATCH", "edgefn:v2|*", "COUNT", 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local fields, at = {}, 11
    for i = 1, 4 do
      local colon = string.find(key, ":", at, true)
      local length = colon and tonumber(string.sub(key, at, colon - 1))
      if not length then break end
      fields[i] = string.sub(key, colon + 1, colon + length)
      at = colon + length + 2
    end
    local key_host, path = fields[3], fields[4]
    if key_host and host ~= "" and key_host ~= "" then
      key_host = string.gsub(key_host, ":%d+$", "")
    end
    if path and (host == "" or key_host == "" or key_host == host) and
       (mode == "all" or (mode == "path" and path == text) or
        (mode == "prefix" and string.sub(path, 1, #text) == text)) then
      redis.call("DEL", key)
      deleted = deleted + 1
    end
  end
until cursor == "0"
return deleted
)lua";

void purge_redis(RedisClient& redis, std::string_view mode, std::string_view text,
                 std::string_view host) {
  // Fire and forget (token 0): this node already serves nothing the purge matches.
  if (mode == "tag") {
    const std::string key = std::string(kRedisTagPrefix) + std::string(text);
    redis.call(0, {"EVAL", kPurgeScript, "1", key, mode, text, host});
  } else {
    redis.call(0, {"EVAL", kPurgeScript, "0", mode, text, host});
  }
}

}  // namespace

void respond_purge(std::string_view method, std::string_view query, SharedState& shared,
                   RedisClient* redis, std::string& out, const http::ResponseFraming& framing) {
  if (method != "POST") {
    http::write_error(out, 405, "method not allowed for this path", framing, "Allow: POST\r\n");
    return;
  }
  std::vector<cache::PurgeRule> rules;
  std::string host;
  bool all = false;
  std::string name;
  std::string value;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    router::decode_form(pair.substr(0, eq), name);
    router::decode_form(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1),
                        value);
    if (name == "host") {
      host.clear();
      for (char c : value)
        host.push_back(api::ascii::to_lower(c));
    } else if (name == "all") {
      all = value == "1" || value == "true";
    } else if (name == "path" || name == "prefix" || name == "tag") {
      if (value.empty() || (name != "tag" && !value.starts_with('/'))) {
        http::write_error(
            out, 400,
            name == "tag" ? "a tag must not be empty" : "a path or prefix must start with \"/\"",
            framing);
        return;
      }
      rules.push_back({.kind = name == "path"     ? cache::PurgeRule::Kind::kPath
                               : name == "prefix" ? cache::PurgeRule::Kind::kPrefix
                                                  : cache::PurgeRule::Kind::kTag,
                       .text = value,
                       .host = {}});
    } else {
      http::write_error(
          out, 400, "unknown parameter \"" + name + "\"; expected path, prefix, tag, host or all",
          framing);
      return;
    }
  }
  if (rules.empty() && !all) {
    http::write_error(out, 400, "nothing to purge: give path, prefix, tag or all=1", framing);
    return;
  }
  for (cache::PurgeRule& rule : rules) {
    if (rule.kind != cache::PurgeRule::Kind::kTag) rule.host = host;
  }
  std::uint64_t sequence = shared.purges.latest();
  if (all) {
    shared.invalidations.invalidate_all();
  } else {
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    sequence = shared.purges.add(
        rules, std::chrono::duration_cast<std::chrono::milliseconds>(wall).count());
  }
  if (redis != nullptr) {
    if (all) purge_redis(*redis, "all", "", "");
    for (const cache::PurgeRule& rule : all ? std::vector<cache::PurgeRule>{} : rules) {
      const std::string_view mode = rule.kind == cache::PurgeRule::Kind::kPath     ? "path"
                                    : rule.kind == cache::PurgeRule::Kind::kPrefix ? "prefix"
                                                                                   : "tag";
      purge_redis(*redis, mode, rule.text, rule.host);
    }
  }
  std::string body = "{\"purged\":";
  body += all ? "\"all\"" : std::to_string(rules.size());
  body += ",\"sequence\":";
  body += std::to_string(sequence);
  body += "}\n";
  respond_json(out, 200, body, framing);
}

std::string functions_json(const App& app, IoBackend io) {
  std::string out = "{\"io\":";
  api::json::append_string(out, io_backend_name(io));
  out += ",\"functions\":[";
  bool first = true;
  for (const Function& function : app.functions()) {
    out += first ? "" : ",";
    first = false;
    out += "{\"name\":";
    api::json::append_string(out, function.name);
    out += ",\"module\":";
    api::json::append_string(out, function.module_name);
    out += ",\"host\":";
    if (function.host.empty()) {
      out += "null";
    } else {
      api::json::append_string(out, function.host);
    }
    out += ",\"max_body_bytes\":";
    out += std::to_string(function.max_body_bytes);
    out += ",\"routes\":[";
    for (std::size_t i = 0; i < function.routes.size(); ++i) {
      if (i > 0) out += ',';
      api::json::append_string(out, function.routes[i]);
    }
    out += "],\"upstreams\":[";
    for (std::size_t i = 0; i < function.upstreams.size(); ++i) {
      if (i > 0) out += ',';
      api::json::append_string(out, app.upstreams()[function.upstreams[i]].config.name);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

namespace {

void append_counter(std::string& out, std::string_view name, std::int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

void append_addresses(std::string& out, const Upstream& upstream, Resolver* resolver) {
  std::vector<SocketAddress> addresses;
  std::string status = "resolved";
  std::string error;
  if (upstream.address) {
    addresses.push_back(*upstream.address);
  } else if (resolver != nullptr) {
    const auto name = resolver->watch(upstream.config.host, upstream.config.port);
    switch (name->addresses(addresses)) {
      case ResolvedName::Status::kPending:
        status = "pending";
        break;
      case ResolvedName::Status::kResolved:
        break;
      case ResolvedName::Status::kFailed:
        status = "failed";
        break;
    }
    error = name->error();
  }
  out += ",\"resolution\":";
  api::json::append_string(out, status);
  if (!error.empty()) {
    out += ",\"resolution_error\":";
    api::json::append_string(out, error);
  }
  out += ",\"addresses\":[";
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ',';
    api::json::append_string(out, addresses[i].to_string());
  }
  out += ']';
}

}  // namespace

std::string upstreams_json(const App& app, Resolver* resolver) {
  const auto now = CircuitBreaker::Clock::now();
  std::string out = "{\"upstreams\":[";
  bool first = true;
  for (const Upstream& upstream : app.upstreams()) {
    out += first ? "" : ",";
    first = false;
    out += "{\"name\":";
    api::json::append_string(out, upstream.config.name);
    out += ",\"url\":";
    api::json::append_string(out, upstream.config.url);
    const CircuitBreaker& breaker = *upstream.breaker;
    const CircuitBreaker::State state = breaker.state();
    out += ",\"state\":";
    api::json::append_string(out, describe(state));
    append_counter(out, "consecutive_failures", breaker.consecutive_failures());
    append_counter(out, "times_opened", static_cast<std::int64_t>(breaker.times_opened()));
    if (state != CircuitBreaker::State::kClosed) {
      const auto open_for =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - breaker.opened_at());
      append_counter(out, "open_for_ms", open_for.count());
    }
    const UpstreamCounters& counters = *upstream.counters;
    const auto read = [](const std::atomic<std::uint64_t>& counter) {
      return static_cast<std::int64_t>(counter.load(std::memory_order_relaxed));
    };
    append_counter(out, "connections_open", counters.open.load(std::memory_order_relaxed));
    append_counter(out, "calls", read(counters.calls));
    append_counter(out, "responses", read(counters.responses));
    append_counter(out, "failures", read(counters.failures));
    append_counter(out, "timeouts", read(counters.timeouts));
    append_counter(out, "retries", read(counters.retries));
    append_counter(out, "rejected", read(counters.rejected));
    append_counter(out, "connects", read(counters.connects));
    append_addresses(out, upstream, resolver);
    out += '}';
  }
  out += "]}\n";
  return out;
}

namespace {

// A label value in the text format: backslash, double quote and newline escaped.
void append_label(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_family(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_number(std::string& out, double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  out.append(text, end);
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

// A DurationHistogram's figures, summed over workers.
struct HistogramTotals {
  std::array<std::uint64_t, DurationHistogram::kBounds.size()> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum_nanoseconds = 0;

  void add(const DurationHistogram& histogram) {
    for (std::size_t i = 0; i < buckets.size(); ++i)
      buckets[i] += histogram.bucket(i);
    count += histogram.count();
    sum_nanoseconds += histogram.sum_nanoseconds();
  }
};

// The _bucket (cumulative, then +Inf), _sum and _count samples of one labelled histogram.
void append_histogram(std::string& out, std::string_view name, std::string_view label,
                      std::string_view value, const HistogramTotals& totals) {
  const std::string bucket = std::string(name) + "_bucket";
  std::string labels;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= totals.buckets.size(); ++i) {
    labels.clear();
    append_label(labels, label, value);
    labels += ",le=\"";
    if (i < totals.buckets.size()) {
      cumulative += totals.buckets[i];
      append_number(labels, DurationHistogram::kBounds[i]);
    } else {
      cumulative = totals.count;
      labels += "+Inf";
    }
    labels += '"';
    append_sample(out, bucket, labels, static_cast<double>(cumulative));
  }
  labels.clear();
  append_label(labels, label, value);
  append_sample(out, std::string(name) + "_sum", labels,
                static_cast<double>(totals.sum_nanoseconds) / 1e9);
  append_sample(out, std::string(name) + "_count", labels, static_cast<double>(totals.count));
}

using StatusTotals = std::array<std::uint64_t, StatusCounters::kLast - StatusCounters::kFirst + 1>;

void add_statuses(StatusTotals& totals, const StatusCounters& counters) {
  for (int status = StatusCounters::kFirst; status <= StatusCounters::kLast; ++status)
    totals[static_cast<std::size_t>(status - StatusCounters::kFirst)] += counters.value(status);
}

// One function's counters summed over the workers.
struct FunctionTotals {
  std::map<std::string, StatusTotals, std::less<>> routes;
  HistogramTotals duration;
};

}  // namespace

void MetricsScrape::respond(std::string& out, const http::ResponseFraming& framing) const {
  api::Response response;
  response.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.set_header("Cache-Control", "no-store");
  response.set_body_view(text_);
  http::write_response(out, response, framing);
}

std::string metrics_text(const SharedState& shared, const App& app) {
  std::string out;
  out.reserve(16 * 1024);
  std::string labels;

  append_family(out, "edgefn_build_info", "gauge", "The running binary: always 1.");
  labels.clear();
  append_label(labels, "version", kVersion);
  append_sample(out, "edgefn_build_info", labels, 1);
  append_family(out, "edgefn_io_backend", "gauge",
                "The I/O backend the workers serve with (io_uring, or epoll): always 1.");
  labels.clear();
  append_label(labels, "backend", io_backend_name(shared.io_backend));
  append_sample(out, "edgefn_io_backend", labels, 1);
  append_family(out, "edgefn_startup_seconds", "gauge", "From exec to listening.");
  append_sample(
      out, "edgefn_startup_seconds", "",
      static_cast<double>(shared.startup_nanoseconds.load(std::memory_order_relaxed)) / 1e9);
  append_family(out, "edgefn_rejected_connections_total", "counter",
                "Connections closed at once: over max_connections.");
  append_sample(out, "edgefn_rejected_connections_total", "",
                static_cast<double>(shared.rejected_connections.load(std::memory_order_relaxed)));

  std::map<std::string, FunctionTotals, std::less<>> functions;
  StatusTotals rejected{};
  std::int64_t inflight = 0;
  std::array<std::uint64_t, kCacheOutcomes> cache{};
  std::array<std::int64_t, kConnectionStates> connections{};
  std::int64_t l1_bytes = 0;
  std::int64_t l1_entries = 0;
  for (const Worker* worker : shared.workers) {
    const WorkerMetrics& metrics = worker->metrics();
    add_statuses(rejected, metrics.rejected);
    inflight += metrics.inflight.value();
    for (std::size_t i = 0; i < kCacheOutcomes; ++i)
      cache[i] += metrics.cache[i].value();
    for (std::size_t i = 0; i < kConnectionStates; ++i)
      connections[i] += metrics.connections[i].value();
    l1_bytes += metrics.l1_bytes.value();
    l1_entries += metrics.l1_entries.value();
    metrics.for_each_function([&](const std::string& name, const FunctionMetrics& counted) {
      FunctionTotals& totals = functions[name];
      for (const auto& [route, statuses] : counted.routes)
        add_statuses(totals.routes[route], *statuses);
      totals.duration.add(counted.duration);
    });
  }

  append_family(out, "edgefn_requests_total", "counter",
                "Responses to requests routed to a function, by route and status (cache hits and "
                "edge refusals included).");
  for (const auto& [name, totals] : functions) {
    for (const auto& [route, statuses] : totals.routes) {
      for (std::size_t i = 0; i < statuses.size(); ++i) {
        if (statuses[i] == 0) continue;
        labels.clear();
        append_label(labels, "function", name);
        labels += ',';
        append_label(labels, "route", route);
        labels += ',';
        append_label(labels, "status",
                     std::to_string(StatusCounters::kFirst + static_cast<int>(i)));
        append_sample(out, "edgefn_requests_total", labels, static_cast<double>(statuses[i]));
      }
    }
  }
  append_family(out, "edgefn_inflight_requests", "gauge",
                "Requests whose function is running or queued for the offload pool.");
  append_sample(out, "edgefn_inflight_requests", "", static_cast<double>(inflight));
  append_family(out, "edgefn_cache_requests_total", "counter",
                "Answers of caching routes by layer and result (miss: the function answered).");
  const std::array<std::pair<std::string_view, std::string_view>, kCacheOutcomes> outcomes = {{
      {"l1", "hit"},
      {"l1", "stale"},
      {"l2", "hit"},
      {"l2", "stale"},
      {"redis", "hit"},
      {"stale_if_error", "hit"},
      {"function", "miss"},
  }};
  for (std::size_t i = 0; i < kCacheOutcomes; ++i) {
    labels.clear();
    append_label(labels, "layer", outcomes[i].first);
    labels += ',';
    append_label(labels, "result", outcomes[i].second);
    append_sample(out, "edgefn_cache_requests_total", labels, static_cast<double>(cache[i]));
  }
  append_family(out, "edgefn_cache_bytes", "gauge",
                "Bytes charged by stored responses: l1 summed over workers (as of their last "
                "100 ms tick), l2 node-wide.");
  append_sample(out, "edgefn_cache_bytes", "layer=\"l1\"", static_cast<double>(l1_bytes));
  append_sample(out, "edgefn_cache_bytes", "layer=\"l2\"",
                static_cast<double>(shared.l2.size_bytes()));
  append_family(out, "edgefn_cache_entries", "gauge", "Stored responses, as edgefn_cache_bytes.");
  append_sample(out, "edgefn_cache_entries", "layer=\"l1\"", static_cast<double>(l1_entries));
  append_sample(out, "edgefn_cache_entries", "layer=\"l2\"",
                static_cast<double>(shared.l2.entries()));
  append_family(out, "edgefn_cache_budget_bytes", "gauge",
                "What edgefn_cache_bytes may reach: [cache] l1_bytes times the workers, l2_bytes.");
  append_sample(out, "edgefn_cache_budget_bytes", "layer=\"l1\"",
                static_cast<double>(shared.cache.l1_bytes * shared.workers.size()));
  append_sample(out, "edgefn_cache_budget_bytes", "layer=\"l2\"",
                static_cast<double>(shared.l2.budget_bytes()));
  append_family(out, "edgefn_connections", "gauge",
                "Open public connections by state: idle (between requests), reading (a request "
                "partly received), active (being answered), writing (a response being sent), "
                "closing.");
  const std::array<std::string_view, kConnectionStates> states = {"idle", "reading", "active",
                                                                  "writing", "closing"};
  for (std::size_t i = 0; i < kConnectionStates; ++i) {
    labels.clear();
    append_label(labels, "state", states[i]);
    append_sample(out, "edgefn_connections", labels, static_cast<double>(connections[i]));
  }
  append_family(out, "edgefn_reloads_total", "counter",
                "Manifest reloads: applied, or failed (the running manifest stayed).");
  append_sample(out, "edgefn_reloads_total", "result=\"applied\"",
                static_cast<double>(shared.reloads_applied.load(std::memory_order_relaxed)));
  append_sample(out, "edgefn_reloads_total", "result=\"failed\"",
                static_cast<double>(shared.reloads_failed.load(std::memory_order_relaxed)));
  append_family(out, "edgefn_request_duration_seconds", "histogram",
                "From a request's complete head to its response, per function.");
  for (const auto& [name, totals] : functions)
    append_histogram(out, "edgefn_request_duration_seconds", "function", name, totals.duration);
  append_family(out, "edgefn_event_loop_lag_seconds", "histogram",
                "How late each worker's loop served its 100 ms timer.");
  for (std::size_t w = 0; w < shared.workers.size(); ++w) {
    HistogramTotals lag;
    lag.add(shared.workers[w]->metrics().loop_lag);
    append_histogram(out, "edgefn_event_loop_lag_seconds", "worker", std::to_string(w), lag);
  }
  append_family(out, "edgefn_rejected_total", "counter",
                "Requests the edge answered without running their function, by status.");
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (rejected[i] == 0) continue;
    labels.clear();
    append_label(labels, "reason", std::to_string(StatusCounters::kFirst + static_cast<int>(i)));
    append_sample(out, "edgefn_rejected_total", labels, static_cast<double>(rejected[i]));
  }

  append_family(out, "edgefn_upstream_requests_total", "counter",
                "ctx.fetch calls by outcome: response, failure (after retries), rejected (circuit "
                "open).");
  for (const Upstream& upstream : app.upstreams()) {
    const UpstreamCounters& counters = *upstream.counters;
    const std::pair<std::string_view, const std::atomic<std::uint64_t>*> results[] = {
        {"response", &counters.responses},
        {"failure", &counters.failures},
        {"rejected", &counters.rejected}};
    for (const auto& [result, counter] : results) {
      labels.clear();
      append_label(labels, "upstream", upstream.config.name);
      labels += ',';
      append_label(labels, "result", result);
      append_sample(out, "edgefn_upstream_requests_total", labels,
                    static_cast<double>(counter->load(std::memory_order_relaxed)));
    }
  }
  append_family(out, "edgefn_circuit_state", "gauge",
                "An upstream's circuit: 0 closed, 1 open, 2 half-open.");
  for (const Upstream& upstream : app.upstreams()) {
    labels.clear();
    append_label(labels, "upstream", upstream.config.name);
    append_sample(out, "edgefn_circuit_state", labels,
                  static_cast<double>(static_cast<int>(upstream.breaker->state())));
  }
  append_family(out, "edgefn_log_lines_dropped_total", "counter",
                "Log lines dropped because stdout did not keep up (requests never wait for it).");
  double dropped = 0;
  for (const Worker* worker : shared.workers)
    dropped += static_cast<double>(worker->log_dropped());
  append_sample(out, "edgefn_log_lines_dropped_total", "", dropped);
  append_family(out, "edgefn_offload_queue_depth", "gauge",
                "Offloaded requests waiting for a pool thread.");
  append_sample(out, "edgefn_offload_queue_depth", "",
                shared.offload ? static_cast<double>(shared.offload->queued()) : 0);
  return out;
}

}  // namespace edgefn::runtime
