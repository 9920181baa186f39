// A module's `config = { ... }` table from the manifest, frozen before init() runs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace edgefn::api {

// The value kinds a module config may hold. Nested tables are not part of the contract.
using ConfigValue = std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

class Config {
 public:
  Config() = default;
  Config(std::map<std::string, ConfigValue, std::less<>> values, std::string base_dir)
      : values_(std::move(values)), base_dir_(std::move(base_dir)) {}

  // Typed look-ups: nullopt when the key is absent or holds another kind.
  std::optional<std::string_view> string(std::string_view key) const;
  std::optional<std::int64_t> integer(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  const std::vector<std::string>* strings(std::string_view key) const;
  bool contains(std::string_view key) const { return values_.find(key) != values_.end(); }

  const std::map<std::string, ConfigValue, std::less<>>& values() const { return values_; }
  // The manifest's directory: relative file names in a config resolve against it.
  const std::string& base_dir() const { return base_dir_; }

 private:
  std::map<std::string, ConfigValue, std::less<>> values_;
  std::string base_dir_;
};

}  // namespace edgefn::api
