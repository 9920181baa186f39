// The cache layers over sockets (cache.toml): a miss is stored and the next request is answered
// from L1 (same worker) or L2 (the other worker) without running the function; HEAD, Vary, key
// parts, invalidation by unsafe methods, conditional requests, expiry, and what is never stored.
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

class CacheTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("cache.toml"); }

  // GET `target` on `client` with an X-Req marker the cache key ignores.
  HttpResponse get(Client& client, std::string_view target, std::string_view marker,
                   std::string_view extra = {}) {
    HttpResponse response;
    EXPECT_TRUE(client.send(
        get_request(target, "X-Req: " + std::string(marker) + "\r\n" + std::string(extra))));
    EXPECT_TRUE(client.read_response(response));
    return response;
  }

  static bool answered(const HttpResponse& response, std::string_view marker) {
    return response.body.find("\"x-req\":\"" + std::string(marker) + "\"") != std::string::npos;
  }
};

TEST_F(CacheTest, MissIsStoredThenHitFromL1WithoutRunningTheFunction) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const HttpResponse first = get(client, "/page", "1");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("cache-status"), "edgefn; fwd=miss; fwd-status=200; stored");
  EXPECT_EQ(first.header_count("age"), 0u);
  EXPECT_TRUE(answered(first, "1")) << first.body;

  const HttpResponse second = get(client, "/page", "2");
  EXPECT_EQ(second.status, 200);
  EXPECT_TRUE(has_standard_fields(second));
  const std::optional<std::string> status = second.header("cache-status");
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->starts_with("edgefn; hit; ttl=")) << *status;
  EXPECT_TRUE(status->ends_with("; detail=l1")) << *status;
  EXPECT_EQ(second.header("age"), "0");
  EXPECT_TRUE(answered(second, "1")) << second.body;  // the stored answer, not a new one
  EXPECT_EQ(second.header("content-type"), "application/json");
  EXPECT_EQ(second.header("x-frame-options"), "DENY");
  EXPECT_EQ(second.header_count("x-frame-options"), 1u);
}

TEST_F(CacheTest, OtherWorkersAnswerFromL2) {
  Client first;
  ASSERT_TRUE(first.connect(port()));
  ASSERT_TRUE(answered(get(first, "/page/shared", "origin"), "origin"));
  // Connections spread over both workers (SO_REUSEPORT hashes each one): the other worker's
  // first answer comes from L2, every answer is the stored one.
  int from_l2 = 0;
  for (int i = 0; i < 24; ++i) {
    Client client;
    ASSERT_TRUE(client.connect(port()));
    const HttpResponse response = get(client, "/page/shared", "again");
    EXPECT_TRUE(answered(response, "origin")) << response.body;
    const std::string status = response.header("cache-status").value_or("");
    EXPECT_TRUE(status.starts_with("edgefn; hit;")) << status;
    if (status.ends_with("detail=l2")) ++from_l2;
  }
  EXPECT_GE(from_l2, 1);
}

TEST_F(CacheTest, HeadIsAnsweredFromTheStoredGet) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const HttpResponse stored = get(client, "/page/head", "1");
  ASSERT_EQ(stored.status, 200);
  ASSERT_TRUE(client.send("HEAD /page/head HTTP/1.1\r\nHost: test.local\r\n\r\n"));
  HttpResponse head;
  ASSERT_TRUE(client.read_response(head, kIoTimeout, true));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.header("content-length"), std::to_string(stored.body.size()));
  EXPECT_TRUE(head.header("cache-status").value_or("").starts_with("edgefn; hit;"));
  // The connection is still in step: a GET after the HEAD reads its own response.
  EXPECT_TRUE(answered(get(client, "/page/head", "2"), "1"));
}

TEST_F(CacheTest, VaryHeadersAndKeyedQueryParametersSeparateEntries) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  EXPECT_TRUE(answered(get(client, "/lang", "en", "Accept-Language: en\r\n"), "en"));
  EXPECT_TRUE(answered(get(client, "/lang", "fr", "Accept-Language: fr\r\n"), "fr"));
  EXPECT_TRUE(answered(get(client, "/lang", "x", "Accept-Language: en\r\n"), "en"));
  EXPECT_TRUE(answered(get(client, "/lang", "none"), "none"));  // absent is a variant too

  // key = ["query:page"]: only `page` tells entries apart.
  EXPECT_TRUE(answered(get(client, "/params?page=1&utm=a", "p1"), "p1"));
  EXPECT_TRUE(answered(get(client, "/params?utm=b&page=1", "again"), "p1"));
  EXPECT_TRUE(answered(get(client, "/params?page=2", "p2"), "p2"));
}

TEST_F(CacheTest, SuccessfulUnsafeMethodInvalidatesTheUriOnEveryWorker) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(answered(get(client, "/page", "before"), "before"));
  ASSERT_TRUE(answered(get(client, "/page", "cached"), "before"));
  ASSERT_TRUE(
      client.send("POST /page HTTP/1.1\r\nHost: test.local\r\nContent-Length: 2\r\n\r\nhi"));
  HttpResponse post;
  ASSERT_TRUE(client.read_response(post));
  EXPECT_EQ(post.status, 200);
  const HttpResponse after = get(client, "/page", "after");
  EXPECT_TRUE(answered(after, "after")) << after.body;
  EXPECT_EQ(after.header("cache-status"), "edgefn; fwd=miss; fwd-status=200; stored");
  // No worker serves the old answer.
  for (int i = 0; i < 12; ++i) {
    Client other;
    ASSERT_TRUE(other.connect(port()));
    EXPECT_TRUE(answered(get(other, "/page", "n"), "after"));
  }
}

TEST_F(CacheTest, ConditionalRequestsGetNotModified) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse response;
  ASSERT_TRUE(client.send(get_request("/tagged")));
  ASSERT_TRUE(client.read_response(response));
  ASSERT_EQ(response.body, "v1");
  for (std::string_view condition :
       {"If-None-Match: \"abc\"\r\n", "If-None-Match: \"x\", W/\"abc\"\r\n",
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"}) {
    ASSERT_TRUE(client.send(get_request("/tagged", condition)));
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.status, 304) << condition;
    EXPECT_EQ(response.body, "");
    EXPECT_EQ(response.header_count("content-length"), 0u);
    EXPECT_EQ(response.header("etag"), "\"abc\"");
    EXPECT_EQ(response.header("cache-control"), "max-age=30");
  }
  ASSERT_TRUE(client.send(get_request("/tagged", "If-None-Match: \"other\"\r\n")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "v1");
}

TEST_F(CacheTest, ResponsesThatMustNotBeSharedAreNotStored) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  for (int i = 0; i < 2; ++i) {
    HttpResponse response;
    ASSERT_TRUE(client.send(get_request("/private")));
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.header("cache-status"), "edgefn; fwd=miss; fwd-status=200; detail=no-store");
  }
  // A request with credentials bypasses the cache both ways.
  const HttpResponse authorized = get(client, "/page/auth", "a", "Authorization: Bearer x\r\n");
  EXPECT_EQ(authorized.header("cache-status"), "edgefn; fwd=bypass; fwd-status=200");
  EXPECT_TRUE(answered(get(client, "/page/auth", "b"), "b"));
  // Functions without a cache policy say nothing about caching.
  EXPECT_EQ(get(client, "/plain", "p").header_count("cache-status"), 0u);
}

TEST_F(CacheTest, NotFoundIsCacheableByDefault) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse response;
  ASSERT_TRUE(client.send(get_request("/missing")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.header("cache-status"), "edgefn; fwd=miss; fwd-status=404; stored");
  ASSERT_TRUE(client.send(get_request("/missing")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "none");
  EXPECT_TRUE(response.header("cache-status").value_or("").starts_with("edgefn; hit;"));
}

TEST_F(CacheTest, EntriesExpireAfterTheirTtlAndAgeCounts) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(answered(get(client, "/short", "1"), "1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const HttpResponse expired = get(client, "/short", "2");
  EXPECT_TRUE(answered(expired, "2")) << expired.body;
  EXPECT_EQ(expired.header("cache-status"), "edgefn; fwd=miss; fwd-status=200; stored");

  ASSERT_TRUE(answered(get(client, "/page/age", "1"), "1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const HttpResponse aged = get(client, "/page/age", "2");
  EXPECT_TRUE(answered(aged, "1"));
  EXPECT_GE(std::stoi(aged.header("age").value_or("0")), 1);
}

TEST_F(CacheTest, ConcurrentMissesForOneKeyRunTheFunctionOnce) {
  // 100 connections (over both workers) ask for one slow key at once: one request runs the
  // function; every other waits for it and is answered with what it stored.
  constexpr int kClients = 100;
  std::vector<Client> clients(kClients);
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i].connect(port()));
    ASSERT_TRUE(clients[i].send(get_request("/slow", "X-Req: c" + std::to_string(i) + "\r\n")));
  }
  int stored = 0;
  int hits = 0;
  std::string leader_body;
  for (Client& client : clients) {
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response, Millis(5000)));
    EXPECT_EQ(response.status, 200);
    const std::string status = response.header("cache-status").value_or("");
    if (status == "edgefn; fwd=miss; fwd-status=200; stored") {
      ++stored;
      leader_body = response.body;
    } else {
      EXPECT_TRUE(status.starts_with("edgefn; hit;")) << status;
      ++hits;
    }
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(hits, kClients - 1);
  // Every answer is the leader's: the function ran once.
  ASSERT_FALSE(leader_body.empty());
  for (Client& client : clients) {
    HttpResponse again;
    ASSERT_TRUE(client.send(get_request("/slow", "X-Req: later\r\n")));
    ASSERT_TRUE(client.read_response(again));
    EXPECT_EQ(again.body, leader_body);
  }
}

TEST_F(CacheTest, StaleWhileRevalidateServesAtOnceAndRefreshesInTheBackground) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(answered(get(client, "/swr", "first"), "first"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // stale, within 30s of it
  const HttpResponse stale = get(client, "/swr", "second");
  EXPECT_TRUE(answered(stale, "first")) << stale.body;  // no wait for the function
  const std::string status = stale.header("cache-status").value_or("");
  EXPECT_TRUE(status.starts_with("edgefn; hit; fwd=stale; ttl=-")) << status;
  EXPECT_TRUE(status.ends_with("; detail=l1")) << status;
  // The refresh ran the function for the second request and stored its answer: the next
  // request is a fresh hit with it.
  const HttpResponse refreshed = get(client, "/swr", "third");
  EXPECT_TRUE(answered(refreshed, "second")) << refreshed.body;
  EXPECT_TRUE(refreshed.header("cache-status").value_or("").starts_with("edgefn; hit; ttl=0"))
      << refreshed.header("cache-status").value_or("");
}

}  // namespace
}  // namespace edgefn::integration
