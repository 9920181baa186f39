// ASCII case folding for protocol tokens (header names, methods, schemes, hosts): RFC 9110
// tokens are ASCII, so folding A-Z is the whole comparison and no locale is consulted.
#pragma once

#include <cstddef>
#include <string_view>

namespace edgefn::api::ascii {

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

}  // namespace edgefn::api::ascii
