// Manifest reload over sockets: SIGHUP and --watch apply changed, added and removed functions;
// an invalid manifest is logged error by error and changes nothing; and a steady load over
// keep-alive connections sees no failed request while the manifest is reloaded 20 times.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

constexpr std::string_view kServer = R"([server]
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"
workers = 2
header_timeout = "2s"
idle_timeout = "5s"
drain_timeout = "2s"
)";

std::string hello_function(std::string_view greeting) {
  return "\n[functions.hello]\nmodule = \"hello\"\nroutes = [\"GET /hello\"]\n"
         "config = { greeting = \"" +
         std::string(greeting) + "\" }\n";
}

constexpr std::string_view kGone = R"(
[functions.gone]
module = "static"
routes = ["GET /gone"]
config = { body = "still here" }
)";

constexpr std::string_view kAdded = R"(
[functions.added]
module = "static"
routes = ["GET /added"]
config = { body = "new" }
)";

// A function whose body rules live in a file of their own, so --watch must see schema edits.
constexpr std::string_view kOrders = R"(
[functions.orders]
module = "echo"
routes = ["POST /orders"]
body_schema = "order.json"
)";

// A manifest in a fresh temporary folder, rewritten the way editors and config tools do:
// written beside, then renamed over the old file (a reader never sees half a file).
class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "edgefn-reload-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    if (server_.running()) {
      EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(std::string_view name) const { return (dir_ / name).string(); }

  void write(std::string_view name, std::string_view text) {
    const std::string temporary = path(std::string(name) + ".new");
    std::ofstream(temporary, std::ios::binary | std::ios::trunc) << text;
    std::filesystem::rename(temporary, path(name));
  }

  ::testing::AssertionResult wait_for_log(std::string_view needle, int count) {
    return integration::wait_for_log(server_, needle, count);
  }
  std::string body_of(std::string_view target) { return status_and_body(server_.port(), target); }

  std::filesystem::path dir_;
  Server server_;
};

TEST_F(ReloadTest, SighupAppliesChangedAddedAndRemovedFunctions) {
  write("edgefn.toml", std::string(kServer) + hello_function("Hi") + std::string(kGone));
  ASSERT_TRUE(server_.start(path("edgefn.toml")));
  EXPECT_EQ(body_of("/hello"), "200 Hi, world!");
  EXPECT_EQ(body_of("/gone"), "200 still here");
  EXPECT_EQ(body_of("/added").substr(0, 3), "404");

  write("edgefn.toml", std::string(kServer) + hello_function("Bonjour") + std::string(kAdded));
  ASSERT_TRUE(server_.send_signal(SIGHUP));
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded","cause":"SIGHUP","functions":2,"routes":2)", 1));
  EXPECT_EQ(body_of("/hello"), "200 Bonjour, world!");
  EXPECT_EQ(body_of("/added"), "200 new");
  EXPECT_EQ(body_of("/gone").substr(0, 3), "404");

  // The admin page describes the running manifest.
  HttpResponse functions;
  ASSERT_TRUE(exchange(server_.admin_port(), get_request("/functions"), functions));
  EXPECT_NE(functions.body.find(R"("name":"added")"), std::string::npos) << functions.body;
  EXPECT_EQ(functions.body.find(R"("name":"gone")"), std::string::npos) << functions.body;
}

TEST_F(ReloadTest, InvalidManifestIsLoggedErrorByErrorAndChangesNothing) {
  write("edgefn.toml", std::string(kServer) + hello_function("Hi"));
  ASSERT_TRUE(server_.start(path("edgefn.toml")));

  write("edgefn.toml", std::string(kServer) + hello_function("Hola") +
                           "retries = 3\n\n[functions.bad]\nmodule = \"static\"\n"
                           "routes = [\"get /bad\"]\n");
  ASSERT_TRUE(server_.send_signal(SIGHUP));
  ASSERT_TRUE(wait_for_log(R"("msg":"reload failed: the running manifest stays")", 1));
  const std::string out = server_.out();
  EXPECT_NE(out.find(R"(edgefn.toml:13:1: functions.hello.retries: unknown key)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(edgefn.toml:17:11: functions.bad.routes[0]: unknown method \"get\")"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("cause":"SIGHUP","errors":2)"), std::string::npos) << out;
  EXPECT_EQ(body_of("/hello"), "200 Hi, world!");
  EXPECT_EQ(body_of("/bad").substr(0, 3), "404");

  // Fixed, it loads.
  write("edgefn.toml", std::string(kServer) + hello_function("Hola"));
  ASSERT_TRUE(server_.send_signal(SIGHUP));
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded")", 1));
  EXPECT_EQ(body_of("/hello"), "200 Hola, world!");
}

TEST_F(ReloadTest, WatchReloadsWhenTheManifestOrASchemaChanges) {
  write("order.json", R"({"type": "object", "required": ["id"]})");
  write("edgefn.toml", std::string(kServer) + hello_function("Hi") + std::string(kOrders));
  ASSERT_TRUE(server_.start(path("edgefn.toml"), {"--watch"}));
  const std::string post =
      "POST /orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: 10\r\n\r\n{\"id\": 42}";
  HttpResponse response;
  ASSERT_TRUE(exchange(server_.port(), post, response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);

  write("edgefn.toml", std::string(kServer) + hello_function("Salut") + std::string(kOrders));
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded","cause":"file changed")", 1));
  EXPECT_EQ(body_of("/hello"), "200 Salut, world!");

  // The schema file alone changes: ids must now be strings.
  write("order.json",
        R"({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}})");
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded","cause":"file changed")", 2));
  ASSERT_TRUE(exchange(server_.port(), post, response));
  EXPECT_EQ(response.status, 400) << printable(response.raw);
  EXPECT_NE(response.body.find(R"("pointer":"/id")"), std::string::npos) << response.body;
}

TEST_F(ReloadTest, NoFailedRequestWhileReloadingTwentyTimesUnderLoad) {
  // A slow function keeps requests in flight across every swap: they finish on the App they
  // started with.
  const std::string slow = R"(
[functions.slow]
module = "echo"
routes = ["GET /slow"]
config = { delay_ms = 20 }
)";
  write("edgefn.toml", std::string(kServer) + hello_function("A") + slow);
  ASSERT_TRUE(server_.start(path("edgefn.toml")));

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::vector<std::string> failures[4];
  auto load = [&](int index, std::string_view target, bool keep_alive) {
    Client client;
    while (!stop.load()) {
      if (!client.connected() || !keep_alive) {
        client = Client();
        if (!client.connect(server_.port())) {
          failed.fetch_add(1);
          failures[index].push_back("connect failed");
          continue;
        }
      }
      HttpResponse response;
      const bool exchanged =
          client.send(get_request(target)) && client.read_response(response, Millis{5000});
      sent.fetch_add(1);
      const bool greeting_ok =
          target != "/hello" || response.body == "A, world!" || response.body == "B, world!";
      if (!exchanged || response.status != 200 || !greeting_ok) {
        failed.fetch_add(1);
        if (failures[index].size() < 5) failures[index].push_back(printable(response.raw, 300));
        client = Client();
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(load, 0, "/hello", true);
  threads.emplace_back(load, 1, "/hello", true);
  threads.emplace_back(load, 2, "/slow", true);
  threads.emplace_back(load, 3, "/hello", false);  // a new connection for every request

  constexpr int kReloads = 20;
  for (int reload = 1; reload <= kReloads; ++reload) {
    // Traffic between any two reloads.
    const int before = sent.load();
    while (sent.load() < before + 250 && failed.load() == 0)
      std::this_thread::yield();
    write("edgefn.toml", std::string(kServer) + hello_function(reload % 2 == 1 ? "B" : "A") + slow);
    ASSERT_TRUE(server_.send_signal(SIGHUP));
    ASSERT_TRUE(wait_for_log(R"("msg":"reloaded","cause":"SIGHUP")", reload));
  }
  const int after = sent.load();
  while (sent.load() < after + 150 && failed.load() == 0)
    std::this_thread::yield();
  stop.store(true);
  for (std::thread& thread : threads)
    thread.join();

  EXPECT_EQ(failed.load(), 0);
  for (const auto& list : failures) {
    for (const std::string& failure : list)
      ADD_FAILURE() << failure;
  }
  EXPECT_GE(sent.load(), 3000);
  // The last manifest written said "A" (20 is even).
  EXPECT_EQ(body_of("/hello"), "200 A, world!");
  std::cout << "reload under load: " << kReloads << " reloads, " << sent.load() << " requests, "
            << failed.load() << " failed\n";
}

TEST_F(ReloadTest, AFailingNewVersionIsCoveredByStaleIfError) {
  // The same function, redeployed broken: while its stored answer is within stale_if_error,
  // clients get that answer instead of the 500.
  const auto flaky = [](std::string_view config) {
    return std::string(kServer) +
           "\n[functions.flaky]\nmodule = \"static\"\nroutes = [\"GET /flaky\"]\nconfig = " +
           std::string(config) + "\ncache = { ttl = \"1s\", stale_if_error = \"60s\" }\n";
  };
  write("edgefn.toml", flaky(R"({ body = "good" })"));
  ASSERT_TRUE(server_.start(path("edgefn.toml"), {"--workers", "1"}));
  Client client;
  ASSERT_TRUE(client.connect(server_.port()));
  HttpResponse response;
  ASSERT_TRUE(client.send(get_request("/flaky")));
  ASSERT_TRUE(client.read_response(response));
  ASSERT_EQ(response.body, "good");

  write("edgefn.toml", flaky(R"({ status = 500, body = "broken" })"));
  ASSERT_TRUE(server_.send_signal(SIGHUP));
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded")", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the stored answer is stale
  ASSERT_TRUE(client.send(get_request("/flaky")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "good");
  const std::string status = response.header("cache-status").value_or("");
  EXPECT_TRUE(status.starts_with("edgefn; fwd=stale; fwd-status=500; ttl=-")) << status;
  EXPECT_TRUE(status.ends_with("; detail=stale-if-error")) << status;
  EXPECT_GE(std::stoi(response.header("age").value_or("0")), 1);
}

}  // namespace
}  // namespace edgefn::integration
