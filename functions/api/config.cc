// Typed look-ups into a module's frozen config table.
#include "functions/api/config.h"

namespace edgefn::api {

namespace {

// The value of `key` if it holds a T; nullptr when it is absent or of another kind.
template <class T>
const T* find_as(const std::map<std::string, ConfigValue, std::less<>>& values,
                 std::string_view key) {
  auto it = values.find(key);
  if (it == values.end()) return nullptr;
  return std::get_if<T>(&it->second);
}

}  // namespace

std::optional<std::string_view> Config::string(std::string_view key) const {
  if (const std::string* v = find_as<std::string>(values_, key)) return std::string_view(*v);
  return std::nullopt;
}

std::optional<std::int64_t> Config::integer(std::string_view key) const {
  if (const std::int64_t* v = find_as<std::int64_t>(values_, key)) return *v;
  return std::nullopt;
}

std::optional<bool> Config::boolean(std::string_view key) const {
  if (const bool* v = find_as<bool>(values_, key)) return *v;
  return std::nullopt;
}

const std::vector<std::string>* Config::strings(std::string_view key) const {
  return find_as<std::vector<std::string>>(values_, key);
}

}  // namespace edgefn::api
