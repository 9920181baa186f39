// Faults, with real processes: a function that throws, Redis killed under load and brought
// back, an origin that is down, slow, resets or talks garbage, and a stdout nobody reads. In
// each the client sees the status the fault calls for, nothing else fails, and the server keeps
// serving.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/fixture.h"
#include "tests/integration/origin_server.h"
#include "tests/integration/redis_server.h"

extern char** environ;

namespace edgefn::integration {
namespace {

constexpr std::string_view kFunctionFailed = R"({"error":"the function failed","status":500})";

// The number of file descriptors `pid` holds open.
std::size_t open_fds(int pid) {
  std::size_t count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

// --- A function that throws --------------------------------------------------------------------

class FunctionFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.use_binary(EDGEFN_TEST_MODULES_BINARY);
    ASSERT_TRUE(server_.start(manifest_path("faults.toml")));
  }
  void TearDown() override {
    if (!server_.running()) return;
    EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure();
  }
  Server server_;
};

TEST_F(FunctionFaultTest, EveryThrowIsA500AndTheWorkerKeepsServingTheSameConnection) {
  // One worker, one keep-alive connection: each failure is followed by a request the same
  // worker must answer on the same connection.
  Client client;
  ASSERT_TRUE(client.connect(server_.port()));
  for (int round = 0; round < 30; ++round) {
    for (const char* target : {"/throw", "/throw-later", "/throw-unknown"}) {
      HttpResponse response;
      ASSERT_TRUE(client.send(get_request(target)));
      ASSERT_TRUE(client.read_response(response)) << target;
      EXPECT_TRUE(is_json_error(response, 500)) << target << ": " << printable(response.raw);
      EXPECT_EQ(response.body, kFunctionFailed) << target;
      ASSERT_TRUE(client.send(get_request("/hello")));
      ASSERT_TRUE(client.read_response(response));
      ASSERT_EQ(response.status, 200) << "after " << target << " in round " << round;
      EXPECT_EQ(response.body, "Hello, world!");
    }
  }
  // The log says what failed, for each kind.
  for (std::string_view reason :
       {"the fault module failed as configured", "the fault module failed after suspending",
        "unknown exception"}) {
    EXPECT_TRUE(server_
                    .wait_for_line([&](std::string_view line) {
                      return line.find(reason) != std::string_view::npos;
                    })
                    .has_value())
        << reason << "\n"
        << server_.output_for_failure();
  }
}

TEST_F(FunctionFaultTest, ThrowsFromManyConnectionsAtOnceLeaveNothingBehind) {
  const std::size_t fds_before = open_fds(server_.pid());
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 50; ++i) {
        const char* target = (i + c) % 2 == 0 ? "/throw-later" : "/throw";
        HttpResponse response;
        if (!exchange(server_.port(), get_request(target), response) || response.status != 500 ||
            response.body != kFunctionFailed) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& client : clients)
    client.join();
  EXPECT_EQ(wrong.load(), 0);
  // Every failed request's connection is closed by its client: none stays open in the server.
  EXPECT_TRUE(eventually([&] { return open_fds(server_.pid()) <= fds_before; }, Millis(3000)))
      << open_fds(server_.pid()) << " descriptors open, " << fds_before << " before";
  HttpResponse response;
  ASSERT_TRUE(exchange(server_.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
}

// --- Redis killed under load --------------------------------------------------------------------

class RedisUnderLoadTest : public RedisFixture {
 protected:
  std::string manifest() {
    const std::string path = (dir_ / "edgefn.toml").string();
    std::ofstream(path) << "[server]\nworkers = 2\ndrain_timeout = \"2s\"\n\n"
                        << "[log]\naccess = false\n\n"
                        << "[cache.redis]\naddress = \"127.0.0.1:" << redis_port_ << "\"\n"
                        << "timeout = \"200ms\"\nconnections = 2\n\n"
                        << "[functions.page]\nmodule = \"echo\"\nroutes = [\"GET /page/*rest\"]\n"
                        << "cache = { ttl = \"60s\" }\n";
    return path;
  }
  std::string stored_keys() { return redis_cli(redis_port_, {"KEYS", "edgefn:*"}); }
};

TEST_F(RedisUnderLoadTest, KilledAndRestartedUnderLoadFailsNoRequestAndIsUsedAgainWithin2s) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest()));

  // Four clients on keep-alive connections: stored pages (hits) and new ones (misses, which ask
  // Redis and store there), every answer within 2 s or it counts as stuck.
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  std::mutex mutex;
  std::map<std::string, int> failures;  // what went wrong, how often
  const auto fail = [&](const std::string& what) {
    const std::lock_guard lock(mutex);
    ++failures[what];
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      Client client;
      if (!client.connect(server_.port())) return fail("connect");
      for (int i = 0; !stop.load(); ++i) {
        const std::string target = i % 2 == 0
                                       ? "/page/hot" + std::to_string(i % 10)
                                       : "/page/new-" + std::to_string(c) + "-" + std::to_string(i);
        HttpResponse response;
        if (!client.send(get_request(target)) || !client.read_response(response, Millis(2000))) {
          return fail("no answer within 2 s to " + target);
        }
        if (response.status != 200) fail("status " + std::to_string(response.status));
        ++requests;
      }
    });
  }
  const auto run_for = [&](Millis duration) {
    const int before = requests.load();
    std::this_thread::sleep_for(duration);
    return requests.load() - before;
  };

  EXPECT_GT(run_for(Millis(500)), 0);
  ASSERT_TRUE(eventually([&] { return !stored_keys().empty(); }));
  redis_.kill();
  // Down long enough for the reconnect backoff to reach its ceiling.
  const int while_down = run_for(Millis(3300));
  RedisServer restarted;
  ASSERT_TRUE(restarted.start(redis_port_));
  const auto back = SteadyClock::now();
  // The restarted Redis is empty: once a worker stores a miss there again, L3 is back.
  const bool used_again = eventually([&] { return !stored_keys().empty(); }, Millis(5000));
  const Millis until_used = std::chrono::duration_cast<Millis>(SteadyClock::now() - back);
  const int after = run_for(Millis(300));
  stop = true;
  for (std::thread& client : clients)
    client.join();

  EXPECT_GT(while_down, 0) << "no request was answered while Redis was down";
  EXPECT_GT(after, 0);
  EXPECT_TRUE(failures.empty()) << [&] {
    std::string text;
    for (const auto& [what, count] : failures)
      text += what + " (" + std::to_string(count) + ")\n";
    return text;
  }();
  ASSERT_TRUE(used_again);
  EXPECT_LE(until_used, Millis(2000))
      << "L3 was used again " << until_used.count() << " ms after Redis returned";
  RecordProperty("requests", requests.load());
  RecordProperty("l3_back_ms", static_cast<int>(until_used.count()));
  restarted.kill();
}

// --- Origin faults -------------------------------------------------------------------------------

class OriginFaultTest : public OriginFixture {
 protected:
  void SetUp() override {
    OriginFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(start_server("faults_origin.toml"));
  }
  HttpResponse get(std::string_view target) {
    return roundtrip(port(), http_request("GET", target), Millis(3000));
  }
  void expect_serving() {
    EXPECT_EQ(get("/hello").status, 200);
    EXPECT_EQ(get("/p/ok").body, "ok");
  }
};

struct OriginFault {
  const char* name;
  OriginServer::Failure failure;
  const char* target;  // under /p: what is asked of the origin
  int status;          // what the client must see
};

// Down is a port where nothing listens (its own upstream); slow answers after the 300 ms timeout.
constexpr OriginFault kFaults[] = {
    {"closes", OriginServer::Failure::kClose, "/ok", 502},
    {"resets", OriginServer::Failure::kReset, "/ok", 502},
    {"sends garbage", OriginServer::Failure::kGarbage, "/ok", 502},
    {"answers 503", OriginServer::Failure::k503, "/ok", 503},
    {"is slow", OriginServer::Failure::kNone, "/slow?ms=1000", 504},
};

TEST_F(OriginFaultTest, EachFaultIsItsStatusAndLeavesNoConnectionBehind) {
  expect_serving();
  const std::size_t fds_before = open_fds(server_.pid());
  for (int round = 0; round < 5; ++round) {
    for (const OriginFault& fault : kFaults) {
      origin_.set_failing(fault.failure);
      const HttpResponse response = get("/p" + std::string(fault.target));
      if (fault.status == 503) {
        // The origin's own 503 is passed on as the origin wrote it.
        EXPECT_EQ(response.status, 503) << fault.name;
        EXPECT_EQ(response.body, "failing") << fault.name;
      } else {
        EXPECT_TRUE(is_json_error(response, fault.status))
            << "origin " << fault.name << ": " << printable(response.raw);
      }
      origin_.set_failing(OriginServer::Failure::kNone);
      expect_serving();
    }
    EXPECT_TRUE(is_json_error(get("/down/ok"), 502)) << "origin down";
  }
  // The broken upstream connections were closed, not kept: no more descriptors than the pool
  // of 4 had before (the slow origin's connections end when their answers come).
  EXPECT_TRUE(eventually([&] { return open_fds(server_.pid()) <= fds_before + 4; }, Millis(3000)))
      << open_fds(server_.pid()) << " descriptors open, " << fds_before << " before";
}

TEST_F(OriginFaultTest, StaleIfErrorAnswersEveryFaultWithTheStoredCopy) {
  const HttpResponse stored = get("/covered/ok");
  ASSERT_EQ(stored.status, 200) << printable(stored.raw);
  ASSERT_EQ(stored.body, "ok");
  std::this_thread::sleep_for(Millis(1100));  // past the ttl: each request tries the origin
  for (const OriginFault& fault : kFaults) {
    if (fault.failure == OriginServer::Failure::kNone) continue;  // /slow is another URI
    origin_.set_failing(fault.failure);
    const HttpResponse response = get("/covered/ok");
    origin_.set_failing(OriginServer::Failure::kNone);
    EXPECT_EQ(response.status, 200) << fault.name << ": " << printable(response.raw);
    EXPECT_EQ(response.body, "ok") << fault.name;
    EXPECT_TRUE(response.header("cache-status").value_or("").ends_with("detail=stale-if-error"))
        << fault.name << ": " << response.header("cache-status").value_or("(none)");
  }
}

// --- A stdout nobody reads
// ------------------------------------------------------------------------

// edgefn with its stdout on a pipe this test never reads: the pipe fills after a few hundred
// access lines, and from then on every line has nowhere to go.
class UnreadStdoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    admin_port_ = free_port();
    ASSERT_EQ(::pipe2(stdout_pipe_, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdout_pipe_[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const std::string manifest = manifest_path("basic.toml");
    const std::string listen = "127.0.0.1:" + std::to_string(port_);
    const std::string admin = "127.0.0.1:" + std::to_string(admin_port_);
    std::vector<std::string> args = {binary_path(), "serve", manifest,    "--listen", listen,
                                     "--admin",     admin,   "--workers", "1"};
    std::vector<char*> argv;
    for (std::string& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(stdout_pipe_[1]);
    stdout_pipe_[1] = -1;
    ASSERT_TRUE(eventually(
        [&] {
          Client probe;
          return probe.try_connect(port_, Millis(100)) == 0;
        },
        Millis(5000)))
        << "edgefn did not listen on " << listen;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool exited = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      EXPECT_TRUE(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    }
    if (stdout_pipe_[0] >= 0) ::close(stdout_pipe_[0]);
  }

  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  int stdout_pipe_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST_F(UnreadStdoutTest, LinesAreDroppedAndCountedAndNoRequestWaits) {
  Client client;
  ASSERT_TRUE(client.connect(port_));
  // Each answer within the client's timeout: a worker blocked on stdout would stop here.
  for (int i = 0; i < 3000; ++i) {
    HttpResponse response;
    ASSERT_TRUE(client.send(get_request("/hello")));
    ASSERT_TRUE(client.read_response(response, Millis(2000))) << "request " << i;
    ASSERT_EQ(response.status, 200);
  }
  HttpResponse metrics;
  ASSERT_TRUE(exchange(admin_port_, get_request("/metrics"), metrics));
  const std::size_t at = metrics.body.find("\nedgefn_log_lines_dropped_total ");
  ASSERT_NE(at, std::string::npos) << metrics.body.substr(0, 2000);
  const long dropped = std::stol(metrics.body.substr(at + 32));
  EXPECT_GT(dropped, 1000) << "a full pipe must drop most of 3000 access lines";
}

}  // namespace
}  // namespace edgefn::integration
