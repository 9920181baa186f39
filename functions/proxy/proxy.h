// The `proxy` module: forwards a request to one of the manifest's upstreams (ctx.fetch) and
// answers with what the upstream answered, as a reverse proxy does.
#pragma once

#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>

#include "functions/api/module.h"

namespace edgefn::functions {

// Config:
//   upstream      (string, required) the name of a manifest [upstreams.<name>] entry; the
//                 manifest loader checks that the function lists it in `upstreams = [...]`
//   strip_prefix  (string, optional) a path prefix taken off before forwarding: starts with
//                 '/', does not end with '/', holds no '?', '#', space, control or non-ASCII
//                 byte
// Any other key is an error.
//
// What goes upstream:
//   target   the request's raw target (still percent-encoded, query kept); an absolute-form
//            target (http://host/p?q) contributes its path and query. With strip_prefix, a path
//            that starts with it at a segment boundary loses it ("/api" strips "/api", "/api/x"
//            and "/api?q", not "/apix"), and an empty remainder becomes "/" ("/api?x=1" ->
//            "/?x=1"). The prefix is compared with the raw bytes, case-sensitively. Any other
//            target form ("*", authority-form) is answered 400. A fragment is never sent.
//   method   and body as they came.
//   headers  the request's, less the hop-by-hop ones (connection, keep-alive, proxy-connection,
//            proxy-authenticate, proxy-authorization, te, trailer, transfer-encoding, upgrade
//            and every field the Connection header names) and less host, content-length and
//            expect (the runtime writes Host and the framing itself). Added:
//              X-Forwarded-For    earlier values (fields joined with ", "), then client_ip
//              X-Forwarded-Host   the request's host, unless the request has one
//              X-Forwarded-Proto  "http", unless the request has one
//              Forwarded          earlier values, then for=<ip>;host=<host>;proto=http
//                                 (RFC 7239: an IPv6 address as for="[::1]", a host with a
//                                 port or other non-token bytes quoted)
//            A forwarding field the Connection header names was for the last hop only: it
//            counts as absent.
//
// The answer: the upstream's status, body and fields, less the hop-by-hop ones (the list above
// plus what the upstream's Connection names) and less content-length, transfer-encoding and
// date, which the runtime writes itself (runtime/http_writer.cc). Several Cache-Control or Vary
// fields become one each, their values joined with ", " (RFC 9110 5.3), so the cache, which
// reads one field (runtime/response_store.cc), sees every directive.
//
// Failures, as JSON errors ({"error": describe(status), "status": N}):
//   kTimeout 504 · kCircuitOpen 503 with Retry-After: 1 · kNotAllowed 500 (a manifest mistake,
//   also logged at error level) · any other 502.
//
// handle() suspends while the upstream call waits; it allocates only from ctx.arena().
class ProxyModule final : public api::Module {
 public:
  // Returns nullptr and sets `error` ("<key>: <reason>", several joined by "; ") on bad config.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  ProxyModule(std::string upstream, std::string strip_prefix)
      : upstream_(std::move(upstream)), strip_prefix_(std::move(strip_prefix)) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  // Immutable after create(), so handle() is safe on every thread.
  std::string upstream_;
  std::string strip_prefix_;  // empty: none
};

namespace proxy {

// The origin-form target sent upstream for the request target `target` (see ProxyModule), or
// nullopt for a target that is neither origin- nor absolute-form. The result views `target` or,
// when it had to be built, `scratch`, whose contents it replaces.
std::optional<std::string_view> upstream_target(std::string_view target,
                                                std::string_view strip_prefix,
                                                std::pmr::string& scratch);

// A hop-by-hop field by the fixed list (names lower-case); fields a Connection header names are
// hop-by-hop too, which this cannot know.
bool is_hop_by_hop(std::string_view name);

}  // namespace proxy

}  // namespace edgefn::functions
