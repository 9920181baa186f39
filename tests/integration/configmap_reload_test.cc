// A manifest mounted from a Kubernetes ConfigMap: `serve --watch` on the volume's symlinked
// edgefn.toml applies each new version the kubelet swaps in, with no restart and no failed
// request while clients keep asking.
//
// The kubelet's layout (its AtomicWriter): the files of one version in a timestamped folder
// `..2026_12_07_23_59_59.123456789/`, a symlink `..data` to that folder, and each visible file a
// symlink through it (`edgefn.toml -> ..data/edgefn.toml`). An update writes a new folder,
// points a new link `..data_tmp` at it, renames that over `..data` (one atomic step), then
// deletes the old folder. No visible file is ever written: only `..data` changes.
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kServer = R"([server]
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"
workers = 2
header_timeout = "2s"
idle_timeout = "5s"
drain_timeout = "2s"
)";

// Version 1: /hello greets with "One"; no /added yet. Version 2: "Two", and /added. Version 3:
// the same manifest with a stricter schema (ids must be strings).
std::string manifest(std::string_view greeting, bool added) {
  std::string text = std::string(kServer) +
                     "\n[functions.hello]\nmodule = \"hello\"\nroutes = [\"GET /hello\"]\n"
                     "config = { greeting = \"" +
                     std::string(greeting) +
                     "\" }\n"
                     "\n[functions.orders]\nmodule = \"echo\"\nroutes = [\"POST /orders\"]\n"
                     "body_schema = \"order.json\"\n";
  if (added) {
    text +=
        "\n[functions.added]\nmodule = \"static\"\nroutes = [\"GET /added\"]\n"
        "config = { body = \"added in v2\" }\n";
  }
  return text;
}

constexpr std::string_view kSchemaAnyId = R"({"type": "object", "required": ["id"]})";
constexpr std::string_view kSchemaStringId =
    R"({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}})";

class ConfigMapReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "edgefn-configmap-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    if (server_.running()) {
      EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure();
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // One ConfigMap version: a fresh timestamped folder with the files, `..data` swapped to it
  // atomically, the previous folder deleted; the visible names are links through `..data`.
  void publish(const std::vector<std::pair<std::string, std::string>>& files) {
    ++versions_;
    const std::string version = "..2026_12_07_23_59_5" + std::to_string(versions_) + "." +
                                std::to_string(100000000 + versions_);
    const fs::path folder = dir_ / version;
    fs::create_directory(folder);
    for (const auto& [name, text] : files) {
      std::ofstream(folder / name, std::ios::binary | std::ios::trunc) << text;
    }
    const fs::path data = dir_ / "..data";
    std::string previous;
    if (fs::is_symlink(data)) previous = fs::read_symlink(data).string();
    fs::create_directory_symlink(version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", data);  // rename(2): the one atomic step
    for (const auto& [name, text] : files) {
      if (!fs::is_symlink(dir_ / name)) fs::create_symlink(fs::path("..data") / name, dir_ / name);
    }
    if (!previous.empty()) fs::remove_all(dir_ / previous);
  }

  std::string manifest_file() const { return (dir_ / "edgefn.toml").string(); }

  // The pids of running edgefn processes serving this test's manifest (from /proc).
  std::set<pid_t> serving_pids() const {
    std::set<pid_t> pids;
    for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      char bytes[4096];
      in.read(bytes, sizeof bytes);
      const std::string cmdline(bytes, static_cast<std::size_t>(in.gcount()));
      if (cmdline.find(manifest_file()) != std::string::npos &&
          cmdline.find("serve") != std::string::npos) {
        pids.insert(static_cast<pid_t>(std::stol(name)));
      }
    }
    return pids;
  }

  ::testing::AssertionResult wait_for_log(std::string_view needle, int count) {
    return integration::wait_for_log(server_, needle, count);
  }
  std::string body_of(std::string_view target) { return status_and_body(server_.port(), target); }

  int post_order(std::string_view body) {
    HttpResponse response;
    const std::string request =
        "POST /orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
    EXPECT_TRUE(exchange(server_.port(), request, response));
    return response.status;
  }

  fs::path dir_;
  int versions_ = 0;
  Server server_;
};

TEST_F(ConfigMapReloadTest, WatchAppliesEachSwappedVersionWithNoRestartAndNoFailedRequest) {
  publish({{"edgefn.toml", manifest("One", false)}, {"order.json", std::string(kSchemaAnyId)}});
  ASSERT_TRUE(fs::is_symlink(manifest_file()));
  ASSERT_TRUE(server_.start(manifest_file(), {"--watch"}));
  const std::set<pid_t> pids = serving_pids();
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_EQ(body_of("/hello"), "200 One, world!");
  EXPECT_EQ(body_of("/added").substr(0, 3), "404");
  EXPECT_EQ(post_order(R"({"id": 42})"), 200);

  // Clients that never stop: two on keep-alive connections, one with a new connection for every
  // request. Every answer must be a 200 from version 1 or 2, never an error or a broken framing.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::atomic<int> saw_two{0};
  std::vector<std::string> failures[3];
  auto load = [&](int index, bool keep_alive) {
    Client client;
    while (!stop.load()) {
      if (!client.connected() || !keep_alive) {
        client = Client();
        if (!client.connect(server_.port())) {
          failed.fetch_add(1);
          if (failures[index].size() < 5) failures[index].push_back("connect failed");
          continue;
        }
      }
      HttpResponse response;
      const bool exchanged =
          client.send(get_request("/hello")) && client.read_response(response, Millis{5000});
      sent.fetch_add(1);
      const bool one = response.body == "One, world!";
      const bool two = response.body == "Two, world!";
      if (two) saw_two.fetch_add(1);
      if (!exchanged || response.status != 200 || !(one || two)) {
        failed.fetch_add(1);
        if (failures[index].size() < 5) failures[index].push_back(printable(response.raw, 300));
        client = Client();
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(load, 0, true);
  threads.emplace_back(load, 1, true);
  threads.emplace_back(load, 2, false);
  while (sent.load() < 300 && failed.load() == 0)
    std::this_thread::yield();

  // Version 2: a changed response and a new route, swapped in under load.
  publish({{"edgefn.toml", manifest("Two", true)}, {"order.json", std::string(kSchemaAnyId)}});
  const bool reloaded = wait_for_log(R"("msg":"reloaded","cause":"file changed")", 1);
  const int at_reload = sent.load();
  while (sent.load() < at_reload + 300 && failed.load() == 0)
    std::this_thread::yield();
  stop.store(true);
  for (std::thread& thread : threads)
    thread.join();
  ASSERT_TRUE(reloaded);

  EXPECT_EQ(failed.load(), 0);
  for (const auto& list : failures) {
    for (const std::string& failure : list)
      ADD_FAILURE() << failure;
  }
  EXPECT_GT(saw_two.load(), 0) << "no client ever saw version 2";
  EXPECT_EQ(body_of("/hello"), "200 Two, world!");
  EXPECT_EQ(body_of("/added"), "200 added in v2");

  // Version 3 changes the schema, also a link through ..data (as the kubelet does it, every
  // file is in the new folder): ids must now be strings.
  publish({{"edgefn.toml", manifest("Two", true)}, {"order.json", std::string(kSchemaStringId)}});
  ASSERT_TRUE(wait_for_log(R"("msg":"reloaded","cause":"file changed")", 2));
  EXPECT_EQ(post_order(R"({"id": 42})"), 400);
  EXPECT_EQ(post_order(R"({"id": "42"})"), 200);

  // The same process all along: one ready line, the same pid, still running.
  EXPECT_EQ(serving_pids(), pids);
  EXPECT_TRUE(server_.running());
  const std::string out = server_.out();
  std::size_t ready_lines = 0;
  for (std::size_t at = out.find(R"("msg":"ready")"); at != std::string::npos;
       at = out.find(R"("msg":"ready")", at + 1)) {
    ++ready_lines;
  }
  EXPECT_EQ(ready_lines, 1u) << out;
  std::cout << "configmap reload: pid " << *pids.begin() << ", 2 swaps applied, " << sent.load()
            << " requests during the first, " << failed.load() << " failed, " << saw_two.load()
            << " answered by version 2\n";
}

}  // namespace
}  // namespace edgefn::integration
