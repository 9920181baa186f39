// Helpers for integration tests that need Redis: a redis-server of the test's own on a free
// loopback port, redis-cli for looking at what it holds, and polling for a condition.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/process.h"

namespace edgefn::integration {

// A loopback port nobody listens on now (the kernel's pick for a socket closed at once).
std::uint16_t free_port();

// A redis-server of our own (no persistence), stopped with SIGKILL when the object goes.
class RedisServer {
 public:
  ::testing::AssertionResult start(std::uint16_t port);
  void kill();

 private:
  std::unique_ptr<Process> process_;
};

// A server on `port` that accepts connections and answers each read with `reply` (none when
// empty: it reads and never answers): a Redis that sends garbage, or that stalls. Stops when
// destroyed.
class FakeRedis {
 public:
  FakeRedis(std::uint16_t port, std::string reply);
  ~FakeRedis();
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;
  bool bound() const { return bound_; }
  int accepted() const { return accepted_.load(); }

 private:
  void serve();

  std::string reply_;
  int listener_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A fixture with a fresh temporary folder (for the test's manifest), a free port for a Redis
// the test starts (or fakes) there, and two edgefn servers, all stopped when the test ends
// (each server must exit 0).
class RedisFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::filesystem::path dir_;
  std::uint16_t redis_port_ = 0;
  RedisServer redis_;
  Server server_;
  Server second_;
};

// What redis-cli prints for one command, trimmed of its final newline.
std::string redis_cli(std::uint16_t port, const std::vector<std::string>& command);

// Polls `condition` every 20 ms for up to `timeout`.
template <class Condition>
bool eventually(Condition condition, Millis timeout = Millis(10000)) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(Millis(20));
  }
  return condition();
}

}  // namespace edgefn::integration
