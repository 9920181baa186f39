// Template bodies of functions/api/json.h: UTF-8 scanning, JSON string escaping and base64.
#pragma once

#include <cstddef>
#include <string_view>

namespace edgefn::api::json {

namespace detail {

// One step of a UTF-8 scan. A well-formed sequence is {its length, true}. An ill-formed one is
// {the length of its maximal subpart, false}: the longest prefix that could still have started a
// well-formed sequence, or one byte. Replacing each maximal subpart with one U+FFFD is the
// Unicode-recommended practice (Unicode 15 §3.9, "U+FFFD Substitution of Maximal Subparts"),
// which the WHATWG decoder and browsers follow, so "\xE2\x82A" becomes "\uFFFD" "A".
struct Utf8Step {
  std::size_t length;
  bool valid;
};

// Well-formed sequences per Unicode Table 3-7. The narrowed second-byte ranges after E0, ED, F0
// and F4 are what exclude overlong forms, UTF-16 surrogates and code points above U+10FFFF.
constexpr Utf8Step scan_utf8(std::string_view text, std::size_t i) noexcept {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return {1, true};
  std::size_t trailing = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1;
  } else if (lead == 0xE0) {
    trailing = 2;
    lo = 0xA0;
  } else if (lead == 0xED) {
    trailing = 2;
    hi = 0x9F;
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    trailing = 2;
  } else if (lead == 0xF0) {
    trailing = 3;
    lo = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    trailing = 3;
  } else if (lead == 0xF4) {
    trailing = 3;
    hi = 0x8F;
  } else {
    return {1, false};  // a continuation byte, C0/C1 (always overlong) or F5..FF
  }
  std::size_t length = 1;
  for (std::size_t k = 0; k < trailing; ++k) {
    if (i + length >= text.size()) return {length, false};
    const auto next = static_cast<unsigned char>(text[i + length]);
    if (next < lo || next > hi) return {length, false};
    lo = 0x80;
    hi = 0xBF;
    ++length;
  }
  return {length, true};
}

// The escape for a byte that may not appear raw in a JSON string, written to `buf`; returns its
// length. Control bytes with a two-character form in RFC 8259 §7 use it (as JSON.stringify
// does); the others become \u00xx.
inline std::size_t escape_byte(unsigned char c, char (&buf)[6]) noexcept {
  constexpr char kHex[] = "0123456789abcdef";
  buf[0] = '\\';
  switch (c) {
    case '"':
      buf[1] = '"';
      return 2;
    case '\\':
      buf[1] = '\\';
      return 2;
    case '\b':
      buf[1] = 'b';
      return 2;
    case '\f':
      buf[1] = 'f';
      return 2;
    case '\n':
      buf[1] = 'n';
      return 2;
    case '\r':
      buf[1] = 'r';
      return 2;
    case '\t':
      buf[1] = 't';
      return 2;
    default:
      buf[1] = 'u';
      buf[2] = '0';
      buf[3] = '0';
      buf[4] = kHex[c >> 4];
      buf[5] = kHex[c & 0xF];
      return 6;
  }
}

}  // namespace detail

template <class String>
void append_string(String& out, std::string_view text) {
  // Bytes that need no escape are copied in runs; a run ends at a byte to escape or replace.
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
  out.push_back('"');
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const detail::Utf8Step step = detail::scan_utf8(text, i);
      if (step.valid) {
        i += step.length;
        continue;
      }
      out.append(text.data() + run, i - run);
      out.append(kReplacement.data(), kReplacement.size());
      i += step.length;
      run = i;
      continue;
    }
    out.append(text.data() + run, i - run);
    char buf[6];
    out.append(buf, detail::escape_byte(c, buf));
    ++i;
    run = i;
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

template <class String>
void append_base64(String& out, std::string_view bytes) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // The output length is known up front: grow once, then write in place.
  const std::size_t start = out.size();
  out.resize(start + (bytes.size() + 2) / 3 * 4);
  char* p = out.data() + start;
  const auto byte = [&](std::size_t at) -> unsigned {
    return static_cast<unsigned char>(bytes[at]);
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    *p++ = kAlphabet[(v >> 18) & 0x3F];
    *p++ = kAlphabet[(v >> 12) & 0x3F];
    *p++ = kAlphabet[(v >> 6) & 0x3F];
    *p++ = kAlphabet[v & 0x3F];
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    const unsigned v = (byte(i) << 16) | (left == 2 ? byte(i + 1) << 8 : 0u);
    *p++ = kAlphabet[(v >> 18) & 0x3F];
    *p++ = kAlphabet[(v >> 12) & 0x3F];
    *p++ = left == 2 ? kAlphabet[(v >> 6) & 0x3F] : '=';
    *p++ = '=';
  }
}

}  // namespace edgefn::api::json
