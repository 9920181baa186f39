// EpollIo: io_uring's completion model from readiness and non-blocking syscalls.
#include "runtime/epoll_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace edgefn::runtime {

namespace {

// Edge-triggered, for both directions at once: the set is written once per descriptor, not each
// time an operation starts or ends. The price is that an edge nobody waits for is gone, so an
// operation that starts later tries its syscall before it waits (see run_input's kDrain).
constexpr std::uint32_t kWatched = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

bool would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK;
}

}  // namespace

EpollIo::~EpollIo() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (own_log_fd_) ::close(log_fd_);
  if (memory_ != nullptr) munmap(memory_, mapped_bytes_);
}

bool EpollIo::init(const IoOptions& options, IoSetupError& error) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error.reason = std::string("epoll_create1 failed: ") + std::strerror(errno);
    error.message = "epoll is not available: " + error.reason;
    return false;
  }
  buffer_bytes_ = options.buffer_bytes;
  mapped_bytes_ = static_cast<std::size_t>(options.buffer_count) * options.buffer_bytes;
  void* memory = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    error.reason = std::string("mmap: ") + std::strerror(errno);
    error.message = error.reason;
    return false;
  }
  memory_ = static_cast<char*>(memory);
  // Handed out last-in first-out: the buffer just recycled is the one still in the cache.
  free_buffers_.reserve(options.buffer_count);
  for (unsigned id = options.buffer_count; id-- > 0;)
    free_buffers_.push_back(static_cast<std::uint16_t>(id));
  posted_.reserve(options.entries);
  delivered_.reserve(options.entries);
  return true;
}

EpollIo::Descriptor& EpollIo::at(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= descriptors_.size())
    descriptors_.resize(std::max(index + 1, descriptors_.size() * 2));
  return descriptors_[index];
}

EpollIo::Descriptor& EpollIo::fresh(int fd) {
  // A number closed behind our back (a listener at drain, say) may come back: its old entry is
  // stale, and the kernel dropped the old description from the epoll set with its last close.
  Descriptor& descriptor = at(fd);
  descriptor = Descriptor{};
  return descriptor;
}

void EpollIo::post(std::uint64_t tag, int result, std::uint32_t flags) {
  posted_.push_back(Completion{tag, result, flags});
}

void EpollIo::watch(int fd) {
  Descriptor& descriptor = at(fd);
  if (descriptor.watched) return;
  epoll_event event{};
  event.events = kWatched;
  event.data.fd = fd;
  int rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  if (rc != 0 && errno == EEXIST) rc = epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
  if (rc != 0) {
    // Nothing would ever report this descriptor ready (a regular file: EPERM): whatever waits
    // on it ends with the error instead of waiting forever.
    const int error = -errno;
    end_input(fd, error);
    end_output(fd, error);
    return;
  }
  // Adding a descriptor that is ready already raises its event at once: no edge is lost
  // between the syscall that found it not ready and this.
  descriptor.watched = true;
}

void EpollIo::set_nonblocking(int fd) {
  Descriptor& descriptor = at(fd);
  if (descriptor.nonblocking) return;
  // Only for descriptors this process made (listeners, eventfd, signalfd): never on an
  // inherited one, whose description other processes share.
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  descriptor.nonblocking = true;
}

void EpollIo::end_input(int fd, int result) {
  Descriptor& descriptor = at(fd);
  if (descriptor.input == InputOp::kNone) return;
  descriptor.input = InputOp::kNone;
  post(descriptor.input_tag, result);
}

void EpollIo::end_output(int fd, int result) {
  Descriptor& descriptor = at(fd);
  if (descriptor.output == OutputOp::kNone) return;
  descriptor.output = OutputOp::kNone;
  post(descriptor.output_tag, result);
}

void EpollIo::run_input(int fd, Pass pass) {
  for (int done = 0; done < kBurst; ++done) {
    // Re-read each time: accepting may grow the table.
    Descriptor& descriptor = descriptors_[static_cast<std::size_t>(fd)];
    switch (descriptor.input) {
      case InputOp::kNone:
        return;
      case InputOp::kAccept: {
        const int socket = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (socket >= 0) {
          const std::uint64_t tag = descriptor.input_tag;
          fresh(socket).nonblocking = true;
          post(tag, socket, Completion::kMore);
          continue;
        }
        if (would_block(errno)) return;
        // A peer that reset before we took its connection is no error of ours.
        if (errno == EINTR || errno == ECONNABORTED) continue;
        end_input(fd, -errno);  // EMFILE and friends end it, as they end io_uring's
        return;
      }
      case InputOp::kRecvMultishot: {
        if (free_buffers_.empty()) {
          end_input(fd, -ENOBUFS);
          return;
        }
        const std::uint16_t id = free_buffers_.back();
        char* target = memory_ + static_cast<std::size_t>(id) * buffer_bytes_;
        const ssize_t n = ::recv(fd, target, buffer_bytes_, MSG_DONTWAIT);
        if (n > 0) {
          free_buffers_.pop_back();
          post(descriptor.input_tag, static_cast<int>(n),
               Completion::kMore | Completion::kBuffer |
                   (static_cast<std::uint32_t>(id) << Completion::kBufferShift));
          // Saves the recv that would only say EAGAIN, on every request of a keep-alive
          // connection.
          if (pass == Pass::kAfterEvent && static_cast<std::size_t>(n) < buffer_bytes_) return;
          continue;
        }
        if (n == 0) {
          end_input(fd, 0);
          return;
        }
        if (would_block(errno)) return;
        if (errno == EINTR) continue;
        end_input(fd, -errno);
        return;
      }
      case InputOp::kRecv: {
        const ssize_t n =
            ::recv(fd, descriptor.input_buffer, descriptor.input_length, MSG_DONTWAIT);
        if (n < 0 && would_block(errno)) return;
        if (n < 0 && errno == EINTR) continue;
        end_input(fd, n < 0 ? -errno : static_cast<int>(n));
        return;
      }
      case InputOp::kRead: {
        const ssize_t n = ::read(fd, descriptor.input_buffer, descriptor.input_length);
        if (n < 0 && would_block(errno)) return;
        if (n < 0 && errno == EINTR) continue;
        end_input(fd, n < 0 ? -errno : static_cast<int>(n));
        return;
      }
    }
  }
  unfinished_.push_back(fd);
}

void EpollIo::run_output(int fd) {
  Descriptor& descriptor = at(fd);
  ssize_t n = 0;
  switch (descriptor.output) {
    case OutputOp::kNone:
      return;
    case OutputOp::kConnect: {
      int error = 0;
      socklen_t length = sizeof error;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      end_output(fd, -error);
      return;
    }
    case OutputOp::kSend:
      n = ::send(fd, descriptor.output_data, descriptor.output_length, MSG_DONTWAIT | MSG_NOSIGNAL);
      break;
    case OutputOp::kWrite:
      n = fd == log_fd_ && log_is_socket_
              ? ::send(fd, descriptor.output_data, descriptor.output_length,
                       MSG_DONTWAIT | MSG_NOSIGNAL)
              : ::write(fd, descriptor.output_data, descriptor.output_length);
      break;
  }
  if (n < 0 && (would_block(errno) || errno == EINTR)) {
    watch(fd);
    return;
  }
  end_output(fd, n < 0 ? -errno : static_cast<int>(n));
}

void EpollIo::accept_multishot(int listen_fd, std::uint64_t tag) {
  set_nonblocking(listen_fd);
  Descriptor& descriptor = at(listen_fd);
  descriptor.input = InputOp::kAccept;
  descriptor.input_tag = tag;
  run_input(listen_fd, Pass::kDrain);
  if (descriptors_[static_cast<std::size_t>(listen_fd)].input != InputOp::kNone) watch(listen_fd);
}

void EpollIo::recv_multishot(int fd, std::uint64_t tag) {
  Descriptor& descriptor = at(fd);
  descriptor.input = InputOp::kRecvMultishot;
  descriptor.input_tag = tag;
  run_input(fd, Pass::kDrain);
  if (descriptor.input != InputOp::kNone) watch(fd);
}

void EpollIo::recv(int fd, char* buffer, std::size_t length, std::uint64_t tag) {
  Descriptor& descriptor = at(fd);
  descriptor.input = InputOp::kRecv;
  descriptor.input_tag = tag;
  descriptor.input_buffer = buffer;
  descriptor.input_length = length;
  run_input(fd, Pass::kDrain);
  if (descriptor.input != InputOp::kNone) watch(fd);
}

void EpollIo::read(int fd, void* buffer, std::size_t length, std::uint64_t tag) {
  set_nonblocking(fd);
  Descriptor& descriptor = at(fd);
  descriptor.input = InputOp::kRead;
  descriptor.input_tag = tag;
  descriptor.input_buffer = static_cast<char*>(buffer);
  descriptor.input_length = length;
  run_input(fd, Pass::kDrain);
  if (descriptor.input != InputOp::kNone) watch(fd);
}

void EpollIo::send(int fd, const char* data, std::size_t length, std::uint64_t tag) {
  Descriptor& descriptor = at(fd);
  descriptor.output = OutputOp::kSend;
  descriptor.output_tag = tag;
  descriptor.output_data = data;
  descriptor.output_length = length;
  starting_.push_back(fd);
}

void EpollIo::write(int fd, const void* data, std::size_t length, std::uint64_t tag) {
  Descriptor& descriptor = at(fd);
  descriptor.output = OutputOp::kWrite;
  descriptor.output_tag = tag;
  descriptor.output_data = static_cast<const char*>(data);
  descriptor.output_length = length;
  starting_.push_back(fd);
}

void EpollIo::submit() {
  // Sends and writes start here, in the order they were asked for, as io_uring starts them at
  // io_uring_enter: a response and the access line the same loop turn wrote go out together.
  // An entry whose operation was cancelled (or whose descriptor was closed) finds none.
  for (int fd : starting_)
    run_output(fd);
  starting_.clear();
}

void EpollIo::connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag) {
  fresh(fd);  // a new socket: connect is its first operation
  set_nonblocking(fd);
  if (::connect(fd, address, length) == 0) {
    post(tag, 0);
    return;
  }
  if (errno != EINPROGRESS && errno != EINTR) {
    post(tag, -errno);
    return;
  }
  Descriptor& descriptor = at(fd);
  descriptor.output = OutputOp::kConnect;
  descriptor.output_tag = tag;
  watch(fd);
}

void EpollIo::shutdown_write(int fd, std::uint64_t tag) {
  post(tag, ::shutdown(fd, SHUT_WR) == 0 ? 0 : -errno);
}

void EpollIo::cancel(int fd, std::uint64_t target, std::uint64_t tag) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < descriptors_.size()) {
    const Descriptor& descriptor = descriptors_[static_cast<std::size_t>(fd)];
    if (descriptor.input != InputOp::kNone && descriptor.input_tag == target) {
      end_input(fd, -ECANCELED);
      post(tag, 0);
      return;
    }
    if (descriptor.output != OutputOp::kNone && descriptor.output_tag == target) {
      end_output(fd, -ECANCELED);
      post(tag, 0);
      return;
    }
  }
  post(tag, -ENOENT);
}

void EpollIo::cancel_all(int fd, std::uint64_t tag) {
  int cancelled = 0;
  if (fd >= 0 && static_cast<std::size_t>(fd) < descriptors_.size()) {
    const Descriptor& descriptor = descriptors_[static_cast<std::size_t>(fd)];
    cancelled = (descriptor.input != InputOp::kNone) + (descriptor.output != OutputOp::kNone);
    end_input(fd, -ECANCELED);
    end_output(fd, -ECANCELED);
  }
  post(tag, cancelled);
}

void EpollIo::close(int fd, std::uint64_t tag) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < descriptors_.size()) {
    // io_uring would leave such operations pending for good; ending them is kinder to owners
    // that count what is in flight. The kernel drops the descriptor from the epoll set.
    end_input(fd, -ECANCELED);
    end_output(fd, -ECANCELED);
    descriptors_[static_cast<std::size_t>(fd)] = Descriptor{};
  }
  post(tag, ::close(fd) == 0 ? 0 : -errno);
}

void EpollIo::timeout(const __kernel_timespec& when, bool absolute, std::uint64_t tag) {
  const auto span = std::chrono::seconds(when.tv_sec) + std::chrono::nanoseconds(when.tv_nsec);
  const Clock::time_point due =
      absolute ? Clock::time_point(std::chrono::duration_cast<Clock::duration>(span))
               : Clock::now() + std::chrono::duration_cast<Clock::duration>(span);
  timers_.push_back(Timer{due, tag});
  std::push_heap(timers_.begin(), timers_.end(), due_later);
}

bool EpollIo::due_later(const Timer& a, const Timer& b) {
  return a.due > b.due;
}

void EpollIo::fire_timers() {
  if (timers_.empty()) return;
  const Clock::time_point now = Clock::now();
  while (!timers_.empty() && timers_.front().due <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), due_later);
    post(timers_.back().tag, -ETIME);
    timers_.pop_back();
  }
}

int EpollIo::poll_timeout(std::optional<std::chrono::nanoseconds> limit) const {
  if (!posted_.empty() || !unfinished_.empty()) return 0;
  std::optional<std::chrono::nanoseconds> wait = limit;
  if (!timers_.empty()) {
    const auto until = std::max(Clock::duration{}, timers_.front().due - Clock::now());
    if (!wait || until < *wait) wait = until;
  }
  if (!wait) return -1;
  // Rounded up: waking before the timer is due would only make a second, zero-length wait.
  const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(*wait).count();
  return static_cast<int>(std::min<std::int64_t>(milliseconds, 24 * 3600 * 1000));
}

int EpollIo::log_output() {
  if (log_fd_ >= 0) return log_fd_;
  log_fd_ = STDOUT_FILENO;
  struct stat status {};
  if (fstat(STDOUT_FILENO, &status) != 0) return log_fd_;
  if (S_ISFIFO(status.st_mode) || S_ISCHR(status.st_mode)) {
    const int fd = ::open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
      log_fd_ = fd;
      own_log_fd_ = true;
    }
  } else if (S_ISSOCK(status.st_mode)) {
    log_is_socket_ = true;
  }
  return log_fd_;
}

bool EpollIo::wait(std::optional<std::chrono::nanoseconds> timeout,
                   std::span<const Completion>& completions) {
  // Completions already queued are returned without asking epoll, but only every other turn:
  // a loop whose every turn completes something at once still hears of new input.
  submit();
  const bool poll = posted_.empty() || !polled_last_ || !unfinished_.empty();
  polled_last_ = poll;
  if (poll) {
    const int count = epoll_wait(epoll_fd_, events_, kEvents, poll_timeout(timeout));
    if (count < 0 && errno != EINTR) return false;
    for (int i = 0; i < count; ++i) {
      const int fd = events_[i].data.fd;
      const std::uint32_t events = events_[i].events;
      if (static_cast<std::size_t>(fd) >= descriptors_.size()) continue;
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        // With the peer's end or an error in the same event, a short read is no proof that
        // nothing is left: read on until the syscall says so.
        const bool ending = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        run_input(fd, ending ? Pass::kDrain : Pass::kAfterEvent);
      }
      if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) run_output(fd);
    }
    if (!unfinished_.empty()) {
      unfinished_scratch_.swap(unfinished_);
      unfinished_.clear();
      for (int fd : unfinished_scratch_)
        run_input(fd, Pass::kDrain);
    }
  }
  fire_timers();
  delivered_.swap(posted_);
  posted_.clear();
  completions = {delivered_.data(), delivered_.size()};
  return true;
}

}  // namespace edgefn::runtime
