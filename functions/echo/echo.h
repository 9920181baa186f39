// The `echo` module: answers 200 application/json describing the request it received.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "functions/api/module.h"

namespace edgefn::functions {

// The body is one JSON object with the members in this order:
//   "method"        the method as sent
//   "path"          the decoded path
//   "query"         the raw query string (no '?'; "" when there is none)
//   "params"        object of route parameters, in pattern order
//   "headers"       object of header name (lower-case) -> value; a name sent several times
//                   appears once, at its first position, with its values joined by ", " in the
//                   order they were sent (RFC 9110 §5.3)
//   "body_bytes"    the body's length in bytes
//   "body"          the body: as a JSON string when it is valid UTF-8, else its base64
//   "body_encoding" always present: "utf-8" or "base64", so a client never has to guess
// e.g. {"method":"GET","path":"/e","query":"","params":{},"headers":{},"body_bytes":0,
//       "body":"","body_encoding":"utf-8"}
// No trailing newline. Content-Type is "application/json". handle() allocates only from
// ctx.arena().
//
// Config: `delay_ms` (0 to 60000, default 0) holds each answer back that long with ctx.sleep,
// without holding the worker — a stand-in for a slow function or origin when trying out
// timeouts and concurrency limits. With no delay, handle() never suspends.
class EchoModule final : public api::Module {
 public:
  static constexpr std::int64_t kMaxDelayMs = 60'000;

  // Returns nullptr and sets `error` ("<key>: ...") for an unknown key or a bad delay_ms.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  explicit EchoModule(std::chrono::milliseconds delay = {}) : delay_(delay) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  std::chrono::milliseconds delay_;
};

}  // namespace edgefn::functions
