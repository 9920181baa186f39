// The proxy module against the test's own origin (OriginServer, proxy.toml): method, target
// (strip_prefix at segment boundaries, query and escapes kept) and body forwarded; hop-by-hop
// fields dropped both ways; X-Forwarded-* and Forwarded added; Host the upstream's; chunked
// answers de-chunked, large ones intact, too large ones a 502; and a caching reverse proxy that
// honours the origin's max-age.
#include <string>

#include "tests/integration/fixture.h"
#include "tests/integration/origin_server.h"
#include "tests/integration/redis_server.h"

namespace edgefn::integration {
namespace {

class ProxyTest : public OriginFixture {
 protected:
  void SetUp() override {
    OriginFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(start_server("proxy.toml"));
  }

  HttpResponse get(std::string_view target, std::string_view extra = {}) {
    return roundtrip(port(), http_request("GET", target, {}, extra));
  }
  // The target the origin saw for `target` sent to edgefn.
  std::string forwarded_target(std::string_view target) {
    const HttpResponse response = get(target);
    EXPECT_NE(response.status, 0) << target;
    return origin_.last_request().target;
  }
};

TEST_F(ProxyTest, MethodTargetAndBodyAreForwarded) {
  std::string body;
  for (int i = 0; i < 20000; ++i)
    body += static_cast<char>(i % 256);  // every byte value, NUL and CR LF included
  HttpResponse response = roundtrip(port(), http_request("POST", "/p/echo?a=1&b=two", body));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header("content-type"), "application/json");
  OriginRequest seen = origin_.last_request();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/echo?a=1&b=two");
  EXPECT_EQ(seen.header("content-length"), std::to_string(body.size()));
  EXPECT_TRUE(seen.body == body) << "a body of " << seen.body.size() << " bytes arrived";

  response = roundtrip(port(), http_request("PUT", "/p/echo", "put"));
  EXPECT_EQ(response.status, 200);
  seen = origin_.last_request();
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.body, "put");

  response = roundtrip(port(), http_request("DELETE", "/p/echo/1"));
  EXPECT_EQ(response.status, 200);
  seen = origin_.last_request();
  EXPECT_EQ(seen.method, "DELETE");
  EXPECT_EQ(seen.target, "/echo/1");
  EXPECT_EQ(seen.body, "");
}

TEST_F(ProxyTest, StripPrefixRemovesWholeSegmentsAndKeepsQueryAndEscapes) {
  EXPECT_EQ(forwarded_target("/api/echo"), "/echo");
  EXPECT_EQ(forwarded_target("/api/echo/a/b?x=1&y"), "/echo/a/b?x=1&y");
  EXPECT_EQ(forwarded_target("/apis/echo"), "/apis/echo");  // not "s/echo"
  EXPECT_EQ(forwarded_target("/api/"), "/");
  EXPECT_EQ(forwarded_target("/api/?x=1"), "/?x=1");
  EXPECT_EQ(forwarded_target("/p/echo/a%20b%2Fc"), "/echo/a%20b%2Fc");
  EXPECT_EQ(forwarded_target("/raw/echo?q=1"), "/raw/echo?q=1");
}

TEST_F(ProxyTest, ForwardingFieldsAreAddedAndHopByHopOnesDropped) {
  const std::string request =
      "GET /p/echo HTTP/1.1\r\nHost: client.example\r\n"
      "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: forged.example\r\n"
      "X-Forwarded-Proto: https\r\n"
      "Connection: keep-alive, x-secret\r\nX-Secret: 1\r\nTE: trailers\r\nUpgrade: foo\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTrailer: x-t\r\n"
      "X-Custom: kept\r\nAccept: text/plain\r\n\r\n";
  const HttpResponse response = roundtrip(port(), request);
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  const OriginRequest seen = origin_.last_request();
  EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(origin_.port()));
  EXPECT_EQ(seen.header_count("host"), 1u);
  EXPECT_EQ(seen.header("x-forwarded-for"), "10.0.0.1, 127.0.0.1");
  EXPECT_EQ(seen.header_count("x-forwarded-for"), 1u);
  EXPECT_EQ(seen.header("x-forwarded-host"), "client.example");  // the client's claim replaced
  EXPECT_EQ(seen.header_count("x-forwarded-host"), 1u);
  EXPECT_EQ(seen.header("x-forwarded-proto"), "http");
  EXPECT_EQ(seen.header_count("x-forwarded-proto"), 1u);
  EXPECT_EQ(seen.header("forwarded"), "for=127.0.0.1;host=client.example;proto=http");
  EXPECT_EQ(seen.header("x-custom"), "kept");
  EXPECT_EQ(seen.header("accept"), "text/plain");
  for (const char* dropped :
       {"x-secret", "te", "upgrade", "keep-alive", "proxy-connection", "trailer"}) {
    EXPECT_EQ(seen.header_count(dropped), 0u) << dropped;
  }
  // The runtime may say keep-alive on its own connection, never what the client's named.
  for (const auto& [name, value] : seen.headers) {
    if (name == "connection") {
      EXPECT_FALSE(has_token(value, "x-secret")) << value;
    }
  }

  // Without earlier values: the client's address alone.
  const HttpResponse plain =
      roundtrip(port(), "GET /p/echo HTTP/1.1\r\nHost: client.example\r\n\r\n");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(origin_.last_request().header("x-forwarded-for"), "127.0.0.1");
}

TEST_F(ProxyTest, TheOriginsHopByHopFieldsAreDropped) {
  const HttpResponse response = get("/p/hop-headers");
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_standard_fields(response));  // one Date, one Content-Length
  EXPECT_EQ(response.body, "hop");
  EXPECT_EQ(response.header("x-end-to-end"), "yes");
  for (const char* dropped : {"x-hop", "keep-alive", "proxy-connection"}) {
    EXPECT_EQ(response.header_count(dropped), 0u) << dropped << " in\n" << printable(response.raw);
  }
  EXPECT_FALSE(has_token(response.header("connection"), "x-hop"));
}

TEST_F(ProxyTest, TheOriginsStatusAndBodyArePassedOn) {
  HttpResponse response = get("/p/status/404");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "status 404");
  response = get("/p/status/503");
  EXPECT_EQ(response.status, 503);  // the origin's own, not a JSON error of edgefn's
  EXPECT_EQ(response.body, "status 503");
  response = get("/p/status/204");
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  response = get("/raw/echo");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "no such path");
}

TEST_F(ProxyTest, AChunkedAnswerArrivesWithContentLength) {
  const HttpResponse response = get("/p/chunked");
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header_count("transfer-encoding"), 0u);
  EXPECT_EQ(response.body, "hello chunked world");
}

TEST_F(ProxyTest, ALargeAnswerArrivesIntactAndATooLargeOneIs502) {
  const HttpResponse large = get("/p/big?bytes=1000000");
  EXPECT_EQ(large.status, 200);
  EXPECT_TRUE(has_standard_fields(large));
  EXPECT_TRUE(large.body == big_body(1000000)) << large.body.size() << " bytes arrived";

  EXPECT_TRUE(is_json_error(get("/small/big?bytes=100000"), 502));
  const HttpResponse fits = get("/small/big?bytes=1000");
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body, big_body(1000));
  EXPECT_EQ(get("/p/ok").status, 200);
}

TEST_F(ProxyTest, ACachingRouteStoresWhatTheOriginLetsItStore) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse first;
  HttpResponse second;
  ASSERT_TRUE(client.send(http_request("GET", "/c/cache?max_age=60")));
  ASSERT_TRUE(client.read_response(first));
  ASSERT_TRUE(client.send(http_request("GET", "/c/cache?max_age=60")));
  ASSERT_TRUE(client.read_response(second));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "cache 1");
  EXPECT_EQ(first.header("cache-status"), "edgefn; fwd=miss; fwd-status=200; stored");
  EXPECT_EQ(second.body, "cache 1");
  EXPECT_TRUE(second.header("cache-status").value_or("").starts_with("edgefn; hit"))
      << printable(second.raw);
  EXPECT_TRUE(has_standard_fields(second));
  EXPECT_EQ(origin_.requests_for("/cache"), 1);

  // max-age=0: nothing fresh to answer from, every request reaches the origin.
  EXPECT_EQ(get("/c/cache?max_age=0").body, "cache 2");
  EXPECT_EQ(get("/c/cache?max_age=0").body, "cache 3");
  EXPECT_EQ(origin_.requests_for("/cache"), 3);
}

TEST_F(ProxyTest, AHeadAnswerCarriesTheOriginsLength) {
  // The origin answers HEAD with a body too (as a careless one would): the proxy reads only the
  // head, and the client gets the length a GET would have without any body.
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(http_request("HEAD", "/p/big?bytes=1000")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response, Millis(5000), /*head_request=*/true));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(response.header("content-length"), "1000");
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(origin_.last_request().method, "HEAD");
  // The connection stays usable: the next answer is whole.
  ASSERT_TRUE(client.send(http_request("GET", "/p/ok")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
}

TEST_F(ProxyTest, ExpiresAndRepeatedCacheControlFieldsAreHonoured) {
  // A body number per origin request: equal numbers mean the second answer came from the cache.
  const auto twice = [&](std::string_view target) {
    const HttpResponse first = get(target);
    const HttpResponse second = get(target);
    EXPECT_EQ(first.status, 200) << target;
    return first.body == second.body;
  };
  EXPECT_TRUE(twice("/c/cache?expires=future")) << "a future Expires is freshness";
  EXPECT_FALSE(twice("/c/cache?expires=past")) << "a past Expires is stale at once";
  EXPECT_FALSE(twice("/c/cache?expires=0")) << "an invalid Expires is stale at once";
  EXPECT_FALSE(twice("/c/cache?max_age=60&then=no-store")) << "no-store in a second field";
}

TEST_F(ProxyTest, TheTraceContextReachesTheOrigin) {
  // A client's valid traceparent is passed on as it came.
  const std::string given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_EQ(get("/p/echo", "traceparent: " + given + "\r\n").status, 200);
  EXPECT_EQ(origin_.last_request().header("traceparent"), given);
  // Without one, the origin gets the trace the edge started, with a parent id of its own.
  ASSERT_EQ(get("/p/echo").status, 200);
  const std::string made = origin_.last_request().header("traceparent").value_or("");
  ASSERT_EQ(made.size(), 55u) << made;
  EXPECT_TRUE(made.starts_with("00-")) << made;
  EXPECT_TRUE(made.ends_with("-00")) << made;
  EXPECT_EQ(made.find_first_not_of("0123456789abcdef-"), std::string::npos) << made;
  EXPECT_NE(made.substr(3, 32), std::string(32, '0'));
  // ...the same trace id the access log gives for the request.
  const std::string logged = "\"trace_id\":\"" + made.substr(3, 32) + "\"";
  EXPECT_TRUE(
      eventually([&] { return server_.out().find(logged) != std::string::npos; }, Millis(2000)))
      << server_.out();
}

}  // namespace
}  // namespace edgefn::integration
