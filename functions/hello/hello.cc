// The `hello` module: config checks in create(), a greeting built in the request arena.
#include "functions/hello/hello.h"

#include <utility>

namespace edgefn::functions {

std::unique_ptr<api::Module> HelloModule::create(const api::Config& config, std::string& error) {
  std::string problems;
  const auto report = [&](std::string_view key, std::string_view reason) {
    if (!problems.empty()) problems += "; ";
    problems.append(key).append(": ").append(reason);
  };
  for (const auto& [key, value] : config.values()) {
    if (key != "greeting") report(key, "unknown key (hello accepts: greeting)");
  }
  std::string greeting(kDefaultGreeting);
  if (config.contains("greeting")) {
    if (std::optional<std::string_view> g = config.string("greeting")) {
      greeting.assign(*g);
    } else {
      report("greeting", "expected a string");
    }
  }
  if (!problems.empty()) {
    error = std::move(problems);
    return nullptr;
  }
  return std::make_unique<HelloModule>(std::move(greeting));
}

api::Task<api::Response> HelloModule::handle(const api::Request& request, api::Context& ctx) const {
  const std::string_view name = request.params.get("name").value_or("world");
  api::Response response = ctx.response(200);
  response.set_header("Content-Type", "text/plain; charset=utf-8");
  // One reservation of the exact size: the body is a single arena allocation.
  response.body.reserve(greeting_.size() + 2 + name.size() + 1);
  response.body.append(greeting_).append(", ").append(name).push_back('!');
  co_return response;
}

}  // namespace edgefn::functions
