// The `fault` module, linked only into the test binary edgefn_test_modules: a function that
// fails, for the tests that show a failing function costs one 500 and nothing else.
#pragma once

#include <memory>
#include <string>

#include "functions/api/module.h"

namespace edgefn::integration {

// Config: `fails` (required), how handle() fails:
//   "throw"          throws std::runtime_error before it suspends
//   "throw-later"    suspends once (ctx.sleep), then throws std::runtime_error
//   "throw-unknown"  throws an int, which no std::exception handler catches
class FaultModule final : public api::Module {
 public:
  enum class Failure { kThrow, kThrowLater, kThrowUnknown };

  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  explicit FaultModule(Failure failure) : failure_(failure) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  Failure failure_;
};

}  // namespace edgefn::integration
