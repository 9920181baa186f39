// Runs the real edgefn binary for integration tests: spawn, capture output, signal, reap.
//
// Every wait has a deadline and a child still running when its owner goes away is killed, so a
// hung or crashed server fails the test that hit it instead of hanging the suite.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace edgefn::integration {

using Millis = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// How long `serve` may take to print its ready line, and the default for every other wait on the
// process (exit after a signal, a CLI command).
inline constexpr Millis kStartTimeout{5000};
inline constexpr Millis kExitTimeout{5000};

// The edgefn binary under test and the test manifests' folder, both given by CMake.
std::string binary_path();
std::string manifest_path(std::string_view file_name);

// The I/O backend this run of the suite is for: EDGEFN_TEST_IO ("uring" or "epoll", set by CTest
// per registration of the suite), which Server::start passes on as --io; empty when unset (the
// server's default, auto).
std::string test_io_mode();
// What the ready line's and /functions' "io" should say in this run: "epoll" when the run is
// for epoll, else "io_uring".
std::string expected_io_backend();

// One child process with stdout and stderr piped into memory by a reader thread (so a chatty
// child never blocks on a full pipe). Not copyable or movable: the reader thread points at it.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // SIGKILLs and reaps a child that is still running, then joins the reader thread.
  ~Process();

  // Starts `argv` (argv[0] is the program path) with the caller's environment. One spawn per
  // object.
  ::testing::AssertionResult spawn(const std::vector<std::string>& argv);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  // Sends a signal; false if the child is already reaped.
  bool send_signal(int signal_number);

  // Waits up to `timeout` for the child to exit and reaps it. The status is the exit code, or
  // 128 + the signal number if a signal ended it (as a shell reports it). nullopt on timeout,
  // leaving the child running. Once reaped, all of its output has been captured.
  std::optional<int> wait_exit(Millis timeout);

  // Waits up to `timeout` for a complete stdout line that `accept` returns true for; returns it,
  // or nullopt when the deadline passes or stdout ends first.
  std::optional<std::string> wait_for_line(const std::function<bool(std::string_view)>& accept,
                                           Millis timeout);

  // What the child wrote so far.
  std::string out() const;
  std::string err() const;

 private:
  void read_pipes(int out_fd, int err_fd);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  bool out_closed_ = false;
};

struct CommandResult {
  int status = -1;  // exit code, 128 + signal, or -1 if it timed out and was killed
  std::string out;
  std::string err;
};

// Runs `edgefn <args...>` to completion (killed after `timeout`).
CommandResult run_edgefn(const std::vector<std::string>& args, Millis timeout = kExitTimeout);

// `edgefn serve MANIFEST --listen 127.0.0.1:0 --admin 127.0.0.1:0 ARGS...`, plus
// --io=test_io_mode() unless ARGS choose --io themselves, started and waited for until its ready
// line names the ports the kernel picked.
class Server {
 public:
  // The binary start() runs; binary_path() unless set.
  void use_binary(std::string path) { binary_ = std::move(path); }

  ::testing::AssertionResult start(const std::string& manifest,
                                   const std::vector<std::string>& extra_args = {},
                                   Millis timeout = kStartTimeout);

  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  const std::string& ready_line() const { return ready_line_; }

  bool send_signal(int signal_number) { return process_.send_signal(signal_number); }
  std::optional<int> wait_exit(Millis timeout = kExitTimeout) {
    return process_.wait_exit(timeout);
  }
  bool running() const { return process_.running(); }
  pid_t pid() const { return process_.pid(); }

  // SIGTERM, then waits up to `timeout`; SIGKILL if it has not exited. Returns the exit status
  // as wait_exit reports it, or -1 when the server had to be killed. A stopped server returns
  // its recorded status again.
  int stop(Millis timeout = kExitTimeout);

  // See Process::wait_for_line (every call scans stdout from its start).
  std::optional<std::string> wait_for_line(const std::function<bool(std::string_view)>& accept,
                                           Millis timeout = kExitTimeout) {
    return process_.wait_for_line(accept, timeout);
  }

  // Captured output, for failure messages.
  std::string out() const { return process_.out(); }
  std::string err() const { return process_.err(); }
  std::string output_for_failure() const;

 private:
  std::string binary_;
  Process process_;
  std::optional<int> final_status_;
  std::string ready_line_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

// The port of "127.0.0.1:41234" or "[::1]:41234"; 0 if there is none.
std::uint16_t port_of(std::string_view address);

}  // namespace edgefn::integration
