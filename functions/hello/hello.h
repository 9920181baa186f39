// The `hello` module: answers 200 text/plain "<greeting>, <name or world>!".
#pragma once

#include <memory>
#include <string>

#include "functions/api/module.h"

namespace edgefn::functions {

// Config: `greeting` (string, default "Hello"); any other key is an error. The name is the
// route parameter `name` when the matched pattern has one (e.g. "GET /hello/:name"), otherwise
// "world". The body has no trailing newline; Content-Type is "text/plain; charset=utf-8".
// handle() never suspends and allocates only from ctx.arena().
class HelloModule final : public api::Module {
 public:
  static constexpr std::string_view kDefaultGreeting = "Hello";

  // Returns nullptr and sets `error` ("<key>: <reason>", several joined by "; ") on bad config.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  explicit HelloModule(std::string greeting) : greeting_(std::move(greeting)) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  std::string greeting_;  // immutable after create(), so handle() is safe on every thread
};

}  // namespace edgefn::functions
