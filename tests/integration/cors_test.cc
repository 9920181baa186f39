// CORS and response_headers over sockets (cors.toml): preflights answered at the edge without
// running the function, CORS headers on actual responses, response_headers on every response of
// a function, plain OPTIONS unchanged.
#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

constexpr std::string_view kOrigin = "https://app.example.com";

class CorsTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("cors.toml"); }
};

std::string preflight(std::string_view target, std::string_view origin, std::string_view method,
                      std::string_view headers = {}) {
  std::string request = "OPTIONS " + std::string(target) + " HTTP/1.1\r\nHost: test.local\r\n";
  request += "Origin: " + std::string(origin) + "\r\n";
  request += "Access-Control-Request-Method: " + std::string(method) + "\r\n";
  if (!headers.empty())
    request += "Access-Control-Request-Headers: " + std::string(headers) + "\r\n";
  return request + "\r\n";
}

std::size_t cors_fields(const HttpResponse& response) {
  std::size_t count = 0;
  for (const auto& [name, value] : response.headers) {
    std::string lower = name;
    for (char& c : lower)
      c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower.starts_with("access-control-")) ++count;
  }
  return count;
}

TEST_F(CorsTest, AllowedPreflightIsAnsweredAtTheEdgeAndKeepsTheConnection) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(preflight("/api/7", kOrigin, "POST", "Content-Type, X-API-Key")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 204) << printable(response.raw);
  EXPECT_EQ(response.header_count("date"), 1u);
  EXPECT_EQ(response.header_count("content-length"), 0u);  // a 204 carries none
  EXPECT_EQ(response.header("access-control-allow-origin"), std::string(kOrigin));
  EXPECT_EQ(response.header("access-control-allow-methods"), "GET, POST");
  EXPECT_EQ(response.header("access-control-allow-headers"), "content-type, x-api-key");
  EXPECT_EQ(response.header("access-control-max-age"), "600");
  EXPECT_EQ(response.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(response.header("vary"), "Origin");
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(response.body, "");  // the echo function did not run
  EXPECT_FALSE(has_token(response.header("connection"), "close"));

  // Keep-alive: the same connection serves the actual request next.
  ASSERT_TRUE(client.send(get_request("/api/7", "Origin: https://app.example.com\r\n")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(response.header("access-control-allow-origin"), std::string(kOrigin));
}

TEST_F(CorsTest, PreflightWithABodyIsReadWholeBeforeTheAnswer) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  std::string request = preflight("/api/7", kOrigin, "GET");
  request.insert(request.size() - 2, "Content-Length: 5\r\n");
  ASSERT_TRUE(client.send(request + "hello" + get_request("/plain")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 204) << printable(response.raw);
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
}

TEST_F(CorsTest, RefusedPreflightsAre204WithoutAccessControlFields) {
  const std::string requests[] = {
      preflight("/api/7", "https://evil.example", "GET"),
      preflight("/api/7", kOrigin, "DELETE"),
      preflight("/api/7", kOrigin, "GET", "x-secret"),
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(printable(request));
    HttpResponse response;
    ASSERT_TRUE(exchange(port(), request, response));
    EXPECT_EQ(response.status, 204) << printable(response.raw);
    EXPECT_EQ(cors_fields(response), 0u) << printable(response.raw);
  }
}

TEST_F(CorsTest, AnyOriginPreflightAnswersStarWithoutVary) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), preflight("/public", "https://x.example", "GET"), response));
  EXPECT_EQ(response.status, 204) << printable(response.raw);
  EXPECT_EQ(response.header("access-control-allow-origin"), "*");
  EXPECT_EQ(response.header("access-control-allow-methods"), "GET");
  EXPECT_EQ(response.header_count("vary"), 0u);
  EXPECT_EQ(response.header_count("access-control-allow-credentials"), 0u);
}

TEST_F(CorsTest, ActualRequestFromAllowedOriginGetsCorsAndResponseHeaders) {
  HttpResponse response;
  ASSERT_TRUE(
      exchange(port(), get_request("/api/1", "Origin: https://app.example.com\r\n"), response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(response.header("access-control-allow-origin"), std::string(kOrigin));
  EXPECT_EQ(response.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(response.header("access-control-expose-headers"), "x-request-id");
  EXPECT_EQ(response.header("vary"), "Origin");
  EXPECT_EQ(response.header("strict-transport-security"), "max-age=63072000");
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(response.header("content-type"), "application/json");
}

TEST_F(CorsTest, ActualRequestFromOtherOriginRunsWithoutCorsFields) {
  HttpResponse response;
  ASSERT_TRUE(
      exchange(port(), get_request("/api/1", "Origin: https://evil.example\r\n"), response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(cors_fields(response), 0u) << printable(response.raw);
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
  ASSERT_TRUE(exchange(port(), get_request("/api/1"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(cors_fields(response), 0u) << printable(response.raw);
  EXPECT_EQ(response.header_count("strict-transport-security"), 1u);
}

TEST_F(CorsTest, ValidationFailuresCarryTheFunctionsHeaders) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/api/1?page=x", "Origin: https://app.example.com\r\n"),
                       response));
  EXPECT_EQ(response.status, 400) << printable(response.raw);
  EXPECT_EQ(response.header("access-control-allow-origin"), std::string(kOrigin));
  EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
}

TEST_F(CorsTest, FunctionsWithoutResponseHeadersGetNone) {
  HttpResponse response;
  ASSERT_TRUE(
      exchange(port(), get_request("/plain", "Origin: https://app.example.com\r\n"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(cors_fields(response), 0u);
  EXPECT_EQ(response.header_count("x-content-type-options"), 0u);
}

TEST_F(CorsTest, PlainOptionsIsUnchanged) {
  // Without the preflight fields, or on a function without cors, OPTIONS is routed as before.
  const std::string requests[] = {
      "OPTIONS /api/7 HTTP/1.1\r\nHost: test.local\r\nOrigin: https://app.example.com\r\n\r\n",
      preflight("/plain", kOrigin, "POST"),
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(printable(request));
    HttpResponse response;
    ASSERT_TRUE(exchange(port(), request, response));
    EXPECT_TRUE(is_json_error(response, 405));
    EXPECT_EQ(cors_fields(response), 0u);
  }
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), preflight("/nowhere", kOrigin, "GET"), response));
  EXPECT_TRUE(is_json_error(response, 404));
}

}  // namespace
}  // namespace edgefn::integration
