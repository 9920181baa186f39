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

// tchar, RFC 9110 section 5.6.2: what a token (a method, a field name) is made of.
constexpr bool is_tchar(char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         kSymbols.find(c) != std::string_view::npos;
}

// A non-empty run of tchar.
constexpr bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// Strips optional whitespace (spaces and tabs, RFC 9110 5.6.3) from both ends.
constexpr std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// Calls `each` with every non-empty item of a comma-separated field value, trimmed (RFC 9110
// 5.6.1 lists); stops early when it returns false.
template <class Each>
constexpr void for_each_list_item(std::string_view list, Each each) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (!item.empty() && !each(item)) return;
  }
}

}  // namespace edgefn::api::ascii
