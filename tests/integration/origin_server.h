// An HTTP/1.1 origin in the test process, for the upstream tests (ctx.fetch through the proxy
// module): blocking sockets, a thread per connection, keep-alive, and a record of what it was
// asked and how (connections accepted and open at once, requests per path, every request).
//
// It listens on 127.0.0.1:<port> (the kernel's pick unless given). What it answers depends on
// the path (the query is ignored unless named below; a leading `/base` segment is ignored too,
// so an upstream URL with the base path "/base" reaches the same behaviour):
//
//   /ok                    200 text/plain "ok"
//   /echo, /echo/...       200 application/json {"method","target","headers":{lower-case name:
//                          value, repeated fields joined with ", "},"body"}
//   /big?bytes=N           200 application/octet-stream, the N bytes of big_body(N)
//   /chunked               200 Transfer-Encoding: chunked, "hello " "chunked " "world" in three
//                          chunks (written one by one)
//   /status/<code>         that status, text/plain "status <code>" (no body for 1xx, 204, 304)
//   /slow?ms=N             waits N ms (less when the server stops), then 200 "slow"
//   /fail-first?n=K&key=X  the first K requests with key X get their connection closed without
//                          any response; later ones 200 "ok after K" (a counter per key)
//   /close                 200 "closing" with Connection: close, then closes
//   /cache?max_age=N       200 with Cache-Control: max-age=N and the body "cache <count>", the
//                          count of /cache requests so far (1 for the first); &expires=0,
//                          past or future: an Expires field instead; &then=no-store: a second
//                          Cache-Control field saying no-store
//   /hop-headers           200 "hop" carrying hop-by-hop fields (Connection: x-hop, X-Hop,
//                          Keep-Alive, Proxy-Connection) and the end-to-end X-End-To-End: yes
//   /hang                  never answers: waits until the peer closes or the server stops
//   anything else          404 text/plain "no such path"
//
// Every response carries Date and Server: origin, and Content-Length unless chunked. A request
// with `Connection: close` (or HTTP/1.0 without keep-alive) gets its answer, then the close.
// set_failing() switches every request, whatever its path, to a closed connection without a
// response (Failure::kClose), a connection reset without a response (Failure::kReset), bytes
// that are not HTTP followed by a close (Failure::kGarbage), or to 503 "failing"
// (Failure::k503); requests are recorded either way. Request bodies are read by Content-Length or
// chunked framing.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/http_client.h"
#include "tests/integration/process.h"

namespace edgefn::integration {

// One request as the origin received it.
struct OriginRequest {
  std::string method;
  std::string target;                                        // as sent: path and query
  std::string path;                                          // the target without its query
  std::string version;                                       // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::string body;                                          // de-chunked

  // The first field called `name` (lower-case), or nullopt; how many there are.
  std::optional<std::string> header(std::string_view name) const;
  std::size_t header_count(std::string_view name) const;
};

// The body /big?bytes=N answers with: N bytes of a repeating, position-dependent pattern.
std::string big_body(std::size_t size);

class OriginServer {
 public:
  enum class Failure { kNone, kClose, kReset, kGarbage, k503 };

  OriginServer() = default;
  ~OriginServer();  // stop()
  OriginServer(const OriginServer&) = delete;
  OriginServer& operator=(const OriginServer&) = delete;

  // Listens on 127.0.0.1:`port` (0: a free one) and serves until stop(). Counters start at 0.
  ::testing::AssertionResult start(std::uint16_t port = 0);
  // Closes the listener and every connection (a /hang or /slow in progress ends at once) and
  // joins every thread. Counters and records stay readable; idempotent.
  void stop();
  // stop(), then start() again on the same port; counters and records are kept.
  ::testing::AssertionResult restart();

  std::uint16_t port() const { return port_; }
  bool running() const { return running_; }
  void set_failing(Failure failure) { failure_ = failure; }

  // Connections accepted since start(), open now, and the most open at once.
  int accepted() const { return accepted_.load(); }
  int open_connections() const { return open_.load(); }
  int max_open_connections() const { return max_open_.load(); }

  // Requests received (whole heads, failing or not), in total and by path (query removed).
  int requests() const;
  int requests_for(std::string_view path) const;
  // /fail-first requests seen with `key` (those refused and those answered).
  int fail_first_count(std::string_view key) const;
  // Copies of what was received: the last request (empty when none) and all of them.
  OriginRequest last_request() const;
  std::vector<OriginRequest> all_requests() const;

 private:
  struct Connection {
    int fd = -1;  // -1 once the connection's thread closed it (guarded by mutex_)
    std::thread thread;
  };

  void accept_loop(int listener);
  void serve(Connection* connection);
  // Answers one request; false when the connection must close now.
  bool respond(int fd, const OriginRequest& request, bool keep_alive);
  // Waits `duration` or until stop() / the peer closing; false when cut short.
  bool wait(int fd, Millis duration);
  void close_connection(Connection* connection);

  std::uint16_t port_ = 0;
  bool running_ = false;
  int listener_ = -1;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<Failure> failure_{Failure::kNone};
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};

  mutable std::mutex mutex_;  // guards what follows
  std::list<Connection> connections_;
  std::vector<OriginRequest> requests_;
  std::map<std::string, int, std::less<>> per_path_;
  std::map<std::string, int, std::less<>> fail_first_;
  int cache_count_ = 0;
};

// A fixture for tests of edgefn against an OriginServer: a temporary folder for manifests
// rendered from templates in manifests/, an origin started on a free port, a free port where
// nothing listens, and an edgefn server, stopped when the test ends (it must exit 0).
class OriginFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // manifests/`name` with every @ORIGIN_PORT@ replaced by the origin's port and @DOWN_PORT@ by
  // down_port_, written to the temporary folder under the same name; its path.
  std::string render(std::string_view name) const;
  // render(name), then `edgefn serve` on it with `flags` (default: one worker).
  ::testing::AssertionResult start_server(std::string_view name,
                                          std::vector<std::string> flags = {"--workers", "1"});

  std::uint16_t port() const { return server_.port(); }
  std::uint16_t admin_port() const { return server_.admin_port(); }

  std::filesystem::path dir_;
  std::uint16_t down_port_ = 0;
  OriginServer origin_;
  Server server_;
};

// A request with a Host and, for a body, Content-Length (extra lines each end in CRLF).
std::string http_request(std::string_view method, std::string_view target,
                         std::string_view body = {}, std::string_view extra_headers = {});

// Sends `request` on a fresh connection to `port` and reads one response (failures are test
// failures; the response is then incomplete).
HttpResponse roundtrip(std::uint16_t port, std::string_view request, Millis timeout = Millis(5000));

}  // namespace edgefn::integration
