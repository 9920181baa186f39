// The `kv` module: the node's key-value store (ctx.kv()) over HTTP.
#pragma once

#include <memory>
#include <string>

#include "functions/api/module.h"
#include "functions/kv/settings.h"

namespace edgefn::functions {

// Routes (the key is the route parameter `key`, else the pattern's only parameter):
//   GET /kv/:key          200 application/octet-stream with the value; 404 when there is none
//   PUT /kv/:key          body = the value; 204; 413 above max_value_bytes (or the store's limit)
//   DELETE /kv/:key       204, whether or not there was a value
//   POST /kv/:key/incr    ?by=N (default 1, may be negative): 200 {"value":N} with the new
//                         value; 409 when the stored value is not a decimal 64-bit integer (or
//                         would overflow); 400 for a bad `by`
// A store that is down or slow answers 503 with Retry-After: 1; any other method or path shape
// is 405. Errors are JSON: {"error":"...","status":N}.
//
// Config: `max_value_bytes` (default 64KiB), `prefix` (prepended to every key, so two functions
// can keep apart; default none), `ttl` (values put, and counters created by incr, expire after
// it: a fixed window for rate limits; default none). Keys are at most kMaxKeyBytes (414 beyond).
//
// handle() suspends only while a Redis call waits; it allocates only from ctx.arena().
class KvModule final : public api::Module {
 public:
  static constexpr std::size_t kMaxKeyBytes = 512;

  // Returns nullptr and sets `error` ("<key>: <reason>", several joined by "; ") on bad config.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  explicit KvModule(kv::Settings settings) : settings_(std::move(settings)) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  kv::Settings settings_;  // immutable after create(), so handle() is safe on every thread
};

}  // namespace edgefn::functions
