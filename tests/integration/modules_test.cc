// The built-in modules through the whole server: hello, echo and static outputs byte for byte,
// route parameters, percent-decoding, and host-based routing.
#include <fstream>
#include <sstream>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

using ModulesTest = ServerTest;

// GET `target` with Host `host`; the response, checked for the standard fields.
HttpResponse get(std::uint16_t port, std::string_view target, std::string_view host = "test.local",
                 std::string_view extra_headers = {}) {
  HttpResponse response;
  EXPECT_TRUE(exchange(port, get_request(target, extra_headers, host), response)) << target;
  EXPECT_TRUE(has_standard_fields(response)) << target;
  return response;
}

// --- hello ---------------------------------------------------------------------------------

TEST_F(ModulesTest, HelloWithoutANameGreetsTheWorld) {
  const HttpResponse response = get(port(), "/hello");
  EXPECT_EQ(response.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.body, "Hello, world!");
}

TEST_F(ModulesTest, HelloGreetsTheNameParameter) {
  EXPECT_EQ(get(port(), "/hello/Ada").body, "Hello, Ada!");
}

TEST_F(ModulesTest, HelloNameIsPercentDecodedOnce) {
  EXPECT_EQ(get(port(), "/hello/J%C3%BCrgen").body, "Hello, J\xC3\xBCrgen!");
  EXPECT_EQ(get(port(), "/hello/a%2520b").body, "Hello, a%20b!");
}

TEST_F(ModulesTest, QueryStringDoesNotReachTheName) {
  EXPECT_EQ(get(port(), "/hello/Bob?x=1").body, "Hello, Bob!");
}

TEST_F(ModulesTest, LiteralRouteBeatsParameterRoute) {
  const HttpResponse response = get(port(), "/hello/everyone");
  EXPECT_EQ(response.body, "Hello, everyone (static)!");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
}

// --- host routing --------------------------------------------------------------------------

TEST_F(ModulesTest, HostRouteAnswersItsHost) {
  EXPECT_EQ(get(port(), "/hello", "howdy.example").body, "Howdy, world!");
  EXPECT_EQ(get(port(), "/hello/Ada", "howdy.example").body, "Howdy, Ada!");
}

TEST_F(ModulesTest, HostMatchIgnoresCaseAndPort) {
  EXPECT_EQ(get(port(), "/hello", "HOWDY.Example:8080").body, "Howdy, world!");
}

TEST_F(ModulesTest, OtherHostsGetTheHostlessRoute) {
  EXPECT_EQ(get(port(), "/hello", "elsewhere.example").body, "Hello, world!");
  EXPECT_EQ(get(port(), "/hello", "howdy.example.org").body, "Hello, world!");
}

TEST_F(ModulesTest, HostRoutesAreTriedBeforeHostlessOnes) {
  // howdy.example's /hello/:name wins over the host-less literal /hello/everyone.
  EXPECT_EQ(get(port(), "/hello/everyone", "howdy.example").body, "Howdy, everyone!");
}

TEST_F(ModulesTest, HostWithoutAMatchingRouteFallsBackToHostless) {
  const HttpResponse response = get(port(), "/teapot", "howdy.example");
  EXPECT_EQ(response.status, 418);
}

// --- echo ----------------------------------------------------------------------------------

TEST_F(ModulesTest, EchoDescribesAGetExactly) {
  const HttpResponse response =
      get(port(), "/echo?a=1&b=two", "test.local", "X-Custom-Header: Some Value\r\n");
  EXPECT_EQ(response.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(response.body, R"({"method":"GET","path":"/echo","query":"a=1&b=two","params":{},)"
                           R"("headers":{"host":"test.local","x-custom-header":"Some Value"},)"
                           R"("body_bytes":0,"body":"","body_encoding":"utf-8"})");
}

TEST_F(ModulesTest, EchoDescribesAPostExactly) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(),
                       "POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 17\r\n\r\nline one\n\"quoted\"",
                       response));
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.body,
            R"({"method":"POST","path":"/echo","query":"","params":{},)"
            R"("headers":{"host":"test.local","content-type":"text/plain","content-length":"17"},)"
            R"("body_bytes":17,"body":"line one\n\"quoted\"","body_encoding":"utf-8"})");
}

TEST_F(ModulesTest, EchoJoinsRepeatedHeaders) {
  const HttpResponse response =
      get(port(), "/echo", "test.local", "X-Multi: a\r\nX-Other: o\r\nX-MULTI: b\r\n");
  EXPECT_NE(response.body.find(R"("headers":{"host":"test.local","x-multi":"a, b","x-other":"o"})"),
            std::string::npos)
      << response.body;
}

TEST_F(ModulesTest, EchoBase64EncodesABinaryBody) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(),
                       std::string("PUT /echo HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n\r\n") +
                           std::string("\xff\xfe\x00\x01", 4),
                       response));
  EXPECT_EQ(response.body, R"({"method":"PUT","path":"/echo","query":"","params":{},)"
                           R"("headers":{"host":"b","content-length":"4"},)"
                           R"("body_bytes":4,"body":"//4AAQ==","body_encoding":"base64"})");
}

TEST_F(ModulesTest, EchoShowsDecodedParamsAndPath) {
  const HttpResponse response = get(port(), "/echo/42/files/a/b%20c.txt", "h");
  EXPECT_EQ(response.body, R"({"method":"GET","path":"/echo/42/files/a/b c.txt","query":"",)"
                           R"("params":{"id":"42","rest":"a/b c.txt"},"headers":{"host":"h"},)"
                           R"("body_bytes":0,"body":"","body_encoding":"utf-8"})");
}

TEST_F(ModulesTest, EchoWildcardMayBeEmpty) {
  const HttpResponse response = get(port(), "/echo/7/files/", "h");
  EXPECT_NE(response.body.find(R"("params":{"id":"7","rest":""})"), std::string::npos)
      << printable(response.raw);
}

TEST_F(ModulesTest, EchoOfAChunkedBodyShowsItsLength) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(),
                       "POST /echo HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
                       response));
  EXPECT_NE(response.body.find(R"("body_bytes":9,"body":"Wikipedia","body_encoding":"utf-8"})"),
            std::string::npos)
      << printable(response.raw);
}

// --- static --------------------------------------------------------------------------------

TEST_F(ModulesTest, StaticSendsItsStatusTypeAndBody) {
  const HttpResponse response = get(port(), "/teapot");
  EXPECT_EQ(response.status, 418);
  EXPECT_EQ(response.status_line().substr(0, 13), "HTTP/1.1 418 ");
  EXPECT_EQ(response.header("content-type"), "text/plain");
  EXPECT_EQ(response.body, "I'm a teapot\n");
}

TEST_F(ModulesTest, StaticAnswersEveryDeclaredMethod) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), "DELETE /teapot HTTP/1.1\r\nHost: a\r\n\r\n", response));
  EXPECT_EQ(response.status, 418);
  EXPECT_EQ(response.body, "I'm a teapot\n");
}

TEST_F(ModulesTest, StaticServesAFileRelativeToTheManifest) {
  std::ifstream file(manifest_path("static/page.html"), std::ios::binary);
  ASSERT_TRUE(file) << manifest_path("static/page.html");
  std::ostringstream contents;
  contents << file.rdbuf();
  const HttpResponse response = get(port(), "/page");
  EXPECT_EQ(response.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(response.body, contents.str());
}

TEST_F(ModulesTest, HeadOfAStaticFileHasItsLength) {
  std::ifstream file(manifest_path("static/page.html"), std::ios::binary | std::ios::ate);
  ASSERT_TRUE(file);
  const auto size = static_cast<std::size_t>(file.tellg());
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), "HEAD /page HTTP/1.1\r\nHost: a\r\n\r\n", response,
                       /*head_request=*/true));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-length"), std::to_string(size));
  EXPECT_TRUE(has_standard_fields(response, /*head_request=*/true));
}

}  // namespace
}  // namespace edgefn::integration
