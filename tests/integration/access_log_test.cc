// The access log over the real binary: one JSON line per request on stdout with the request,
// its function and route, status, bytes, duration, cache outcome, client and trace id; [log]
// access = false writes none, and sample keeps about its share.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/json_util.h"

namespace edgefn::integration {
namespace {

// Every "access" line of `out`, parsed (a line that does not parse is a test failure).
std::vector<rapidjson::Document> access_lines(const std::string& out) {
  std::vector<rapidjson::Document> lines;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string_view line(out.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    rapidjson::Document document;
    EXPECT_TRUE(parse_json(line, document)) << line;
    if (json_string(document, "msg") == "access") lines.push_back(std::move(document));
  }
  return lines;
}

class AccessLogTest : public ServerTest {
 protected:
  int status_of(std::string_view request) {
    HttpResponse response;
    EXPECT_TRUE(exchange(port(), request, response));
    return response.status;
  }
  // Waits until the server has written `count` access lines (they leave through its ring).
  std::vector<rapidjson::Document> wait_for_lines(std::size_t count) {
    std::vector<rapidjson::Document> lines;
    for (int i = 0; i < 250; ++i) {
      lines = access_lines(server_.out());
      if (lines.size() >= count) break;
      std::this_thread::sleep_for(Millis(20));
    }
    return lines;
  }
};

TEST_F(AccessLogTest, OneJsonLinePerRequestWithWhatAnSreNeeds) {
  ASSERT_EQ(status_of("GET /hello/log HTTP/1.1\r\nHost: test.local\r\n"
                      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
                      "\r\n"),
            200);
  ASSERT_EQ(status_of(get_request("/no/such")), 404);
  ASSERT_EQ(status_of("GET /hello HTTP/1.1\r\nHost: test.local\r\n"
                      "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n"
                      "\r\n"),
            200);
  const std::vector<rapidjson::Document> lines = wait_for_lines(3);
  ASSERT_EQ(lines.size(), 3u) << server_.out();
  // Two workers write their own lines: the order between them is not the requests' order.
  const auto line_for = [&](std::string_view target) -> const rapidjson::Document& {
    for (const rapidjson::Document& line : lines) {
      if (json_string(line, "target") == target) return line;
    }
    ADD_FAILURE() << "no access line for " << target << " in\n" << server_.out();
    return lines.front();
  };

  const rapidjson::Document& hello = line_for("/hello/log");
  EXPECT_EQ(json_string(hello, "level"), "info");
  EXPECT_TRUE(json_string(hello, "time").value_or("").ends_with("Z"));
  EXPECT_EQ(json_string(hello, "method"), "GET");
  EXPECT_EQ(json_string(hello, "target"), "/hello/log");
  EXPECT_EQ(json_string(hello, "function"), "hello");
  EXPECT_EQ(json_string(hello, "route"), "GET /hello/:name");
  EXPECT_EQ(json_int(hello, "status"), 200);
  EXPECT_GT(json_int(hello, "bytes").value_or(0), 100);  // head and body on the wire
  EXPECT_GE(json_int(hello, "duration_us").value_or(-1), 0);
  EXPECT_EQ(json_string(hello, "client"), "127.0.0.1");
  EXPECT_EQ(json_string(hello, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");

  const rapidjson::Document& missing = line_for("/no/such");
  const rapidjson::Document& invalid_trace = line_for("/hello");
  EXPECT_EQ(json_int(missing, "status"), 404);
  EXPECT_EQ(json_member(missing, "function"), nullptr);
  EXPECT_EQ(json_member(missing, "cache"), nullptr);

  // Without a traceparent, or with an invalid one (an all-zero trace id), the edge starts a
  // trace of its own: 32 lower-case hex digits, not all zero, new for each request.
  const auto generated = [](const rapidjson::Document& line) {
    const std::string id = json_string(line, "trace_id").value_or("");
    return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos &&
           id != std::string(32, '0');
  };
  EXPECT_TRUE(generated(missing)) << json_text(missing);
  EXPECT_TRUE(generated(invalid_trace)) << json_text(invalid_trace);
  EXPECT_NE(json_string(missing, "trace_id"), json_string(invalid_trace, "trace_id"));
}

// basic.toml with a [log] table in front.
class LogSettingsTest : public AccessLogTest {
 protected:
  void SetUp() override {}  // each test starts its own server
  void start_with(const std::string& log_table,
                  const std::vector<std::string>& flags = {"--workers", "1"}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("edgefn-log-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ostringstream text;
    text << std::ifstream(manifest_path("basic.toml")).rdbuf();
    const std::string path = (dir_ / "edgefn.toml").string();
    std::filesystem::create_directories(dir_ / "static");
    std::filesystem::copy(
        std::filesystem::path(manifest_path("basic.toml")).parent_path() / "static",
        dir_ / "static",
        std::filesystem::copy_options::overwrite_existing |
            std::filesystem::copy_options::recursive);
    basic_ = text.str();
    std::ofstream(path) << log_table << "\n" << basic_;
    ASSERT_TRUE(server_.start(path, flags));
  }
  // Replaces the manifest's [log] table, and waits until a SIGHUP has applied it.
  void reload_with(const std::string& log_table) {
    const std::string path = (dir_ / "edgefn.toml").string();
    std::ofstream(path + ".new") << log_table << "\n" << basic_;
    std::filesystem::rename(path + ".new", path);
    ASSERT_TRUE(server_.send_signal(SIGHUP));
    for (int i = 0; i < 250; ++i) {
      HttpResponse metrics;
      ASSERT_TRUE(exchange(admin_port(), get_request("/metrics"), metrics));
      if (metrics.body.find("edgefn_reloads_total{result=\"applied\"} 1\n") != std::string::npos)
        return;
      std::this_thread::sleep_for(Millis(20));
    }
    FAIL() << "the reload was not applied: " << server_.out();
  }
  // The "msg" of every line of `out` at `level`.
  static std::vector<std::string> messages_at(const std::string& out, std::string_view level) {
    std::vector<std::string> messages;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      rapidjson::Document document;
      if (parse_json(line, document) && json_string(document, "level") == level)
        messages.push_back(json_string(document, "msg").value_or(""));
    }
    return messages;
  }
  void TearDown() override {
    AccessLogTest::TearDown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::filesystem::path dir_;
  std::string basic_;
};

TEST_F(LogSettingsTest, AccessFalseWritesNoAccessLines) {
  start_with("[log]\naccess = false\n");
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(status_of(get_request("/hello")), 200);
  // A line the server writes after those requests has passed them in its buffer.
  ASSERT_EQ(server_.stop(), 0);
  EXPECT_TRUE(access_lines(server_.out()).empty()) << server_.out();
}

TEST_F(LogSettingsTest, SampleKeepsAboutItsShare) {
  start_with("[log]\nsample = 0.25\n");
  for (int i = 0; i < 400; ++i)
    ASSERT_EQ(status_of(get_request("/hello")), 200);
  ASSERT_EQ(server_.stop(), 0);
  const std::size_t logged = access_lines(server_.out()).size();
  // 100 expected; a binomial's spread at 400 draws is 8.7, so 40..160 cannot fail by chance.
  EXPECT_GT(logged, 40u);
  EXPECT_LT(logged, 160u);
}

TEST_F(LogSettingsTest, TheManifestLevelHidesLowerLinesButNotAccessLines) {
  start_with("[log]\nlevel = \"info\"\n");
  reload_with("[log]\nlevel = \"error\"\n");
  ASSERT_EQ(status_of(get_request("/hello")), 200);
  ASSERT_EQ(server_.stop(), 0);
  const std::vector<std::string> info = messages_at(server_.out(), "info");
  // "ready" came before the reload, "stopped" (info) after it: gone; the access line stays.
  EXPECT_NE(std::find(info.begin(), info.end(), "ready"), info.end()) << server_.out();
  EXPECT_EQ(std::find(info.begin(), info.end(), "stopped"), info.end()) << server_.out();
  EXPECT_EQ(access_lines(server_.out()).size(), 1u) << server_.out();
}

TEST_F(LogSettingsTest, TheCommandLineLevelWinsOverTheManifest) {
  // The manifest would hide "ready" (which start_with waits for): --log-level keeps it.
  start_with("[log]\nlevel = \"error\"\n", {"--workers", "1", "--log-level", "info"});
  ASSERT_EQ(server_.stop(), 0);
  const std::vector<std::string> info = messages_at(server_.out(), "info");
  EXPECT_NE(std::find(info.begin(), info.end(), "stopped"), info.end()) << server_.out();
}

}  // namespace
}  // namespace edgefn::integration
