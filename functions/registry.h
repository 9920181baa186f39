// The registry of modules compiled into this binary. Modules add themselves with EDGEFN_MODULE
// before main() runs; after that the registry is read-only and safe to read from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "functions/api/module.h"

namespace edgefn::functions {

class Registry {
 public:
  static const Registry& instance();

  // The module registered as `name`, or nullptr.
  const api::ModuleSpec* find(std::string_view name) const;
  // Every registered module, sorted by name.
  std::span<const api::ModuleSpec> all() const;
  // "echo, hello, static": for error messages that list what exists.
  std::string names() const;
};

}  // namespace edgefn::functions
