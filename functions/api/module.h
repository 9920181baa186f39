// The module API: everything a function module includes. A module is a class derived from
// api::Module, created once per manifest function by its `create` (that is init(config): it runs
// before the server listens) and registered with EDGEFN_MODULE in its own registration file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "functions/api/config.h"
#include "functions/api/context.h"
#include "functions/api/request.h"
#include "functions/api/response.h"
#include "functions/api/task.h"

namespace edgefn::api {

class Module {
 public:
  virtual ~Module() = default;
  // Handles one request. One instance serves every worker thread, so handle() may run
  // concurrently on several threads: keep it free of unsynchronized mutable state.
  virtual Task<Response> handle(const Request& request, Context& ctx) const = 0;
};

// Creates a module instance from its config; on failure returns nullptr and sets `error` to a
// message for the manifest's author (it is reported at the function's `config` location).
using CreateModule = std::unique_ptr<Module> (*)(const Config& config, std::string& error);

struct ModuleSpec {
  std::string_view name;     // the manifest's `module = "<name>"`
  std::string_view summary;  // one line for `edgefn functions`
  CreateModule create;
};

namespace detail {
// Adds a module to the process-wide registry; a duplicate name aborts at startup.
bool register_module(const ModuleSpec& spec);
}  // namespace detail

}  // namespace edgefn::api

// Registers a module from a namespace-scope static initializer. Modules are linked as object
// files, so the initializer survives static linking.
#define EDGEFN_MODULE(ident, name, summary, create)                     \
  [[maybe_unused]] static const bool edgefn_module_registered_##ident = \
      ::edgefn::api::detail::register_module(::edgefn::api::ModuleSpec{name, summary, create})
