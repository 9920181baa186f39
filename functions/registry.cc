// The process-wide module registry, filled by EDGEFN_MODULE initializers before main().
#include "functions/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace edgefn::functions {

namespace {

// Construct-on-first-use: registrations run from static initializers in other translation
// units, whose order relative to this file is unspecified, so a namespace-scope vector could be
// used before it is constructed. A function-local static is built by the first caller.
std::vector<api::ModuleSpec>& specs() {
  static std::vector<api::ModuleSpec> registered;
  return registered;
}

}  // namespace

const Registry& Registry::instance() {
  static const Registry registry;
  return registry;
}

const api::ModuleSpec* Registry::find(std::string_view name) const {
  const std::vector<api::ModuleSpec>& all = specs();
  auto it =
      std::lower_bound(all.begin(), all.end(), name,
                       [](const api::ModuleSpec& s, std::string_view n) { return s.name < n; });
  if (it == all.end() || it->name != name) return nullptr;
  return &*it;
}

std::span<const api::ModuleSpec> Registry::all() const {
  return specs();
}

std::string Registry::names() const {
  std::string out;
  for (const api::ModuleSpec& spec : specs()) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

}  // namespace edgefn::functions

namespace edgefn::api::detail {

bool register_module(const ModuleSpec& spec) {
  if (spec.name.empty() || spec.create == nullptr) {
    std::fprintf(stderr, "edgefn: module \"%.*s\" is registered without a name or create()\n",
                 static_cast<int>(spec.name.size()), spec.name.data());
    std::abort();
  }
  std::vector<ModuleSpec>& all = functions::specs();
  // Kept sorted on insertion so all() and find() need no work (and no lock) after main() starts.
  auto it = std::lower_bound(all.begin(), all.end(), spec.name,
                             [](const ModuleSpec& s, std::string_view n) { return s.name < n; });
  if (it != all.end() && it->name == spec.name) {
    // Two modules claiming one name is a build mistake; no manifest could tell them apart.
    std::fprintf(stderr, "edgefn: module \"%.*s\" is registered twice\n",
                 static_cast<int>(spec.name.size()), spec.name.data());
    std::abort();
  }
  all.insert(it, spec);
  return true;
}

}  // namespace edgefn::api::detail
