// Raw HTTP/1.1 client for integration tests (see http_client.h).
#include "tests/integration/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace edgefn::integration {

namespace {

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// Parses the head (without the final CRLF CRLF) into `response`; an error message, or empty.
std::string parse_head(std::string_view head, HttpResponse& response) {
  std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.x SSS reason"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return "malformed status line";
  }
  response.version = std::string(status_line.substr(0, 8));
  const std::string_view code = status_line.substr(9, 3);
  int status = 0;
  const auto [end, error] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (error != std::errc() || end != code.data() + code.size() || status < 100) {
    return "malformed status code";
  }
  response.status = status;
  response.reason = status_line.size() > 13 ? std::string(status_line.substr(13)) : "";

  while (line_end != std::string_view::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return "field line without a name";
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) {
      return "invalid field name (or obs-fold)";
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
        })) {
      return "control byte in a field value";
    }
    response.headers.emplace_back(name, value);
  }
  return {};
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (iequals(field, name)) return value;
  }
  return std::nullopt;
}

std::size_t HttpResponse::header_count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(),
                    [&](const auto& field) { return iequals(field.first, name); }));
}

std::string HttpResponse::status_line() const {
  return raw.substr(0, raw.find("\r\n"));
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      peer_closed_(other.peer_closed_),
      error_(std::move(other.error_)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    peer_closed_ = other.peer_closed_;
    error_ = std::move(other.error_);
  }
  return *this;
}

Client::~Client() {
  close();
}

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
  peer_closed_ = false;
}

void Client::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void Client::abort() {
  if (fd_ >= 0) {
    const linger reset{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  close();
}

std::optional<std::size_t> Client::wait_any(std::span<Client* const> clients, Millis timeout) {
  std::vector<pollfd> waiting;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (!clients[i]->buffer_.empty() || clients[i]->peer_closed_) return i;
    waiting.push_back({clients[i]->fd_, POLLIN, 0});
  }
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    const int ready = ::poll(waiting.data(), waiting.size(), remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      // POLLHUP and POLLERR count too: the read that follows reports the close.
      if (waiting[i].revents != 0) return i;
    }
  }
}

int Client::try_connect(std::uint16_t port, Millis timeout) {
  close();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  // Small writes go out at once, so "one write" in a test is one segment on the wire.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      const int error = errno;
      ::close(fd);
      return error;
    }
    pollfd waiting{fd, POLLOUT, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(timeout.count()));
    int error = ETIMEDOUT;
    socklen_t length = sizeof error;
    if (ready == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      ::close(fd);
      return error;
    }
  }
  fd_ = fd;
  return 0;
}

::testing::AssertionResult Client::connect(std::uint16_t port, Millis timeout) {
  const int error = try_connect(port, timeout);
  if (error != 0) {
    return ::testing::AssertionFailure()
           << "connect to 127.0.0.1:" << port << ": " << std::strerror(error);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Client::send(std::string_view bytes, Millis timeout) {
  if (fd_ < 0) return ::testing::AssertionFailure() << "send on a closed client";
  const auto deadline = SteadyClock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd waiting{fd_, POLLOUT, 0};
      if (::poll(&waiting, 1, remaining_ms(deadline)) == 0) {
        return ::testing::AssertionFailure()
               << "send timed out with " << bytes.size() << " bytes left";
      }
      continue;
    }
    return ::testing::AssertionFailure() << "send: " << std::strerror(errno);
  }
  return ::testing::AssertionSuccess();
}

Client::Fill Client::fill(SteadyClock::time_point deadline) {
  if (fd_ < 0) {
    error_ = "read on a closed client";
    return Fill::kError;
  }
  if (peer_closed_) return Fill::kClosed;
  std::array<char, 16384> chunk;
  while (true) {
    const ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n > 0) {
      buffer_.append(chunk.data(), static_cast<std::size_t>(n));
      return Fill::kData;
    }
    if (n == 0 || errno == ECONNRESET) {
      peer_closed_ = true;
      return Fill::kClosed;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = std::string("recv: ") + std::strerror(errno);
      return Fill::kError;
    }
    pollfd waiting{fd_, POLLIN, 0};
    const int wait = remaining_ms(deadline);
    if (wait == 0 || ::poll(&waiting, 1, wait) == 0) return Fill::kTimeout;
  }
}

::testing::AssertionResult Client::read_response(HttpResponse& response, Millis timeout,
                                                 bool head_request) {
  response = HttpResponse{};
  const auto deadline = SteadyClock::now() + timeout;
  const auto failure = [&](std::string_view what) {
    return ::testing::AssertionFailure()
           << what << "; received so far: \"" << printable(buffer_) << "\"";
  };
  const auto fill_or_fail = [&](std::string_view waiting_for) -> std::optional<std::string> {
    switch (fill(deadline)) {
      case Fill::kData:
        return std::nullopt;
      case Fill::kClosed:
        return "connection closed while waiting for " + std::string(waiting_for);
      case Fill::kTimeout:
        return "timed out after " + std::to_string(timeout.count()) + " ms waiting for " +
               std::string(waiting_for);
      case Fill::kError:
        break;
    }
    return error_;
  };

  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (auto error = fill_or_fail("the response head")) return failure(*error);
  }
  const std::string error = parse_head(std::string_view(buffer_).substr(0, head_end), response);
  if (!error.empty()) return failure(error);
  std::size_t consumed = head_end + 4;

  const bool no_body =
      head_request || response.status < 200 || response.status == 204 || response.status == 304;
  if (const auto te = response.header("transfer-encoding"); te && !no_body) {
    return failure("chunked/encoded response body (Transfer-Encoding: " + *te + ")");
  }
  if (!no_body) {
    if (const auto length_text = response.header("content-length")) {
      std::size_t length = 0;
      const auto [end, parse_error] =
          std::from_chars(length_text->data(), length_text->data() + length_text->size(), length);
      if (parse_error != std::errc() || end != length_text->data() + length_text->size()) {
        return failure("malformed Content-Length");
      }
      while (buffer_.size() < consumed + length) {
        if (auto fill_error = fill_or_fail("the response body")) return failure(*fill_error);
      }
      response.body = buffer_.substr(consumed, length);
      consumed += length;
    } else {
      Fill result;
      while ((result = fill(deadline)) == Fill::kData) {
      }
      if (result != Fill::kClosed) return failure("body without Content-Length did not end");
      response.body = buffer_.substr(consumed);
      consumed = buffer_.size();
    }
  }
  response.raw = buffer_.substr(0, consumed);
  buffer_.erase(0, consumed);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Client::expect_closed(Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (buffer_.empty()) {
    switch (fill(deadline)) {
      case Fill::kData:
        break;
      case Fill::kClosed:
        return ::testing::AssertionSuccess();
      case Fill::kTimeout:
        return ::testing::AssertionFailure()
               << "connection still open after " << timeout.count() << " ms";
      case Fill::kError:
        return ::testing::AssertionFailure() << error_;
    }
  }
  return ::testing::AssertionFailure()
         << "expected the connection to close, got bytes: \"" << printable(buffer_) << "\"";
}

::testing::AssertionResult Client::expect_silence(Millis duration) {
  const auto deadline = SteadyClock::now() + duration;
  while (buffer_.empty()) {
    switch (fill(deadline)) {
      case Fill::kData:
        break;
      case Fill::kClosed:
        return ::testing::AssertionFailure()
               << "connection closed within " << duration.count() << " ms";
      case Fill::kTimeout:
        return ::testing::AssertionSuccess();
      case Fill::kError:
        return ::testing::AssertionFailure() << error_;
    }
  }
  return ::testing::AssertionFailure() << "unexpected bytes: \"" << printable(buffer_) << "\"";
}

::testing::AssertionResult Client::read_until_close(std::string& bytes, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    switch (fill(deadline)) {
      case Fill::kData:
        continue;
      case Fill::kClosed:
        bytes = std::move(buffer_);
        buffer_.clear();
        return ::testing::AssertionSuccess();
      case Fill::kTimeout:
        return ::testing::AssertionFailure() << "connection still open after " << timeout.count()
                                             << " ms; received: \"" << printable(buffer_) << "\"";
      case Fill::kError:
        return ::testing::AssertionFailure() << error_;
    }
  }
}

::testing::AssertionResult exchange(std::uint16_t port, std::string_view request,
                                    HttpResponse& response, bool head_request) {
  Client client;
  if (auto connected = client.connect(port); !connected) return connected;
  if (auto sent = client.send(request); !sent) return sent;
  return client.read_response(response, kIoTimeout, head_request);
}

std::string get_request(std::string_view target, std::string_view extra_headers,
                        std::string_view host) {
  std::string request = "GET ";
  request.append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
  request.append(extra_headers).append("\r\n");
  return request;
}

std::string printable(std::string_view bytes, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > limit) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace edgefn::integration
