// Fuzz target: manifest text through parse_manifest (toml++ without exceptions, then the typed
// checks of every table). Whatever the text, the result is a manifest or a list of diagnostics,
// each naming the file and a line and column inside the text — never a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "runtime/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace runtime = edgefn::runtime;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kPath = "fuzz/edgefn.toml";

  std::vector<runtime::Diagnostic> errors;
  const std::optional<runtime::Manifest> manifest = runtime::parse_manifest(text, kPath, errors);
  FUZZ_CHECK(manifest.has_value() == errors.empty());

  // Only an error about the whole file ("no functions defined", the size cap) has no position
  // and no key. A position may point one past the last line (toml++ reports an unterminated
  // construct at the end of the text) but never beyond it.
  const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  for (const runtime::Diagnostic& error : errors) {
    FUZZ_CHECK(error.file == kPath);
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(error.to_string().starts_with(kPath));
    if (error.position.line == 0) {
      FUZZ_CHECK(error.position.column == 0 && error.key.empty());
      continue;
    }
    FUZZ_CHECK(error.position.column >= 1);
    FUZZ_CHECK(error.position.line <= lines + 1);
  }
  if (manifest) FUZZ_CHECK(manifest->path == kPath && manifest->dir == "fuzz");
  return 0;
}
