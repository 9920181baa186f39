// A redis-server per test, and redis-cli, for the Redis integration tests.
#include "tests/integration/redis_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace edgefn::integration {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

::testing::AssertionResult RedisServer::start(std::uint16_t port) {
  process_ = std::make_unique<Process>();
  const auto spawned = process_->spawn({"/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                                        std::to_string(port), "--save", "", "--appendonly", "no"});
  if (!spawned) return spawned;
  const auto ready = process_->wait_for_line(
      [](std::string_view line) { return line.find("Ready to accept") != line.npos; },
      kStartTimeout);
  if (!ready) {
    return ::testing::AssertionFailure() << "redis-server did not start:\n" << process_->out();
  }
  return ::testing::AssertionSuccess();
}

void RedisServer::kill() {
  if (process_ && process_->send_signal(SIGKILL)) process_->wait_exit(kExitTimeout);
}

std::string redis_cli(std::uint16_t port, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"/usr/bin/redis-cli", "-p", std::to_string(port), "--raw"};
  args.insert(args.end(), command.begin(), command.end());
  Process cli;
  EXPECT_TRUE(cli.spawn(args));
  EXPECT_EQ(cli.wait_exit(kExitTimeout), 0);
  std::string out = cli.out();
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

void RedisFixture::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "edgefn-redis-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
  dir_ = pattern;
  redis_port_ = free_port();
}

void RedisFixture::TearDown() {
  for (Server* server : {&server_, &second_}) {
    if (server->running()) {
      EXPECT_EQ(server->stop(), 0) << server->output_for_failure();
    }
  }
  redis_.kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace edgefn::integration

namespace edgefn::integration {

FakeRedis::FakeRedis(std::uint16_t port, std::string reply) : reply_(std::move(reply)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bound_ = ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
           ::listen(listener_, 16) == 0;
  thread_ = std::thread([this] { serve(); });
}

FakeRedis::~FakeRedis() {
  stop_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  thread_.join();
  ::close(listener_);
}

void FakeRedis::serve() {
  std::vector<std::thread> peers;
  while (!stop_) {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) break;
    ++accepted_;
    peers.emplace_back([this, fd] {
      char buffer[4096];
      while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
        if (!reply_.empty()) ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      }
      ::close(fd);
    });
  }
  for (std::thread& peer : peers)
    peer.join();
}

}  // namespace edgefn::integration
