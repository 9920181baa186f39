// The `proxy` module: the upstream target, the forwarded header set and the copied answer, all
// built in the request arena around one ctx.fetch().
#include "functions/proxy/proxy.h"

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "functions/api/ascii.h"

namespace edgefn::functions {

namespace {

using api::ascii::iequals;

// RFC 9110 7.6.1's hop-by-hop fields, with the pre-standard ones proxies still meet
// (keep-alive, proxy-connection) and the proxy authentication pair, which concerns this hop.
constexpr std::string_view kHopByHop[] = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
};

using api::ascii::is_token;

constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Where the authority of an absolute-form target begins (after "scheme://", RFC 3986 3.1), or
// npos when `target` does not start with a scheme.
std::size_t authority_start(std::string_view target) {
  if (target.empty() || !is_alpha(target.front())) return std::string_view::npos;
  std::size_t i = 1;
  while (i < target.size() && (is_alpha(target[i]) || (target[i] >= '0' && target[i] <= '9') ||
                               target[i] == '+' || target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  return target.substr(i, 3) == "://" ? i + 3 : std::string_view::npos;
}

// True when a Connection field of `headers` names `name` (RFC 9110 7.6.1: those fields are
// hop-by-hop too).
bool named_by_connection(const api::HeaderList& headers, std::string_view name) {
  for (const api::Header& field : headers) {
    if (!iequals(field.name, "connection")) continue;
    bool named = false;
    api::ascii::for_each_list_item(field.value, [&](std::string_view item) {
      named = iequals(item, name);
      return !named;
    });
    if (named) return true;
  }
  return false;
}

// Appends `text` as an RFC 9110 quoted-string.
void append_quoted(std::pmr::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

// A forwarded-element's value (RFC 7239 4): a token as it is, else a quoted-string. An IPv6
// node is a quoted "[address]" (RFC 7239 6.1); a peer without an address is "unknown".
void append_node(std::pmr::string& out, std::string_view ip) {
  if (ip.empty()) {
    out.append("unknown");
  } else if (ip.find(':') != std::string_view::npos && ip.front() != '[') {
    out.append("\"[").append(ip).append("]\"");
  } else if (is_token(ip)) {
    out.append(ip);
  } else {
    append_quoted(out, ip);
  }
}

// Every `name` field of `headers`, values joined with ", " (RFC 9110 5.3) into `out`, which is
// reserved for `extra` more bytes first, so that appending to it allocates once.
void join_fields(const api::HeaderList& headers, std::string_view name, std::pmr::string& out,
                 std::size_t extra) {
  std::size_t size = extra;
  for (const api::Header& field : headers) {
    if (iequals(field.name, name)) size += field.value.size() + 2;
  }
  out.reserve(size);
  for (const api::Header& field : headers) {
    if (!iequals(field.name, name)) continue;
    const std::string_view value = api::ascii::trim_ows(field.value);
    if (value.empty()) continue;
    if (!out.empty()) out.append(", ");
    out.append(value);
  }
}

// The earlier values of a field this proxy appends to; none when the Connection header names it
// (they were meant for the previous hop only).
void earlier_values(const api::HeaderList& headers, std::string_view name, std::pmr::string& out,
                    std::size_t extra) {
  if (named_by_connection(headers, name)) {
    out.reserve(extra);
  } else {
    join_fields(headers, name, out, extra);
  }
}

// A request field that goes upstream as it came: not hop-by-hop, not one the runtime writes
// (host, framing, expect), not one this module rewrites (x-forwarded-for, forwarded) or sets
// itself: an edge proxy is the first hop its origin can trust, so a client's x-forwarded-host
// or x-forwarded-proto would be a forgery.
bool forwarded_as_is(const api::HeaderList& headers, std::string_view name) {
  return !proxy::is_hop_by_hop(name) && !iequals(name, "host") &&
         !iequals(name, "content-length") && !iequals(name, "expect") &&
         !iequals(name, "x-forwarded-for") && !iequals(name, "forwarded") &&
         !iequals(name, "x-forwarded-host") && !iequals(name, "x-forwarded-proto") &&
         !named_by_connection(headers, name);
}

// Strings the forwarded header set views; locals of the coroutine frame, so they outlive the
// co_await as FetchRequest's contract asks.
struct ForwardedFields {
  explicit ForwardedFields(std::pmr::memory_resource* arena)
      : list(arena), forwarded_for(arena), forwarded(arena) {}
  std::pmr::vector<api::Header> list;
  std::pmr::string forwarded_for;
  std::pmr::string forwarded;
};

void build_request_fields(const api::Request& request, ForwardedFields& out) {
  const api::HeaderList& headers = request.headers;
  out.list.reserve(headers.size() + 4);  // one arena allocation: every field plus the four added
  for (const api::Header& field : headers) {
    if (forwarded_as_is(headers, field.name)) out.list.push_back(field);
  }

  earlier_values(headers, "x-forwarded-for", out.forwarded_for, request.client_ip.size() + 2);
  if (!request.client_ip.empty()) {
    if (!out.forwarded_for.empty()) out.forwarded_for.append(", ");
    out.forwarded_for.append(request.client_ip);
  }
  if (!out.forwarded_for.empty()) out.list.push_back({"X-Forwarded-For", out.forwarded_for});
  if (!request.host.empty()) out.list.push_back({"X-Forwarded-Host", request.host});
  out.list.push_back({"X-Forwarded-Proto", "http"});

  // for="[ip]" (4 + ip + 4), ;host="..." (escapes at most double it), ;proto=http, ", ".
  earlier_values(headers, "forwarded", out.forwarded,
                 request.client_ip.size() + 2 * request.host.size() + 40);
  std::pmr::string& f = out.forwarded;
  if (!f.empty()) f.append(", ");
  f.append("for=");
  append_node(f, request.client_ip);
  if (!request.host.empty()) {
    f.append(";host=");
    if (is_token(request.host)) {
      f.append(request.host);
    } else {
      append_quoted(f, request.host);
    }
  }
  f.append(";proto=http");
  out.list.push_back({"Forwarded", f});
}

void copy_response_fields(const api::HeaderList& headers, bool head, api::Response& response) {
  for (const api::Header& field : headers) {
    // runtime/http_writer.cc writes Date, Content-Length and Connection itself and drops a
    // module's fields of those names (and Transfer-Encoding); dropping them here keeps that
    // independent of the writer and out of the cache's stored lines.
    if (proxy::is_hop_by_hop(field.name) || (iequals(field.name, "content-length") && !head) ||
        iequals(field.name, "date") || named_by_connection(headers, field.name)) {
      continue;
    }
    response.add_header(field.name, field.value);
  }
}

api::Response failure(const api::Context& ctx, std::string_view upstream, api::FetchStatus status) {
  switch (status) {
    case api::FetchStatus::kTimeout:
      return ctx.error(504, api::describe(status));
    case api::FetchStatus::kCircuitOpen: {
      api::Response response = ctx.error(503, api::describe(status));
      response.set_header("Retry-After", "1");
      return response;
    }
    case api::FetchStatus::kNotAllowed: {
      // Only a manifest that names an upstream it does not declare, or does not allow, gets
      // here: the operator's mistake, not the client's, and worth a line every time.
      std::pmr::string message(ctx.arena());
      message.append("proxy: upstream \"")
          .append(upstream)
          .append("\" is not allowed: declare [upstreams.")
          .append(upstream)
          .append("] and list it in the function's upstreams");
      ctx.log().error(message);
      return ctx.error(500, api::describe(status));
    }
    default:
      return ctx.error(502, api::describe(status));
  }
}

}  // namespace

namespace proxy {

bool is_hop_by_hop(std::string_view name) {
  for (std::string_view hop : kHopByHop) {
    if (iequals(name, hop)) return true;
  }
  return false;
}

std::optional<std::string_view> upstream_target(std::string_view target,
                                                std::string_view strip_prefix,
                                                std::pmr::string& scratch) {
  std::string_view rest = target;
  if (rest.empty() || rest.front() != '/') {
    const std::size_t start = authority_start(rest);
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    const std::size_t path = rest.find_first_of("/?#");
    rest = path == std::string_view::npos ? std::string_view{} : rest.substr(path);
  }
  // A fragment is not part of a request target (RFC 9112 3.2); never send one on.
  rest = rest.substr(0, rest.find('#'));

  const std::string_view path = rest.substr(0, rest.find('?'));
  if (!strip_prefix.empty() && path.starts_with(strip_prefix) &&
      (path.size() == strip_prefix.size() || path[strip_prefix.size()] == '/')) {
    rest.remove_prefix(strip_prefix.size());
  }
  if (rest.empty()) return std::string_view("/");
  if (rest.front() != '?') return rest;
  scratch.clear();
  scratch.reserve(rest.size() + 1);
  scratch.push_back('/');
  scratch.append(rest);
  return std::string_view(scratch);
}

}  // namespace proxy

std::unique_ptr<api::Module> ProxyModule::create(const api::Config& config, std::string& error) {
  std::string problems;
  const auto report = [&](std::string_view key, std::string_view reason) {
    if (!problems.empty()) problems += "; ";
    problems.append(key).append(": ").append(reason);
  };
  std::string upstream;
  std::string strip_prefix;
  for (const auto& [key, value] : config.values()) {
    if (key == "upstream") {
      const std::optional<std::string_view> name = config.string(key);
      if (!name || name->empty()) {
        report(key, "expected the name of an [upstreams.<name>] entry");
      } else {
        upstream.assign(*name);
      }
    } else if (key == "strip_prefix") {
      const std::optional<std::string_view> prefix = config.string(key);
      bool valid = prefix && prefix->size() > 1 && prefix->front() == '/' && prefix->back() != '/';
      for (char c : prefix.value_or("")) {
        // The target is compared raw: a byte the request line cannot carry unencoded could
        // never match, and '?' or '#' would cut into the query.
        if (c <= ' ' || c > '~' || c == '?' || c == '#') valid = false;
      }
      if (!valid) {
        report(key,
               "expected a path like \"/api\": starting with '/', not ending with '/', without "
               "'?', '#', spaces or non-ASCII bytes (percent-encode them)");
      } else {
        strip_prefix.assign(*prefix);
      }
    } else {
      report(key, "unknown key (proxy accepts: upstream, strip_prefix)");
    }
  }
  if (!config.contains("upstream")) {
    report("upstream", "required: the name of an [upstreams.<name>] entry");
  }
  if (!problems.empty()) {
    error = std::move(problems);
    return nullptr;
  }
  return std::make_unique<ProxyModule>(std::move(upstream), std::move(strip_prefix));
}

api::Task<api::Response> ProxyModule::handle(const api::Request& request, api::Context& ctx) const {
  std::pmr::string target_scratch(ctx.arena());
  const std::optional<std::string_view> target =
      proxy::upstream_target(request.target, strip_prefix_, target_scratch);
  if (!target) co_return ctx.error(400, "the request target cannot be proxied");

  ForwardedFields fields(ctx.arena());
  build_request_fields(request, fields);
  const api::FetchResult got = co_await ctx.fetch(
      upstream_,
      {.method = request.method, .target = *target, .headers = fields.list, .body = request.body});
  if (!got.ok()) co_return failure(ctx, upstream_, got.status);

  api::Response response = ctx.response(got.code);
  copy_response_fields(got.headers, request.method == "HEAD", response);
  // The result's body stays valid until this request's next fetch (there is none): it is sent
  // from where it was received, not copied.
  response.set_body_view(got.body);
  co_return response;
}

}  // namespace edgefn::functions
