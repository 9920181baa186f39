// Pattern: an ECMAScript std::basic_regex whose bracket expressions compile about four times
// faster than std::regex's. For every bracket expression ("[a-z]") libstdc++ fills a 256-entry
// cache and asks its traits for each character's primary collation key: a locale facet lookup,
// a string and a strxfrm call, 256 times per bracket. PatternTraits answers those one-character
// questions from a table made once per process by the same standard traits, so a Pattern
// matches exactly what a std::regex of the same text matches. (The table follows the global
// locale of its first use; edgefn never changes it.)
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgefn::router {

struct PatternTraits : std::regex_traits<char> {
  template <class Iterator>
  string_type transform_primary(Iterator first, Iterator last) const {
    if (last - first == 1) return primary_keys()[static_cast<unsigned char>(*first)];
    return std::regex_traits<char>::transform_primary(first, last);
  }

 private:
  static const std::array<string_type, 256>& primary_keys() {
    static const std::array<string_type, 256> keys = [] {
      std::array<string_type, 256> made;
      const std::regex_traits<char> standard;
      for (std::size_t c = 0; c < made.size(); ++c) {
        const char ch = static_cast<char>(c);
        made[c] = standard.transform_primary(&ch, &ch + 1);
      }
      return made;
    }();
    return keys;
  }
};

using Pattern = std::basic_regex<char, PatternTraits>;

// Compiled patterns by their text, looked up with a string_view.
struct PatternTextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};
using PatternTable = std::unordered_map<std::string, Pattern, PatternTextHash, std::equal_to<>>;

}  // namespace edgefn::router
