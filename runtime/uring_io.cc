// UringIo: one SQE per operation, CQEs copied into the batch wait() returns.
#include "runtime/uring_io.h"

#include <unistd.h>

#include <cerrno>

namespace edgefn::runtime {

static_assert(Completion::kBuffer == IORING_CQE_F_BUFFER);
static_assert(Completion::kMore == IORING_CQE_F_MORE);
static_assert(Completion::kBufferShift == IORING_CQE_BUFFER_SHIFT);

namespace {

constexpr std::uint16_t kBufferGroup = 0;

}  // namespace

bool UringIo::init(const IoOptions& options, IoSetupError& error) {
  if (!ring_.init(options.entries, error.message, error.reason)) return false;
  if (!buffers_.init(ring_.get(), kBufferGroup, options.buffer_count, options.buffer_bytes,
                     error.message)) {
    error.reason = error.message;
    return false;
  }
  return true;
}

void UringIo::accept_multishot(int listen_fd, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::recv_multishot(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_.group();
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::recv(int fd, char* buffer, std::size_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_recv(sqe, fd, buffer, length, 0);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::send(int fd, const char* data, std::size_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_send(sqe, fd, data, length, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::shutdown_write(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_shutdown(sqe, fd, SHUT_WR);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_connect(sqe, fd, address, length);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::read(int fd, void* buffer, std::size_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, fd, buffer, static_cast<unsigned>(length), 0);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::write(int fd, const void* data, std::size_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  // Offset -1: the file's current position, which is what a pipe or terminal needs.
  io_uring_prep_write(sqe, fd, data, static_cast<unsigned>(length), static_cast<std::uint64_t>(-1));
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::cancel(int /*fd*/, std::uint64_t target, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel64(sqe, target, 0);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::cancel_all(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::close(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringIo::timeout(const __kernel_timespec& when, bool absolute, std::uint64_t tag) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(&when), 0,
                        absolute ? IORING_TIMEOUT_ABS : 0);
  io_uring_sqe_set_data64(sqe, tag);
}

int UringIo::log_output() {
  return STDOUT_FILENO;
}

void UringIo::submit() {
  io_uring_submit(ring_.get());
}

bool UringIo::wait(std::optional<std::chrono::nanoseconds> timeout,
                   std::span<const Completion>& completions) {
  io_uring* ring = ring_.get();
  int rc;
  if (timeout) {
    __kernel_timespec limit{};
    limit.tv_sec = timeout->count() / 1'000'000'000;
    limit.tv_nsec = timeout->count() % 1'000'000'000;
    io_uring_cqe* first = nullptr;
    rc = io_uring_submit_and_wait_timeout(ring, &first, 1, &limit, nullptr);
    if (rc == -ETIME) rc = 0;
  } else {
    rc = io_uring_submit_and_wait(ring, 1);
  }
  if (rc < 0 && rc != -EINTR && rc != -EBUSY) return false;
  std::size_t count = 0;
  unsigned head;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    if (count == kBatch) break;
    batch_[count++] = Completion{cqe->user_data, cqe->res, cqe->flags};
  }
  io_uring_cq_advance(ring, static_cast<unsigned>(count));
  completions = {batch_.data(), count};
  return true;
}

}  // namespace edgefn::runtime
