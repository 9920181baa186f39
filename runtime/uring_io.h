// UringIo: the Io interface on a worker's own io_uring — each operation is one SQE, each
// completion one CQE copied as it is (the Completion flags are io_uring's).
#pragma once

#include <array>

#include "runtime/io.h"
#include "runtime/uring.h"

namespace edgefn::runtime {

class UringIo final : public Io {
 public:
  UringIo() = default;

  // Sets up the ring and its provided buffers; false with `error` filled otherwise.
  bool init(const IoOptions& options, IoSetupError& error);

  IoBackend backend() const override { return IoBackend::kUring; }

  void accept_multishot(int listen_fd, std::uint64_t tag) override;
  void recv_multishot(int fd, std::uint64_t tag) override;
  void recv(int fd, char* buffer, std::size_t length, std::uint64_t tag) override;
  void send(int fd, const char* data, std::size_t length, std::uint64_t tag) override;
  void shutdown_write(int fd, std::uint64_t tag) override;
  void connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag) override;
  void read(int fd, void* buffer, std::size_t length, std::uint64_t tag) override;
  void write(int fd, const void* data, std::size_t length, std::uint64_t tag) override;
  void cancel(int fd, std::uint64_t target, std::uint64_t tag) override;
  void cancel_all(int fd, std::uint64_t tag) override;
  void close(int fd, std::uint64_t tag) override;
  void timeout(const __kernel_timespec& when, bool absolute, std::uint64_t tag) override;

  std::span<const char> buffer(std::uint16_t id, std::size_t length) const override {
    return buffers_.buffer(id, length);
  }
  void recycle(std::uint16_t id) override { buffers_.recycle(id); }

  // The kernel writes to stdout for us, so a full pipe never blocks the thread.
  int log_output() override;

  void submit() override;
  bool wait(std::optional<std::chrono::nanoseconds> timeout,
            std::span<const Completion>& completions) override;

 private:
  // Completions handed out per wait(); the rest wait in the completion queue for the next.
  static constexpr std::size_t kBatch = 256;

  std::array<Completion, kBatch> batch_{};
  // Declared last, so destroyed first: the kernel lets go of every buffer the owner passed in
  // before the owner's members go; the buffer ring unregisters before the ring itself goes.
  Ring ring_;
  BufferRing buffers_;
};

}  // namespace edgefn::runtime
