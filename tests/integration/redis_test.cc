// The Redis layer (L3) over sockets, against a real redis-server the test starts on a free
// loopback port: what one process stores another answers from; an unsafe method deletes the
// URI's variants; a Redis that dies, restarts, stalls or sends garbage never fails a request.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/fixture.h"
#include "tests/integration/redis_server.h"

namespace edgefn::integration {
namespace {

class RedisTest : public RedisFixture {
 protected:
  // A manifest whose [cache.redis] points at `port`: /page/* echoes and caches for a minute.
  std::string manifest(std::uint16_t port, std::string_view timeout = "300ms",
                       std::string_view host = "127.0.0.1") {
    const std::string path = (dir_ / "edgefn.toml").string();
    std::ofstream(path) << "[server]\nworkers = 2\ndrain_timeout = \"2s\"\n\n"
                        << "[cache.redis]\naddress = \"" << host << ":" << port << "\"\n"
                        << "timeout = \"" << timeout << "\"\nconnections = 2\n\n"
                        << "[functions.page]\nmodule = \"echo\"\n"
                        << "routes = [\"GET /page/*rest\", \"POST /page/*rest\"]\n"
                        << "cache = { ttl = \"60s\", vary = [\"accept-language\"] }\n\n"
                        << "[functions.tagged]\nmodule = \"static\"\nroutes = [\"GET /tag/:id\"]\n"
                        << "config = { body = \"t\", headers = [\"Cache-Tag: t1\"] }\n"
                        << "cache = { ttl = \"60s\" }\n";
    return path;
  }

  static HttpResponse get(std::uint16_t port, std::string_view target, std::string_view marker,
                          std::string_view extra = {}) {
    HttpResponse response;
    EXPECT_TRUE(exchange(
        port, get_request(target, "X-Req: " + std::string(marker) + "\r\n" + std::string(extra)),
        response));
    return response;
  }
  static bool answered(const HttpResponse& response, std::string_view marker) {
    return response.body.find("\"x-req\":\"" + std::string(marker) + "\"") != std::string::npos;
  }
  static std::string cache_status(const HttpResponse& response) {
    return response.header("cache-status").value_or("");
  }
  std::string stored_keys() { return redis_cli(redis_port_, {"KEYS", "edgefn:*"}); }
};

TEST_F(RedisTest, WhatOneProcessStoresAFreshOneAnswersFromRedis) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  const HttpResponse first = get(server_.port(), "/page/a", "1", "Accept-Language: en\r\n");
  EXPECT_EQ(cache_status(first), "edgefn; fwd=miss; fwd-status=200; stored");
  ASSERT_TRUE(answered(first, "1")) << first.body;
  // The write follows the response; the URI's variants are fields of one hash.
  ASSERT_TRUE(eventually([&] { return !stored_keys().empty(); }));
  EXPECT_EQ(stored_keys(), "edgefn:v2|4:page,3:GET,10:test.local,7:/page/a,");
  EXPECT_EQ(server_.stop(), 0);

  // A new process has empty L1 and L2: Redis answers, then its own layers do.
  ASSERT_TRUE(second_.start(manifest(redis_port_)));
  const HttpResponse again = get(second_.port(), "/page/a", "2", "Accept-Language: en\r\n");
  EXPECT_TRUE(answered(again, "1")) << again.body;
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(has_standard_fields(again));
  EXPECT_TRUE(cache_status(again).starts_with("edgefn; hit; ttl=")) << cache_status(again);
  EXPECT_TRUE(cache_status(again).ends_with("; detail=redis")) << cache_status(again);
  const HttpResponse local = get(second_.port(), "/page/a", "3", "Accept-Language: en\r\n");
  EXPECT_TRUE(answered(local, "1"));
  EXPECT_FALSE(cache_status(local).ends_with("detail=redis")) << cache_status(local);
  // Another variant of the URI is a miss everywhere.
  const HttpResponse other = get(second_.port(), "/page/a", "4", "Accept-Language: fr\r\n");
  EXPECT_TRUE(answered(other, "4"));
  ASSERT_TRUE(eventually([&] {
    return redis_cli(redis_port_, {"HLEN", "edgefn:v2|4:page,3:GET,10:test.local,7:/page/a,"}) ==
           "2";
  }));
  // The hash expires with its entries (60 s fresh, no stale window).
  const int ttl = std::stoi(
      redis_cli(redis_port_, {"PTTL", "edgefn:v2|4:page,3:GET,10:test.local,7:/page/a,"}));
  EXPECT_GT(ttl, 50'000);
  EXPECT_LE(ttl, 60'000);
}

TEST_F(RedisTest, AServerNamedByHostIsResolvedAndUsed) {
  // "localhost" comes from /etc/hosts through c-ares, in the background: requests before the
  // name is resolved are misses, and the layer is used once it is.
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_, "300ms", "localhost")));
  int n = 0;
  EXPECT_TRUE(eventually([&] {
    const std::string marker = std::to_string(++n);
    const std::string path = "/page/named-" + marker;
    EXPECT_EQ(get(server_.port(), path, marker).status, 200);
    const std::string key =
        "edgefn:v2|4:page,3:GET,10:test.local," + std::to_string(path.size()) + ":" + path + ",";
    return eventually([&] { return redis_cli(redis_port_, {"EXISTS", key}) == "1"; }, Millis(200));
  }));
  EXPECT_EQ(server_.stop(), 0);
}

TEST_F(RedisTest, AnUnsafeMethodDeletesEveryVariantOfTheUri) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  ASSERT_TRUE(answered(get(server_.port(), "/page/b", "1"), "1"));
  ASSERT_TRUE(eventually([&] { return !stored_keys().empty(); }));
  HttpResponse post;
  ASSERT_TRUE(exchange(server_.port(),
                       "POST /page/b HTTP/1.1\r\nHost: test.local\r\nContent-Length: 2\r\n\r\nhi",
                       post));
  ASSERT_EQ(post.status, 200);
  EXPECT_TRUE(eventually([&] { return stored_keys().empty(); }));
}

TEST_F(RedisTest, ADeadRedisIsAMissAndARestartedOneIsUsedAgain) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  ASSERT_TRUE(answered(get(server_.port(), "/page/c", "1"), "1"));
  ASSERT_TRUE(eventually([&] { return !stored_keys().empty(); }));

  redis_.kill();
  // Every request still succeeds: new URIs run the function, stored ones come from L1/L2.
  for (int i = 0; i < 20; ++i) {
    const std::string target = "/page/down" + std::to_string(i);
    const HttpResponse response = get(server_.port(), target, "d");
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(answered(response, "d")) << response.body;
    EXPECT_EQ(cache_status(response), "edgefn; fwd=miss; fwd-status=200; stored");
    EXPECT_TRUE(answered(get(server_.port(), "/page/c", "x"), "1"));
  }

  // Back on the same port, empty: the workers reconnect within their backoff (at most 1 s), and
  // what they store from then on is in Redis again.
  RedisServer restarted;
  ASSERT_TRUE(restarted.start(redis_port_));
  int request = 0;
  EXPECT_TRUE(eventually([&] {
    get(server_.port(), "/page/up" + std::to_string(request++), "u");
    return !stored_keys().empty();
  }));
  restarted.kill();
}

TEST_F(RedisTest, ConcurrentMissesAskRedisAndRunTheFunctionOnce) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  constexpr int kClients = 100;
  std::vector<Client> clients(kClients);
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i].connect(server_.port()));
    ASSERT_TRUE(clients[i].send(get_request("/page/co", "X-Req: c" + std::to_string(i) + "\r\n")));
  }
  int stored = 0;
  std::string leader_body;
  std::vector<std::string> bodies;
  for (Client& client : clients) {
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response, Millis(5000)));
    EXPECT_EQ(response.status, 200);
    if (cache_status(response) == "edgefn; fwd=miss; fwd-status=200; stored") ++stored;
    bodies.push_back(response.body);
  }
  // One leader ran the function; a follower that came after it landed may find it anywhere.
  EXPECT_EQ(stored, 1);
  for (const std::string& body : bodies)
    EXPECT_EQ(body, bodies.front());
  ASSERT_TRUE(eventually([&] {
    return redis_cli(redis_port_, {"HLEN", "edgefn:v2|4:page,3:GET,10:test.local,8:/page/co,"}) ==
           "1";
  }));
}

TEST_F(RedisTest, PurgesDeleteFromRedisToo) {
  ASSERT_TRUE(redis_.start(redis_port_));
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  for (std::string_view target : {"/page/p1", "/page/p2", "/page/q", "/tag/1"}) {
    ASSERT_EQ(get(server_.port(), target, "1").status, 200);
  }
  const auto keys = [&] { return redis_cli(redis_port_, {"KEYS", "edgefn:*"}); };
  const auto has = [&](std::string_view path) {
    return keys().find("," + std::to_string(path.size()) + ":" + std::string(path) + ",") !=
           std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return has("/page/p1") && has("/page/p2") && has("/page/q"); }));
  ASSERT_TRUE(
      eventually([&] { return has("/tag/1") && keys().find("edgefn:tag:t1") != keys().npos; }));

  const auto purge = [&](std::string_view query) {
    HttpResponse response;
    EXPECT_TRUE(exchange(server_.admin_port(),
                         "POST /purge?" + std::string(query) +
                             " HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n",
                         response));
    return response.status;
  };
  EXPECT_EQ(purge("prefix=/page/p"), 200);
  EXPECT_TRUE(eventually([&] { return !has("/page/p1") && !has("/page/p2"); }));
  EXPECT_TRUE(has("/page/q"));
  EXPECT_EQ(purge("tag=t1"), 200);
  EXPECT_TRUE(eventually([&] { return !has("/tag/1"); }));
  EXPECT_EQ(keys().find("edgefn:tag:t1"), std::string::npos);
  EXPECT_EQ(server_.stop(), 0);

  // Another process (another node on the same Redis) finds only what was not purged.
  ASSERT_TRUE(second_.start(manifest(redis_port_)));
  EXPECT_TRUE(cache_status(get(second_.port(), "/page/q", "2")).ends_with("detail=redis"));
  EXPECT_EQ(cache_status(get(second_.port(), "/page/p1", "2")),
            "edgefn; fwd=miss; fwd-status=200; stored");
}

TEST_F(RedisTest, GarbageFromTheServerIsAMiss) {
  FakeRedis fake(redis_port_, "?this is not RESP\r\n");
  ASSERT_TRUE(fake.bound());
  ASSERT_TRUE(server_.start(manifest(redis_port_)));
  for (int i = 0; i < 5; ++i) {
    const HttpResponse response = get(server_.port(), "/page/g" + std::to_string(i), "g");
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(answered(response, "g")) << response.body;
    EXPECT_EQ(cache_status(response), "edgefn; fwd=miss; fwd-status=200; stored");
  }
  EXPECT_GE(fake.accepted(), 1);
}

TEST_F(RedisTest, ARedisThatNeverAnswersCostsOneTimeout) {
  FakeRedis silent(redis_port_, "");
  ASSERT_TRUE(silent.bound());
  ASSERT_TRUE(server_.start(manifest(redis_port_, "200ms")));
  const auto start = SteadyClock::now();
  const HttpResponse response = get(server_.port(), "/page/slow", "s");
  const auto waited = SteadyClock::now() - start;
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(answered(response, "s"));
  EXPECT_GE(waited, Millis(150));
  EXPECT_LT(waited, Millis(3000));
  // Stored locally all the same: the next answer is L1's or L2's at once.
  const HttpResponse again = get(server_.port(), "/page/slow", "t");
  EXPECT_TRUE(answered(again, "s"));
}

TEST(RedisManifest, TheRedisSectionIsChecked) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("edgefn-redis-check-" + std::to_string(::getpid()) + ".toml"))
                               .string();
  std::ofstream(path) << "[cache.redis]\ntimeout = \"0s\"\nconnections = 0\nport = 1\n\n"
                      << "[functions.a]\nmodule = \"hello\"\nroutes = [\"GET /a\"]\n";
  const CommandResult result = run_edgefn({"check", path});
  std::filesystem::remove(path);
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err,
            path + ":1:1: cache.redis: missing required key \"address\"\n" + path +
                ":2:11: cache.redis.timeout: must be more than 0 and at most 1h; got \"0s\"\n" +
                path + ":3:15: cache.redis.connections: must be between 1 and 64; got 0\n" + path +
                ":4:1: cache.redis.port: unknown key; expected one of: address, timeout, "
                "connections, max_value_bytes\n");
}

}  // namespace
}  // namespace edgefn::integration
