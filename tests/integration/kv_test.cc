// The kv module over sockets: on the node-wide memory store (kv.toml: values shared by both
// workers, exact counts from concurrent connections, TTL windows), and on a real redis-server the
// test starts (values in Redis under edgefn:kv:, shared by two processes; a Redis that dies or
// stalls is a 503 while the process keeps serving, and a restarted one is used again).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/redis_server.h"

namespace edgefn::integration {
namespace {

std::string request(std::string_view method, std::string_view target, std::string_view body = {}) {
  std::string text =
      std::string(method) + " " + std::string(target) +
      " HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  text.append(body);
  return text;
}

// One request on `client`'s keep-alive connection.
HttpResponse send(Client& client, std::string_view method, std::string_view target,
                  std::string_view body = {}) {
  HttpResponse response;
  EXPECT_TRUE(client.send(request(method, target, body)));
  EXPECT_TRUE(client.read_response(response, kIoTimeout, method == "HEAD"));
  return response;
}

// One request on a fresh connection.
HttpResponse once(std::uint16_t port, std::string_view method, std::string_view target,
                  std::string_view body = {}) {
  Client client;
  EXPECT_TRUE(client.connect(port));
  return send(client, method, target, body);
}

// `threads` connections of `per_thread` incr requests each, at once; the values answered.
std::vector<long long> concurrent_incr(std::uint16_t port, std::string_view target, int threads,
                                       int per_thread) {
  std::vector<std::vector<long long>> answered(static_cast<std::size_t>(threads));
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      Client client;
      if (!client.connect(port)) return;
      for (int i = 0; i < per_thread; ++i) {
        HttpResponse response;
        if (!client.send(request("POST", target)) || !client.read_response(response)) return;
        if (response.status != 200) continue;
        // {"value":N}
        answered[static_cast<std::size_t>(t)].push_back(std::stoll(response.body.substr(9)));
      }
    });
  }
  for (std::thread& thread : running)
    thread.join();
  std::vector<long long> all;
  for (const auto& values : answered)
    all.insert(all.end(), values.begin(), values.end());
  return all;
}

// Every value 1..n answered exactly once: no two increments saw the same count.
::testing::AssertionResult each_count_once(const std::vector<long long>& values, long long n) {
  const std::set<long long> distinct(values.begin(), values.end());
  if (static_cast<long long>(values.size()) != n || static_cast<long long>(distinct.size()) != n ||
      *distinct.begin() != 1 || *distinct.rbegin() != n) {
    return ::testing::AssertionFailure()
           << values.size() << " answers, " << distinct.size() << " distinct, expected 1.." << n;
  }
  return ::testing::AssertionSuccess();
}

class KvMemoryTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("kv.toml"); }
};

TEST_F(KvMemoryTest, PutGetDeleteAndIncr) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const HttpResponse missing = send(client, "GET", "/kv/greeting");
  EXPECT_TRUE(is_json_error(missing, 404)) << missing.body;
  EXPECT_TRUE(has_standard_fields(missing));

  EXPECT_EQ(send(client, "PUT", "/kv/greeting", "hello, world").status, 204);
  const HttpResponse got = send(client, "GET", "/kv/greeting");
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(has_standard_fields(got));
  EXPECT_EQ(got.header("content-type"), "application/octet-stream");
  EXPECT_EQ(got.body, "hello, world");
  const HttpResponse head = send(client, "HEAD", "/kv/greeting");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "12");
  EXPECT_EQ(head.body, "");

  // Last writer wins; a percent-encoded key is the decoded one.
  EXPECT_EQ(send(client, "PUT", "/kv/greeting", "bye").status, 204);
  EXPECT_EQ(send(client, "GET", "/kv/gr%65eting").body, "bye");

  EXPECT_EQ(send(client, "DELETE", "/kv/greeting").status, 204);
  EXPECT_TRUE(is_json_error(send(client, "GET", "/kv/greeting"), 404));
  EXPECT_EQ(send(client, "DELETE", "/kv/greeting").status, 204);

  EXPECT_EQ(send(client, "POST", "/kv/hits/incr").body, "{\"value\":1}");
  EXPECT_EQ(send(client, "POST", "/kv/hits/incr?by=10").body, "{\"value\":11}");
  EXPECT_EQ(send(client, "POST", "/kv/hits/incr?by=-20").body, "{\"value\":-9}");
  EXPECT_EQ(send(client, "GET", "/kv/hits").body, "-9");
  EXPECT_TRUE(is_json_error(send(client, "POST", "/kv/hits/incr?by=x"), 400));
  EXPECT_EQ(send(client, "PUT", "/kv/word", "abc").status, 204);
  const HttpResponse conflict = send(client, "POST", "/kv/word/incr");
  EXPECT_TRUE(is_json_error(conflict, 409)) << conflict.body;
  EXPECT_EQ(send(client, "GET", "/kv/word").body, "abc");
}

TEST_F(KvMemoryTest, AValueAboveMaxValueBytesIs413AndTheConnectionStaysUsable) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  EXPECT_EQ(send(client, "PUT", "/kv/big", std::string(1024, 'b')).status, 204);
  const HttpResponse refused = send(client, "PUT", "/kv/big", std::string(1025, 'c'));
  EXPECT_TRUE(is_json_error(refused, 413)) << refused.body;
  EXPECT_EQ(send(client, "GET", "/kv/big").body, std::string(1024, 'b'));
}

TEST_F(KvMemoryTest, AValuePutThroughOneConnectionIsReadOnEveryOther) {
  ASSERT_EQ(once(port(), "PUT", "/kv/shared", "from one").status, 204);
  // New connections spread over both workers (SO_REUSEPORT hashes each one; 24 all landing on
  // one worker has a chance of 2^-23): the store is the node's, not a worker's.
  for (int i = 0; i < 24; ++i) {
    const HttpResponse got = once(port(), "GET", "/kv/shared");
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "from one");
  }
  // Written on any of them, read on all.
  for (int i = 0; i < 8; ++i) {
    const std::string value = "v" + std::to_string(i);
    ASSERT_EQ(once(port(), "PUT", "/kv/shared", value).status, 204);
    EXPECT_EQ(once(port(), "GET", "/kv/shared").body, value);
  }
}

TEST_F(KvMemoryTest, ConcurrentIncrFromManyConnectionsCountsEachOnce) {
  const std::vector<long long> values = concurrent_incr(port(), "/kv/counter/incr", 5, 20);
  EXPECT_TRUE(each_count_once(values, 100));
  EXPECT_EQ(once(port(), "GET", "/kv/counter").body, "100");
}

TEST_F(KvMemoryTest, APrefixedWindowCounterExpires) {
  EXPECT_EQ(once(port(), "POST", "/window/ip1/incr").body, "{\"value\":1}");
  EXPECT_EQ(once(port(), "POST", "/window/ip1/incr").body, "{\"value\":2}");
  // The prefix keeps it apart from the kv function's keys.
  EXPECT_TRUE(is_json_error(once(port(), "GET", "/kv/ip1"), 404));
  EXPECT_EQ(once(port(), "GET", "/kv/window:ip1").body, "2");
  std::this_thread::sleep_for(Millis(400));
  EXPECT_TRUE(is_json_error(once(port(), "GET", "/window/ip1"), 404));
  EXPECT_EQ(once(port(), "POST", "/window/ip1/incr").body, "{\"value\":1}");
}

class KvRedisTest : public RedisFixture {
 protected:
  // kv on Redis at `port`; /slow is kv with a function timeout shorter than Redis' timeout.
  std::string manifest(std::string_view timeout = "300ms") {
    const std::string path = (dir_ / "edgefn.toml").string();
    std::ofstream(path) << "[server]\nworkers = 2\ndrain_timeout = \"2s\"\n\n"
                        << "[cache.redis]\naddress = \"127.0.0.1:" << redis_port_ << "\"\n"
                        << "timeout = \"" << timeout << "\"\nconnections = 2\n"
                        << "max_value_bytes = \"4KiB\"\n\n"
                        << "[functions.kv]\nmodule = \"kv\"\n"
                        << "routes = [\"GET /kv/:key\", \"PUT /kv/:key\", \"DELETE /kv/:key\", "
                           "\"POST /kv/:key/incr\"]\n"
                        << "config = { max_value_bytes = \"8KiB\" }\n\n"
                        << "[functions.window]\nmodule = \"kv\"\n"
                        << "routes = [\"POST /window/:key/incr\", \"PUT /window/:key\"]\n"
                        << "config = { prefix = \"w:\", ttl = \"60s\" }\n\n"
                        << "[functions.slow]\nmodule = \"kv\"\nroutes = [\"GET /slow/:key\"]\n"
                        << "timeout = \"100ms\"\n\n"
                        << "[functions.hello]\nmodule = \"hello\"\nroutes = [\"GET /hello\"]\n";
    return path;
  }
  std::string redis(const std::vector<std::string>& command) {
    return redis_cli(redis_port_, command);
  }
};

TEST_F(KvRedisTest, ValuesLiveInRedisUnderTheirOwnPrefix) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest()));
  Client client;
  ASSERT_TRUE(client.connect(server_.port()));
  EXPECT_TRUE(is_json_error(send(client, "GET", "/kv/a"), 404));
  EXPECT_EQ(send(client, "PUT", "/kv/a", std::string("bin\0ary", 7)).status, 204);
  EXPECT_EQ(redis({"STRLEN", "edgefn:kv:a"}), "7");
  EXPECT_EQ(redis({"PTTL", "edgefn:kv:a"}), "-1");  // no ttl configured: no expiry
  EXPECT_EQ(send(client, "GET", "/kv/a").body, std::string("bin\0ary", 7));
  // What another Redis client writes is what the module reads.
  ASSERT_EQ(redis({"SET", "edgefn:kv:b", "from redis-cli"}), "OK");
  EXPECT_EQ(send(client, "GET", "/kv/b").body, "from redis-cli");
  EXPECT_EQ(send(client, "DELETE", "/kv/b").status, 204);
  EXPECT_EQ(redis({"EXISTS", "edgefn:kv:b"}), "0");

  EXPECT_EQ(send(client, "POST", "/kv/n/incr?by=5").body, "{\"value\":5}");
  EXPECT_EQ(send(client, "POST", "/kv/n/incr").body, "{\"value\":6}");
  EXPECT_EQ(redis({"GET", "edgefn:kv:n"}), "6");
  EXPECT_TRUE(is_json_error(send(client, "POST", "/kv/a/incr"), 409));
  // A value above [cache.redis] max_value_bytes (4KiB, below the module's 8KiB) is refused
  // before it is sent: its reply would exceed what the Redis client reads.
  EXPECT_TRUE(is_json_error(send(client, "PUT", "/kv/big", std::string(5000, 'x')), 413));
  EXPECT_EQ(redis({"EXISTS", "edgefn:kv:big"}), "0");
  EXPECT_EQ(send(client, "PUT", "/kv/big", std::string(4096, 'x')).status, 204);
  EXPECT_EQ(send(client, "GET", "/kv/big").body, std::string(4096, 'x'));

  // The window function's counters get its ttl once, when created.
  EXPECT_EQ(send(client, "POST", "/window/ip/incr").body, "{\"value\":1}");
  const int ttl = std::stoi(redis({"PTTL", "edgefn:kv:w:ip"}));
  EXPECT_GT(ttl, 50'000);
  EXPECT_LE(ttl, 60'000);
  ASSERT_EQ(redis({"PEXPIRE", "edgefn:kv:w:ip", "900000"}), "1");
  EXPECT_EQ(send(client, "POST", "/window/ip/incr").body, "{\"value\":2}");
  EXPECT_GT(std::stoi(redis({"PTTL", "edgefn:kv:w:ip"})), 800'000) << "an incr kept the window";
  EXPECT_EQ(send(client, "PUT", "/window/v", "x").status, 204);
  EXPECT_GT(std::stoi(redis({"PTTL", "edgefn:kv:w:v"})), 50'000);
}

TEST_F(KvRedisTest, AHundredConcurrentIncrementsCountEachOnce) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest()));
  const std::vector<long long> values = concurrent_incr(server_.port(), "/kv/c/incr", 5, 20);
  EXPECT_TRUE(each_count_once(values, 100));
  EXPECT_EQ(redis({"GET", "edgefn:kv:c"}), "100");
}

TEST_F(KvRedisTest, TwoProcessesOnOneRedisShareValuesAndCounters) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest()));
  ASSERT_TRUE(second_.start(manifest()));
  EXPECT_EQ(once(server_.port(), "PUT", "/kv/shared", "one").status, 204);
  EXPECT_EQ(once(second_.port(), "GET", "/kv/shared").body, "one");
  EXPECT_EQ(once(second_.port(), "PUT", "/kv/shared", "two").status, 204);
  EXPECT_EQ(once(server_.port(), "GET", "/kv/shared").body, "two");
  EXPECT_EQ(once(second_.port(), "DELETE", "/kv/shared").status, 204);
  EXPECT_TRUE(is_json_error(once(server_.port(), "GET", "/kv/shared"), 404));

  std::vector<long long> values;
  std::thread other([&] { values = concurrent_incr(second_.port(), "/kv/both/incr", 3, 20); });
  std::vector<long long> mine = concurrent_incr(server_.port(), "/kv/both/incr", 3, 20);
  other.join();
  values.insert(values.end(), mine.begin(), mine.end());
  EXPECT_TRUE(each_count_once(values, 120));
}

TEST_F(KvRedisTest, ADeadRedisIs503AndARestartedOneIsUsedAgain) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest()));
  ASSERT_EQ(once(server_.port(), "PUT", "/kv/k", "v").status, 204);

  redis_.kill();
  Client client;
  ASSERT_TRUE(client.connect(server_.port()));
  for (int i = 0; i < 10; ++i) {
    const auto start = SteadyClock::now();
    const HttpResponse down = send(client, i % 2 ? "GET" : "POST", i % 2 ? "/kv/k" : "/kv/n/incr");
    EXPECT_TRUE(is_json_error(down, 503)) << down.body;
    EXPECT_EQ(down.header("retry-after"), "1");
    EXPECT_LT(SteadyClock::now() - start, Millis(1000));
    // The process keeps serving what needs no Redis, on the same connection.
    EXPECT_EQ(send(client, "GET", "/hello").status, 200);
  }

  RedisServer restarted;
  ASSERT_TRUE(restarted.start(redis_port_));
  // The workers reconnect within their backoff (at most 5 s); the new Redis is empty.
  EXPECT_TRUE(eventually([&] { return once(server_.port(), "GET", "/kv/k").status == 404; }));
  EXPECT_TRUE(
      eventually([&] { return once(server_.port(), "PUT", "/kv/k", "again").status == 204; }));
  EXPECT_TRUE(eventually([&] { return once(server_.port(), "GET", "/kv/k").body == "again"; }));
  restarted.kill();
}

TEST_F(KvRedisTest, ARedisThatNeverAnswersIs503AfterOneTimeout) {
  FakeRedis silent(redis_port_, "");
  ASSERT_TRUE(silent.bound());
  ASSERT_TRUE(server_.start(manifest("200ms")));
  const auto start = SteadyClock::now();
  const HttpResponse response = once(server_.port(), "GET", "/kv/k");
  const auto waited = SteadyClock::now() - start;
  EXPECT_TRUE(is_json_error(response, 503)) << response.body;
  EXPECT_GE(waited, Millis(150));
  EXPECT_LT(waited, Millis(3000));
}

TEST_F(KvRedisTest, AFunctionTimeoutCancelsItsWaitingCall) {
  FakeRedis silent(redis_port_, "");
  ASSERT_TRUE(silent.bound());
  // Redis' timeout (1s) is longer than the function's (100ms): the 504 comes first, and the
  // failed call that follows finds no request waiting for it.
  ASSERT_TRUE(server_.start(manifest("1s")));
  Client client;
  ASSERT_TRUE(client.connect(server_.port()));
  const HttpResponse timed_out = send(client, "GET", "/slow/k");
  EXPECT_TRUE(is_json_error(timed_out, 504)) << timed_out.body;
  EXPECT_EQ(send(client, "GET", "/hello").status, 200);
  std::this_thread::sleep_for(Millis(1200));  // the call's failure arrives: nothing to resume
  EXPECT_EQ(send(client, "GET", "/hello").status, 200);
  // A client that leaves while its call waits cancels it too.
  Client leaving;
  ASSERT_TRUE(leaving.connect(server_.port()));
  ASSERT_TRUE(leaving.send(request("GET", "/kv/gone")));
  leaving.abort();
  std::this_thread::sleep_for(Millis(1200));
  EXPECT_EQ(send(client, "GET", "/hello").status, 200);
}

}  // namespace
}  // namespace edgefn::integration
