// Descriptor limits, /proc look-ups and /metrics samples for load tests (see load_util.h).
#include "tests/integration/load_util.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "tests/integration/http_client.h"

namespace edgefn::integration {

std::string raise_open_file_limit(std::uint64_t needed) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) {
    return std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
  }
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) {
      return std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    }
  }
  if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < needed) {
    return "RLIMIT_NOFILE hard limit " + std::to_string(files.rlim_max) + " is below the " +
           std::to_string(needed) + " descriptors this test needs";
  }
  return {};
}

namespace {

// Field 4 of /proc/<pid>/stat (the parent), read after the last ')' since the command name may
// hold spaces and parentheses.
std::optional<pid_t> parent_of(const std::filesystem::path& proc_entry) {
  std::ifstream file(proc_entry / "stat");
  std::string stat;
  if (!std::getline(file, stat)) return std::nullopt;  // one line; the process may be gone
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  pid_t parent = 0;
  if (!(fields >> state >> parent)) return std::nullopt;
  if (state == "Z") return std::nullopt;  // exited, not reaped yet: no longer running
  return parent;
}

}  // namespace

std::optional<pid_t> child_running(const std::string& binary) {
  std::error_code error;
  const std::filesystem::path wanted = std::filesystem::canonical(binary, error);
  if (error) return std::nullopt;
  std::optional<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    const auto [end, parse_error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse_error != std::errc() || end != name.data() + name.size()) continue;
    if (parent_of(entry.path()) != ::getpid()) continue;
    std::error_code unreadable;
    if (std::filesystem::read_symlink(entry.path() / "exe", unreadable) != wanted) continue;
    if (found) return std::nullopt;  // several servers: the caller cannot tell which
    found = pid;
  }
  return found;
}

std::optional<std::size_t> resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("VmRSS:")) continue;
    std::istringstream fields(line.substr(6));
    std::size_t kib = 0;
    std::string unit;
    if (fields >> kib >> unit && unit == "kB") return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

namespace {

std::optional<std::string> scrape(std::uint16_t admin_port) {
  HttpResponse response;
  if (!exchange(admin_port, get_request("/metrics"), response) || response.status != 200) {
    return std::nullopt;
  }
  return response.body;
}

// The value after the series name on one sample line.
std::optional<double> sample_value(std::string_view rest) {
  while (!rest.empty() && rest.front() == ' ')
    rest.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (error != std::errc() || end == rest.data()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<double> metric_value(std::uint16_t admin_port, std::string_view series) {
  const std::optional<std::string> text = scrape(admin_port);
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series) && line.size() > series.size() && line[series.size()] == ' ') {
      return sample_value(std::string_view(line).substr(series.size()));
    }
  }
  return std::nullopt;
}

std::optional<double> metric_sum(std::uint16_t admin_port, std::string_view name) {
  const std::optional<std::string> text = scrape(admin_port);
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    std::string_view rest = std::string_view(line).substr(name.size());
    if (rest.front() == '{') {
      const std::size_t close = rest.find('}');
      if (close == std::string_view::npos) continue;
      rest.remove_prefix(close + 1);
    } else if (rest.front() != ' ') {
      continue;  // another family sharing the prefix
    }
    if (const std::optional<double> value = sample_value(rest)) sum = sum.value_or(0) + *value;
  }
  return sum;
}

::testing::AssertionResult metric_becomes(std::uint16_t admin_port, std::string_view series,
                                          double expected, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::optional<double> last;
  while (true) {
    last = metric_value(admin_port, series);
    if (last == expected) return ::testing::AssertionSuccess();
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(Millis{20});
  }
  auto failure = ::testing::AssertionFailure();
  failure << series << " did not become " << expected << " within " << timeout.count()
          << " ms; last: ";
  if (last) {
    failure << *last;
  } else {
    failure << "(no sample)";
  }
  return failure;
}

int connect_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace edgefn::integration
