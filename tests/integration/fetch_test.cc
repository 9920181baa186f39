// ctx.fetch to pooled upstreams, through the proxy module, against the test's own origin
// (OriginServer, fetch.toml): keep-alive reuse and the pool's bound, attempt timeouts, retries
// of idempotent methods only, an upstream that is down, the circuit breaker (open, fail fast,
// probe, reopen) as the admin page shows it, host names and base paths in upstream URLs, and
// `edgefn check` on bad [upstreams.*] entries and allow-lists. First, the origin on its own.
#include <rapidjson/document.h>

#include <atomic>
#include <regex>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/json_util.h"
#include "tests/integration/origin_server.h"
#include "tests/integration/redis_server.h"

namespace edgefn::integration {
namespace {

Millis since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<Millis>(SteadyClock::now() - start);
}

HttpResponse get(std::uint16_t port, std::string_view target) {
  return roundtrip(port, http_request("GET", target));
}

// ---- the origin on its own -------------------------------------------------------------------

TEST(OriginServer, AnswersByPathOnAKeepAliveConnection) {
  OriginServer origin;
  ASSERT_TRUE(origin.start());
  Client client;
  ASSERT_TRUE(client.connect(origin.port()));
  HttpResponse response;

  ASSERT_TRUE(client.send(http_request("GET", "/ok")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
  EXPECT_EQ(response.header_count("date"), 1u);

  ASSERT_TRUE(client.send(http_request("POST", "/echo?a=1", "a \"body\"", "X-Test: Yes\r\n")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(response.body,
            R"({"method":"POST","target":"/echo?a=1","headers":{"host":"test.local",)"
            R"("x-test":"Yes","content-length":"8"},"body":"a \"body\""})");
  const OriginRequest last = origin.last_request();
  EXPECT_EQ(last.method, "POST");
  EXPECT_EQ(last.path, "/echo");
  EXPECT_EQ(last.header("x-test"), "Yes");
  EXPECT_EQ(last.body, "a \"body\"");

  ASSERT_TRUE(client.send(http_request("GET", "/status/418")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 418);
  ASSERT_TRUE(client.send(http_request("GET", "/big?bytes=100000")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, big_body(100000));
  ASSERT_TRUE(client.send(http_request("GET", "/base/cache?max_age=7")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.header("cache-control"), "max-age=7");
  EXPECT_EQ(response.body, "cache 1");
  ASSERT_TRUE(client.send(http_request("GET", "/slow?ms=100")));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(client.read_response(response));
  EXPECT_GE(since(start), Millis(90));
  EXPECT_EQ(response.body, "slow");
  ASSERT_TRUE(client.send(http_request("GET", "/hop-headers")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.header("x-hop"), "1");

  EXPECT_EQ(origin.accepted(), 1);
  EXPECT_EQ(origin.open_connections(), 1);
  EXPECT_EQ(origin.requests(), 7);
  EXPECT_EQ(origin.requests_for("/ok"), 1);
  EXPECT_EQ(origin.requests_for("/base/cache"), 1);

  // The first request of a key is refused by a close, the next one answered.
  ASSERT_TRUE(client.send(http_request("GET", "/fail-first?n=1&key=k")));
  EXPECT_TRUE(client.expect_closed());
  ASSERT_TRUE(exchange(origin.port(), http_request("GET", "/fail-first?key=k&n=1"), response));
  EXPECT_EQ(response.body, "ok after 1");
  EXPECT_EQ(origin.fail_first_count("k"), 2);

  Client closing;
  ASSERT_TRUE(closing.connect(origin.port()));
  ASSERT_TRUE(closing.send(http_request("GET", "/close")));
  ASSERT_TRUE(closing.read_response(response));
  EXPECT_EQ(response.header("connection"), "close");
  EXPECT_TRUE(closing.expect_closed());

  Client chunked;
  ASSERT_TRUE(chunked.connect(origin.port()));
  ASSERT_TRUE(chunked.send(http_request("GET", "/chunked", {}, "Connection: close\r\n")));
  std::string bytes;
  ASSERT_TRUE(chunked.read_until_close(bytes));
  EXPECT_NE(bytes.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << printable(bytes);
  EXPECT_TRUE(bytes.ends_with("\r\n\r\n6\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n"))
      << printable(bytes);

  EXPECT_TRUE(eventually([&] { return origin.open_connections() == 0; }, Millis(2000)));
  EXPECT_EQ(origin.accepted(), 4);
  // One at a time, but a closed one may not have been noticed yet when the next came.
  EXPECT_GE(origin.max_open_connections(), 1);
  EXPECT_LE(origin.max_open_connections(), 2);
}

TEST(OriginServer, FailsOnDemandStopsPromptlyAndRestartsOnItsPort) {
  OriginServer origin;
  ASSERT_TRUE(origin.start());
  HttpResponse response;
  origin.set_failing(OriginServer::Failure::k503);
  ASSERT_TRUE(exchange(origin.port(), http_request("GET", "/ok"), response));
  EXPECT_EQ(response.status, 503);
  origin.set_failing(OriginServer::Failure::kClose);
  Client refused;
  ASSERT_TRUE(refused.connect(origin.port()));
  ASSERT_TRUE(refused.send(http_request("GET", "/ok")));
  EXPECT_TRUE(refused.expect_closed());
  origin.set_failing(OriginServer::Failure::kNone);
  ASSERT_TRUE(exchange(origin.port(), http_request("GET", "/ok"), response));
  EXPECT_EQ(response.status, 200);

  // A hanging request and an idle keep-alive connection end with stop(), at once.
  Client hanging;
  ASSERT_TRUE(hanging.connect(origin.port()));
  ASSERT_TRUE(hanging.send(http_request("GET", "/hang")));
  Client idle;
  ASSERT_TRUE(idle.connect(origin.port()));
  ASSERT_TRUE(eventually([&] { return origin.requests_for("/hang") == 1; }, Millis(2000)));
  const std::uint16_t port = origin.port();
  const auto start = SteadyClock::now();
  origin.stop();
  EXPECT_LT(since(start), Millis(1000));
  EXPECT_TRUE(hanging.expect_closed());
  EXPECT_TRUE(idle.expect_closed());
  Client nobody;
  EXPECT_EQ(nobody.try_connect(port), ECONNREFUSED);

  ASSERT_TRUE(origin.restart());
  EXPECT_EQ(origin.port(), port);
  ASSERT_TRUE(exchange(port, http_request("GET", "/ok"), response));
  EXPECT_EQ(response.body, "ok");
  EXPECT_EQ(origin.requests_for("/ok"), 4);  // counters survive a restart
}

// ---- edgefn against the origin ---------------------------------------------------------------

class FetchTest : public OriginFixture {
 protected:
  void SetUp() override {
    OriginFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(start_server("fetch.toml"));
  }

  // The admin page's `state` of the upstream called `name` in {"upstreams":[{"name":...}]}.
  std::string circuit_state(std::string_view name) {
    const HttpResponse response = get(admin_port(), "/upstreams");
    rapidjson::Document document;
    if (response.status != 200 || !parse_json(response.body, document)) {
      ADD_FAILURE() << "GET /upstreams: " << printable(response.raw);
      return "";
    }
    const rapidjson::Value* upstreams = json_member(document, "upstreams");
    if (upstreams == nullptr || !upstreams->IsArray()) {
      ADD_FAILURE() << "no array \"upstreams\" in " << response.body;
      return "";
    }
    for (const rapidjson::Value& upstream : upstreams->GetArray()) {
      if (json_string(upstream, "name") == name) {
        if (const std::optional<std::string> state = json_string(upstream, "state")) return *state;
        ADD_FAILURE() << "no string \"state\" in " << json_text(upstream);
        return "";
      }
    }
    ADD_FAILURE() << "no upstream \"" << name << "\" in " << response.body;
    return "";
  }

  // The process still proxies.
  void expect_serving() {
    const HttpResponse response = get(port(), "/p/ok");
    EXPECT_EQ(response.status, 200) << printable(response.raw);
    EXPECT_EQ(response.body, "ok");
  }
};

// A JSON 503 from the open circuit (not the origin's own 503), with Retry-After.
::testing::AssertionResult is_circuit_open(const HttpResponse& response) {
  if (auto error = is_json_error(response, 503); !error) return error;
  if (!response.header("retry-after")) {
    return ::testing::AssertionFailure() << "no Retry-After:\n" << printable(response.raw);
  }
  return ::testing::AssertionSuccess();
}

TEST_F(FetchTest, TheTemplateIsAValidManifest) {
  const CommandResult result = run_edgefn({"check", render("fetch.toml")});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST_F(FetchTest, SequentialCallsReuseOneKeepAliveConnection) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  for (int i = 0; i < 10; ++i) {
    HttpResponse response;
    ASSERT_TRUE(client.send(http_request("GET", "/p/ok")));
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "ok");
    EXPECT_TRUE(has_standard_fields(response));
  }
  for (int i = 0; i < 10; ++i) {
    const HttpResponse response = get(port(), "/p/ok");
    EXPECT_EQ(response.status, 200);
  }
  EXPECT_EQ(origin_.requests_for("/ok"), 20);
  EXPECT_EQ(origin_.accepted(), 1);
}

TEST_F(FetchTest, ConcurrentCallsShareAPoolOfFourConnections) {
  constexpr int kClients = 50;
  constexpr int kEach = 4;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      Client client;
      if (!client.connect(port())) {
        ++failed;
        return;
      }
      for (int i = 0; i < kEach; ++i) {
        HttpResponse response;
        if (!client.send(http_request("GET", "/p/slow?ms=20")) ||
            !client.read_response(response, Millis(10000))) {
          ++failed;
          return;
        }
        (response.status == 200 && response.body == "slow" ? ok : failed)++;
      }
    });
  }
  for (std::thread& client : clients)
    client.join();
  EXPECT_EQ(ok.load(), kClients * kEach);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(origin_.requests_for("/slow"), kClients * kEach);
  EXPECT_LE(origin_.max_open_connections(), 4);
  EXPECT_LE(origin_.accepted(), 4);
  expect_serving();
}

TEST_F(FetchTest, AnAttemptThatTimesOutIs504AndTheServerKeepsServing) {
  const auto start = SteadyClock::now();
  const HttpResponse response = get(port(), "/q/hang");
  const Millis waited = since(start);
  EXPECT_TRUE(is_json_error(response, 504));
  EXPECT_GE(waited, Millis(150));
  EXPECT_LT(waited, Millis(2000));
  EXPECT_EQ(origin_.requests_for("/hang"), 1);  // retries = 0
  // The timed-out connection is dropped (its answer could still come), the next call opens one.
  const HttpResponse next = get(port(), "/q/ok");
  EXPECT_EQ(next.status, 200) << printable(next.raw);
  EXPECT_TRUE(eventually([&] { return origin_.open_connections() == 1; }, Millis(3000)))
      << origin_.open_connections() << " connections open at the origin";
  expect_serving();
}

TEST_F(FetchTest, AGetWhoseAttemptTimesOutIsTriedOnceMore) {
  const auto start = SteadyClock::now();
  const HttpResponse response = get(port(), "/patient/hang");
  const Millis waited = since(start);
  EXPECT_TRUE(is_json_error(response, 504));
  EXPECT_EQ(origin_.requests_for("/hang"), 2);  // retries = 1: two attempts of 200ms
  EXPECT_GE(waited, Millis(350));
  EXPECT_LT(waited, Millis(2000));
  expect_serving();
}

TEST_F(FetchTest, AFailedGetIsRetriedAndAPostIsNot) {
  const HttpResponse retried = get(port(), "/p/fail-first?n=1&key=g");
  EXPECT_EQ(retried.status, 200) << printable(retried.raw);
  EXPECT_EQ(retried.body, "ok after 1");
  EXPECT_EQ(origin_.fail_first_count("g"), 2);

  // The POST goes out on the connection the GET's retry left in the pool: not repeated even
  // though that connection broke before any byte of the answer.
  const HttpResponse posted =
      roundtrip(port(), http_request("POST", "/p/fail-first?n=1&key=p", "x"));
  EXPECT_TRUE(is_json_error(posted, 502));
  EXPECT_EQ(origin_.fail_first_count("p"), 1);
  expect_serving();
}

TEST_F(FetchTest, AnUpstreamThatIsDownIs502AtOnce) {
  // circuit_failures = 0: however many calls fail, each is tried (a 502, never the circuit's 503).
  for (int i = 0; i < 8; ++i) {
    const auto start = SteadyClock::now();
    const HttpResponse response = get(port(), "/down/ok");
    EXPECT_TRUE(is_json_error(response, 502)) << "call " << i;
    EXPECT_LT(since(start), Millis(1000));
  }
  expect_serving();
}

TEST_F(FetchTest, TheCircuitOpensFailsFastAndAProbeClosesIt) {
  EXPECT_EQ(circuit_state("breaker"), "closed");
  // Three calls whose connection breaks: the third opens the circuit (retries = 0).
  origin_.set_failing(OriginServer::Failure::kClose);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(is_json_error(get(port(), "/b/ok"), 502)) << "call " << i;
  }
  EXPECT_EQ(origin_.requests(), 3);
  const auto opened = SteadyClock::now();
  const auto start = SteadyClock::now();
  EXPECT_TRUE(is_circuit_open(get(port(), "/b/ok")));
  EXPECT_LT(since(start), Millis(200));
  EXPECT_EQ(origin_.requests(), 3);  // not sent
  EXPECT_EQ(circuit_state("breaker"), "open");

  // After circuit_reset one call goes through; the origin answers it and the circuit closes.
  origin_.set_failing(OriginServer::Failure::kNone);
  expect_serving();  // another upstream of the same origin is not affected
  EXPECT_TRUE(is_circuit_open(get(port(), "/b/ok")));
  int before = origin_.requests();
  HttpResponse probe;
  ASSERT_TRUE(eventually(
      [&] {
        probe = get(port(), "/b/ok");
        return origin_.requests() > before;
      },
      Millis(5000)));
  EXPECT_GE(since(opened), Millis(800));
  EXPECT_EQ(probe.status, 200) << printable(probe.raw);
  EXPECT_EQ(circuit_state("breaker"), "closed");
  EXPECT_EQ(get(port(), "/b/ok").status, 200);
}

TEST_F(FetchTest, FiveHundredsOpenTheCircuitAndAFailedProbeReopensIt) {
  // The origin's own 503s are passed on, and count as failures.
  origin_.set_failing(OriginServer::Failure::k503);
  for (int i = 0; i < 3; ++i) {
    const HttpResponse response = get(port(), "/b/ok");
    EXPECT_EQ(response.status, 503) << "call " << i;
    EXPECT_EQ(response.body, "failing") << "call " << i;
  }
  EXPECT_TRUE(is_circuit_open(get(port(), "/b/ok")));
  EXPECT_EQ(origin_.requests(), 3);
  EXPECT_EQ(circuit_state("breaker"), "open");

  // The probe's connection breaks: open again at once, for another circuit_reset. The probe
  // goes out on the pooled connection the 503s left open; one the origin closes before any byte
  // of the answer counts as stale and the call is sent once more on a fresh connection (a GET
  // only, and without using up a retry), so the origin sees the probe twice, as one failed call.
  origin_.set_failing(OriginServer::Failure::kClose);
  const int accepted = origin_.accepted();
  int before = origin_.requests();
  HttpResponse probe;
  ASSERT_TRUE(eventually(
      [&] {
        probe = get(port(), "/b/ok");
        return origin_.requests() > before;
      },
      Millis(5000)));
  EXPECT_TRUE(is_json_error(probe, 502));
  const auto reopened = SteadyClock::now();
  EXPECT_TRUE(is_circuit_open(get(port(), "/b/ok")));
  EXPECT_EQ(origin_.requests(), before + 2);
  EXPECT_EQ(origin_.accepted(), accepted + 1);
  EXPECT_EQ(circuit_state("breaker"), "open");

  // A healthy origin again: the next probe closes it.
  origin_.set_failing(OriginServer::Failure::kNone);
  before = origin_.requests();
  ASSERT_TRUE(eventually(
      [&] {
        probe = get(port(), "/b/ok");
        return origin_.requests() > before;
      },
      Millis(5000)));
  EXPECT_GE(since(reopened), Millis(800));
  EXPECT_EQ(probe.status, 200) << printable(probe.raw);
  EXPECT_EQ(circuit_state("breaker"), "closed");
  expect_serving();
}

TEST_F(FetchTest, AnOriginClosingItsConnectionsFailsNoCall) {
  // Connection: close from the origin: that connection is not used again.
  const HttpResponse closing = get(port(), "/p/close");
  EXPECT_EQ(closing.status, 200) << printable(closing.raw);
  EXPECT_EQ(closing.body, "closing");
  EXPECT_EQ(get(port(), "/p/ok").status, 200);
  EXPECT_EQ(origin_.accepted(), 2);
  // The origin restarts, closing the idle pooled connection: the next calls open a new one.
  ASSERT_TRUE(origin_.restart());
  for (int i = 0; i < 3; ++i) {
    const HttpResponse response = get(port(), "/p/ok");
    EXPECT_EQ(response.status, 200) << printable(response.raw);
  }
  EXPECT_EQ(origin_.accepted(), 3);
}

TEST_F(FetchTest, AnUpstreamNamedByHostIsResolved) {
  const HttpResponse response = get(port(), "/named/echo");
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(origin_.last_request().header("host"), "localhost:" + std::to_string(origin_.port()));
}

TEST_F(FetchTest, TheUrlsBasePathGoesInFrontOfTheTarget) {
  HttpResponse response = get(port(), "/based/echo?x=1");
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(origin_.last_request().target, "/base/echo?x=1");
  response = get(port(), "/based/");
  EXPECT_EQ(origin_.last_request().target, "/base/");
}

// ---- manifest checks -------------------------------------------------------------------------

// The stderr line that matches `pattern`, or "".
std::string line_matching(const std::string& text, const std::string& pattern) {
  const std::regex wanted(pattern);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    if (std::regex_search(line, wanted)) return line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

std::string escaped(const std::string& path) {
  return std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
}

TEST(FetchManifest, AProxyMayOnlyUseAnUpstreamItLists) {
  const std::string path = manifest_path("fetch_not_allowed.toml");
  const CommandResult result = run_edgefn({"check", path});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  EXPECT_NE(line_matching(result.err, "^" + escaped(path) +
                                          R"(:13:44: functions\.p\.config\.upstream: .*other)"),
            "")
      << result.err;
}

TEST(FetchManifest, BadUpstreamsAreAllReportedWithTheirPositions) {
  const std::string path = manifest_path("fetch_bad_upstreams.toml");
  const CommandResult result = run_edgefn({"check", path});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  const std::string file = "^" + escaped(path);
  for (const std::string& pattern : {
           file + R"(:4:7: upstreams\.ftp\.url: )",
           file + R"(:7:7: upstreams\.tls\.url: .*https)",
           file + R"(:10:7: upstreams\.hostless\.url: )",
           file + R"(:14:1: upstreams\.typo\.retry: unknown key)",
           file + R"(:19:[0-9]+: functions\.p\.upstreams(\[1\])?: .*ghost)",
       }) {
    EXPECT_NE(line_matching(result.err, pattern), "") << pattern << "\n" << result.err;
  }
  // Nothing else: "typo" is declared, so the config's upstream and upstreams[0] are fine.
  EXPECT_EQ(line_matching(result.err, R"(functions\.p\.config)"), "") << result.err;
  EXPECT_EQ(line_matching(result.err, R"(upstreams\[0\])"), "") << result.err;
}

}  // namespace
}  // namespace edgefn::integration
