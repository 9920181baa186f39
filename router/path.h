// Request-target path decoding: percent-decoded exactly once, then checked, before routing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace edgefn::router {

enum class PathError {
  kNone,
  kNotAbsolute,    // does not start with '/'
  kInvalidEscape,  // '%' not followed by two hex digits
  kDotSegment,     // a "." or ".." segment, before or after decoding
  kControlByte,    // decodes to NUL or another control byte
};

// A one-line reason for the 400 body, e.g. "invalid percent-escape in path".
std::string_view describe(PathError error);

struct DecodedPath {
  std::size_t size = 0;  // bytes written to the output
  PathError error = PathError::kNone;
};

// Decodes `raw` (the path part of the target, without '?query') into `out`, which must hold
// raw.size() bytes (decoding never grows a path). Allocates nothing.
DecodedPath decode_path(std::string_view raw, char* out);

// Decodes one application/x-www-form-urlencoded component (a query parameter's name or value)
// into `out`, replacing its contents: '+' is a space, %XX a byte; an invalid escape stays as
// written. Allocates only when `out` must grow.
void decode_form(std::string_view text, std::string& out);

}  // namespace edgefn::router
