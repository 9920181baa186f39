// Function timeouts and node-wide concurrency limits over sockets (admission.toml): a timeout is
// a 504 at once on a connection that stays usable and never sees the late result; over the limit
// a request waits in the queue or is refused with 503 and Retry-After; a timeout, and a client
// that resets its connection while waiting or running, give the place or the slot back.
//
// The echo functions sleep for config.delay_ms. A request that must still be running while
// others arrive sleeps for seconds; which of several simultaneous requests runs is never
// assumed: the one refused or timed out first (the only one that can answer early) tells.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

constexpr std::string_view kOrigin = "https://app.example.com";
constexpr std::string_view kTimedOut =
    R"({"error":"the function did not answer in time","status":504})";
constexpr std::string_view kTooMany =
    R"({"error":"too many requests in progress for this function","status":503})";
constexpr std::string_view kNoCapacity =
    R"({"error":"no capacity for this function in time","status":503})";

// Deadline for reads that wait for a function sleeping seconds (and for others' turns).
constexpr Millis kLongWait{20000};

class AdmissionTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("admission.toml"); }
};

std::string with_origin(std::string_view target) {
  return get_request(target, "Origin: " + std::string(kOrigin) + "\r\n");
}

// Opens `count` connections first and then writes `request` on each, back to back, so the
// requests reach the server together.
::testing::AssertionResult send_together(std::uint16_t port, std::string_view request,
                                         std::size_t count, std::vector<Client>& clients) {
  clients.clear();
  clients.resize(count);
  for (Client& client : clients) {
    if (auto connected = client.connect(port); !connected) return connected;
  }
  for (Client& client : clients) {
    if (auto sent = client.send(request); !sent) return sent;
  }
  return ::testing::AssertionSuccess();
}

// The index of the first of `clients` to receive bytes (or a close).
std::optional<std::size_t> first_answered(std::vector<Client>& clients, Millis timeout) {
  std::vector<Client*> pointers;
  for (Client& client : clients)
    pointers.push_back(&client);
  return Client::wait_any(pointers, timeout);
}

// A 503 of the concurrency limit with `body`: JSON, Retry-After 1, on a connection kept open.
void expect_unavailable(const HttpResponse& response, std::string_view body) {
  EXPECT_TRUE(is_json_error(response, 503));
  EXPECT_EQ(response.body, body);
  EXPECT_EQ(response.header("retry-after"), "1") << printable(response.raw);
  EXPECT_EQ(response.header_count("retry-after"), 1u);
  EXPECT_FALSE(has_token(response.header("connection"), "close")) << printable(response.raw);
}

// The function's CORS lines (for an allowed Origin) and its response_headers.
void expect_function_headers(const HttpResponse& response) {
  EXPECT_EQ(response.header("access-control-allow-origin"), std::string(kOrigin))
      << printable(response.raw);
  EXPECT_EQ(response.header("vary"), "Origin");
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
}

// A request on `client` to the echo function behind `path` is answered 200 by it.
void expect_echo(Client& client, std::string_view path) {
  ASSERT_TRUE(client.send(get_request(path)));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response, kLongWait));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_NE(response.body.find("\"path\":\"" + std::string(path) + "\""), std::string::npos)
      << response.body;
}

TEST_F(AdmissionTest, TimeoutAnswers504AtOnceAndTheConnectionStaysUsable) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const auto sent = SteadyClock::now();
  ASSERT_TRUE(client.send(get_request("/slow")));
  HttpResponse response;
  // The function would answer after 3000 ms; its timeout is 100 ms.
  ASSERT_TRUE(client.read_response(response, Millis(2000)));
  EXPECT_LT(SteadyClock::now() - sent, Millis(2000));
  EXPECT_TRUE(is_json_error(response, 504));
  EXPECT_EQ(response.body, kTimedOut);
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header_count("retry-after"), 0u);
  EXPECT_FALSE(has_token(response.header("connection"), "close")) << printable(response.raw);
  // A request without an Origin gets the response_headers but no CORS lines.
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(response.header_count("access-control-allow-origin"), 0u);

  expect_echo(client, "/fast");
  // The same function times out again on the same connection.
  ASSERT_TRUE(client.send(get_request("/slow")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, kTimedOut);
}

TEST_F(AdmissionTest, TheLateResultOfATimedOutFunctionIsDropped) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const auto sent = SteadyClock::now();
  ASSERT_TRUE(client.send(get_request("/late")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, kTimedOut) << printable(response.raw);
  expect_echo(client, "/fast");
  // /late would have answered 800 ms after it started: nothing may arrive then, and the
  // connection stays open.
  const auto quiet_until = sent + Millis(1500);
  const auto now = SteadyClock::now();
  if (now < quiet_until) {
    EXPECT_TRUE(client.expect_silence(std::chrono::duration_cast<Millis>(quiet_until - now)));
  }
  expect_echo(client, "/fast");
  EXPECT_EQ(client.pending(), "");
}

TEST_F(AdmissionTest, PipelinedRequestBehindATimedOutOneIsAnswered) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(get_request("/slow") + get_request("/fast") + get_request("/late")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, kTimedOut) << printable(response.raw);
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_NE(response.body.find("\"path\":\"/fast\""), std::string::npos) << response.body;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, kTimedOut) << printable(response.raw);
  expect_echo(client, "/fast");
}

TEST_F(AdmissionTest, TimeoutAnswerCarriesCorsAndResponseHeaders) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(with_origin("/slow")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 504));
  expect_function_headers(response);
  EXPECT_EQ(response.header("access-control-expose-headers"), "x-request-id");

  // An origin the policy does not allow gets no CORS lines, still the response_headers.
  ASSERT_TRUE(client.send(get_request("/slow", "Origin: https://evil.example\r\n")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 504));
  EXPECT_EQ(response.header_count("access-control-allow-origin"), 0u) << printable(response.raw);
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
}

TEST_F(AdmissionTest, OneRunsAtOnceOverTheWholeNodeAndTheRestAreRefused) {
  // Six connections, spread over both workers by SO_REUSEPORT, ask at once for a function
  // that runs 2 s with max_concurrency = 1 and no queue.
  constexpr std::size_t kClients = 6;
  std::vector<Client> clients;
  ASSERT_TRUE(send_together(port(), with_origin("/single"), kClients, clients));
  std::size_t served = 0;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    HttpResponse response;
    ASSERT_TRUE(clients[i].read_response(response, kLongWait));
    if (response.status == 200) {
      ++served;
      expect_function_headers(response);
      continue;
    }
    ++refused;
    expect_unavailable(response, kTooMany);
    expect_function_headers(response);
    // A refusal keeps the connection usable.
    expect_echo(clients[i], "/fast");
  }
  EXPECT_EQ(served, 1u);
  EXPECT_EQ(refused, kClients - 1);
}

TEST_F(AdmissionTest, QueuedRequestsAllRunInTurnAcrossWorkers) {
  // max_concurrency = 1 with room for 7 waiters: eight requests at once all get their turn,
  // including those waiting on the worker that does not run the function when it frees.
  constexpr std::size_t kClients = 8;
  std::vector<Client> clients;
  ASSERT_TRUE(send_together(port(), get_request("/queued"), kClients, clients));
  for (std::size_t i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    HttpResponse response;
    ASSERT_TRUE(clients[i].read_response(response, kLongWait));
    EXPECT_EQ(response.status, 200) << printable(response.raw);
    EXPECT_TRUE(has_standard_fields(response));
    EXPECT_NE(response.body.find("\"path\":\"/queued\""), std::string::npos) << response.body;
  }
  // The limit is free again: one more runs without waiting for anybody.
  expect_echo(clients[0], "/queued");
}

TEST_F(AdmissionTest, AWaitLongerThanTheQueueTimeoutIs503) {
  // One runs for 2 s; the other waits at most 200 ms for its slot.
  std::vector<Client> clients;
  ASSERT_TRUE(send_together(port(), with_origin("/waits"), 2, clients));
  std::size_t served = 0;
  std::size_t timed_out = 0;
  for (Client& client : clients) {
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response, kLongWait));
    if (response.status == 200) {
      ++served;
      continue;
    }
    ++timed_out;
    expect_unavailable(response, kNoCapacity);
    expect_function_headers(response);
    expect_echo(client, "/fast");
  }
  EXPECT_EQ(served, 1u);
  EXPECT_EQ(timed_out, 1u);
}

TEST_F(AdmissionTest, AClientThatClosesWhileQueuedGivesItsPlaceBack) {
  // /line runs 10 s, with one place in its queue and a 1500 ms queue timeout.
  std::vector<Client> first;
  ASSERT_TRUE(send_together(port(), get_request("/line"), 2, first));
  // The waiter times out first; the other one runs.
  const std::optional<std::size_t> waiter = first_answered(first, kLongWait);
  ASSERT_TRUE(waiter.has_value());
  HttpResponse response;
  ASSERT_TRUE(first[*waiter].read_response(response));
  expect_unavailable(response, kNoCapacity);
  Client& runner = first[1 - *waiter];

  // The queue is empty again: of two more, one waits and the other is refused at once.
  std::vector<Client> second;
  const auto queued_at = SteadyClock::now();
  ASSERT_TRUE(send_together(port(), get_request("/line"), 2, second));
  const std::optional<std::size_t> refused = first_answered(second, kLongWait);
  ASSERT_TRUE(refused.has_value());
  ASSERT_TRUE(second[*refused].read_response(response));
  expect_unavailable(response, kTooMany);
  // An orderly close (FIN), the way most clients give up: nothing unread, so no reset.
  second[1 - *refused].close();

  // Its place is free as soon as the server sees the close, long before its queue timeout
  // would have freed it (1500 ms after it was queued): a new request waits (and then times out,
  // the runner still running) instead of being refused.
  const auto freed_by_timeout = queued_at + Millis(1500);
  while (true) {
    Client client;
    ASSERT_TRUE(client.connect(port()));
    const auto attempt = SteadyClock::now();
    ASSERT_TRUE(client.send(get_request("/line")));
    ASSERT_TRUE(client.read_response(response, kLongWait));
    if (response.body != kTooMany) {
      expect_unavailable(response, kNoCapacity);
      break;
    }
    // The close may not have been processed yet.
    ASSERT_LT(attempt, freed_by_timeout) << "the place was not given back when its client left";
    std::this_thread::sleep_for(Millis(10));
  }
  runner.abort();
}

TEST_F(AdmissionTest, AClientThatResetsWhileItsFunctionRunsGivesTheSlotBack) {
  // /hold runs 3 s, max_concurrency = 1, no queue: of two requests one is refused at once and
  // the other runs.
  const auto started = SteadyClock::now();
  std::vector<Client> clients;
  ASSERT_TRUE(send_together(port(), get_request("/hold"), 2, clients));
  const std::optional<std::size_t> refused = first_answered(clients, kLongWait);
  ASSERT_TRUE(refused.has_value());
  HttpResponse response;
  ASSERT_TRUE(clients[*refused].read_response(response));
  expect_unavailable(response, kTooMany);
  clients[1 - *refused].abort();

  // The function is cancelled and its slot comes back when the server sees the reset, not
  // when the function would have ended (3 s after it started).
  const auto would_have_ended = started + Millis(3000);
  while (true) {
    Client client;
    ASSERT_TRUE(client.connect(port()));
    const auto attempt = SteadyClock::now();
    ASSERT_TRUE(client.send(get_request("/hold")));
    ASSERT_TRUE(client.read_response(response, kLongWait));
    if (response.body != kTooMany) {
      EXPECT_EQ(response.status, 200) << printable(response.raw);
      break;
    }
    ASSERT_LT(attempt, would_have_ended) << "the slot was not given back when its client left";
    std::this_thread::sleep_for(Millis(10));
  }
}

TEST_F(AdmissionTest, ATimedOutFunctionGivesItsSlotBack) {
  // /capped: max_concurrency = 1, no queue, and it always times out after 200 ms. The slot is
  // given back before the 504 is written, so the next request, on the same connection or on
  // another one (maybe on the other worker), runs instead of being refused.
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse response;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(get_request("/capped")));
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.body, kTimedOut) << printable(response.raw);
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(exchange(port(), get_request("/capped"), response));
    EXPECT_EQ(response.body, kTimedOut) << printable(response.raw);
  }
}

// `edgefn check` on manifests that use the keys: admission.toml passes; range and dependency
// errors are all reported in one run, and echo's delay_ms is checked against its range.
class AdmissionCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "edgefn-admission-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!directory_.empty()) std::filesystem::remove_all(directory_, ignored);
  }

  std::string write(std::string_view name, std::string_view text) {
    const std::filesystem::path path = directory_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path directory_;
};

TEST_F(AdmissionCheckTest, TheTestManifestIsValid) {
  const CommandResult result = run_edgefn({"check", manifest_path("admission.toml")});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST_F(AdmissionCheckTest, EveryBadValueIsReported) {
  const std::string path = write("limits.toml", R"([functions.a]
module = "echo"
routes = ["GET /a"]
timeout = "0s"
max_concurrency = 0
queue = 2
queue_timeout = "soon"

[functions.b]
module = "echo"
routes = ["GET /b"]
queue = 3
)");
  const CommandResult result = run_edgefn({"check", path});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  EXPECT_EQ(
      result.err,
      path + ":4:11: functions.a.timeout: must be more than 0 and at most 1h; got \"0s\"\n" + path +
          ":5:19: functions.a.max_concurrency: must be between 1 and 1000000; got 0\n" + path +
          ":7:17: functions.a.queue_timeout: expected a duration such as \"250ms\" or "
          "\"30s\" (units: ns, us, ms, s, m, h)\n" +
          path +
          ":12:9: functions.b.queue: needs max_concurrency: a queue holds requests over "
          "that limit\n");
}

TEST_F(AdmissionCheckTest, EchoDelayOutOfRangeIsReported) {
  const std::string path = write("echo.toml", R"([functions.a]
module = "echo"
routes = ["GET /a"]
config = { delay_ms = 60001 }
)");
  const CommandResult result = run_edgefn({"check", path});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  EXPECT_EQ(result.err,
            path + ":4:10: functions.a.config: delay_ms: expected milliseconds from 0 to 60000\n");
}

}  // namespace
}  // namespace edgefn::integration
