// The process from the outside: the CLI commands, startup and its ready line, manifest errors,
// the admin listener, and shutdown on SIGTERM/SIGINT with in-flight requests drained.
#include <signal.h>

#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/integration/fixture.h"
#include "tests/integration/json_util.h"

namespace edgefn::integration {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  return lines;
}

// The first line of `text` that matches `pattern` (ECMAScript), or "".
std::string line_matching(const std::string& text, const std::string& pattern) {
  const std::regex expression(pattern);
  for (const std::string& line : lines_of(text)) {
    if (std::regex_search(line, expression)) return line;
  }
  return {};
}

TEST(Cli, VersionPrintsNameAndVersion) {
  const CommandResult result = run_edgefn({"--version"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "edgefn 0.1.0\n");
}

TEST(Cli, FunctionsListsEveryBuiltInModuleWithASummary) {
  const CommandResult result = run_edgefn({"functions"});
  ASSERT_EQ(result.status, 0) << result.err;
  const std::vector<std::string> lines = lines_of(result.out);
  for (const char* module : {"echo", "hello", "kv", "static"}) {
    // "<name><whitespace><summary>", the summary non-empty.
    const std::string line = line_matching(result.out, std::string("^") + module + "[ \t]+\\S");
    EXPECT_FALSE(line.empty()) << "no line for module " << module << " in:\n" << result.out;
  }
  EXPECT_GE(lines.size(), 4u);
  for (const std::string& line : lines)
    EXPECT_FALSE(line.empty()) << result.out;
}

TEST(Cli, CheckAcceptsAValidManifest) {
  const CommandResult result = run_edgefn({"check", manifest_path("basic.toml")});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST(Cli, CheckReportsEveryParseErrorWithItsPosition) {
  const CommandResult result = run_edgefn({"check", manifest_path("broken.toml")});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  // `header_timeout = "soon"` (line 4, the value at column 18) and `bogus = 1` (line 5, the key).
  EXPECT_NE(line_matching(result.err,
                          "broken\\.toml:4:18: server\\.header_timeout: expected a "
                          "duration such as \"250ms\" or \"30s\""),
            "")
      << result.err;
  EXPECT_NE(line_matching(result.err, "broken\\.toml:5:1: server\\.bogus: unknown key"), "")
      << result.err;
  // Every stderr line is a diagnostic of the file.
  for (const std::string& line : lines_of(result.err)) {
    EXPECT_TRUE(std::regex_search(line, std::regex("broken\\.toml:[0-9]+:[0-9]+: "))) << line;
  }
}

TEST(Cli, CheckReportsUnknownModulesAndRouteConflictsTogether) {
  const CommandResult result = run_edgefn({"check", manifest_path("bad_functions.toml")});
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  // The unknown module is reported where it is named (line 7) and lists the known ones.
  const std::string module_line =
      line_matching(result.err, "bad_functions\\.toml:7:[0-9]+: functions\\.ghost\\.module: ");
  EXPECT_NE(module_line, "") << result.err;
  for (const char* known : {"echo", "hello", "static"}) {
    EXPECT_NE(module_line.find(known), std::string::npos) << module_line;
  }
  // The second claim of a route is reported where it is declared (line 16, the string at
  // column 11), naming the first.
  EXPECT_NE(line_matching(result.err,
                          "bad_functions\\.toml:16:11: functions\\.second\\.routes\\[0\\]: "
                          "conflicts with functions\\.first\\.routes\\[0\\]"),
            "")
      << result.err;
}

TEST(Cli, ServeWithABrokenManifestExitsBeforeListening) {
  const CommandResult result = run_edgefn(
      {"serve", manifest_path("broken.toml"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.status, -1) << "serve did not exit on a broken manifest";
  EXPECT_NE(line_matching(result.err, "broken\\.toml:4:18: server\\.header_timeout: "), "")
      << result.err;
  EXPECT_NE(line_matching(result.err, "broken\\.toml:5:1: server\\.bogus: "), "") << result.err;
  EXPECT_EQ(result.out.find("\"ready\""), std::string::npos) << result.out;
}

TEST(Cli, ServeWithAMissingManifestFails) {
  const CommandResult result =
      run_edgefn({"serve", manifest_path("does-not-exist.toml"), "--listen", "127.0.0.1:0"});
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.status, -1) << "serve did not exit on a missing manifest";
  EXPECT_NE(result.err.find("does-not-exist.toml"), std::string::npos) << result.err;
}

TEST(Startup, ReadyLineDescribesTheServer) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("basic.toml"), {"--workers", "2"}));
  rapidjson::Document ready;
  ASSERT_TRUE(parse_json(server.ready_line(), ready));
  EXPECT_EQ(json_string(ready, "level"), "info");
  EXPECT_EQ(json_string(ready, "msg"), "ready");
  EXPECT_TRUE(json_string(ready, "time")) << server.ready_line();
  EXPECT_EQ(json_string(ready, "listen"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(json_string(ready, "admin"), "127.0.0.1:" + std::to_string(server.admin_port()));
  EXPECT_NE(server.port(), server.admin_port());
  EXPECT_EQ(json_int(ready, "workers"), 2);
  const std::optional<std::int64_t> startup_us = json_int(ready, "startup_us");
  ASSERT_TRUE(startup_us) << server.ready_line();
  EXPECT_GT(*startup_us, 0);
  EXPECT_LT(*startup_us, 5'000'000);
  EXPECT_EQ(json_string(ready, "io"), expected_io_backend());
  EXPECT_EQ(json_string(ready, "version"), "0.1.0");
  EXPECT_TRUE(json_string(ready, "allocator")) << server.ready_line();
  // Every stdout line so far is one JSON object.
  for (const std::string& line : lines_of(server.out())) {
    rapidjson::Document document;
    EXPECT_TRUE(parse_json(line, document));
    EXPECT_TRUE(document.IsObject()) << line;
  }
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

TEST(Startup, WorkersFlagOverridesTheManifest) {
  Server server;
  ASSERT_TRUE(
      server.start(manifest_path("basic.toml"), {"--workers", "1", "--log-level", "debug"}));
  rapidjson::Document ready;
  ASSERT_TRUE(parse_json(server.ready_line(), ready));
  EXPECT_EQ(json_int(ready, "workers"), 1);
  HttpResponse response;
  ASSERT_TRUE(exchange(server.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

TEST(Startup, TwoServersOnTheSameManifestGetDifferentPorts) {
  Server first;
  Server second;
  ASSERT_TRUE(first.start(manifest_path("basic.toml")));
  ASSERT_TRUE(second.start(manifest_path("basic.toml")));
  EXPECT_NE(first.port(), second.port());
  HttpResponse response;
  ASSERT_TRUE(exchange(second.port(), get_request("/hello"), response));
  EXPECT_EQ(response.body, "Hello, world!");
  EXPECT_EQ(first.stop(), 0) << first.output_for_failure();
  EXPECT_EQ(second.stop(), 0) << second.output_for_failure();
}

using AdminTest = ServerTest;

TEST_F(AdminTest, HealthzAndReadyzAnswer200) {
  for (const char* path : {"/healthz", "/readyz"}) {
    HttpResponse response;
    ASSERT_TRUE(exchange(admin_port(), get_request(path), response)) << path;
    EXPECT_EQ(response.status, 200) << path << ": " << printable(response.raw);
    EXPECT_TRUE(has_standard_fields(response)) << path;
  }
}

TEST_F(AdminTest, FunctionsListsNameModuleAndRoutes) {
  HttpResponse response;
  ASSERT_TRUE(exchange(admin_port(), get_request("/functions"), response));
  ASSERT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header("content-type"), "application/json");
  rapidjson::Document document;
  ASSERT_TRUE(parse_json(response.body, document));
  // Either a bare array or {"functions": [...]}.
  const rapidjson::Value* list =
      document.IsArray() ? &document : json_member(document, "functions");
  ASSERT_TRUE(list != nullptr && list->IsArray()) << response.body;
  std::map<std::string, const rapidjson::Value*> by_name;
  for (const rapidjson::Value& entry : list->GetArray()) {
    const std::optional<std::string> name = json_string(entry, "name");
    ASSERT_TRUE(name) << json_text(entry);
    by_name[*name] = &entry;
  }
  EXPECT_EQ(by_name.size(), 7u) << response.body;
  ASSERT_TRUE(by_name.count("hello")) << response.body;
  ASSERT_TRUE(by_name.count("small")) << response.body;
  EXPECT_EQ(json_string(*by_name["hello"], "module"), "hello");
  EXPECT_EQ(json_string(*by_name["small"], "module"), "echo");
  const rapidjson::Value* routes = json_member(*by_name["hello"], "routes");
  ASSERT_TRUE(routes != nullptr) << json_text(*by_name["hello"]);
  EXPECT_EQ(json_text(*routes), R"(["GET /hello","GET /hello/:name"])");
}

TEST_F(AdminTest, UnknownPathIsA404JsonError) {
  HttpResponse response;
  ASSERT_TRUE(exchange(admin_port(), get_request("/nope"), response));
  EXPECT_TRUE(is_json_error(response, 404));
}

TEST_F(AdminTest, AdminRoutesAreNotOnThePublicListener) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/healthz"), response));
  EXPECT_TRUE(is_json_error(response, 404));
}

// --- Shutdown ------------------------------------------------------------------------------

TEST(Shutdown, SigtermOnAnIdleServerExitsZeroQuickly) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("basic.toml")));
  HttpResponse response;
  ASSERT_TRUE(exchange(server.port(), get_request("/hello"), response));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(server.send_signal(SIGTERM));
  const std::optional<int> status = server.wait_exit(Millis{2500});
  ASSERT_TRUE(status) << "no exit within 2.5 s of SIGTERM\n" << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
  // Nothing was in flight, so it need not wait for the 3 s drain_timeout.
  EXPECT_LT(SteadyClock::now() - start, Millis{2500});
}

TEST(Shutdown, SigintExitsZero) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("basic.toml"), {"--workers", "1"}));
  ASSERT_TRUE(server.send_signal(SIGINT));
  const std::optional<int> status = server.wait_exit(Millis{2500});
  ASSERT_TRUE(status) << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
}

// GET /readyz on the admin port, polled until it answers `status` or `timeout` passes.
::testing::AssertionResult readyz_becomes(std::uint16_t admin_port, int status, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string last = "(no answer)";
  while (SteadyClock::now() < deadline) {
    HttpResponse response;
    if (auto answered = exchange(admin_port, get_request("/readyz"), response); answered) {
      if (response.status == status) return ::testing::AssertionSuccess();
      last = printable(response.raw);
    } else {
      last = answered.message();
    }
    std::this_thread::sleep_for(Millis{20});
  }
  return ::testing::AssertionFailure() << "/readyz never answered " << status << "; last: " << last;
}

// New connections after SIGTERM are refused, or closed before any response.
::testing::AssertionResult refuses_new_connections(std::uint16_t port, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string last;
  while (SteadyClock::now() < deadline) {
    Client client;
    if (client.try_connect(port, Millis{500}) != 0) return ::testing::AssertionSuccess();
    // Accepted by the kernel: the server must close it without answering. (A request sent
    // may also see a reset, which is as good as a refusal.)
    if (!client.send(get_request("/hello"))) return ::testing::AssertionSuccess();
    HttpResponse response;
    const auto answered = client.read_response(response, Millis{1000});
    if (!answered && client.peer_closed() && client.pending().empty()) {
      return ::testing::AssertionSuccess();
    }
    last = answered ? printable(response.raw) : answered.message();
    std::this_thread::sleep_for(Millis{20});
  }
  return ::testing::AssertionFailure() << "new connections still served after SIGTERM: " << last;
}

TEST(Shutdown, DrainFinishesTheRequestInFlightThenExitsZero) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("graceful.toml"), {"--workers", "2"}));

  // One finished request (so a worker owns the connection), then a POST whose body is half
  // sent when SIGTERM arrives.
  Client in_flight;
  ASSERT_TRUE(in_flight.connect(server.port()));
  ASSERT_TRUE(in_flight.send(get_request("/hello")));
  HttpResponse response;
  ASSERT_TRUE(in_flight.read_response(response));
  ASSERT_EQ(response.status, 200);
  ASSERT_TRUE(
      in_flight.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Length: 10\r\n\r\nhello"));
  std::this_thread::sleep_for(Millis{100});

  ASSERT_TRUE(server.send_signal(SIGTERM));
  EXPECT_TRUE(readyz_becomes(server.admin_port(), 503, Millis{2000}));
  EXPECT_TRUE(refuses_new_connections(server.port(), Millis{2000}));
  EXPECT_TRUE(server.running()) << "exited with a request in flight\n"
                                << server.output_for_failure();

  ASSERT_TRUE(in_flight.send("world"));
  ASSERT_TRUE(in_flight.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_token(response.header("connection"), "close")) << printable(response.raw);
  rapidjson::Document echo;
  ASSERT_TRUE(parse_json(response.body, echo));
  EXPECT_EQ(json_string(echo, "body"), "helloworld");
  EXPECT_TRUE(in_flight.expect_closed());
  in_flight.close();

  // The last connection is gone: the exit must not wait for drain_timeout (5 s).
  const std::optional<int> status = server.wait_exit(Millis{2000});
  ASSERT_TRUE(status) << "still running 2 s after its last connection closed\n"
                      << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
}

TEST(Shutdown, IdleKeepAliveConnectionIsClosedOrToldToClose) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("graceful.toml"), {"--workers", "2"}));
  // One connection keeps the server draining (a half-sent body) ...
  Client in_flight;
  ASSERT_TRUE(in_flight.connect(server.port()));
  ASSERT_TRUE(
      in_flight.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Length: 4\r\n\r\nab"));
  // ... while another sits idle after a keep-alive response.
  Client idle;
  ASSERT_TRUE(idle.connect(server.port()));
  ASSERT_TRUE(idle.send(get_request("/hello")));
  HttpResponse response;
  ASSERT_TRUE(idle.read_response(response));
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(has_token(response.header("connection"), "close"));
  std::this_thread::sleep_for(Millis{100});

  ASSERT_TRUE(server.send_signal(SIGTERM));
  EXPECT_TRUE(readyz_becomes(server.admin_port(), 503, Millis{2000}));
  // The idle connection's next response says Connection: close, unless the server already
  // closed it (then it sent nothing at all).
  if (idle.send(get_request("/hello"))) {
    const auto answered = idle.read_response(response);
    if (answered) {
      EXPECT_EQ(response.status, 200) << printable(response.raw);
      EXPECT_TRUE(has_token(response.header("connection"), "close")) << printable(response.raw);
      EXPECT_TRUE(idle.expect_closed());
    } else {
      EXPECT_TRUE(idle.peer_closed() && idle.pending().empty()) << answered.message();
    }
  }
  idle.close();

  ASSERT_TRUE(in_flight.send("cd"));
  ASSERT_TRUE(in_flight.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_token(response.header("connection"), "close"));
  EXPECT_TRUE(in_flight.expect_closed());
  in_flight.close();
  const std::optional<int> status = server.wait_exit(Millis{2000});
  ASSERT_TRUE(status) << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
}

TEST(Shutdown, DrainTimeoutEndsAStuckRequest) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("drain.toml"), {"--workers", "1"}));
  Client stuck;
  ASSERT_TRUE(stuck.connect(server.port()));
  ASSERT_TRUE(
      stuck.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100\r\n\r\npartial"));
  std::this_thread::sleep_for(Millis{100});

  const auto start = SteadyClock::now();
  ASSERT_TRUE(server.send_signal(SIGTERM));
  const std::optional<int> status = server.wait_exit(Millis{3000});
  const auto elapsed = SteadyClock::now() - start;
  ASSERT_TRUE(status) << "drain_timeout = 1s, still running after 3 s\n"
                      << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
  // It waited for the request (about drain_timeout), not less.
  EXPECT_GE(elapsed, Millis{800});
  EXPECT_TRUE(stuck.expect_closed(Millis{500}));
}

}  // namespace
}  // namespace edgefn::integration
