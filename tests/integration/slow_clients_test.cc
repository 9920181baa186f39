// Clients that hold the server up on purpose or by neglect: a thousand slowloris connections that
// send their request head a byte a second, and clients that pipeline requests without ever
// reading the answers. The server must end the first at its header timeout and stop reading from
// the second, in bounded memory, while it goes on serving everyone else.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/held_connections.h"
#include "tests/integration/load_util.h"

namespace edgefn::integration {
namespace {

Millis since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<Millis>(SteadyClock::now() - start);
}

// Sends GET /hello over and over (a fresh connection every tenth request) until stopped, and
// counts the answers that are not 200 "Hello, world!". Correctness only: how fast it goes
// depends on the machine.
class SteadyClient {
 public:
  explicit SteadyClient(std::uint16_t port) : thread_([this, port] { run(port); }) {}
  SteadyClient(const SteadyClient&) = delete;
  SteadyClient& operator=(const SteadyClient&) = delete;
  ~SteadyClient() { stop(); }

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int answered() const { return answered_.load(); }
  int failed() const { return failed_.load(); }
  const std::vector<std::string>& failures() const { return failures_; }  // after stop()

 private:
  void run(std::uint16_t port) {
    Client client;
    for (int i = 0; !stop_.load(); ++i) {
      if (!client.connected() || i % 10 == 0) {
        client = Client();
        if (!client.connect(port)) {
          note_failure("connect failed");
          continue;
        }
      }
      HttpResponse response;
      const auto exchanged =
          client.send(get_request("/hello")) && client.read_response(response, Millis{5000});
      if (!exchanged || response.status != 200 || response.body != "Hello, world!") {
        note_failure(exchanged ? printable(response.raw, 300) : "no response in 5 s");
        client = Client();
        continue;
      }
      answered_.fetch_add(1);
      // A client among many, not a load generator: leave the CPUs to the server.
      std::this_thread::sleep_for(Millis{5});
    }
  }
  void note_failure(std::string what) {
    failed_.fetch_add(1);
    if (failures_.size() < 5) failures_.push_back(std::move(what));
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::atomic<int> failed_{0};
  std::vector<std::string> failures_;
  std::thread thread_;
};

// --- Slowloris -------------------------------------------------------------------------------

constexpr Millis kHeaderTimeout{2000};  // slowloris.toml
// Beyond header_timeout: the worker checks its timers every 100 ms, and the server accepts
// (and starts the clock) a little after the client sees its connect complete; the rest is room
// for a loaded CI machine.
constexpr Millis kCloseMargin{1500};
// How much sooner than header_timeout a close may seem to come (see where it is used).
constexpr Millis kEarlySlack{250};

// One slowloris connection: it sends the next byte of its head once a second, and never
// finishes it.
struct SlowConnection {
  int fd = -1;
  bool connected = false;
  SteadyClock::time_point connected_at{};
  SteadyClock::time_point next_byte{};
  std::size_t sent = 0;
  std::optional<Millis> closed_after;  // since connected_at, once the server closed it
  std::string received;
};

TEST(SlowClients, SlowlorisConnectionsAreClosedAtTheHeaderTimeoutWhileOthersAreServed) {
  constexpr std::size_t kSlow = 1000;
  constexpr std::size_t kParallelConnects = 256;  // see HeldConnections::open
  constexpr Millis kByteInterval{1000};
  // Long enough that no connection could finish it during the test.
  const std::string head = get_request("/hello", "X-Padding: slowloris-slowloris-slowloris\r\n");
  if (const std::string reason = raise_open_file_limit(kSlow + 200); !reason.empty()) {
    std::cout << "skipped: " << reason << "\n";
    GTEST_SKIP() << reason;
  }
  Server server;
  ASSERT_TRUE(server.start(manifest_path("slowloris.toml")));
  SteadyClient steady(server.port());

  std::vector<SlowConnection> slow(kSlow);
  // Whatever ends the test, no descriptor outlives it.
  struct CloseAtExit {
    std::vector<SlowConnection>& connections;
    ~CloseAtExit() {
      for (SlowConnection& connection : connections)
        if (connection.fd >= 0) ::close(connection.fd);
    }
  } close_at_exit{slow};
  std::vector<pollfd> waiting;
  std::vector<std::size_t> index;  // of each entry of `waiting` in `slow`
  std::size_t started = 0;
  std::size_t connecting = 0;
  std::size_t open = 0;
  std::string failures;
  std::size_t failed = 0;
  const auto fail = [&](SlowConnection& connection, std::string reason) {
    if (++failed <= 3) failures += "\n  " + reason;
    ::close(connection.fd);
    connection.fd = -1;
  };
  const auto server_closed = [&](SlowConnection& connection) {
    connection.closed_after = since(connection.connected_at);
    ::close(connection.fd);
    connection.fd = -1;
    --open;
  };
  const auto start = SteadyClock::now();
  // Every connection is set up within a few seconds, and closed header_timeout (plus the
  // margin) after that; the loop ends at once when the last one is.
  const auto deadline = start + Millis{8000} + kHeaderTimeout + kCloseMargin;
  while ((started < kSlow || connecting > 0 || open > 0) && SteadyClock::now() < deadline) {
    while (started < kSlow && connecting < kParallelConnects) {
      SlowConnection& connection = slow[started++];
      connection.fd = connect_nonblocking(server.port());
      if (connection.fd < 0) {
        if (++failed <= 3) failures += std::string("\n  connect: ") + std::strerror(errno);
        continue;
      }
      ++connecting;
    }
    const auto now = SteadyClock::now();
    waiting.clear();
    index.clear();
    auto wake = now + Millis{100};
    for (std::size_t i = 0; i < started; ++i) {
      SlowConnection& connection = slow[i];
      if (connection.fd < 0) continue;
      if (connection.connected && now >= connection.next_byte && connection.sent < head.size()) {
        // One byte; a full send buffer or an error shows in the poll below.
        if (::send(connection.fd, head.data() + connection.sent, 1, MSG_NOSIGNAL) == 1) {
          ++connection.sent;
          connection.next_byte += kByteInterval;
        }
      }
      if (connection.connected) wake = std::min(wake, connection.next_byte);
      waiting.push_back(
          {connection.fd, static_cast<short>(connection.connected ? POLLIN : POLLOUT), 0});
      index.push_back(i);
    }
    const auto timeout = std::chrono::duration_cast<Millis>(wake - now).count();
    if (::poll(waiting.data(), waiting.size(), static_cast<int>(std::max<long>(timeout, 1))) < 0 &&
        errno != EINTR) {
      FAIL() << "poll: " << std::strerror(errno);
    }
    for (std::size_t w = 0; w < waiting.size(); ++w) {
      if (waiting[w].revents == 0) continue;
      SlowConnection& connection = slow[index[w]];
      if (!connection.connected) {
        --connecting;
        if (const int error = connect_error(connection.fd); error != 0) {
          fail(connection, std::string("connect: ") + std::strerror(error));
          continue;
        }
        connection.connected = true;
        connection.connected_at = connection.next_byte = SteadyClock::now();
        ++open;
        continue;
      }
      char buffer[1024];
      const ssize_t n = ::recv(connection.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        connection.received.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno == ECONNRESET) {
        server_closed(connection);
      } else if (errno != EAGAIN && errno != EINTR) {
        fail(connection, std::string("recv: ") + std::strerror(errno));
        --open;
      }
    }
  }
  steady.stop();

  EXPECT_EQ(failed, 0u) << "first failures:" << failures;
  std::size_t closed = 0;
  std::size_t answered_408 = 0;
  std::size_t early = 0;
  std::size_t late = 0;
  std::size_t other_answers = 0;
  Millis slowest{0};
  Millis fastest{std::chrono::hours(1)};
  for (const SlowConnection& connection : slow) {
    if (!connection.closed_after) continue;
    ++closed;
    slowest = std::max(slowest, *connection.closed_after);
    fastest = std::min(fastest, *connection.closed_after);
    // The server's clock starts at its accept, after the handshake; the client notes its
    // connect complete at its next poll, which may come a little later still.
    if (*connection.closed_after < kHeaderTimeout - kEarlySlack) ++early;
    if (*connection.closed_after > kHeaderTimeout + kCloseMargin) ++late;
    // Closing without a word is allowed; anything said must be the 408.
    if (connection.received.starts_with("HTTP/1.1 408 ")) {
      ++answered_408;
    } else if (!connection.received.empty()) {
      ++other_answers;
    }
  }
  std::cout << "slowloris: " << closed << " of " << kSlow << " closed by the server ("
            << answered_408 << " after a 408), " << fastest.count() << "-" << slowest.count()
            << " ms after connecting (header_timeout " << kHeaderTimeout.count()
            << " ms); the steady client got " << steady.answered() << " answers, "
            << steady.failed() << " failures\n";
  EXPECT_EQ(closed, kSlow) << "connections the server still held at the deadline";
  EXPECT_EQ(early, 0u) << "closed well before header_timeout; fastest " << fastest.count() << " ms";
  EXPECT_EQ(late, 0u) << "closed later than header_timeout + " << kCloseMargin.count()
                      << " ms; slowest " << slowest.count() << " ms";
  EXPECT_EQ(other_answers, 0u) << "answers other than 408";
  EXPECT_EQ(steady.failed(), 0);
  for (const std::string& failure : steady.failures())
    ADD_FAILURE() << "steady client: " << failure;
  EXPECT_GE(steady.answered(), 10) << "the steady client was hardly served";
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

// --- Clients that never read -----------------------------------------------------------------

// Written into a fresh temporary folder beside the file it serves (generated, so the repository
// holds no megabytes).
constexpr std::string_view kBackpressureManifest = R"(# Integration tests
# (slow_clients_test.cc, backpressure): one worker; header and idle timeouts far above the test's
# length, so only the client's not reading decides what the server does; a 1 MiB static file.
# No access log: the tens of thousands of requests answered before the client blocks would
# otherwise be as many lines, and the memory measured is the connection's.
[server]
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"
workers = 1
header_timeout = "30s"
idle_timeout = "30s"
drain_timeout = "2s"

[log]
access = false

[functions.hello]
module = "hello"
routes = ["GET /hello"]
config = { greeting = "Hello" }

[functions.big]
module = "static"
routes = ["GET /big"]
config = { content_type = "application/octet-stream", file = "big.bin" }
)";

constexpr std::size_t kBigBytes = 1024 * 1024;

// What the server may grow by while it holds a client that does not read. The kernel's socket
// buffers (up to tens of MiB here) are in no process's RSS; the server's own are bounded by
// its pending-output and input-backlog limits (hundreds of KiB) plus one response.
// AddressSanitizer keeps every freed block resident for a while (its quarantine, 256 MiB by
// default), so there the answers already handed to the kernel count too: a few MiB more, still
// far below what a server without backpressure would hold.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kRssGrowthBound = 48 * 1024 * 1024;
#else
constexpr std::size_t kRssGrowthBound = 16 * 1024 * 1024;
#endif
// A server without backpressure lets a client write without end; this much is far beyond what
// the kernel's buffers on both sides can take.
constexpr std::size_t kWriteCap = 256 * 1024 * 1024;
// No progress for this long means the client's send blocks.
constexpr Millis kBlockedAfter{1000};

class BackpressureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(server_.start(directory_ + "/backpressure.toml"));
    pid_ = child_running(binary_path());
    ASSERT_TRUE(pid_) << "cannot find the server's process in /proc";
  }
  void TearDown() override { EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure(); }

  // Pipelines `request` without reading until the client's send blocks, then checks the
  // server's memory, that it serves others, that the blocked client's first answers are intact,
  // and that it lets go of the connection once the client closes.
  void check_backpressure(std::string_view request, std::size_t body_bytes);

  static std::string directory_;
  static std::string setup_error_;
  Server server_;
  std::optional<pid_t> pid_;
};

std::string BackpressureTest::directory_;
std::string BackpressureTest::setup_error_;

void BackpressureTest::SetUpTestSuite() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "edgefn-backpressure-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    setup_error_ = "mkdtemp " + pattern + ": " + std::strerror(errno);
    return;
  }
  directory_ = pattern;
  std::ofstream file(directory_ + "/big.bin", std::ios::binary);
  file << std::string(kBigBytes, 'b');
  std::ofstream manifest(directory_ + "/backpressure.toml");
  manifest << kBackpressureManifest;
  file.close();
  manifest.close();
  if (!file || !manifest) setup_error_ = "cannot write the manifest or big.bin in " + directory_;
}

void BackpressureTest::TearDownTestSuite() {
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  directory_.clear();
  setup_error_.clear();
}

// Writes copies of `request` to `fd` (nonblocking) until a send makes no progress for
// kBlockedAfter, kWriteCap bytes went out, or `timeout` passed. Returns the bytes written and
// whether the send blocked.
std::pair<std::size_t, bool> write_until_blocked(int fd, std::string_view request, Millis timeout) {
  std::string chunk;
  while (chunk.size() < 64 * 1024)
    chunk.append(request);
  const auto deadline = SteadyClock::now() + timeout;
  auto progress = SteadyClock::now();
  std::size_t written = 0;
  std::size_t offset = 0;  // into chunk: every byte of every copy goes out whole and in order
  while (written < kWriteCap && SteadyClock::now() < deadline) {
    const ssize_t n = ::send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      offset = (offset + static_cast<std::size_t>(n)) % chunk.size();
      progress = SteadyClock::now();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (SteadyClock::now() - progress >= kBlockedAfter) return {written, true};
    pollfd writable{fd, POLLOUT, 0};
    ::poll(&writable, 1, 100);
  }
  return {written, false};
}

// Reads from `fd` until `count` whole responses (Content-Length framed) have arrived, and checks
// that each is a 200 with a body of `body_bytes`.
::testing::AssertionResult read_responses(int fd, std::size_t count, std::size_t body_bytes) {
  std::string bytes;
  const auto deadline = SteadyClock::now() + Millis{5000};
  std::size_t complete = 0;
  while (complete < count) {
    const std::size_t head_end = bytes.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::string_view head = std::string_view(bytes).substr(0, head_end);
      if (!head.starts_with("HTTP/1.1 200 ")) {
        return ::testing::AssertionFailure()
               << "response " << complete << ": " << printable(head, 200);
      }
      const std::string field = "\r\nContent-Length: " + std::to_string(body_bytes) + "\r\n";
      if ((std::string(head) + "\r\n").find(field) == std::string::npos) {
        return ::testing::AssertionFailure() << "response " << complete << " is not of "
                                             << body_bytes << " bytes: " << printable(head, 300);
      }
      if (bytes.size() >= head_end + 4 + body_bytes) {
        bytes.erase(0, head_end + 4 + body_bytes);
        ++complete;
        continue;
      }
    }
    pollfd readable{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
    if (left <= 0 || ::poll(&readable, 1, static_cast<int>(left)) <= 0) {
      return ::testing::AssertionFailure() << complete << " of " << count << " responses in 5 s";
    }
    char buffer[64 * 1024];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      return ::testing::AssertionFailure() << "connection ended after " << complete << " responses";
    }
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  return ::testing::AssertionSuccess();
}

// Polls until the server holds no public connection (all states summed).
::testing::AssertionResult no_connections_left(std::uint16_t admin_port, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::optional<double> open;
  while (SteadyClock::now() < deadline) {
    open = metric_sum(admin_port, "edgefn_connections");
    if (open == 0.0) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(Millis{20});
  }
  return ::testing::AssertionFailure() << "edgefn_connections still " << open.value_or(-1)
                                       << " after " << timeout.count() << " ms";
}

void BackpressureTest::check_backpressure(std::string_view request, std::size_t body_bytes) {
  // Both routes once first, so the baseline holds what any first request allocates.
  for (const char* target : {"/hello", "/big"}) {
    HttpResponse response;
    ASSERT_TRUE(exchange(server_.port(), get_request(target), response));
    ASSERT_EQ(response.status, 200);
  }
  ASSERT_TRUE(no_connections_left(server_.admin_port(), Millis{2000}));
  const std::optional<std::size_t> before = resident_bytes(*pid_);
  ASSERT_TRUE(before);

  // A small receive buffer that is never read: the server can hand the kernel only a few
  // answers before its sends stall, so what it does afterwards is what is measured.
  const int fd = connect_nonblocking(server_.port(), 16 * 1024);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  // Closed at the end whatever happens; the test closes it sooner on purpose.
  struct CloseAtExit {
    int fd;
    bool closed = false;
    void close() {
      if (!closed) ::close(fd);
      closed = true;
    }
    ~CloseAtExit() { close(); }
  } socket{fd};
  const auto [written, blocked] = write_until_blocked(fd, request, Millis{15000});
  const std::optional<std::size_t> with = resident_bytes(*pid_);
  const std::size_t growth = with && *with > *before ? *with - *before : 0;
  std::cout << "backpressure (" << printable(request.substr(0, request.find('\r')))
            << "): the client's send blocked: " << (blocked ? "yes" : "no") << " after "
            << written / 1024 << " KiB of requests; server VmRSS grew by " << growth / 1024
            << " KiB\n";
  RecordProperty("request_bytes_written", std::to_string(written));
  RecordProperty("rss_growth_bytes", std::to_string(growth));
  EXPECT_TRUE(blocked) << "the server read " << written / (1024 * 1024)
                       << " MiB of requests from a client that reads no answers";
  ASSERT_TRUE(with);
  EXPECT_LT(growth, kRssGrowthBound);

  // Everyone else is still served meanwhile.
  HttpResponse response;
  ASSERT_TRUE(exchange(server_.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, world!");

  // Held back, not broken: the blocked client's first answers come out whole, in order.
  EXPECT_TRUE(read_responses(fd, 3, body_bytes));
  // With unread input and answers, close() resets the connection: the server must let go.
  socket.close();
  EXPECT_TRUE(no_connections_left(server_.admin_port(), Millis{5000}));
  ASSERT_TRUE(exchange(server_.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
}

TEST_F(BackpressureTest, PipelinedSmallAnswersThatAreNeverReadStopTheServerReading) {
  check_backpressure(get_request("/hello"), std::string_view("Hello, world!").size());
}

TEST_F(BackpressureTest, PipelinedLargeAnswersThatAreNeverReadStopTheServerReading) {
  // Each 40-byte request asks for 1 MiB: without a bound on queued output, a few KiB of requests
  // would make the server hold gigabytes.
  check_backpressure(get_request("/big"), kBigBytes);
}

}  // namespace
}  // namespace edgefn::integration
