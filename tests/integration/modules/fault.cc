// The `fault` module, and its registration.
#include "tests/integration/modules/fault.h"

#include <chrono>
#include <stdexcept>

namespace edgefn::integration {

std::unique_ptr<api::Module> FaultModule::create(const api::Config& config, std::string& error) {
  const std::optional<std::string_view> fails = config.string("fails");
  if (!fails) {
    error = "fails: required (throw, throw-later or throw-unknown)";
    return nullptr;
  }
  if (*fails == "throw") return std::make_unique<FaultModule>(Failure::kThrow);
  if (*fails == "throw-later") return std::make_unique<FaultModule>(Failure::kThrowLater);
  if (*fails == "throw-unknown") return std::make_unique<FaultModule>(Failure::kThrowUnknown);
  error = "fails: expected throw, throw-later or throw-unknown";
  return nullptr;
}

api::Task<api::Response> FaultModule::handle(const api::Request&, api::Context& ctx) const {
  switch (failure_) {
    case Failure::kThrow:
      throw std::runtime_error("the fault module failed as configured");
    case Failure::kThrowLater:
      co_await ctx.sleep(std::chrono::milliseconds(1));
      throw std::runtime_error("the fault module failed after suspending");
    case Failure::kThrowUnknown:
      throw 42;
  }
  co_return api::Response{};
}

}  // namespace edgefn::integration

EDGEFN_MODULE(fault, "fault", "fails as its config says (test binary only)",
              &edgefn::integration::FaultModule::create);
