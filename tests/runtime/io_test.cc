// The Io contract, checked on both implementations: the epoll emulation must complete what
// io_uring completes, with the same results and flags. io_uring cases are skipped where the
// kernel or a seccomp filter does not allow it.
#include "runtime/io.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "runtime/epoll_io.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr IoOptions kOptions{.entries = 64, .buffer_count = 16, .buffer_bytes = 4096};

// Waits (up to `limit`) until `done` holds for what completed so far; returns all of it.
std::vector<Completion> collect(Io& io,
                                const std::function<bool(const std::vector<Completion>&)>& done,
                                std::chrono::milliseconds limit = 2000ms) {
  std::vector<Completion> seen;
  const auto deadline = Clock::now() + limit;
  while (!done(seen) && Clock::now() < deadline) {
    std::span<const Completion> batch;
    EXPECT_TRUE(io.wait(
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()), batch));
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  return seen;
}

// The completions of `tag`, in order.
std::vector<Completion> of(const std::vector<Completion>& all, std::uint64_t tag) {
  std::vector<Completion> out;
  for (const Completion& completion : all) {
    if (completion.tag == tag) out.push_back(completion);
  }
  return out;
}

auto has(std::uint64_t tag, std::size_t count = 1) {
  return [tag, count](const std::vector<Completion>& all) { return of(all, tag).size() >= count; };
}

class IoTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    IoSetupError error;
    io_ = make_io(GetParam(), kOptions, error);
    if (!io_ && GetParam() == IoBackend::kUring) GTEST_SKIP() << error.message;
    ASSERT_TRUE(io_) << error.message;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair_), 0);
  }
  void TearDown() override {
    for (int fd : pair_) {
      if (fd >= 0) ::close(fd);
    }
  }

  std::unique_ptr<Io> io_;
  int pair_[2] = {-1, -1};
};

constexpr std::uint64_t kRecvTag = make_tag(Op::kRecv, 7);
constexpr std::uint64_t kSendTag = make_tag(Op::kSend, 7);
constexpr std::uint64_t kCancelTag = make_tag(Op::kCancel, 7);

TEST_P(IoTest, MultishotRecvFillsProvidedBuffersUntilTheEnd) {
  io_->recv_multishot(pair_[0], kRecvTag);
  ASSERT_EQ(::write(pair_[1], "hello", 5), 5);
  std::vector<Completion> seen = collect(*io_, has(kRecvTag));
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  Completion first = of(seen, kRecvTag)[0];
  EXPECT_EQ(first.result, 5);
  EXPECT_TRUE(first.more());
  ASSERT_TRUE(first.has_buffer());
  std::span<const char> bytes = io_->buffer(first.buffer_id(), 5);
  EXPECT_EQ(std::string(bytes.data(), bytes.size()), "hello");
  io_->recycle(first.buffer_id());

  // More input goes on arriving on the same operation; the peer's end ends it.
  ASSERT_EQ(::write(pair_[1], "again", 5), 5);
  seen = collect(*io_, has(kRecvTag));
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  EXPECT_EQ(of(seen, kRecvTag)[0].result, 5);
  io_->recycle(of(seen, kRecvTag)[0].buffer_id());
  ::close(pair_[1]);
  pair_[1] = -1;
  seen = collect(*io_, has(kRecvTag));
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  EXPECT_EQ(of(seen, kRecvTag)[0].result, 0);
  EXPECT_FALSE(of(seen, kRecvTag)[0].more());
}

TEST_P(IoTest, InputQueuedBeforeTheRecvIsNotLost) {
  // epoll reports a descriptor's readiness once: bytes that came before the operation started
  // must be found by trying, not by waiting for an event that already passed.
  ASSERT_EQ(::write(pair_[1], "early", 5), 5);
  io_->recv_multishot(pair_[0], kRecvTag);
  const std::vector<Completion> seen = collect(*io_, has(kRecvTag));
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  EXPECT_EQ(of(seen, kRecvTag)[0].result, 5);
}

TEST_P(IoTest, CancelEndsAMultishotRecv) {
  io_->recv_multishot(pair_[0], kRecvTag);
  io_->submit();
  io_->cancel(pair_[0], kRecvTag, kCancelTag);
  const std::vector<Completion> seen = collect(*io_, [](const auto& all) {
    return of(all, kRecvTag).size() == 1 && of(all, kCancelTag).size() == 1;
  });
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  EXPECT_EQ(of(seen, kRecvTag)[0].result, -ECANCELED);
  EXPECT_FALSE(of(seen, kRecvTag)[0].more());
  ASSERT_EQ(of(seen, kCancelTag).size(), 1u);
  EXPECT_EQ(of(seen, kCancelTag)[0].result, 0);
}

TEST_P(IoTest, CancelOfNothingSaysSo) {
  io_->cancel(pair_[0], kRecvTag, kCancelTag);
  const std::vector<Completion> seen = collect(*io_, has(kCancelTag));
  ASSERT_EQ(of(seen, kCancelTag).size(), 1u);
  EXPECT_EQ(of(seen, kCancelTag)[0].result, -ENOENT);
}

TEST_P(IoTest, ASendThatWouldBlockWaitsForRoom) {
  // Far more than a socket buffer holds: the send completes with what fitted once the peer
  // reads, not with EAGAIN.
  const std::string data(8 * 1024 * 1024, 'x');
  io_->send(pair_[0], data.data(), data.size(), kSendTag);
  std::vector<Completion> seen = collect(*io_, has(kSendTag), 100ms);
  std::size_t sent = 0;
  if (!of(seen, kSendTag).empty()) sent = static_cast<std::size_t>(of(seen, kSendTag)[0].result);
  std::string received;
  char chunk[65536];
  while (of(seen, kSendTag).empty() || received.size() < sent) {
    const ssize_t n = ::recv(pair_[1], chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) received.append(chunk, static_cast<std::size_t>(n));
    std::span<const Completion> batch;
    ASSERT_TRUE(io_->wait(1ms, batch));
    seen.insert(seen.end(), batch.begin(), batch.end());
    if (sent == 0 && !of(seen, kSendTag).empty()) {
      ASSERT_GT(of(seen, kSendTag)[0].result, 0);
      sent = static_cast<std::size_t>(of(seen, kSendTag)[0].result);
    }
  }
  EXPECT_EQ(received.size(), sent);
  EXPECT_EQ(received, data.substr(0, sent));
}

TEST_P(IoTest, CancelAllEndsEveryOperationOnTheDescriptor) {
  const std::string data(8 * 1024 * 1024, 'x');
  io_->recv_multishot(pair_[0], kRecvTag);
  io_->send(pair_[0], data.data(), data.size(), kSendTag);
  io_->submit();
  // The send may have moved some bytes already; what is left waits, as the recv does.
  std::vector<Completion> seen = collect(*io_, has(kSendTag), 50ms);
  const bool send_done = !of(seen, kSendTag).empty();
  io_->cancel_all(pair_[0], kCancelTag);
  const std::vector<Completion> rest = collect(*io_, [&](const auto& all) {
    return of(all, kCancelTag).size() == 1 && of(all, kRecvTag).size() == 1 &&
           (send_done || of(all, kSendTag).size() == 1);
  });
  seen.insert(seen.end(), rest.begin(), rest.end());
  ASSERT_EQ(of(seen, kRecvTag).size(), 1u);
  EXPECT_EQ(of(seen, kRecvTag)[0].result, -ECANCELED);
  ASSERT_EQ(of(seen, kCancelTag).size(), 1u);
  EXPECT_EQ(of(seen, kCancelTag)[0].result, send_done ? 1 : 2);
}

TEST_P(IoTest, AcceptAndConnectComplete) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

  constexpr std::uint64_t kAcceptTag = make_tag(Op::kAccept, 0);
  constexpr std::uint64_t kConnectTag = make_tag(Op::kUpstreamConnect, 3);
  io_->accept_multishot(listener, kAcceptTag);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  io_->connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address, kConnectTag);
  const std::vector<Completion> seen = collect(*io_, [&](const auto& all) {
    return of(all, kAcceptTag).size() == 1 && of(all, kConnectTag).size() == 1;
  });
  ASSERT_EQ(of(seen, kConnectTag).size(), 1u);
  EXPECT_EQ(of(seen, kConnectTag)[0].result, 0);
  ASSERT_EQ(of(seen, kAcceptTag).size(), 1u);
  const int accepted = of(seen, kAcceptTag)[0].result;
  EXPECT_GE(accepted, 0);
  EXPECT_TRUE(of(seen, kAcceptTag)[0].more());
  if (accepted >= 0) ::close(accepted);
  ::close(client);
  ::close(listener);
}

TEST_P(IoTest, AConnectionRefusedIsAnError) {
  // A port that was just free: nothing listens there.
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(probe);
  constexpr std::uint64_t kConnectTag = make_tag(Op::kRedisConnect, 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  io_->connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address, kConnectTag);
  const std::vector<Completion> seen = collect(*io_, has(kConnectTag));
  ASSERT_EQ(of(seen, kConnectTag).size(), 1u);
  EXPECT_EQ(of(seen, kConnectTag)[0].result, -ECONNREFUSED);
  ::close(client);
}

TEST_P(IoTest, TimeoutsFireWhenDueAndInOrder) {
  constexpr std::uint64_t kLater = make_tag(Op::kTick, 0);
  constexpr std::uint64_t kSooner = make_tag(Op::kDeadline, 1);
  const auto start = Clock::now();
  const __kernel_timespec later{0, 40'000'000};
  const auto due =
      std::chrono::duration_cast<std::chrono::nanoseconds>((start + 10ms).time_since_epoch());
  const __kernel_timespec sooner{due.count() / 1'000'000'000, due.count() % 1'000'000'000};
  io_->timeout(later, false, kLater);
  io_->timeout(sooner, true, kSooner);
  io_->submit();
  std::vector<Completion> seen = collect(*io_, has(kSooner));
  ASSERT_EQ(of(seen, kSooner).size(), 1u);
  EXPECT_GE(Clock::now() - start, 10ms);
  EXPECT_EQ(of(seen, kSooner)[0].result, -ETIME);
  EXPECT_TRUE(of(seen, kLater).empty());
  seen = collect(*io_, has(kLater));
  ASSERT_EQ(of(seen, kLater).size(), 1u);
  EXPECT_GE(Clock::now() - start, 40ms);
  EXPECT_EQ(of(seen, kLater)[0].result, -ETIME);
}

TEST_P(IoTest, AReadWaitsForItsEventfd) {
  const int event = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(event, 0);
  constexpr std::uint64_t kWakeTag = make_tag(Op::kWake, 0);
  std::uint64_t value = 0;
  io_->read(event, &value, sizeof value, kWakeTag);
  EXPECT_TRUE(of(collect(*io_, has(kWakeTag), 20ms), kWakeTag).empty());
  const std::uint64_t three = 3;
  ASSERT_EQ(::write(event, &three, sizeof three), 8);
  const std::vector<Completion> seen = collect(*io_, has(kWakeTag));
  ASSERT_EQ(of(seen, kWakeTag).size(), 1u);
  EXPECT_EQ(of(seen, kWakeTag)[0].result, 8);
  EXPECT_EQ(value, 3u);
  ::close(event);
}

TEST_P(IoTest, CloseCompletes) {
  constexpr std::uint64_t kCloseTag = make_tag(Op::kClose, 7);
  io_->close(pair_[0], kCloseTag);
  const std::vector<Completion> seen = collect(*io_, has(kCloseTag));
  ASSERT_EQ(of(seen, kCloseTag).size(), 1u);
  EXPECT_EQ(of(seen, kCloseTag)[0].result, 0);
  EXPECT_EQ(fcntl(pair_[0], F_GETFD), -1);
  pair_[0] = -1;
}

TEST_P(IoTest, AKeepAliveExchangeAllocatesNothing) {
  // Once the tables have grown (the first exchange), a request and its response cost no heap.
  io_->recv_multishot(pair_[0], kRecvTag);
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  char peer[256];
  auto exchange = [&] {
    if (::write(pair_[1], "GET / HTTP/1.1\r\n\r\n", 18) != 18) return false;
    bool received = false;
    bool sent = false;
    for (int turn = 0; turn < 100 && !(received && sent); ++turn) {
      std::span<const Completion> batch;
      if (!io_->wait(10ms, batch)) return false;
      for (const Completion& completion : batch) {
        if (completion.tag == kRecvTag && completion.result > 0) {
          io_->recycle(completion.buffer_id());
          received = true;
          io_->send(pair_[0], response.data(), response.size(), kSendTag);
        } else if (completion.tag == kSendTag) {
          sent = completion.result == static_cast<int>(response.size());
        }
      }
    }
    return received && sent && ::read(pair_[1], peer, sizeof peer) > 0;
  };
  ASSERT_TRUE(exchange());
  bool ok = false;
  EXPECT_NO_ALLOC(ok = exchange());
  EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoTest, ::testing::Values(IoBackend::kUring, IoBackend::kEpoll),
                         [](const auto& backend) {
                           return std::string(backend.param == IoBackend::kUring ? "uring"
                                                                                 : "epoll");
                         });

// epoll only: where log lines go.
class StdoutSwap {
 public:
  explicit StdoutSwap(int fd) : saved_(::dup(STDOUT_FILENO)) { ::dup2(fd, STDOUT_FILENO); }
  ~StdoutSwap() {
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
  }
  StdoutSwap(const StdoutSwap&) = delete;
  StdoutSwap& operator=(const StdoutSwap&) = delete;

 private:
  int saved_;
};

TEST(EpollLogOutput, APipeIsReopenedSoStdoutItselfStaysBlocking) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  EpollIo io;
  IoSetupError error;
  ASSERT_TRUE(io.init(kOptions, error)) << error.message;
  int log_fd;
  int stdout_flags;
  int log_flags;
  {
    StdoutSwap swap(pipe_fds[1]);
    log_fd = io.log_output();
    stdout_flags = fcntl(STDOUT_FILENO, F_GETFL);
    log_flags = fcntl(log_fd, F_GETFL);
  }
  // O_NONBLOCK is on a description of our own, not on the one the parent shares with us.
  EXPECT_NE(log_fd, STDOUT_FILENO);
  EXPECT_EQ(stdout_flags & O_NONBLOCK, 0);
  EXPECT_NE(log_flags & O_NONBLOCK, 0);
  // More than the pipe holds, with nobody reading: part goes in and the completion says how
  // much, where a blocking write would hold the worker until a reader came.
  const std::string big(1024 * 1024, 'l');
  constexpr std::uint64_t kLogTag = make_tag(Op::kLogWrite, 0);
  io.write(log_fd, big.data(), big.size(), kLogTag);
  const std::vector<Completion> seen = collect(io, has(kLogTag));
  ASSERT_EQ(of(seen, kLogTag).size(), 1u);
  EXPECT_GT(of(seen, kLogTag)[0].result, 0);
  EXPECT_LT(of(seen, kLogTag)[0].result, static_cast<int>(big.size()));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(EpollLogOutput, AFullPipeWaitsForItsReader) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  EpollIo io;
  IoSetupError error;
  ASSERT_TRUE(io.init(kOptions, error)) << error.message;
  int log_fd;
  {
    StdoutSwap swap(pipe_fds[1]);
    log_fd = io.log_output();
  }
  // Fill the pipe, then write one more line: it waits rather than fails.
  const std::string filler(65536, 'f');
  while (::write(log_fd, filler.data(), filler.size()) > 0) {
  }
  constexpr std::uint64_t kLogTag = make_tag(Op::kLogWrite, 0);
  io.write(log_fd, "line\n", 5, kLogTag);
  EXPECT_TRUE(of(collect(io, has(kLogTag), 20ms), kLogTag).empty());
  char chunk[65536];
  ASSERT_GT(::read(pipe_fds[0], chunk, sizeof chunk), 0);
  const std::vector<Completion> seen = collect(io, has(kLogTag));
  ASSERT_EQ(of(seen, kLogTag).size(), 1u);
  EXPECT_EQ(of(seen, kLogTag)[0].result, 5);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(IoMode, ParsesTheCommandLineValues) {
  IoMode mode = IoMode::kEpoll;
  EXPECT_TRUE(parse_io_mode("auto", mode));
  EXPECT_EQ(mode, IoMode::kAuto);
  EXPECT_TRUE(parse_io_mode("uring", mode));
  EXPECT_EQ(mode, IoMode::kUring);
  EXPECT_TRUE(parse_io_mode("epoll", mode));
  EXPECT_EQ(mode, IoMode::kEpoll);
  EXPECT_FALSE(parse_io_mode("kqueue", mode));
  EXPECT_FALSE(parse_io_mode("", mode));
  EXPECT_EQ(io_backend_name(IoBackend::kUring), "io_uring");
  EXPECT_EQ(io_backend_name(IoBackend::kEpoll), "epoll");
}

}  // namespace
}  // namespace edgefn::runtime
