// EpollIo: the Io interface emulated on epoll, for where io_uring is forbidden (container
// runtimes' default seccomp profiles) or not wanted (--io=epoll). Operations become
// non-blocking syscalls, tried at once when submitted; what would block waits for readiness
// (edge-triggered, one epoll_ctl per descriptor for its lifetime) and is retried then. Sends
// and writes start at submit() (or wait()), in order, as io_uring's do at io_uring_enter. Results
// are queued as completions that the next wait() returns, so the callers see io_uring's model
// unchanged: multishot accept and recv (into a pool of provided buffers), one-shot
// recv/send/read/write/connect, cancel, close and timeouts.
//
// Timeouts are kept in a heap and bound epoll_wait's timeout (rounded up to the millisecond),
// which costs no descriptor and no syscall of its own.
//
// Blocking: no call waits, with one exception: log lines written to a regular file (see
// log_output()).
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <vector>

#include "runtime/io.h"

namespace edgefn::runtime {

class EpollIo final : public Io {
 public:
  EpollIo() = default;
  ~EpollIo() override;
  EpollIo(const EpollIo&) = delete;
  EpollIo& operator=(const EpollIo&) = delete;

  // Creates the epoll instance and maps the provided buffers (lazily: untouched ones cost no
  // RSS); false with `error` filled otherwise.
  bool init(const IoOptions& options, IoSetupError& error);

  IoBackend backend() const override { return IoBackend::kEpoll; }

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
    return {memory_ + static_cast<std::size_t>(id) * buffer_bytes_, length};
  }
  void recycle(std::uint16_t id) override { free_buffers_.push_back(id); }

  // A pipe or terminal on stdout is reopened through /proc/self/fd/1: a new open file
  // description of the same pipe, so O_NONBLOCK on it leaves the one shared with the parent
  // (a shell, the container runtime) alone. A socket (systemd's journal) is written with
  // send(MSG_DONTWAIT). A regular file cannot wait for readiness (epoll refuses it) and needs
  // none: the write goes to the page cache, bounded by the log buffer's size. If /proc is not
  // mounted, stdout itself is used and a full pipe would block the worker.
  int log_output() override;

  // Starts the sends and writes asked for since the last submit().
  void submit() override;
  bool wait(std::optional<std::chrono::nanoseconds> timeout,
            std::span<const Completion>& completions) override;

 private:
  using Clock = std::chrono::steady_clock;

  // What waits for a descriptor to become readable, or writable: at most one of each.
  enum class InputOp : std::uint8_t { kNone, kAccept, kRecvMultishot, kRecv, kRead };
  enum class OutputOp : std::uint8_t { kNone, kSend, kWrite, kConnect };
  struct Descriptor {
    InputOp input = InputOp::kNone;
    OutputOp output = OutputOp::kNone;
    bool watched = false;      // in the epoll set
    bool nonblocking = false;  // O_NONBLOCK is known to be set
    std::uint64_t input_tag = 0;
    char* input_buffer = nullptr;
    std::size_t input_length = 0;
    std::uint64_t output_tag = 0;
    const char* output_data = nullptr;
    std::size_t output_length = 0;
  };
  struct Timer {
    Clock::time_point due;
    std::uint64_t tag;
  };
  // How a pass over a descriptor's input ends when it stops short of EAGAIN.
  enum class Pass : std::uint8_t {
    kDrain,       // until EAGAIN: nothing else would report the bytes still queued
    kAfterEvent,  // a short read means the queue was empty, and new bytes will raise an event
  };

  Descriptor& at(int fd);
  // A descriptor that accept or socket() just made: what its number carried before is gone.
  Descriptor& fresh(int fd);
  void post(std::uint64_t tag, int result, std::uint32_t flags = 0);
  void watch(int fd);
  void set_nonblocking(int fd);
  void run_input(int fd, Pass pass);
  void run_output(int fd);
  void end_input(int fd, int result);
  void end_output(int fd, int result);
  static bool due_later(const Timer& a, const Timer& b);  // the heap's order
  void fire_timers();
  int poll_timeout(std::optional<std::chrono::nanoseconds> limit) const;

  // Input passes stop after this many completions per descriptor (fairness: one busy socket
  // cannot hold the loop), and go on in the next wait().
  static constexpr int kBurst = 16;
  static constexpr int kEvents = 256;

  int epoll_fd_ = -1;
  int log_fd_ = -1;
  bool own_log_fd_ = false;
  bool log_is_socket_ = false;
  bool polled_last_ = false;  // the last wait() asked epoll; see wait()
  std::vector<Descriptor> descriptors_;
  std::vector<Completion> posted_;     // since the last wait()
  std::vector<Completion> delivered_;  // what the last wait() returned
  std::vector<Timer> timers_;          // a min-heap on `due`
  std::vector<int> unfinished_;        // input passes cut short by kBurst
  std::vector<int> unfinished_scratch_;
  std::vector<int> starting_;  // descriptors whose send or write waits for submit()
  epoll_event events_[kEvents]{};
  char* memory_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  std::size_t buffer_bytes_ = 0;
  std::vector<std::uint16_t> free_buffers_;
};

}  // namespace edgefn::runtime
