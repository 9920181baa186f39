// The test origin for the upstream tests (see origin_server.h).
#include "tests/integration/origin_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "tests/integration/redis_server.h"

namespace edgefn::integration {

namespace {

constexpr std::size_t kMaxHeadBytes = 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// True if the comma-separated `value` lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (lower(trim(value.substr(0, comma))) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The value of query parameter `name` in `target` (not percent-decoded), or nullopt.
std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return std::string(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

long long number_or(const std::optional<std::string>& text, long long fallback) {
  if (!text) return fallback;
  long long value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) return fallback;
  return value;
}

std::string json_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view reason_of(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string imf_date() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::gmtime_r(&now, &parts);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return text;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Appends one recv's worth; false at end-of-file or an error.
bool read_more(int fd, std::string& buffer) {
  char chunk[16 * 1024];
  for (;;) {
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(got));
    return true;
  }
}

// Parses a request head (without its final CRLF CRLF); false when malformed.
bool parse_head(std::string_view head, OriginRequest& request) {
  std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  request.method = std::string(line.substr(0, first));
  request.target = std::string(line.substr(first + 1, second - first - 1));
  request.version = std::string(line.substr(second + 1));
  if (request.method.empty() || request.target.empty() || !request.version.starts_with("HTTP/1."))
    return false;
  request.path = request.target.substr(0, request.target.find('?'));
  while (line_end != std::string_view::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view field = head.substr(start, line_end - start);
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    request.headers.emplace_back(lower(field.substr(0, colon)),
                                 std::string(trim(field.substr(colon + 1))));
  }
  return true;
}

// Reads a chunked body starting at `buffer[pos]` into `body`; the offset after it, or npos.
std::size_t read_chunked(int fd, std::string& buffer, std::size_t pos, std::string& body) {
  for (;;) {
    std::size_t line_end;
    while ((line_end = buffer.find("\r\n", pos)) == std::string::npos) {
      if (!read_more(fd, buffer)) return std::string::npos;
    }
    std::string_view size_text(buffer.data() + pos, line_end - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    std::size_t size = 0;
    const auto [end, error] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (error != std::errc() || end == size_text.data()) return std::string::npos;
    pos = line_end + 2;
    if (size == 0) {
      for (;;) {  // trailer fields, then the empty line
        while ((line_end = buffer.find("\r\n", pos)) == std::string::npos) {
          if (!read_more(fd, buffer)) return std::string::npos;
        }
        const bool last = line_end == pos;
        pos = line_end + 2;
        if (last) return pos;
      }
    }
    while (buffer.size() < pos + size + 2) {
      if (!read_more(fd, buffer)) return std::string::npos;
    }
    body.append(buffer, pos, size);
    pos += size + 2;
  }
}

}  // namespace

std::optional<std::string> OriginRequest::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field == name) return value;
  }
  return std::nullopt;
}

std::size_t OriginRequest::header_count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& field) { return field.first == name; }));
}

std::string big_body(std::size_t size) {
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY";  // 61: a prime period
  std::string body(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    body[i] = kAlphabet[i % kAlphabet.size()];
  return body;
}

OriginServer::~OriginServer() {
  stop();
}

::testing::AssertionResult OriginServer::start(std::uint16_t port) {
  if (running_) return ::testing::AssertionFailure() << "the origin is running already";
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return ::testing::AssertionFailure() << "socket: " << std::strerror(errno);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 512) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(listener);
    return ::testing::AssertionFailure()
           << "origin cannot listen on port " << port << ": " << std::strerror(error);
  }
  listener_ = listener;
  port_ = ntohs(address.sin_port);
  stopping_ = false;
  running_ = true;
  acceptor_ = std::thread([this, listener] { accept_loop(listener); });
  return ::testing::AssertionSuccess();
}

void OriginServer::stop() {
  if (!running_) return;
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);  // accept() returns
  acceptor_.join();
  ::close(listener_);
  listener_ = -1;
  std::list<Connection> connections;
  {
    const std::lock_guard lock(mutex_);
    for (Connection& connection : connections_) {
      if (connection.fd >= 0) ::shutdown(connection.fd, SHUT_RDWR);
    }
    connections.splice(connections.end(), connections_);
  }
  for (Connection& connection : connections)
    connection.thread.join();
  running_ = false;
}

::testing::AssertionResult OriginServer::restart() {
  const std::uint16_t port = port_;
  stop();
  return start(port);
}

int OriginServer::requests() const {
  const std::lock_guard lock(mutex_);
  return static_cast<int>(requests_.size());
}

int OriginServer::requests_for(std::string_view path) const {
  const std::lock_guard lock(mutex_);
  const auto found = per_path_.find(path);
  return found == per_path_.end() ? 0 : found->second;
}

int OriginServer::fail_first_count(std::string_view key) const {
  const std::lock_guard lock(mutex_);
  const auto found = fail_first_.find(key);
  return found == fail_first_.end() ? 0 : found->second;
}

OriginRequest OriginServer::last_request() const {
  const std::lock_guard lock(mutex_);
  return requests_.empty() ? OriginRequest{} : requests_.back();
}

std::vector<OriginRequest> OriginServer::all_requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

void OriginServer::accept_loop(int listener) {
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // the listener was shut down
    }
    if (stopping_) {
      ::close(fd);
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++accepted_;
    const int open = ++open_;
    int seen = max_open_.load();
    while (open > seen && !max_open_.compare_exchange_weak(seen, open)) {
    }
    const std::lock_guard lock(mutex_);
    Connection& connection = connections_.emplace_back();
    connection.fd = fd;
    connection.thread = std::thread([this, &connection] { serve(&connection); });
  }
}

void OriginServer::close_connection(Connection* connection) {
  const std::lock_guard lock(mutex_);
  --open_;  // first: a client that sees the close must not find it counted still
  ::close(connection->fd);
  connection->fd = -1;
}

bool OriginServer::wait(int fd, Millis duration) {
  const auto deadline = SteadyClock::now() + duration;
  while (!stopping_) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
    if (left <= 0) return true;
    pollfd watched{fd, POLLRDHUP, 0};
    ::poll(&watched, 1, static_cast<int>(std::min<long long>(left, 20)));
    if ((watched.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return false;
  }
  return false;
}

void OriginServer::serve(Connection* connection) {
  int fd;
  {
    const std::lock_guard lock(mutex_);
    fd = connection->fd;
  }
  std::string buffer;
  while (!stopping_) {
    std::size_t head_end;
    bool open = true;
    while (open && (head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      open = buffer.size() < kMaxHeadBytes && read_more(fd, buffer);
    }
    if (!open) break;
    OriginRequest request;
    if (!parse_head(std::string_view(buffer).substr(0, head_end), request)) {
      send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    std::size_t end = head_end + 4;
    const std::optional<std::string> encoding = request.header("transfer-encoding");
    if (encoding && lists_token(*encoding, "chunked")) {
      end = read_chunked(fd, buffer, end, request.body);
      if (end == std::string::npos) break;
    } else if (const long long length = number_or(request.header("content-length"), 0);
               length > 0) {
      while (open && buffer.size() < end + static_cast<std::size_t>(length)) {
        open = read_more(fd, buffer);
      }
      if (!open) break;
      request.body = buffer.substr(end, static_cast<std::size_t>(length));
      end += static_cast<std::size_t>(length);
    }
    buffer.erase(0, end);

    const std::string connection_field = request.header("connection").value_or("");
    const bool keep_alive = request.version == "HTTP/1.1"
                                ? !lists_token(connection_field, "close")
                                : lists_token(connection_field, "keep-alive");
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(request);
      ++per_path_[request.path];
    }
    if (!respond(fd, request, keep_alive)) break;
  }
  close_connection(connection);
}

bool OriginServer::respond(int fd, const OriginRequest& request, bool keep_alive) {
  const auto answer = [&](int status, std::string_view content_type, std::string_view body,
                          std::string_view extra = {}) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_of(status)) +
                       "\r\nDate: " + imf_date() + "\r\nServer: origin\r\n";
    const bool bodiless = status < 200 || status == 204 || status == 304;
    if (!bodiless) {
      head += "Content-Type: " + std::string(content_type) +
              "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    head += extra;
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    if (!bodiless) head += body;
    return send_all(fd, head) && keep_alive;
  };

  switch (failure_.load()) {
    case Failure::kClose:
      return false;
    case Failure::kReset: {
      // SO_LINGER with a zero timeout: the close that follows sends RST, not FIN.
      const linger abortive{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
      return false;
    }
    case Failure::kGarbage:
      send_all(fd, "HTTP/1.1 2OO OK\r\nContent-Length: banana\r\n\x01\x02\r\n\r\n{}");
      return false;
    case Failure::k503:
      return answer(503, "text/plain", "failing");
    case Failure::kNone:
      break;
  }

  std::string_view path = request.path;
  if (path == "/base" || path.starts_with("/base/")) path.remove_prefix(5);

  if (path == "/ok") return answer(200, "text/plain", "ok");
  if (path == "/echo" || path.starts_with("/echo/")) {
    std::vector<std::pair<std::string, std::string>> merged;
    for (const auto& [name, value] : request.headers) {
      const auto same = std::find_if(merged.begin(), merged.end(),
                                     [&](const auto& field) { return field.first == name; });
      if (same == merged.end()) {
        merged.emplace_back(name, value);
      } else {
        same->second += ", " + value;
      }
    }
    std::string json = "{\"method\":\"" + json_escape(request.method) + "\",\"target\":\"" +
                       json_escape(request.target) + "\",\"headers\":{";
    for (std::size_t i = 0; i < merged.size(); ++i) {
      if (i > 0) json += ',';
      json += "\"" + json_escape(merged[i].first) + "\":\"" + json_escape(merged[i].second) + "\"";
    }
    json += "},\"body\":\"" + json_escape(request.body) + "\"}";
    return answer(200, "application/json", json);
  }
  if (path == "/big") {
    const long long size = number_or(query_param(request.target, "bytes"), -1);
    if (size < 0) return answer(400, "text/plain", "bytes=N wanted");
    return answer(200, "application/octet-stream", big_body(static_cast<std::size_t>(size)));
  }
  if (path == "/chunked") {
    std::string head = "HTTP/1.1 200 OK\r\nDate: " + imf_date() +
                       "\r\nServer: origin\r\nContent-Type: text/plain\r\n"
                       "Transfer-Encoding: chunked\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    if (!send_all(fd, head)) return false;
    for (const std::string_view chunk : {"hello ", "chunked ", "world"}) {
      std::ostringstream framed;
      framed << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
      if (!send_all(fd, framed.str())) return false;
      std::this_thread::sleep_for(Millis(5));
    }
    return send_all(fd, "0\r\n\r\n") && keep_alive;
  }
  if (path.starts_with("/status/")) {
    const long long status = number_or(std::string(path.substr(8)), 0);
    if (status < 200 || status > 599) return answer(400, "text/plain", "a status 200-599 wanted");
    return answer(static_cast<int>(status), "text/plain", "status " + std::to_string(status));
  }
  if (path == "/slow") {
    if (!wait(fd, Millis(number_or(query_param(request.target, "ms"), 0)))) return false;
    return answer(200, "text/plain", "slow");
  }
  if (path == "/fail-first") {
    const long long refuse = number_or(query_param(request.target, "n"), 1);
    const std::string key = query_param(request.target, "key").value_or("");
    int seen;
    {
      const std::lock_guard lock(mutex_);
      seen = ++fail_first_[key];
    }
    if (seen <= refuse) return false;
    return answer(200, "text/plain", "ok after " + std::to_string(refuse));
  }
  if (path == "/close") {
    answer(200, "text/plain", "closing", keep_alive ? "Connection: close\r\n" : "");
    return false;
  }
  if (path == "/cache") {
    const long long max_age = number_or(query_param(request.target, "max_age"), 0);
    int count;
    {
      const std::lock_guard lock(mutex_);
      count = ++cache_count_;
    }
    std::string fields = "Cache-Control: max-age=" + std::to_string(max_age) + "\r\n";
    const std::optional<std::string> expires = query_param(request.target, "expires");
    if (expires == "0") {
      fields = "Expires: 0\r\n";
    } else if (expires == "past") {
      fields = "Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
    } else if (expires == "future") {
      fields = "Expires: Fri, 01 Jan 2100 00:00:00 GMT\r\n";
    }
    // A second field: the cache must read every Cache-Control field, not the first.
    if (query_param(request.target, "then") == "no-store") fields += "Cache-Control: no-store\r\n";
    return answer(200, "text/plain", "cache " + std::to_string(count), fields);
  }
  if (path == "/hop-headers") {
    return answer(200, "text/plain", "hop",
                  "Connection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                  "Proxy-Connection: keep-alive\r\nX-End-To-End: yes\r\n");
  }
  if (path == "/hang") {
    wait(fd, Millis(24 * 3600 * 1000));
    return false;
  }
  return answer(404, "text/plain", "no such path");
}

void OriginFixture::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "edgefn-origin-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
  dir_ = pattern;
  ASSERT_TRUE(origin_.start());
  down_port_ = free_port();
}

void OriginFixture::TearDown() {
  if (server_.running()) {
    EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure();
  }
  origin_.stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string OriginFixture::render(std::string_view name) const {
  std::ifstream in(manifest_path(name));
  std::stringstream text;
  text << in.rdbuf();
  std::string manifest = text.str();
  EXPECT_FALSE(manifest.empty()) << "no manifest " << manifest_path(name);
  const auto replace = [&](std::string_view marker, const std::string& value) {
    for (std::size_t at = manifest.find(marker); at != std::string::npos;
         at = manifest.find(marker, at + value.size())) {
      manifest.replace(at, marker.size(), value);
    }
  };
  replace("@ORIGIN_PORT@", std::to_string(origin_.port()));
  replace("@DOWN_PORT@", std::to_string(down_port_));
  const std::filesystem::path path = dir_ / std::string(name);
  std::ofstream(path) << manifest;
  return path.string();
}

::testing::AssertionResult OriginFixture::start_server(std::string_view name,
                                                       std::vector<std::string> flags) {
  return server_.start(render(name), flags);
}

std::string http_request(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view extra_headers) {
  std::string text = std::string(method) + " " + std::string(target) +
                     " HTTP/1.1\r\nHost: test.local\r\n" + std::string(extra_headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  text += "\r\n";
  text.append(body);
  return text;
}

HttpResponse roundtrip(std::uint16_t port, std::string_view request, Millis timeout) {
  Client client;
  HttpResponse response;
  EXPECT_TRUE(client.connect(port));
  EXPECT_TRUE(client.send(request));
  EXPECT_TRUE(client.read_response(response, timeout));
  return response;
}

}  // namespace edgefn::integration
