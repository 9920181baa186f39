// Child processes for integration tests (see process.h).
#include "tests/integration/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "tests/integration/json_util.h"

namespace edgefn::integration {

std::string binary_path() {
  return EDGEFN_BINARY;
}

std::string manifest_path(std::string_view file_name) {
  return std::string(EDGEFN_MANIFESTS) + "/" + std::string(file_name);
}

std::string test_io_mode() {
  const char* mode = std::getenv("EDGEFN_TEST_IO");
  return mode == nullptr ? std::string() : std::string(mode);
}

std::string expected_io_backend() {
  return test_io_mode() == "epoll" ? "epoll" : "io_uring";
}

namespace {

int decode_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Closes the descriptors of a pipe pair that are still open.
void close_pair(std::array<int, 2>& fds) {
  for (int& fd : fds) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

}  // namespace

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int wait_status = 0;
    while (::waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
    }
    status_ = decode_status(wait_status);
  }
  if (reader_.joinable()) reader_.join();
}

::testing::AssertionResult Process::spawn(const std::vector<std::string>& argv) {
  if (pid_ > 0 || argv.empty()) {
    return ::testing::AssertionFailure() << "spawn: already spawned or empty argv";
  }
  std::array<int, 2> out_pipe = {-1, -1};
  std::array<int, 2> err_pipe = {-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    const int error = errno;
    close_pair(out_pipe);
    close_pair(err_pipe);
    return ::testing::AssertionFailure() << "pipe2: " << std::strerror(error);
  }

  // The child gets the pipes as stdout/stderr (dup2 clears O_CLOEXEC on the copies), no stdin,
  // an empty signal mask and default dispositions, whatever the test process set up.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t all_signals;
  sigfillset(&all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int error =
      ::posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (error != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return ::testing::AssertionFailure()
           << "posix_spawn " << argv[0] << ": " << std::strerror(error);
  }
  pid_ = pid;
  reader_ = std::thread(
      [this, out_fd = out_pipe[0], err_fd = err_pipe[0]] { read_pipes(out_fd, err_fd); });
  return ::testing::AssertionSuccess();
}

void Process::read_pipes(int out_fd, int err_fd) {
  std::array<pollfd, 2> fds = {pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<char, 4096> chunk;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n > 0) {
        (i == 0 ? out_ : err_).append(chunk.data(), static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        if (i == 0) out_closed_ = true;
      }
      changed_.notify_all();
    }
  }
  // A poll failure other than EINTR leaves descriptors open; nothing more will be read.
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  std::lock_guard lock(mutex_);
  out_closed_ = true;
  changed_.notify_all();
}

bool Process::send_signal(int signal_number) {
  return running() && ::kill(pid_, signal_number) == 0;
}

std::optional<int> Process::wait_exit(Millis timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  // Polling waitpid keeps this free of SIGCHLD handling in the test process; 2 ms steps cost
  // nothing next to the timeouts being tested.
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    int wait_status = 0;
    const pid_t reaped = ::waitpid(pid_, &wait_status, WNOHANG);
    if (reaped == pid_) {
      status_ = decode_status(wait_status);
      break;
    }
    if (reaped < 0 && errno != EINTR) {
      status_ = -1;
      break;
    }
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(Millis{2});
  }
  // The child is gone, so its pipes reach end-of-file and the reader finishes.
  if (reader_.joinable()) reader_.join();
  return status_;
}

std::optional<std::string> Process::wait_for_line(
    const std::function<bool(std::string_view)>& accept, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t scanned = 0;  // lines before this offset were already rejected
  while (true) {
    std::size_t end;
    while ((end = out_.find('\n', scanned)) != std::string::npos) {
      std::string line = out_.substr(scanned, end - scanned);
      scanned = end + 1;
      if (accept(line)) return line;
    }
    if (out_closed_ || SteadyClock::now() >= deadline) return std::nullopt;
    changed_.wait_until(lock, deadline);
  }
}

std::string Process::out() const {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string Process::err() const {
  std::lock_guard lock(mutex_);
  return err_;
}

CommandResult run_edgefn(const std::vector<std::string>& args, Millis timeout) {
  CommandResult result;
  Process process;
  std::vector<std::string> argv = {binary_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  if (const auto spawned = process.spawn(argv); !spawned) {
    result.err = spawned.message();
    return result;
  }
  if (const auto status = process.wait_exit(timeout)) {
    result.status = *status;
  } else {
    process.send_signal(SIGKILL);
    process.wait_exit(kExitTimeout);
  }
  result.out = process.out();
  result.err = process.err();
  return result;
}

std::uint16_t port_of(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return 0;
  const std::string_view digits = address.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size()) return 0;
  return port;
}

::testing::AssertionResult Server::start(const std::string& manifest,
                                         const std::vector<std::string>& extra_args,
                                         Millis timeout) {
  std::vector<std::string> argv = {binary_.empty() ? binary_path() : binary_,
                                   "serve",
                                   manifest,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--admin",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const bool chooses_io = std::any_of(extra_args.begin(), extra_args.end(), [](const auto& arg) {
    return arg == "--io" || arg.starts_with("--io=");
  });
  if (const std::string mode = test_io_mode(); !mode.empty() && !chooses_io) {
    argv.push_back("--io=" + mode);
  }
  if (auto spawned = process_.spawn(argv); !spawned) return spawned;

  const auto is_ready = [](std::string_view line) {
    rapidjson::Document document;
    document.Parse(line.data(), line.size());
    return !document.HasParseError() && json_string(document, "msg") == "ready";
  };
  const std::optional<std::string> line = process_.wait_for_line(is_ready, timeout);
  if (!line) {
    const std::optional<int> status = process_.wait_exit(Millis{0});
    auto failure = ::testing::AssertionFailure();
    if (status) {
      failure << "edgefn serve exited with status " << *status << " before its ready line";
    } else {
      failure << "no ready line within " << timeout.count() << " ms";
    }
    stop(Millis{1000});
    return failure << "\n" << output_for_failure();
  }
  ready_line_ = *line;
  rapidjson::Document document;
  document.Parse(line->data(), line->size());
  port_ = port_of(json_string(document, "listen").value_or(""));
  admin_port_ = port_of(json_string(document, "admin").value_or(""));
  if (port_ == 0 || admin_port_ == 0) {
    stop(Millis{1000});
    return ::testing::AssertionFailure() << "ready line without listen/admin ports: " << *line;
  }
  return ::testing::AssertionSuccess();
}

int Server::stop(Millis timeout) {
  if (final_status_) return *final_status_;
  if (process_.running()) {
    process_.send_signal(SIGTERM);
    if (const auto status = process_.wait_exit(timeout)) {
      final_status_ = *status;
    } else {
      process_.send_signal(SIGKILL);
      process_.wait_exit(kExitTimeout);
      final_status_ = -1;
    }
  } else {
    final_status_ = process_.wait_exit(Millis{0}).value_or(-1);
  }
  return *final_status_;
}

std::string Server::output_for_failure() const {
  return "--- edgefn stdout ---\n" + out() + "--- edgefn stderr ---\n" + err();
}

}  // namespace edgefn::integration
