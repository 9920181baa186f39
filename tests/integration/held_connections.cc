// Many idle keep-alive connections from one poll loop (see held_connections.h).
#include "tests/integration/held_connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "tests/integration/http_client.h"
#include "tests/integration/load_util.h"

namespace edgefn::integration {

int connect_nonblocking(std::uint16_t port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

namespace {

// "" once `bytes` hold one good response, nullopt while more is needed, else what is wrong.
std::optional<std::string> judge_response(std::string_view bytes) {
  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (bytes.size() > 16 * 1024) return "no end of the response head in 16 KiB";
    return std::nullopt;
  }
  std::string head(bytes.substr(0, head_end));
  std::transform(head.begin(), head.end(), head.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (!head.starts_with("http/1.1 200 ")) return "not a 200: " + printable(head, 80);
  if (head.find("\r\nconnection: close") != std::string::npos) return "Connection: close";
  constexpr std::string_view kLength = "\r\ncontent-length: ";
  const std::size_t at = head.find(kLength);
  if (at == std::string::npos) return "no Content-Length";
  std::size_t length = 0;
  const char* digits = head.data() + at + kLength.size();
  if (std::from_chars(digits, head.data() + head.size(), length).ec != std::errc()) {
    return "bad Content-Length";
  }
  const std::size_t size = head_end + 4 + length;
  if (bytes.size() < size) return std::nullopt;
  if (bytes.size() > size) return "bytes after the response";
  return "";
}

// One connection being set up.
struct Pending {
  int fd = -1;
  bool connected = false;
  std::size_t sent = 0;
  std::string received;
};

}  // namespace

::testing::AssertionResult HeldConnections::open(std::uint16_t port, std::size_t count,
                                                 std::string_view request, Millis timeout,
                                                 std::size_t parallel) {
  const auto deadline = SteadyClock::now() + timeout;
  held_.reserve(held_.size() + count);
  std::vector<Pending> pending;
  std::vector<pollfd> waiting;
  std::size_t started = 0;
  std::size_t failed = 0;
  std::string failures;
  const auto fail = [&](Pending& connection, std::string reason) {
    if (++failed <= 3) failures += "\n  " + reason;
    ::close(connection.fd);
    connection.fd = -1;
  };

  while (started < count || !pending.empty()) {
    if (SteadyClock::now() >= deadline) {
      for (Pending& connection : pending)
        ::close(connection.fd);
      return ::testing::AssertionFailure()
             << "after " << timeout.count() << " ms: " << held_.size() << " held, " << failed
             << " failed, " << pending.size() << " still being set up, " << count - started
             << " not started" << failures;
    }
    while (started < count && pending.size() < parallel) {
      ++started;
      Pending connection;
      connection.fd = connect_nonblocking(port);
      if (connection.fd < 0) {
        if (++failed <= 3) failures += std::string("\n  socket/connect: ") + std::strerror(errno);
        continue;
      }
      pending.push_back(std::move(connection));
    }
    waiting.clear();
    for (const Pending& connection : pending) {
      const bool sending = !connection.connected || connection.sent < request.size();
      waiting.push_back({connection.fd, static_cast<short>(sending ? POLLOUT : POLLIN), 0});
    }
    if (::poll(waiting.data(), waiting.size(), 100) < 0 && errno != EINTR) {
      return ::testing::AssertionFailure() << "poll: " << std::strerror(errno);
    }
    for (std::size_t i = 0; i < pending.size(); ++i) {
      Pending& connection = pending[i];
      if (waiting[i].revents == 0) continue;
      if (!connection.connected) {
        if (const int error = connect_error(connection.fd); error != 0) {
          fail(connection, std::string("connect: ") + std::strerror(error));
          continue;
        }
        connection.connected = true;
      }
      if (connection.sent < request.size()) {
        const ssize_t n = ::send(connection.fd, request.data() + connection.sent,
                                 request.size() - connection.sent, MSG_NOSIGNAL);
        if (n > 0) {
          connection.sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          fail(connection, std::string("send: ") + std::strerror(errno));
        }
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::recv(connection.fd, buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        fail(connection, n == 0 ? std::string("closed before a whole response")
                                : std::string("recv: ") + std::strerror(errno));
        continue;
      }
      connection.received.append(buffer, static_cast<std::size_t>(n));
      const std::optional<std::string> verdict = judge_response(connection.received);
      if (!verdict) continue;
      if (!verdict->empty()) {
        fail(connection, *verdict);
        continue;
      }
      held_.push_back(connection.fd);
      connection.fd = -1;
    }
    std::erase_if(pending, [](const Pending& connection) { return connection.fd < 0; });
  }
  if (failed > 0) {
    return ::testing::AssertionFailure()
           << failed << " of " << count << " connections failed; first reasons:" << failures;
  }
  return ::testing::AssertionSuccess();
}

std::size_t HeldConnections::count_disturbed() {
  std::size_t disturbed = 0;
  std::vector<pollfd> waiting;
  waiting.reserve(held_.size());
  for (int fd : held_)
    waiting.push_back({fd, POLLIN, 0});
  if (::poll(waiting.data(), waiting.size(), 0) <= 0) return 0;
  held_.clear();
  for (const pollfd& entry : waiting) {
    // An idle connection becomes readable only when the server closes it or sends something it
    // should not: either way, it is no longer one the server holds idle.
    if (entry.revents == 0) {
      held_.push_back(entry.fd);
    } else {
      ++disturbed;
      ::close(entry.fd);
    }
  }
  return disturbed;
}

void HeldConnections::close_all() {
  for (int fd : held_)
    ::close(fd);
  held_.clear();
}

}  // namespace edgefn::integration
