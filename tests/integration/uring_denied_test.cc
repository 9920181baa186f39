// The I/O backend: where io_uring is forbidden (a seccomp filter like containers' default
// profiles) edgefn serves with epoll after one warning line, unless --io=uring insists, which
// exits with a clear message; --io=epoll forces epoll; the ready line, /functions and /metrics
// name the backend in use.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/integration/http_client.h"
#include "tests/integration/json_util.h"
#include "tests/integration/process.h"

namespace edgefn::integration {
namespace {

bool has_message(std::string_view line, std::string_view message) {
  rapidjson::Document document;
  document.Parse(line.data(), line.size());
  return !document.HasParseError() && document.IsObject() &&
         json_string(document, "msg") == message;
}

constexpr std::string_view kFallbackMessage = "io_uring unavailable, serving with epoll";

std::size_t count_lines_with(const std::string& text, std::string_view message) {
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (has_message(std::string_view(text).substr(start, end - start), message)) ++count;
    start = end + 1;
  }
  return count;
}

// GET `target` on `port`: the body of a 200, else a failure.
std::string body_of(std::uint16_t port, std::string_view target) {
  HttpResponse response;
  EXPECT_TRUE(exchange(port, get_request(target), response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  return response.body;
}

// /functions' "io".
std::optional<std::string> functions_io(std::uint16_t admin_port) {
  rapidjson::Document document;
  if (!parse_json(body_of(admin_port, "/functions"), document)) return std::nullopt;
  return json_string(document, "io");
}

// The backend gauge, with its HELP and TYPE lines, names `backend` and no other.
::testing::AssertionResult reports_backend(std::uint16_t admin_port, std::string_view backend) {
  const std::string metrics = body_of(admin_port, "/metrics");
  const std::string sample = "\nedgefn_io_backend{backend=\"" + std::string(backend) + "\"} 1\n";
  if (metrics.find(sample) == std::string::npos ||
      metrics.find("\n# HELP edgefn_io_backend ") == std::string::npos ||
      metrics.find("\n# TYPE edgefn_io_backend gauge\n") == std::string::npos) {
    return ::testing::AssertionFailure() << "no edgefn_io_backend for " << backend << " in:\n"
                                         << metrics;
  }
  std::size_t series = 0;
  for (std::size_t at = metrics.find("\nedgefn_io_backend{"); at != std::string::npos;
       at = metrics.find("\nedgefn_io_backend{", at + 1)) {
    ++series;
  }
  if (series != 1) {
    return ::testing::AssertionFailure() << series << " edgefn_io_backend series in:\n" << metrics;
  }
  return ::testing::AssertionSuccess();
}

TEST(IoUringDenied, ServeWithIoUringRequiredExitsWithAClearMessage) {
  Process process;
  ASSERT_TRUE(
      process.spawn({EDGEFN_DENY_IO_URING, binary_path(), "serve", manifest_path("basic.toml"),
                     "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--io=uring"}));
  const std::optional<int> status = process.wait_exit(kExitTimeout);
  ASSERT_TRUE(status.has_value()) << "still running with io_uring forbidden and required";
  EXPECT_EQ(*status, 1);
  const std::string err = process.err();
  EXPECT_NE(err.find("io_uring is not available: io_uring_setup failed: Operation not permitted"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("seccomp"), std::string::npos) << err;
  EXPECT_EQ(process.out().find("\"msg\":\"ready\""), std::string::npos) << process.out();
  EXPECT_EQ(count_lines_with(process.out(), kFallbackMessage), 0u) << process.out();
}

TEST(IoUringDenied, ServeFallsBackToEpollWithOneWarning) {
  // No --io at all: the default is auto.
  Process process;
  ASSERT_TRUE(
      process.spawn({EDGEFN_DENY_IO_URING, binary_path(), "serve", manifest_path("basic.toml"),
                     "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "2"}));
  const std::optional<std::string> ready = process.wait_for_line(
      [](std::string_view line) { return has_message(line, "ready"); }, kStartTimeout);
  ASSERT_TRUE(ready) << process.out() << process.err();
  rapidjson::Document ready_line;
  ASSERT_TRUE(parse_json(*ready, ready_line));
  EXPECT_EQ(json_string(ready_line, "io"), "epoll") << *ready;
  const std::uint16_t port = port_of(json_string(ready_line, "listen").value_or(""));
  const std::uint16_t admin_port = port_of(json_string(ready_line, "admin").value_or(""));
  ASSERT_NE(port, 0);
  ASSERT_NE(admin_port, 0);

  EXPECT_EQ(body_of(port, "/hello"), "Hello, world!");
  EXPECT_EQ(functions_io(admin_port), "epoll");
  EXPECT_TRUE(reports_backend(admin_port, "epoll"));

  const std::optional<std::string> warning = process.wait_for_line(
      [](std::string_view line) { return has_message(line, kFallbackMessage); }, Millis{0});
  ASSERT_TRUE(warning) << process.out();
  rapidjson::Document document;
  ASSERT_TRUE(parse_json(*warning, document));
  EXPECT_EQ(json_string(document, "level"), "warn");
  EXPECT_EQ(json_string(document, "reason"), "io_uring_setup failed: Operation not permitted");
  const std::string hint = json_string(document, "hint").value_or("");
  for (std::string_view part :
       {"io_uring_setup", "io_uring_enter", "io_uring_register", "deploy/seccomp.json",
        "--security-opt seccomp=deploy/seccomp.json", "seccompProfile: {type: Localhost}"}) {
    EXPECT_NE(hint.find(part), std::string::npos) << part << " not in the hint: " << hint;
  }
  // One line for the process, however many workers there are.
  EXPECT_EQ(count_lines_with(process.out(), kFallbackMessage), 1u) << process.out();

  ASSERT_TRUE(process.send_signal(SIGTERM));
  EXPECT_EQ(process.wait_exit(kExitTimeout), std::optional<int>(0)) << process.err();
  EXPECT_EQ(count_lines_with(process.out(), kFallbackMessage), 1u) << process.out();
}

TEST(IoUringDenied, CheckNeedsNoIoUring) {
  // Validating a manifest touches no ring, so it works in the most locked-down CI container.
  Process process;
  ASSERT_TRUE(
      process.spawn({EDGEFN_DENY_IO_URING, binary_path(), "check", manifest_path("basic.toml")}));
  EXPECT_EQ(process.wait_exit(kExitTimeout), std::optional<int>(0)) << process.err();
}

TEST(IoBackend, EpollServesWhenAskedFor) {
  Server server;
  // The "--io VALUE" spelling, which a run of the suite for either backend leaves alone.
  ASSERT_TRUE(server.start(manifest_path("basic.toml"), {"--workers", "2", "--io", "epoll"}));
  rapidjson::Document ready;
  ASSERT_TRUE(parse_json(server.ready_line(), ready));
  EXPECT_EQ(json_string(ready, "io"), "epoll") << server.ready_line();
  EXPECT_EQ(body_of(server.port(), "/hello"), "Hello, world!");
  EXPECT_EQ(body_of(server.port(), "/hello/epoll"), "Hello, epoll!");
  EXPECT_EQ(functions_io(server.admin_port()), "epoll");
  EXPECT_TRUE(reports_backend(server.admin_port(), "epoll"));
  // Chosen, not fallen back to: no warning.
  EXPECT_EQ(count_lines_with(server.out(), kFallbackMessage), 0u) << server.out();
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

TEST(IoBackend, TheBackendOfThisRunIsReported) {
  Server server;
  ASSERT_TRUE(server.start(manifest_path("basic.toml"), {"--workers", "2"}));
  rapidjson::Document ready;
  ASSERT_TRUE(parse_json(server.ready_line(), ready));
  EXPECT_EQ(json_string(ready, "io"), expected_io_backend()) << server.ready_line();
  EXPECT_EQ(functions_io(server.admin_port()), expected_io_backend());
  EXPECT_TRUE(reports_backend(server.admin_port(), expected_io_backend()));
  EXPECT_EQ(count_lines_with(server.out(), kFallbackMessage), 0u) << server.out();
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

TEST(IoBackend, AnUnknownBackendIsAUsageError) {
  const CommandResult result =
      run_edgefn({"serve", manifest_path("basic.toml"), "--listen", "127.0.0.1:0", "--io=kqueue"});
  EXPECT_EQ(result.status, 2) << result.err;
  EXPECT_NE(result.err.find("--io expects auto, uring or epoll"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("\"ready\""), std::string::npos) << result.out;
}

}  // namespace
}  // namespace edgefn::integration
