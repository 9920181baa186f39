// Request-target path decoding: one pass that percent-decodes and rejects what must never route.
#include "router/path.h"

#include <array>
#include <cstdint>

namespace edgefn::router {
namespace {

// -1 for a byte that is not a hex digit.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What decode_path() must look at in a byte; everything else is copied as it is.
enum ByteClass : std::uint8_t { kPlain, kControl, kPercent, kSlash };

constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> table{};
  for (std::size_t c = 0; c < 0x20; ++c)
    table[c] = kControl;
  table[0x7f] = kControl;
  table['%'] = kPercent;
  table['/'] = kSlash;
  return table;
}();

// The segment [begin, end) of the decoded output is "." or "..".
constexpr bool is_dot_segment(const char* begin, const char* end) {
  const auto size = end - begin;
  return (size == 1 && begin[0] == '.') || (size == 2 && begin[0] == '.' && begin[1] == '.');
}

}  // namespace

std::string_view describe(PathError error) {
  switch (error) {
    case PathError::kNone:
      return "valid path";
    case PathError::kNotAbsolute:
      return "path must start with '/'";
    case PathError::kInvalidEscape:
      return "invalid percent-escape in path";
    case PathError::kDotSegment:
      return "'.' or '..' segment in path";
    case PathError::kControlByte:
      return "control character in path";
  }
  return "invalid path";
}

// Decoding happens once, like nginx: "%2F" becomes a '/' that separates segments for the router,
// and "%252F" becomes the three bytes "%2F", never a second '/'. Dot segments are checked on the
// decoded output, split at every '/' (raw or decoded): a raw "/../" is still "/../" after
// decoding, so that single check also catches "%2e%2e" and "a%2F..%2Fb" hiding a "..". Rejecting
// instead of resolving dot segments keeps one request from naming two routes. On any error the
// returned size is 0. `out` may be raw.data() itself: every byte is read before its slot in the
// output, which never gets ahead of the input, is written.
DecodedPath decode_path(std::string_view raw, char* out) {
  if (raw.empty() || raw.front() != '/') return {0, PathError::kNotAbsolute};
  const char* in = raw.data();
  const char* const in_end = in + raw.size();
  char* o = out;
  char* segment = out + 1;  // start of the current decoded segment, just after its '/'
  *o++ = *in++;
  while (in != in_end) {
    // Most bytes are plain: copy the run with one table load per byte.
    while (kByteClass[static_cast<unsigned char>(*in)] == kPlain) {
      *o++ = *in++;
      if (in == in_end) break;
    }
    if (in == in_end) break;
    auto c = static_cast<unsigned char>(*in++);
    std::uint8_t kind = kByteClass[c];
    if (kind == kPercent) {
      if (in_end - in < 2) return {0, PathError::kInvalidEscape};
      const int hi = hex_value(in[0]);
      const int lo = hex_value(in[1]);
      if (hi < 0 || lo < 0) return {0, PathError::kInvalidEscape};
      in += 2;
      c = static_cast<unsigned char>(hi * 16 + lo);
      kind = kByteClass[c];
      if (kind == kPercent) kind = kPlain;  // a decoded '%' is data: decoding happens once
    }
    if (kind == kControl) return {0, PathError::kControlByte};
    if (kind == kSlash) {
      if (is_dot_segment(segment, o)) return {0, PathError::kDotSegment};
      segment = o + 1;
    }
    *o++ = static_cast<char>(c);
  }
  if (is_dot_segment(segment, o)) return {0, PathError::kDotSegment};
  return {static_cast<std::size_t>(o - out), PathError::kNone};
}

void decode_form(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace edgefn::router
