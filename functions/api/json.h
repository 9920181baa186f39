// Minimal JSON output helpers shared by modules and the runtime (error bodies, logs, admin
// pages). Output only: JSON input is parsed with rapidjson where it is needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edgefn::api::json {

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Appends `text` as a quoted JSON string (RFC 8259 escaping: \b \f \n \r \t in short form, other
// control bytes as \u00xx). Bytes
// that are not valid UTF-8 are written as U+FFFD. Works with std::string and std::pmr::string.
template <class String>
void append_string(String& out, std::string_view text);

// Appends the standard base64 (RFC 4648, with padding) of `bytes`.
template <class String>
void append_base64(String& out, std::string_view bytes);

}  // namespace edgefn::api::json

#include "functions/api/detail/json_impl.h"
