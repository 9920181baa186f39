// A raw HTTP/1.1 client for integration tests: requests go out exactly as the test wrote them,
// responses are parsed strictly enough to catch framing bugs (a stray body byte breaks the next
// response), and every socket operation has a deadline so a hung server fails the test.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/process.h"

namespace edgefn::integration {

// Default deadline for one connect, send or read.
inline constexpr Millis kIoTimeout{2000};

struct HttpResponse {
  std::string raw;      // every byte of this response as received (head and body)
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent
  std::string body;

  // The value of the first field called `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  // How many fields are called `name` (case-insensitive).
  std::size_t header_count(std::string_view name) const;
  // The status line without CRLF: "HTTP/1.1 200 OK".
  std::string status_line() const;
};

// One TCP connection to 127.0.0.1. Movable, not copyable; closes its socket when destroyed.
class Client {
 public:
  Client() = default;
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  ::testing::AssertionResult connect(std::uint16_t port, Millis timeout = kIoTimeout);
  // Like connect, for tests that expect a refusal: 0 on success, else the errno
  // (ECONNREFUSED, ETIMEDOUT for a deadline).
  int try_connect(std::uint16_t port, Millis timeout = kIoTimeout);

  // Writes all of `bytes` (MSG_NOSIGNAL: a reset peer is a failure, not SIGPIPE).
  ::testing::AssertionResult send(std::string_view bytes, Millis timeout = kIoTimeout);

  // Reads one response: status line, fields, then a Content-Length body (none for 1xx, 204,
  // 304 and when `head_request`; without Content-Length, the body runs to the close). Bytes
  // after it stay buffered for the next call. A chunked response is a failure: the contract
  // is that every response carries Content-Length.
  ::testing::AssertionResult read_response(HttpResponse& response, Millis timeout = kIoTimeout,
                                           bool head_request = false);

  // Success when the peer closes (end-of-file or reset) within `timeout` and sent nothing more.
  ::testing::AssertionResult expect_closed(Millis timeout = kIoTimeout);
  // Success when nothing arrives and the connection stays open for `duration`.
  ::testing::AssertionResult expect_silence(Millis duration);
  // Everything (buffered bytes first) until the peer closes; failure at the deadline.
  ::testing::AssertionResult read_until_close(std::string& bytes, Millis timeout = kIoTimeout);

  // True once a read saw end-of-file or a reset.
  bool peer_closed() const { return peer_closed_; }
  // Bytes received and not yet consumed by read_response.
  const std::string& pending() const { return buffer_; }
  bool connected() const { return fd_ >= 0; }

  void shutdown_write();
  void close();
  // Closes with a reset (SO_LINGER 0) instead of an orderly FIN: the peer's next receive fails
  // with ECONNRESET, as when a client process dies or gives up abruptly.
  void abort();

  // Waits until one of `clients` has buffered bytes, receives some or sees its peer close, and
  // returns its index; nullopt when `timeout` passes first. Reads nothing.
  static std::optional<std::size_t> wait_any(std::span<Client* const> clients, Millis timeout);

 private:
  enum class Fill { kData, kClosed, kTimeout, kError };
  // Waits for and appends at most one recv's worth of bytes.
  Fill fill(SteadyClock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool peer_closed_ = false;
  std::string error_;  // what the last kError was
};

// Connects, sends `request` and reads one response on a fresh connection.
::testing::AssertionResult exchange(std::uint16_t port, std::string_view request,
                                    HttpResponse& response, bool head_request = false);

// `GET <target>` with a Host header (and the given extra header lines, each ending in CRLF).
std::string get_request(std::string_view target, std::string_view extra_headers = {},
                        std::string_view host = "test.local");

// Bytes made readable for a failure message: CR/LF shown as \r\n, other unprintable bytes as
// \xNN, cut after `limit` bytes.
std::string printable(std::string_view bytes, std::size_t limit = 1500);

}  // namespace edgefn::integration
