// What the cold-start tools share: monotonic time, argument parsing, loopback ports, CPU pinning,
// and telling a complete HTTP/1.1 response (head plus Content-Length bytes) from a partial one.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace edgefn::bench {

inline constexpr int64_t kNsPerUs = 1000;
inline constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
inline constexpr int64_t kNsPerSec = 1000 * kNsPerMs;
// How long a stopped server's port may take to become bindable again, and how often to look.
inline constexpr int64_t kPortFreeTimeoutNs = 2 * kNsPerSec;
inline constexpr int64_t kPortPollNs = 50 * kNsPerUs;

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

inline timespec to_timespec(int64_t ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / kNsPerSec);
  ts.tv_nsec = static_cast<long>(ns % kNsPerSec);
  return ts;
}

inline int parse_int(const char* program, const char* flag, const char* text, int min, int max) {
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    std::fprintf(stderr, "%s: %s: expected an integer in [%d, %d], got \"%s\"\n", program, flag,
                 min, max, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

inline sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// True if 127.0.0.1:port can be bound the way a server binds it (SO_REUSEADDR, so TIME_WAIT
// leftovers do not count, but no SO_REUSEPORT, so any listener still alive does).
inline bool port_is_free(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(port);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

inline bool wait_port_free(int port) {
  int64_t deadline = now_ns() + kPortFreeTimeoutNs;
  while (!port_is_free(port)) {
    if (now_ns() > deadline) return false;
    timespec pause = to_timespec(kPortPollNs);
    nanosleep(&pause, nullptr);
  }
  return true;
}

inline bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<size_t>(cpu), &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

inline std::string describe_exit(int status) {
  char text[64];
  if (WIFEXITED(status)) {
    std::snprintf(text, sizeof text, "exited with status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    std::snprintf(text, sizeof text, "killed by signal %d", WTERMSIG(status));
  } else {
    std::snprintf(text, sizeof text, "wait status %d", status);
  }
  return text;
}

// Lower-case ASCII comparison of a header name.
inline bool header_name_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

// Parses what has arrived so far. Returns true once the response is complete: the head and
// Content-Length bytes of body, or (without Content-Length) the peer closed.
struct ResponseState {
  size_t head_end = 0;  // offset of the body; 0 until the head is complete
  int64_t content_length = -1;
  int status = 0;
};

inline bool response_complete(const std::string& data, bool peer_closed, ResponseState& state) {
  if (state.head_end == 0) {
    size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    state.head_end = end + 4;
    std::string_view head(data.data(), end);
    if (head.size() >= 12 && head.substr(0, 5) == "HTTP/") {
      size_t space = head.find(' ');
      if (space != std::string_view::npos) state.status = std::atoi(head.data() + space + 1);
    }
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(
          pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      if (header_name_is(line, "content-length")) {
        state.content_length = std::strtoll(line.data() + 15, nullptr, 10);
      }
      pos = next;
    }
  }
  if (state.content_length >= 0) {
    return data.size() >= state.head_end + static_cast<size_t>(state.content_length);
  }
  return peer_closed;
}

}  // namespace edgefn::bench
