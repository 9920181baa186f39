// bench/coldstart/coldstart.cc: exec -> first complete HTTP response, N runs per command.

// Usage:
//   coldstart [--runs N] [--warmup W] [--port P] [--cpu-server C] [--cpu-client C]
//             [--path /hello] [--expect TEXT] [--timeout-ms T] [--signal KILL|TERM]
//             [--label NAME]... [--baseline I] [--raw FILE] [--keep-env] [--verbose]
//             -- COMMAND ARGS... [--- COMMAND ARGS...]...
//
// Each command is started W + N times; the W warm-up runs are discarded. Commands are
// interleaved run by run (A B C A B C ...) so a slow minute on this shared machine hits every
// command alike, and their ratio stays meaningful even when the absolute figures drift.
//
// One run:
//   t0   CLOCK_MONOTONIC taken immediately before fork(); the fork of this small process (tens
//        of microseconds) is therefore part of every figure, the floor's included.
//   exec the child (pinned to --cpu-server, stdin/stderr on /dev/null, stdout on a pipe, a
//        minimal environment unless --keep-env). "{port}" in its arguments is replaced by the
//        port.
//   t1   a TCP connect to 127.0.0.1:port succeeds; refused connects are retried every ~50 us
//        (a ppoll on the child's stdout, so a ready line wakes us at once).
//   t2   the whole response to "GET <path>" has arrived (Content-Length, or EOF without it).
//        t2 - t0 is the figure reported.
//   If the child prints a JSON line containing "msg":"ready" on stdout, the time it was read
//   (exec -> ready, as seen by this process) and its "startup_us" field (as the server measured
//   itself) are recorded, and ready -> response is t2 - ready.
//   Then the child is killed (SIGKILL by default) and reaped, and the port is proved free again
//   with a bind test before the next run (the next child must not find a leftover listener).
//
// The output is a markdown table: min/p50/p90/p99/max of exec -> response in milliseconds per
// command, the failure count, and the p50 ratio against the --baseline command (default: the
// last one, which the run script makes the floor program).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness.h"

namespace edgefn::bench {
namespace {

// How long to sleep between refused connects: long enough not to flood the server's CPU with
// SYNs (the client runs on its own CPU anyway), short enough to add at most ~50 us to a figure.
constexpr int64_t kRetryNs = 50 * kNsPerUs;
// After the kill, how long to wait for the child's stdout to reach EOF (a grandchild holding the
// pipe must not hang the harness).
constexpr int64_t kDrainTimeoutNs = 1000 * kNsPerMs;
constexpr std::string_view kSeparator = "---";

struct Options {
  int runs = 200;
  int warmup = 20;
  int port = 0;  // 0: pick a free one
  int cpu_server = -1;
  int cpu_client = -1;
  std::string path = "/hello";
  std::string expect;  // substring the body must contain; empty: only the status is checked
  int64_t timeout_ns = 5000 * kNsPerMs;
  int kill_signal = SIGKILL;
  std::vector<std::string> labels;
  int baseline = -1;  // -1: the last command
  std::string raw_file;
  bool keep_env = false;
  bool verbose = false;
  std::vector<std::vector<std::string>> commands;
};

// One command, resolved once before any fork so the child only calls async-signal-safe
// functions between fork and execve.
struct Command {
  std::string label;
  std::string executable;
  std::vector<std::string> args;
  std::vector<char*> argv;
};

struct Sample {
  int64_t total_ns = 0;        // t0 -> full response
  int64_t connect_ns = 0;      // t0 -> first accepted connect
  int64_t ready_seen_ns = -1;  // t0 -> ready line read by us; -1: none seen before the response
  int64_t startup_us = -1;     // the server's own figure from the ready line; -1: none
};

struct RunResult {
  bool ok = false;
  std::string error;
  Sample sample;
};

constexpr const char* kUsage =
    "usage: coldstart [--runs N] [--warmup W] [--port P] [--cpu-server C]\n"
    "                 [--cpu-client C] [--path /hello] [--expect TEXT]\n"
    "                 [--timeout-ms T] [--signal KILL|TERM] [--label NAME]...\n"
    "                 [--baseline I] [--raw FILE] [--keep-env] [--verbose]\n"
    "                 -- COMMAND ARGS... [--- COMMAND ARGS...]...\n"
    "\"{port}\" in the arguments is replaced by the port.\n";

// `why` null: --help, usage on stdout and exit 0; else the reason and usage on stderr, exit 2.
[[noreturn]] void usage(const char* why) {
  if (why == nullptr) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "coldstart: %s\n", why);
  std::fputs(kUsage, stderr);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options opts;
  int i = 1;
  auto value = [&](const char* flag) -> const char* {
    if (i + 1 >= argc) usage((std::string(flag) + " needs a value").c_str());
    return argv[++i];
  };
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--runs") {
      opts.runs = parse_int("coldstart", "--runs", value("--runs"), 1, 1000000);
    } else if (arg == "--warmup") {
      opts.warmup = parse_int("coldstart", "--warmup", value("--warmup"), 0, 1000000);
    } else if (arg == "--port") {
      opts.port = parse_int("coldstart", "--port", value("--port"), 0, 65535);
    } else if (arg == "--cpu-server") {
      opts.cpu_server =
          parse_int("coldstart", "--cpu-server", value("--cpu-server"), 0, CPU_SETSIZE - 1);
    } else if (arg == "--cpu-client") {
      opts.cpu_client =
          parse_int("coldstart", "--cpu-client", value("--cpu-client"), 0, CPU_SETSIZE - 1);
    } else if (arg == "--path") {
      opts.path = value("--path");
    } else if (arg == "--expect") {
      opts.expect = value("--expect");
    } else if (arg == "--timeout-ms") {
      opts.timeout_ns =
          parse_int("coldstart", "--timeout-ms", value("--timeout-ms"), 1, 600000) * kNsPerMs;
    } else if (arg == "--signal") {
      std::string_view sig = value("--signal");
      if (sig == "KILL") {
        opts.kill_signal = SIGKILL;
      } else if (sig == "TERM") {
        opts.kill_signal = SIGTERM;
      } else {
        usage("--signal: KILL or TERM");
      }
    } else if (arg == "--label") {
      opts.labels.emplace_back(value("--label"));
    } else if (arg == "--baseline") {
      opts.baseline = parse_int("coldstart", "--baseline", value("--baseline"), 0, 1000);
    } else if (arg == "--raw") {
      opts.raw_file = value("--raw");
    } else if (arg == "--keep-env") {
      opts.keep_env = true;
    } else if (arg == "--verbose") {
      opts.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(nullptr);
    } else {
      usage((std::string("unknown option ") + argv[i]).c_str());
    }
  }
  std::vector<std::string> current;
  for (; i < argc; ++i) {
    if (argv[i] == kSeparator) {
      if (current.empty()) usage("empty command before ---");
      opts.commands.push_back(std::move(current));
      current.clear();
    } else {
      current.emplace_back(argv[i]);
    }
  }
  if (!current.empty()) opts.commands.push_back(std::move(current));
  if (opts.commands.empty()) usage("no command after --");
  if (!opts.labels.empty() && opts.labels.size() != opts.commands.size()) {
    usage("give one --label per command, or none");
  }
  if (opts.baseline >= static_cast<int>(opts.commands.size())) usage("--baseline out of range");
  if (opts.baseline < 0) opts.baseline = static_cast<int>(opts.commands.size()) - 1;
  return opts;
}

// PATH lookup done once in the parent; returns the name unchanged when it contains a slash.
std::optional<std::string> resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view path = path_env != nullptr ? path_env : "/usr/bin:/bin";
  while (!path.empty()) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
    std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// The kernel picks a free ephemeral port; a server started right after can bind it.
int pick_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = loopback(0);
  int port = -1;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Collects the child's stdout line by line and notices the first ready line.
class ReadyWatcher {
 public:
  explicit ReadyWatcher(int fd) : fd_(fd) {}

  int fd() const { return fd_; }
  bool eof() const { return eof_; }
  bool seen() const { return seen_; }
  int64_t startup_us() const { return startup_us_; }
  int64_t seen_at() const { return seen_at_; }

  // Reads whatever is available without blocking; `now` is when the data was noticed.
  void drain(int64_t now, bool verbose) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n > 0) {
        consume(std::string_view(buf, static_cast<size_t>(n)), now, verbose);
        continue;
      }
      if (n == 0) eof_ = true;
      if (n < 0 && errno == EINTR) continue;
      return;
    }
  }

 private:
  void consume(std::string_view data, int64_t now, bool verbose) {
    for (char c : data) {
      if (c != '\n') {
        if (line_.size() < 64 * 1024) line_.push_back(c);
        continue;
      }
      if (verbose) std::fprintf(stderr, "  child: %s\n", line_.c_str());
      if (!seen_ && field_at(line_, "\"msg\"") == "\"ready\"") {
        seen_ = true;
        seen_at_ = now;
        startup_us_ = number_field(field_at(line_, "\"startup_us\""));
      }
      line_.clear();
    }
  }

  // The text after `"key"`, optional blanks, ':' and blanks in a JSON line; empty if absent.
  // A tolerant scan, not a JSON parser: the ready line is one flat object.
  static std::string_view field_at(std::string_view line, std::string_view key) {
    size_t pos = line.find(key);
    if (pos == std::string_view::npos) return {};
    pos += key.size();
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    if (pos == line.size() || line[pos] != ':') return {};
    ++pos;
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    std::string_view rest = line.substr(pos);
    if (!rest.empty() && rest[0] == '"') {
      size_t close = rest.find('"', 1);
      return close == std::string_view::npos ? std::string_view() : rest.substr(0, close + 1);
    }
    return rest;
  }

  static int64_t number_field(std::string_view text) {
    int64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      value = value * 10 + (text[i] - '0');
    }
    return i > 0 ? value : -1;
  }

  int fd_;
  bool eof_ = false;
  bool seen_ = false;
  int64_t seen_at_ = -1;
  int64_t startup_us_ = -1;
  std::string line_;
};

class Harness {
 public:
  Harness(const Options& opts, char** envp, int port) : opts_(opts), envp_(envp), port_(port) {
    devnull_ = open("/dev/null", O_RDWR | O_CLOEXEC);
    request_ = "GET " + opts.path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
               "\r\nUser-Agent: coldstart\r\nConnection: close\r\n\r\n";
  }
  ~Harness() {
    if (devnull_ >= 0) close(devnull_);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  RunResult run_once(Command& cmd) {
    RunResult result;
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      result.error = std::string("pipe2: ") + std::strerror(errno);
      return result;
    }
    const int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) exec_child(cmd, pipe_fds[1]);
    close(pipe_fds[1]);
    if (pid < 0) {
      close(pipe_fds[0]);
      result.error = std::string("fork: ") + std::strerror(errno);
      return result;
    }
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    ReadyWatcher watcher(pipe_fds[0]);
    const int64_t deadline = t0 + opts_.timeout_ns;

    bool exited = false;
    int wait_status = 0;
    int sock = connect_loop(pid, watcher, deadline, exited, wait_status, result.error);
    if (sock >= 0) {
      result.sample.connect_ns = now_ns() - t0;
      int64_t done = exchange(sock, watcher, deadline, result.error);
      close(sock);
      if (done > 0) {
        result.sample.total_ns = done - t0;
        result.ok = true;
      }
    }

    if (!exited) {
      kill(pid, opts_.kill_signal);
      drain_to_eof(watcher);
      waitpid(pid, &wait_status, 0);
    } else {
      drain_to_eof(watcher);
    }
    close(pipe_fds[0]);
    if (watcher.seen()) {
      // The ready line counts as "seen" only if it was read before the response completed;
      // otherwise the time it was read says nothing about when it was written.
      if (result.ok && watcher.seen_at() - t0 <= result.sample.total_ns) {
        result.sample.ready_seen_ns = watcher.seen_at() - t0;
      }
      result.sample.startup_us = watcher.startup_us();
    }
    if (!wait_port_free(port_)) {
      result.ok = false;
      result.error =
          "port " + std::to_string(port_) + " still bound 2 s after the child was reaped";
      port_stuck_ = true;
    }
    return result;
  }

  bool port_stuck() const { return port_stuck_; }

 private:
  [[noreturn]] void exec_child(Command& cmd, int stdout_fd) {
    // Only async-signal-safe calls between fork and execve. The child dies with the harness
    // (killed, Ctrl-C'd), so an interrupted measurement leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (opts_.cpu_server >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<size_t>(opts_.cpu_server), &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    dup2(devnull_, STDIN_FILENO);
    dup2(stdout_fd, STDOUT_FILENO);
    if (!opts_.verbose) dup2(devnull_, STDERR_FILENO);
    execve(cmd.executable.c_str(), cmd.argv.data(), envp_);
    _exit(127);
  }

  // Returns a connected socket, or -1 with `error` set (timeout, child exit, socket error).
  int connect_loop(pid_t pid, ReadyWatcher& watcher, int64_t deadline, bool& exited,
                   int& wait_status, std::string& error) {
    sockaddr_in addr = loopback(port_);
    for (;;) {
      int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sock < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return -1;
      }
      if (connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return sock;
      int err = errno;
      close(sock);
      if (err != ECONNREFUSED && err != EINTR && err != EAGAIN) {
        error = std::string("connect: ") + std::strerror(err);
        return -1;
      }
      if (waitpid(pid, &wait_status, WNOHANG) == pid) {
        exited = true;
        error = "child " + describe_exit(wait_status) + " before accepting a connection";
        return -1;
      }
      int64_t now = now_ns();
      if (now > deadline) {
        error = "no connection accepted within the timeout";
        return -1;
      }
      // Sleep ~50 us, but wake as soon as the child writes to stdout. Once its stdout is
      // closed the pipe is always readable, so plain sleep then.
      timespec pause = to_timespec(kRetryNs);
      if (watcher.eof()) {
        nanosleep(&pause, nullptr);
      } else {
        pollfd pfd{watcher.fd(), POLLIN, 0};
        if (ppoll(&pfd, 1, &pause, nullptr) > 0) watcher.drain(now_ns(), opts_.verbose);
      }
    }
  }

  // Sends the request and reads the whole response. Returns the completion time, or -1.
  int64_t exchange(int sock, ReadyWatcher& watcher, int64_t deadline, std::string& error) {
    size_t sent = 0;
    while (sent < request_.size()) {
      ssize_t n = send(sock, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = std::string("send: ") + std::strerror(errno);
        return -1;
      }
      sent += static_cast<size_t>(n);
    }
    response_.clear();
    ResponseState state;
    char buf[16384];
    for (;;) {
      int64_t now = now_ns();
      if (now > deadline) {
        error = "response not complete within the timeout";
        return -1;
      }
      pollfd pfds[2] = {{sock, POLLIN, 0}, {watcher.fd(), POLLIN, 0}};
      timespec remaining = to_timespec(deadline - now);
      int ready = ppoll(pfds, watcher.eof() ? 1 : 2, &remaining, nullptr);
      if (ready < 0 && errno != EINTR) {
        error = std::string("ppoll: ") + std::strerror(errno);
        return -1;
      }
      if (!watcher.eof() && (pfds[1].revents & (POLLIN | POLLHUP)) != 0) {
        watcher.drain(now_ns(), opts_.verbose);
      }
      if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = recv(sock, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        error = std::string("recv: ") + std::strerror(errno);
        return -1;
      }
      response_.append(buf, static_cast<size_t>(n));
      if (response_complete(response_, n == 0, state)) {
        int64_t done = now_ns();
        if (state.status != 200) {
          error = "status " + std::to_string(state.status) + " (want 200)";
          return -1;
        }
        if (!opts_.expect.empty() &&
            response_.find(opts_.expect, state.head_end) == std::string::npos) {
          error = "body does not contain \"" + opts_.expect + "\"";
          return -1;
        }
        return done;
      }
      if (n == 0) {
        error = "connection closed before the response was complete";
        return -1;
      }
    }
  }

  // After the kill: collect what the child wrote (a ready line it printed late, for the
  // startup_us figure) until its stdout closes.
  void drain_to_eof(ReadyWatcher& watcher) {
    int64_t deadline = now_ns() + kDrainTimeoutNs;
    while (!watcher.eof()) {
      int64_t now = now_ns();
      if (now > deadline) return;
      pollfd pfd{watcher.fd(), POLLIN, 0};
      timespec remaining = to_timespec(deadline - now);
      if (ppoll(&pfd, 1, &remaining, nullptr) <= 0) continue;
      // Data read after the response is stamped "late" by the caller's comparison.
      watcher.drain(now_ns(), opts_.verbose);
    }
  }

  const Options& opts_;
  char** envp_;
  int port_;
  int devnull_ = -1;
  bool port_stuck_ = false;
  std::string request_;
  std::string response_;
};

// Nearest-rank percentile of a sorted vector.
int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return -1;
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

struct Stats {
  std::vector<int64_t> total_ns;
  std::vector<int64_t> connect_ns;
  std::vector<int64_t> ready_seen_ns;
  std::vector<int64_t> startup_ns;
  std::vector<int64_t> ready_to_response_ns;
  int failures = 0;
  std::string first_error;
};

std::string ms(int64_t ns) {
  if (ns < 0) return "–";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) / static_cast<double>(kNsPerMs));
  return text;
}

std::string p50_ms(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  return ms(percentile(values, 0.5));
}

int run(int argc, char** argv, char** environ_in) {
  Options opts = parse_options(argc, argv);
  int port = opts.port != 0 ? opts.port : pick_free_port();
  if (port <= 0) {
    std::fprintf(stderr, "coldstart: cannot find a free port\n");
    return 1;
  }
  if (!port_is_free(port)) {
    std::fprintf(stderr, "coldstart: port %d is in use\n", port);
    return 1;
  }
  std::string port_text = std::to_string(port);

  std::vector<Command> commands(opts.commands.size());
  for (size_t c = 0; c < commands.size(); ++c) {
    Command& cmd = commands[c];
    std::optional<std::string> exe = resolve_executable(opts.commands[c][0]);
    if (!exe) {
      std::fprintf(stderr, "coldstart: %s: not found or not executable\n",
                   opts.commands[c][0].c_str());
      return 1;
    }
    cmd.executable = *exe;
    for (const std::string& arg : opts.commands[c]) {
      cmd.args.push_back(replace_all(arg, "{port}", port_text));
    }
    for (std::string& arg : cmd.args)
      cmd.argv.push_back(arg.data());
    cmd.argv.push_back(nullptr);
    if (!opts.labels.empty()) {
      cmd.label = opts.labels[c];
    } else {
      cmd.label = opts.commands[c][0].substr(opts.commands[c][0].rfind('/') + 1);
    }
  }

  // A minimal environment by default: inherited variables (NODE_EXTRA_CA_CERTS and friends)
  // can change a peer's start time by a factor, and every command should see the same one.
  static char kPath[] = "PATH=/usr/local/bin:/usr/bin:/bin";
  static char kLang[] = "LANG=C";
  char* minimal_env[] = {kPath, kLang, nullptr};
  char** envp = opts.keep_env ? environ_in : minimal_env;

  if (opts.cpu_client >= 0 && !pin_to_cpu(opts.cpu_client)) {
    std::fprintf(stderr, "coldstart: cannot pin to CPU %d: %s\n", opts.cpu_client,
                 std::strerror(errno));
    return 1;
  }

  Harness harness(opts, envp, port);
  std::vector<Stats> stats(commands.size());
  for (Stats& s : stats) {
    s.total_ns.reserve(static_cast<size_t>(opts.runs));
  }
  std::FILE* raw = nullptr;
  if (!opts.raw_file.empty()) {
    raw = std::fopen(opts.raw_file.c_str(), "w");
    if (raw == nullptr) {
      std::fprintf(stderr, "coldstart: %s: %s\n", opts.raw_file.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(raw, "label\trun\ttotal_us\tconnect_us\tready_seen_us\tstartup_us\n");
  }

  std::fprintf(stderr, "coldstart: port %d, %d warm-up + %d runs per command, %zu commands\n", port,
               opts.warmup, opts.runs, commands.size());
  for (int r = 0; r < opts.warmup + opts.runs; ++r) {
    const bool measured = r >= opts.warmup;
    for (size_t c = 0; c < commands.size(); ++c) {
      RunResult res = harness.run_once(commands[c]);
      Stats& s = stats[c];
      if (!res.ok) {
        if (s.first_error.empty()) s.first_error = res.error;
        if (measured) ++s.failures;
        if (opts.verbose || r == 0) {
          std::fprintf(stderr, "coldstart: %s run %d: %s\n", commands[c].label.c_str(), r,
                       res.error.c_str());
        }
        if (harness.port_stuck()) {
          std::fprintf(stderr, "coldstart: giving up: the port stays bound\n");
          if (raw != nullptr) std::fclose(raw);
          return 1;
        }
        continue;
      }
      if (!measured) continue;
      const Sample& sm = res.sample;
      s.total_ns.push_back(sm.total_ns);
      s.connect_ns.push_back(sm.connect_ns);
      if (sm.ready_seen_ns >= 0) {
        s.ready_seen_ns.push_back(sm.ready_seen_ns);
        s.ready_to_response_ns.push_back(sm.total_ns - sm.ready_seen_ns);
      }
      if (sm.startup_us >= 0) s.startup_ns.push_back(sm.startup_us * kNsPerUs);
      if (raw != nullptr) {
        std::fprintf(
            raw, "%s\t%d\t%lld\t%lld\t%lld\t%lld\n", commands[c].label.c_str(), r - opts.warmup,
            static_cast<long long>(sm.total_ns / kNsPerUs),
            static_cast<long long>(sm.connect_ns / kNsPerUs),
            static_cast<long long>(sm.ready_seen_ns < 0 ? -1 : sm.ready_seen_ns / kNsPerUs),
            static_cast<long long>(sm.startup_us));
      }
    }
  }
  if (raw != nullptr) std::fclose(raw);

  std::vector<int64_t> p50s(commands.size(), -1);
  for (size_t c = 0; c < commands.size(); ++c) {
    std::sort(stats[c].total_ns.begin(), stats[c].total_ns.end());
    p50s[c] = percentile(stats[c].total_ns, 0.5);
  }
  const int64_t base = p50s[static_cast<size_t>(opts.baseline)];
  std::printf(
      "| command | runs | failed | min ms | p50 ms | p90 ms | p99 ms | max ms | p50 / %s | "
      "connect p50 | exec→ready p50 | ready→response p50 | startup (self) p50 |\n",
      commands[static_cast<size_t>(opts.baseline)].label.c_str());
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t c = 0; c < commands.size(); ++c) {
    const Stats& s = stats[c];
    const std::vector<int64_t>& t = s.total_ns;
    std::string ratio = "–";
    if (p50s[c] > 0 && base > 0) {
      char text[32];
      std::snprintf(text, sizeof text, "%.2f×",
                    static_cast<double>(p50s[c]) / static_cast<double>(base));
      ratio = text;
    }
    std::printf("| %s | %zu | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                commands[c].label.c_str(), t.size(), s.failures,
                ms(t.empty() ? -1 : t.front()).c_str(), ms(percentile(t, 0.5)).c_str(),
                ms(percentile(t, 0.9)).c_str(), ms(percentile(t, 0.99)).c_str(),
                ms(t.empty() ? -1 : t.back()).c_str(), ratio.c_str(), p50_ms(s.connect_ns).c_str(),
                p50_ms(s.ready_seen_ns).c_str(), p50_ms(s.ready_to_response_ns).c_str(),
                p50_ms(s.startup_ns).c_str());
  }
  bool any_failed = false;
  for (size_t c = 0; c < commands.size(); ++c) {
    if (!stats[c].first_error.empty()) {
      std::fprintf(stderr, "coldstart: %s: first error: %s\n", commands[c].label.c_str(),
                   stats[c].first_error.c_str());
    }
    if (stats[c].total_ns.empty()) any_failed = true;
  }
  return any_failed ? 1 : 0;
}

}  // namespace
}  // namespace edgefn::bench

int main(int argc, char** argv) {
  return edgefn::bench::run(argc, argv, environ);
}
