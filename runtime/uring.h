// io_uring plumbing behind UringIo: the start-up probe, a ring whose SQE getter never fails, and
// a provided-buffer ring. Completions are decoded with the tags of runtime/io.h.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <span>
#include <string>

namespace edgefn::runtime {

// Checks a freshly created ring for what the workers use: the opcodes (asked of the kernel), and
// multishot accept and recv with provided-buffer rings (kernel 6.0, which has no probe bit for
// them). Returns an empty string if all is there, else one message naming what is missing.
std::string check_ring_features(io_uring* ring);

// A worker's ring. Created and used by one thread only.
class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Sets the ring up with single-issuer, deferred task running when the kernel has them, and
  // checks its features. On failure `error` says why and what to do, including when io_uring is
  // missing or forbidden (as container runtimes' default seccomp profiles do), and `reason` is
  // the bare cause ("io_uring_setup failed: Operation not permitted").
  bool init(unsigned entries, std::string& error, std::string& reason);

  // A zeroed SQE; when the submission queue is full it submits first, so it never returns null.
  io_uring_sqe* sqe();
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
  bool initialized_ = false;
};

// A provided-buffer ring (liburing 2.3 has no io_uring_setup_buf_ring: set up by hand). The
// kernel picks a buffer for each multishot recv completion; the owner copies the bytes out and
// recycles the buffer at once.
class BufferRing {
 public:
  BufferRing() = default;
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // `count` must be a power of two. Memory is mapped lazily: untouched buffers cost no RSS.
  bool init(io_uring* ring, std::uint16_t group, unsigned count, unsigned buffer_size,
            std::string& error);

  std::span<const char> buffer(std::uint16_t id, std::size_t length) const {
    return {memory_ + static_cast<std::size_t>(id) * buffer_size_, length};
  }
  // Hands a buffer back to the kernel.
  void recycle(std::uint16_t id);
  std::uint16_t group() const { return group_; }

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* shared_ = nullptr;  // the ring the kernel reads buffer addresses from
  char* memory_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  unsigned count_ = 0;
  unsigned buffer_size_ = 0;
  std::uint16_t group_ = 0;
};

}  // namespace edgefn::runtime
