// Reading a configuration file whole.
#include "runtime/file_text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace edgefn::runtime {

FileTextStatus read_file_text(const std::string& path, std::size_t limit, std::string& text,
                              int& error_number) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error_number = errno;
    return FileTextStatus::kCannotOpen;
  }
  // Sized from fstat (zero-filling the limit up front showed up in cold start), plus one byte to
  // tell "exactly the limit" from "larger" and to see growth.
  struct stat info {};
  const std::size_t expected =
      ::fstat(fd, &info) == 0 && info.st_size > 0 ? static_cast<std::size_t>(info.st_size) : 4096;
  text.assign(std::min(expected, limit) + 1, '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t n = ::read(fd, text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_number = errno;
      ::close(fd);
      return FileTextStatus::kCannotRead;
    }
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
    if (filled == text.size() && text.size() <= limit) {
      text.resize(std::min(text.size() * 2, limit + 1));  // grew since fstat
    }
  }
  ::close(fd);
  if (filled > limit) return FileTextStatus::kTooLarge;
  text.resize(filled);
  return FileTextStatus::kRead;
}

}  // namespace edgefn::runtime
