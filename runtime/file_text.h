// Reading a configuration file (the manifest, a body schema) whole, at load time, off the data
// plane: open, fstat and read into one string sized from fstat, with a size limit.
#pragma once

#include <cstddef>
#include <string>

namespace edgefn::runtime {

enum class FileTextStatus {
  kRead,
  kCannotOpen,  // `error_number` says why
  kCannotRead,  // `error_number` says why
  kTooLarge,    // more than `limit` bytes
};

// Reads `path` into `text` (replacing it). A file that grows while it is read is read to its end
// or to the limit, whichever comes first.
FileTextStatus read_file_text(const std::string& path, std::size_t limit, std::string& text,
                              int& error_number);

}  // namespace edgefn::runtime
