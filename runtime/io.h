// The worker's I/O interface: asynchronous socket, file and timer operations in io_uring's
// completion model, with two implementations — io_uring itself (runtime/uring_io.h) and an
// epoll emulation for where io_uring is forbidden (runtime/epoll_io.h). Every operation carries
// a 64-bit tag, make_tag(Op, index), that comes back with its completion, so a completion needs no
// lookup beyond the owner's table; connections, the Redis client and the upstream client are
// written once against this interface.
//
// Contract shared by both implementations:
// - One thread creates an Io and is the only one that calls it.
// - Every buffer passed in stays alive and unchanged until the operation's completion is seen.
// - A completion is never delivered from inside the call that submitted it: wait() returns it.
// - Multishot operations (accept, recv into provided buffers) complete many times; each
//   completion but the last has more(). An operation ends with a completion without more():
//   an error, end of input, -ECANCELED after cancel(), or -ENOBUFS when no provided buffer was
//   free.
// - No submission allocates once the implementation's tables have grown to the number of
//   descriptors in use.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace edgefn::runtime {

// What a completion belongs to. tag = op << 56 | index, so a completion needs no lookup beyond
// the connection table.
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

// One finished operation: its tag, its result (>= 0, or -errno as the syscall would fail), and
// for a multishot recv the provided buffer holding the bytes.
struct Completion {
  // io_uring's own CQE flag bits (checked in uring_io.cc), so its completions copy as they are.
  static constexpr std::uint32_t kBuffer = 1;
  static constexpr std::uint32_t kMore = 2;
  static constexpr unsigned kBufferShift = 16;

  std::uint64_t tag = 0;
  std::int32_t result = 0;
  std::uint32_t flags = 0;  // kMore | kBuffer | buffer id << kBufferShift

  bool more() const { return (flags & kMore) != 0; }
  bool has_buffer() const { return (flags & kBuffer) != 0; }
  std::uint16_t buffer_id() const { return static_cast<std::uint16_t>(flags >> kBufferShift); }
};

enum class IoBackend : std::uint8_t { kUring, kEpoll };
// "io_uring" or "epoll": the ready line's "io", /functions' "io", the metrics' label.
std::string_view io_backend_name(IoBackend backend);

// The command line's --io: auto tries io_uring and falls back to epoll when it is unavailable.
enum class IoMode : std::uint8_t { kAuto, kUring, kEpoll };
// "auto", "uring" or "epoll"; false for anything else.
bool parse_io_mode(std::string_view text, IoMode& mode);

// Sizes of a worker's Io: how many submissions a loop turn typically makes, and the provided
// buffers multishot recv completes into (`buffer_count` a power of two).
struct IoOptions {
  unsigned entries = 256;
  unsigned buffer_count = 256;
  unsigned buffer_bytes = 8 * 1024;
};

class Io {
 public:
  virtual ~Io() = default;

  virtual IoBackend backend() const = 0;

  // Operations; each completes once with `tag` unless said otherwise.
  // Multishot accept4(SOCK_CLOEXEC): a completion per accepted socket, result its descriptor.
  virtual void accept_multishot(int listen_fd, std::uint64_t tag) = 0;
  // Multishot recv into the provided buffers: result the byte count (0: end of input), the bytes
  // in buffer(completion.buffer_id(), result), to be handed back with recycle() once copied.
  virtual void recv_multishot(int fd, std::uint64_t tag) = 0;
  virtual void recv(int fd, char* buffer, std::size_t length, std::uint64_t tag) = 0;
  // send(MSG_NOSIGNAL); like send(2) it may send fewer bytes than asked.
  virtual void send(int fd, const char* data, std::size_t length, std::uint64_t tag) = 0;
  virtual void shutdown_write(int fd, std::uint64_t tag) = 0;
  virtual void connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag) = 0;
  // read(2) and write(2) at the file's position: eventfd, signalfd, the log output.
  virtual void read(int fd, void* buffer, std::size_t length, std::uint64_t tag) = 0;
  virtual void write(int fd, const void* data, std::size_t length, std::uint64_t tag) = 0;
  // Ends the operation tagged `target` on `fd` (it completes with -ECANCELED); this one completes
  // with 0, or -ENOENT when there was no such operation.
  virtual void cancel(int fd, std::uint64_t target, std::uint64_t tag) = 0;
  // Ends every operation on `fd`; completes with how many there were.
  virtual void cancel_all(int fd, std::uint64_t tag) = 0;
  virtual void close(int fd, std::uint64_t tag) = 0;
  // Completes with -ETIME once `when` has passed: a duration from now, or (absolute) a
  // CLOCK_MONOTONIC time, which is steady_clock's. `when` must stay alive until submit().
  virtual void timeout(const __kernel_timespec& when, bool absolute, std::uint64_t tag) = 0;

  // The provided buffers of multishot recv completions.
  virtual std::span<const char> buffer(std::uint16_t id, std::size_t length) const = 0;
  virtual void recycle(std::uint16_t id) = 0;

  // The descriptor the worker writes its log lines to with write(): stdout itself, or for epoll
  // one that can wait for room without blocking the thread (see EpollIo). Valid while the Io is.
  virtual int log_output() = 0;

  // Hands what was submitted to the kernel.
  virtual void submit() = 0;
  // Submits, then waits until at least one completion is there or `timeout` passed (nullopt:
  // no limit), and sets `completions` to what is there, valid until the next wait(). It may be
  // empty (EINTR, timeout, a spurious readiness). False when the Io cannot go on (a broken
  // ring): the loop must end.
  virtual bool wait(std::optional<std::chrono::nanoseconds> timeout,
                    std::span<const Completion>& completions) = 0;
};

// Why an Io could not be set up: `message` for a user who asked for that backend (with what to
// do about it), `reason` the bare cause, e.g. "io_uring_setup failed: Operation not permitted".
struct IoSetupError {
  std::string message;
  std::string reason;
};

// Creates the Io of `backend` for the calling thread; null with `error` filled if it cannot be
// set up (for io_uring: forbidden, missing, or lacking a feature the workers use).
std::unique_ptr<Io> make_io(IoBackend backend, const IoOptions& options, IoSetupError& error);

}  // namespace edgefn::runtime
