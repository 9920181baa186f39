// io_uring plumbing shared by the workers: the start-up probe, a ring whose SQE getter never
// fails, a provided-buffer ring, and the user_data layout every completion is decoded with.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <span>
#include <string>

namespace edgefn::runtime {

// What a completion belongs to. user_data = op << 56 | index, so a completion needs no lookup
// beyond the connection table (see SubmissionTag).
enum class Op : std::uint8_t {
  kAccept = 1,    // index: listener (0 public, 1 admin)
  kRecv,          // index: connection slot
  kSend,          // index: connection slot
  kShutdown,      // index: connection slot
  kCancel,        // completion ignored
  kClose,         // completion ignored
  kTick,          // the worker's periodic timer
  kWake,          // eventfd read: another thread wants the worker's attention
  kLogWrite,      // the worker's log buffer reached stdout
  kSignal,        // signalfd read: SIGTERM, SIGINT or SIGHUP (first worker only)
  kDeadline,      // the timeout armed for the earliest alarm; index: its arming sequence
  kRedisConnect,  // index: the worker's Redis connection (RedisClient)
  kRedisSend,
  kRedisRecv,
  kUpstreamConnect,  // index: the worker's upstream connection (FetchClient)
  kUpstreamSend,
  kUpstreamRecv,
};

constexpr std::uint64_t make_tag(Op op, std::uint32_t index) {
  return (static_cast<std::uint64_t>(op) << 56) | index;
}
constexpr Op tag_op(std::uint64_t tag) {
  return static_cast<Op>(tag >> 56);
}
constexpr std::uint32_t tag_index(std::uint64_t tag) {
  return static_cast<std::uint32_t>(tag);
}

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
  // checks its features. On failure `error` says why, including when io_uring is missing or
  // forbidden (as container runtimes' default seccomp profiles do).
  bool init(unsigned entries, std::string& error);

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
