// Backend names, the --io values, and the factory of the two Io implementations.
#include "runtime/io.h"

#include "runtime/epoll_io.h"
#include "runtime/uring_io.h"

namespace edgefn::runtime {

std::string_view io_backend_name(IoBackend backend) {
  return backend == IoBackend::kUring ? "io_uring" : "epoll";
}

bool parse_io_mode(std::string_view text, IoMode& mode) {
  if (text == "auto") {
    mode = IoMode::kAuto;
  } else if (text == "uring" || text == "io_uring") {
    mode = IoMode::kUring;
  } else if (text == "epoll") {
    mode = IoMode::kEpoll;
  } else {
    return false;
  }
  return true;
}

std::unique_ptr<Io> make_io(IoBackend backend, const IoOptions& options, IoSetupError& error) {
  if (backend == IoBackend::kUring) {
    auto io = std::make_unique<UringIo>();
    if (!io->init(options, error)) return nullptr;
    return io;
  }
  auto io = std::make_unique<EpollIo>();
  if (!io->init(options, error)) return nullptr;
  return io;
}

}  // namespace edgefn::runtime
