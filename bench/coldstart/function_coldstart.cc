// bench/coldstart/function_coldstart.cc: a function's first request after start vs its Nth.

// Usage:
//   function_coldstart [--runs 30] [--warmup 2] [--requests 100] [--port P] [--cpu-server C]
//                      [--cpu-client C] [--timeout-ms 5000] [--no-rotate] [--raw FILE]
//                      [--data FILE] [--verbose]
//                      --function NAME METHOD PATH [--body-file FILE] [--content-type TYPE]
//                      [--expect TEXT] [--function ...]...
//                      -- COMMAND ARGS...
//
// The claim under test: modules are created before the server listens, so the first request a
// function gets is not slower than its later ones. One run:
//   - the command is started (pinned to --cpu-server, stdout on a pipe, stdin and stderr on
//     /dev/null, a minimal environment; "{port}" in its arguments replaced by the port), and
//     its "msg":"ready" line is awaited;
//   - each function in turn gets --requests requests, each on a fresh connection, so the first
//     and the last pay the same connect and accept; only send -> complete response is timed
//     (CLOCK_MONOTONIC), the connect before it is not. The first and the last are kept;
//   - the server is stopped (SIGTERM, SIGKILL after the timeout) and reaped, and the port is
//     proved free with a bind test before the next run.
// The function order rotates from run to run (A B C, B C A, C A B, ...), so each function is
// the process's first about as often: that request also pays the worker's first accept, read and
// write, and is reported on its own row. --warmup runs are discarded (the first start after a
// while idle is slow for reasons outside the server).
//
// Output: a markdown table on stdout, per function: p50/p90 of the first and the last request in
// microseconds, their p50 ratio, and the first request's p50 over the runs where it was not the
// process's first; then the process's first request. --data writes
// "function<TAB>first_p50_us<TAB>last_p50_us<TAB>ratio" lines; --raw every sample.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
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
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"

namespace edgefn::bench {
namespace {

constexpr int64_t kPollNs = 50 * kNsPerUs;
constexpr size_t kResponseReserve = 256 * 1024;

void pause_ns(int64_t ns) {
  timespec ts = to_timespec(ns);
  nanosleep(&ts, nullptr);
}

// An owned descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct FunctionSpec {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  std::string content_type;
  std::string expect;  // a substring the body must contain; empty: only the status is checked
  std::string request;
};

struct Options {
  int runs = 30;
  int warmup = 2;
  int requests = 100;
  int port = 0;
  int cpu_server = -1;
  int cpu_client = -1;
  int64_t timeout_ns = 5 * kNsPerSec;
  bool rotate = true;
  bool verbose = false;
  std::string raw_file;
  std::string data_file;
  std::vector<FunctionSpec> functions;
  std::vector<std::string> command;
};

constexpr const char* kUsage =
    "usage: function_coldstart [--runs 30] [--warmup 2] [--requests 100] [--port P]\n"
    "           [--cpu-server C] [--cpu-client C] [--timeout-ms 5000] [--no-rotate]\n"
    "           [--raw FILE] [--data FILE] [--verbose]\n"
    "           --function NAME METHOD PATH [--body-file FILE] [--content-type TYPE]\n"
    "           [--expect TEXT] [--function ...]... -- COMMAND ARGS...\n"
    "--body-file, --content-type and --expect apply to the --function before them.\n"
    "\"{port}\" in the command's arguments is replaced by the port.\n";

[[noreturn]] void usage(const char* why) {
  if (why == nullptr) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "function_coldstart: %s\n", why);
  std::fputs(kUsage, stderr);
  std::exit(2);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

Options parse_options(int argc, char** argv) {
  Options opts;
  int i = 1;
  auto value = [&](const char* flag) -> const char* {
    if (i + 1 >= argc) usage((std::string(flag) + " needs a value").c_str());
    return argv[++i];
  };
  auto last_function = [&](const char* flag) -> FunctionSpec& {
    if (opts.functions.empty()) usage((std::string(flag) + " before any --function").c_str());
    return opts.functions.back();
  };
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--runs") {
      opts.runs = parse_int("function_coldstart", "--runs", value("--runs"), 1, 100000);
    } else if (arg == "--warmup") {
      opts.warmup = parse_int("function_coldstart", "--warmup", value("--warmup"), 0, 100000);
    } else if (arg == "--requests") {
      opts.requests = parse_int("function_coldstart", "--requests", value("--requests"), 2, 100000);
    } else if (arg == "--port") {
      opts.port = parse_int("function_coldstart", "--port", value("--port"), 1, 65535);
    } else if (arg == "--cpu-server") {
      opts.cpu_server = parse_int("function_coldstart", "--cpu-server", value("--cpu-server"), 0,
                                  CPU_SETSIZE - 1);
    } else if (arg == "--cpu-client") {
      opts.cpu_client = parse_int("function_coldstart", "--cpu-client", value("--cpu-client"), 0,
                                  CPU_SETSIZE - 1);
    } else if (arg == "--timeout-ms") {
      opts.timeout_ns =
          parse_int("function_coldstart", "--timeout-ms", value("--timeout-ms"), 1, 600000) *
          kNsPerMs;
    } else if (arg == "--no-rotate") {
      opts.rotate = false;
    } else if (arg == "--raw") {
      opts.raw_file = value("--raw");
    } else if (arg == "--data") {
      opts.data_file = value("--data");
    } else if (arg == "--verbose") {
      opts.verbose = true;
    } else if (arg == "--function") {
      FunctionSpec spec;
      spec.name = value("--function");
      spec.method = value("--function");
      spec.path = value("--function");
      opts.functions.push_back(std::move(spec));
    } else if (arg == "--body-file") {
      FunctionSpec& spec = last_function("--body-file");
      const char* file = value("--body-file");
      std::optional<std::string> body = read_file(file);
      if (!body) usage((std::string("cannot read ") + file).c_str());
      spec.body = std::move(*body);
    } else if (arg == "--content-type") {
      last_function("--content-type").content_type = value("--content-type");
    } else if (arg == "--expect") {
      last_function("--expect").expect = value("--expect");
    } else if (arg == "--help" || arg == "-h") {
      usage(nullptr);
    } else {
      usage((std::string("unknown option ") + argv[i]).c_str());
    }
  }
  for (; i < argc; ++i)
    opts.command.emplace_back(argv[i]);
  if (opts.functions.empty()) usage("no --function given");
  if (opts.command.empty()) usage("no command after --");
  if (opts.command[0].find('/') == std::string::npos) usage("give the command as a path");
  if (opts.port == 0) usage("--port is required");
  return opts;
}

// Connection: close on every request: each one gets a connection of its own anyway, and the
// server then closes its side without waiting for an idle timeout.
std::string build_request(const FunctionSpec& spec, int port) {
  std::string request = spec.method + " " + spec.path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUser-Agent: function_coldstart\r\n";
  if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT") {
    if (!spec.content_type.empty()) request += "Content-Type: " + spec.content_type + "\r\n";
    request += "Content-Length: " + std::to_string(spec.body.size()) + "\r\n";
  }
  request += "Connection: close\r\n\r\n";
  request += spec.body;
  return request;
}

// The server process: started by the constructor, stopped by stop() or, at the latest, by the
// destructor, so an error path never leaves one running.
class Server {
 public:
  Server(const std::vector<std::string>& command, const Options& opts)
      : verbose_(opts.verbose), timeout_ns_(opts.timeout_ns) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      error_ = std::string("pipe2: ") + std::strerror(errno);
      return;
    }
    out_ = Fd(pipe_fds[0]);
    Fd child_out(pipe_fds[1]);
    Fd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
    std::vector<std::string> args = command;
    std::vector<char*> argv;
    for (std::string& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    // A minimal environment, as coldstart's: inherited variables must not change the figures.
    static char kPath[] = "PATH=/usr/local/bin:/usr/bin:/bin";
    static char kLang[] = "LANG=C";
    char* envp[] = {kPath, kLang, nullptr};

    pid_ = fork();
    if (pid_ == 0) {
      // The server dies with this process, so an interrupted measurement leaves none behind.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (opts.cpu_server >= 0) pin_to_cpu(opts.cpu_server);
      dup2(devnull.get(), STDIN_FILENO);
      dup2(child_out.get(), STDOUT_FILENO);
      if (!verbose_) dup2(devnull.get(), STDERR_FILENO);
      execve(argv[0], argv.data(), envp);
      _exit(127);
    }
    if (pid_ < 0) error_ = std::string("fork: ") + std::strerror(errno);
    fcntl(out_.get(), F_SETFL, O_NONBLOCK);
  }
  ~Server() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& error() const { return error_; }

  // Waits for the ready line on the server's stdout.
  bool wait_ready() {
    const int64_t deadline = now_ns() + timeout_ns_;
    while (!ready_) {
      if (!drain()) return false;
      if (ready_) break;
      const int64_t now = now_ns();
      if (now > deadline) {
        error_ = "no ready line within the timeout";
        return false;
      }
      pollfd pfd{out_.get(), POLLIN, 0};
      timespec remaining = to_timespec(deadline - now);
      ppoll(&pfd, 1, &remaining, nullptr);
    }
    return true;
  }

  // Reads what the server wrote so far without blocking, so a full pipe never stalls it.
  // Returns false (with error()) once its stdout is closed: it is exiting.
  bool drain() {
    if (read_available()) return true;
    error_ = "the server closed its stdout" + exit_status();
    return false;
  }

  // SIGTERM (the server drains: nothing is in flight), then SIGKILL after the timeout. Returns
  // false when it had to be killed or exited with an error.
  bool stop() {
    if (pid_ <= 0 || reaped_) return false;
    kill(pid_, SIGTERM);
    const int64_t deadline = now_ns() + timeout_ns_;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (now_ns() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        reaped_ = true;
        error_ = "the server did not stop on SIGTERM within the timeout";
        return false;
      }
      read_available();  // its last lines; EOF is expected here
      pause_ns(kPollNs);
    }
    reaped_ = true;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      error_ = "after SIGTERM the server " + describe_exit(status);
      return false;
    }
    return true;
  }

 private:
  // Returns false at EOF.
  bool read_available() {
    char buf[4096];
    for (;;) {
      ssize_t n = read(out_.get(), buf, sizeof buf);
      if (n > 0) {
        consume(std::string_view(buf, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n != 0;  // n < 0: EAGAIN, nothing more for now
    }
  }

  // After an unexpected EOF: how the server ended, if it did within a second (else the
  // destructor kills it).
  std::string exit_status() {
    const int64_t deadline = now_ns() + kNsPerSec;
    int status = 0;
    while (now_ns() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return ": it " + describe_exit(status);
      }
      pause_ns(kPollNs);
    }
    return "";
  }

  void consume(std::string_view data) {
    for (char c : data) {
      if (c != '\n') {
        if (line_.size() < 64 * 1024) line_.push_back(c);
        continue;
      }
      if (verbose_) std::fprintf(stderr, "  server: %s\n", line_.c_str());
      // A tolerant scan, not a JSON parser: the ready line is one flat object.
      if (line_.find("\"msg\":\"ready\"") != std::string::npos) ready_ = true;
      line_.clear();
    }
  }

  bool verbose_;
  int64_t timeout_ns_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool ready_ = false;
  Fd out_;
  std::string line_;
  std::string error_;
};

class Client {
 public:
  // The buffer is sized up front: its growth on the first response would be the client's own
  // first-request cost, inside the timed span.
  Client(int port, int64_t timeout_ns) : addr_(loopback(port)), timeout_ns_(timeout_ns) {
    response_.reserve(kResponseReserve);
  }

  // One request on a fresh connection. Returns send -> complete response in ns, or -1 with
  // error() set. The connect is outside the timed span.
  int64_t timed_request(const FunctionSpec& spec) {
    Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) return fail(std::string("socket: ") + std::strerror(errno));
    // Bounds a connect to a full backlog (Linux applies the send timeout to connect).
    timeval limit{static_cast<time_t>(timeout_ns_ / kNsPerSec),
                  static_cast<suseconds_t>(timeout_ns_ % kNsPerSec / kNsPerUs)};
    setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0) {
      return fail(std::string("connect: ") + std::strerror(errno));
    }
    const int64_t t0 = now_ns();
    const int64_t deadline = t0 + timeout_ns_;
    size_t sent = 0;
    while (sent < spec.request.size()) {
      ssize_t n =
          send(sock.get(), spec.request.data() + sent, spec.request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
    response_.clear();
    ResponseState state;
    char buf[16384];
    for (;;) {
      const int64_t now = now_ns();
      if (now > deadline) return fail("no complete response within the timeout");
      pollfd pfd{sock.get(), POLLIN, 0};
      timespec remaining = to_timespec(deadline - now);
      int ready = ppoll(&pfd, 1, &remaining, nullptr);
      if (ready < 0 && errno != EINTR) return fail(std::string("ppoll: ") + std::strerror(errno));
      if (ready <= 0) continue;
      ssize_t n = recv(sock.get(), buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return fail(std::string("recv: ") + std::strerror(errno));
      }
      response_.append(buf, static_cast<size_t>(n));
      if (response_complete(response_, n == 0, state)) {
        const int64_t elapsed = now_ns() - t0;
        if (state.status != 200) {
          return fail("status " + std::to_string(state.status) +
                      " (want 200): " + response_.substr(state.head_end, 200));
        }
        if (!spec.expect.empty() &&
            response_.find(spec.expect, state.head_end) == std::string::npos) {
          return fail("body does not contain \"" + spec.expect + "\"");
        }
        return elapsed;
      }
      if (n == 0) return fail("connection closed before the response was complete");
    }
  }

  const std::string& error() const { return error_; }

 private:
  int64_t fail(std::string why) {
    error_ = std::move(why);
    return -1;
  }

  sockaddr_in addr_;
  int64_t timeout_ns_;
  std::string response_;
  std::string error_;
};

// What one successful run measured.
struct RunSample {
  std::vector<int64_t> first_ns;  // per function (index into Options::functions)
  std::vector<int64_t> last_ns;
  size_t process_first = 0;  // the function that got the process's first request
};

// Nearest-rank percentile.
int64_t percentile(std::vector<int64_t> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

double median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::string us(int64_t ns) {
  if (ns < 0) return "–";
  return std::to_string((ns + kNsPerUs / 2) / kNsPerUs);
}

std::string ratio_text(double ratio) {
  if (ratio < 0) return "–";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", ratio);
  return text;
}

double ratio_of(int64_t a, int64_t b) {
  return a > 0 && b > 0 ? static_cast<double>(a) / static_cast<double>(b) : -1;
}

class Bench {
 public:
  explicit Bench(const Options& opts) : opts_(opts), client_(opts.port, opts.timeout_ns) {
    const std::string port = std::to_string(opts.port);
    for (std::string arg : opts.command) {
      for (size_t pos = arg.find("{port}"); pos != std::string::npos; pos = arg.find("{port}"))
        arg.replace(pos, 6, port);
      command_.push_back(std::move(arg));
    }
  }

  // One start of the server; `order` is the sequence of function indexes. Returns the sample,
  // or nullopt with error_ set.
  std::optional<RunSample> run_once(const std::vector<size_t>& order) {
    if (!wait_port_free(opts_.port)) {
      error_ = "port " + std::to_string(opts_.port) + " still bound";
      port_stuck_ = true;
      return std::nullopt;
    }
    Server server(command_, opts_);
    if (!server.error().empty() || !server.wait_ready()) {
      error_ = server.error();
      return std::nullopt;
    }
    RunSample sample;
    sample.first_ns.assign(opts_.functions.size(), -1);
    sample.last_ns.assign(opts_.functions.size(), -1);
    sample.process_first = order.front();
    for (size_t f : order) {
      for (int k = 1; k <= opts_.requests; ++k) {
        if (!server.drain()) {
          error_ = server.error();
          return std::nullopt;
        }
        const int64_t ns = client_.timed_request(opts_.functions[f]);
        if (ns < 0) {
          error_ =
              opts_.functions[f].name + " request " + std::to_string(k) + ": " + client_.error();
          return std::nullopt;
        }
        if (k == 1) sample.first_ns[f] = ns;
        if (k == opts_.requests) sample.last_ns[f] = ns;
      }
    }
    if (!server.stop()) {
      error_ = server.error();
      return std::nullopt;
    }
    return sample;
  }

  bool port_stuck() const { return port_stuck_; }
  const std::string& error() const { return error_; }

 private:
  const Options& opts_;
  Client client_;
  std::vector<std::string> command_;
  std::string error_;
  bool port_stuck_ = false;
};

void print_report(const Options& opts, const std::vector<RunSample>& samples, int failed) {
  const size_t count = opts.functions.size();
  std::printf(
      "| function | runs | failed | first p50 µs | first p90 µs | %dth p50 µs | %dth p90 µs | "
      "first / %dth (p50) | first p50 µs, not the process's first |\n",
      opts.requests, opts.requests, opts.requests);
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  std::vector<int64_t> last_p50(count, -1);
  for (size_t f = 0; f < count; ++f) {
    std::vector<int64_t> first;
    std::vector<int64_t> last;
    std::vector<int64_t> later_first;
    for (const RunSample& s : samples) {
      first.push_back(s.first_ns[f]);
      last.push_back(s.last_ns[f]);
      if (s.process_first != f) later_first.push_back(s.first_ns[f]);
    }
    last_p50[f] = percentile(last, 0.5);
    std::printf("| %s | %zu | %d | %s | %s | %s | %s | %s | %s |\n", opts.functions[f].name.c_str(),
                samples.size(), failed, us(percentile(first, 0.5)).c_str(),
                us(percentile(first, 0.9)).c_str(), us(last_p50[f]).c_str(),
                us(percentile(last, 0.9)).c_str(),
                ratio_text(ratio_of(percentile(first, 0.5), last_p50[f])).c_str(),
                us(percentile(later_first, 0.5)).c_str());
  }

  // The process's first request: whichever function got it, compared with that function's
  // last request of the same run (a paired ratio, so the mix of functions does not matter).
  std::vector<int64_t> process_first;
  std::vector<double> paired;
  std::vector<int> by_function(count, 0);
  for (const RunSample& s : samples) {
    process_first.push_back(s.first_ns[s.process_first]);
    paired.push_back(ratio_of(s.first_ns[s.process_first], s.last_ns[s.process_first]));
    ++by_function[s.process_first];
  }
  std::string mix;
  for (size_t f = 0; f < count; ++f) {
    if (!mix.empty()) mix += ", ";
    mix += opts.functions[f].name + " " + std::to_string(by_function[f]);
  }
  std::printf(
      "\n| the process's first request | runs | p50 µs | p90 µs | median of first / that "
      "function's %dth, same run | runs per function |\n",
      opts.requests);
  std::printf("|---|--:|--:|--:|--:|---|\n");
  std::printf("| any function | %zu | %s | %s | %s | %s |\n", samples.size(),
              us(percentile(process_first, 0.5)).c_str(),
              us(percentile(process_first, 0.9)).c_str(), ratio_text(median(paired)).c_str(),
              mix.c_str());

  if (opts.data_file.empty()) return;
  std::FILE* data = std::fopen(opts.data_file.c_str(), "w");
  if (data == nullptr) {
    std::fprintf(stderr, "function_coldstart: %s: %s\n", opts.data_file.c_str(),
                 std::strerror(errno));
    return;
  }
  for (size_t f = 0; f < count; ++f) {
    std::vector<int64_t> first;
    for (const RunSample& s : samples)
      first.push_back(s.first_ns[f]);
    const int64_t first_p50 = percentile(first, 0.5);
    std::fprintf(data, "%s\t%s\t%s\t%s\n", opts.functions[f].name.c_str(), us(first_p50).c_str(),
                 us(last_p50[f]).c_str(), ratio_text(ratio_of(first_p50, last_p50[f])).c_str());
  }
  std::fclose(data);
}

int run(int argc, char** argv) {
  Options opts = parse_options(argc, argv);
  for (FunctionSpec& spec : opts.functions)
    spec.request = build_request(spec, opts.port);
  if (opts.cpu_client >= 0 && !pin_to_cpu(opts.cpu_client)) {
    std::fprintf(stderr, "function_coldstart: cannot pin to CPU %d: %s\n", opts.cpu_client,
                 std::strerror(errno));
    return 1;
  }
  std::FILE* raw = nullptr;
  if (!opts.raw_file.empty()) {
    raw = std::fopen(opts.raw_file.c_str(), "w");
    if (raw == nullptr) {
      std::fprintf(stderr, "function_coldstart: %s: %s\n", opts.raw_file.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::fprintf(raw, "run\tposition\tfunction\tfirst_us\tlast_us\n");
  }

  Bench bench(opts);
  std::vector<RunSample> samples;
  int failed = 0;
  std::string first_error;
  const size_t count = opts.functions.size();
  std::fprintf(stderr, "function_coldstart: port %d, %d warm-up + %d runs, %zu functions x %d\n",
               opts.port, opts.warmup, opts.runs, count, opts.requests);
  for (int r = 0; r < opts.warmup + opts.runs; ++r) {
    const bool measured = r >= opts.warmup;
    std::vector<size_t> order(count);
    for (size_t i = 0; i < count; ++i)
      order[i] = opts.rotate ? (i + static_cast<size_t>(r)) % count : i;
    std::optional<RunSample> sample = bench.run_once(order);
    if (!sample) {
      if (first_error.empty()) first_error = bench.error();
      if (measured) ++failed;
      std::fprintf(stderr, "function_coldstart: run %d: %s\n", r, bench.error().c_str());
      if (bench.port_stuck()) break;
      continue;
    }
    if (!measured) continue;
    if (raw != nullptr) {
      for (size_t i = 0; i < count; ++i) {
        const size_t f = order[i];
        std::fprintf(raw, "%d\t%zu\t%s\t%s\t%s\n", r - opts.warmup, i + 1,
                     opts.functions[f].name.c_str(), us(sample->first_ns[f]).c_str(),
                     us(sample->last_ns[f]).c_str());
      }
    }
    samples.push_back(std::move(*sample));
  }
  if (raw != nullptr) std::fclose(raw);
  if (samples.empty()) {
    std::fprintf(stderr, "function_coldstart: no run succeeded; first error: %s\n",
                 first_error.c_str());
    return 1;
  }
  print_report(opts, samples, failed);
  return 0;
}

}  // namespace
}  // namespace edgefn::bench

int main(int argc, char** argv) {
  return edgefn::bench::run(argc, argv);
}
