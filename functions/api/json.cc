// UTF-8 validation for the JSON helpers; the templates live in detail/json_impl.h.
#include "functions/api/json.h"

#include <cstring>

namespace edgefn::api::json {

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // Bodies and header values are mostly ASCII: test eight bytes at a time for a high bit
    // before falling back to the per-sequence scan.
    if (i + 8 <= text.size()) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & 0x8080808080808080u) == 0) {
        i += 8;
        continue;
      }
    }
    const detail::Utf8Step step = detail::scan_utf8(text, i);
    if (!step.valid) return false;
    i += step.length;
  }
  return true;
}

}  // namespace edgefn::api::json
