// Requests turned away before any function runs: malformed and smuggling-shaped requests (400
// and close), unknown paths and methods (404/405), bad paths, size limits (413/414/431), the
// header and idle timeouts, and max_connections.
#include <thread>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

using LimitsTest = ServerTest;

// Sends `request` on a fresh connection; expects `status` as a JSON error, Connection: close
// and then the connection closed.
void expect_rejected_and_closed(std::uint16_t port, std::string_view request, int status) {
  SCOPED_TRACE("request: \"" + printable(request) + "\"");
  Client client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(request));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, status));
  EXPECT_TRUE(has_token(response.header("connection"), "close")) << printable(response.raw);
  EXPECT_TRUE(client.expect_closed());
}

// Sends `request` on a connection and expects a JSON error with `status`, after which the same
// connection still answers a GET /hello.
void expect_rejected_and_kept(std::uint16_t port, std::string_view request, int status,
                              std::string_view allow = {}) {
  SCOPED_TRACE("request: \"" + printable(request) + "\"");
  Client client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(request));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, status));
  if (!allow.empty()) {
    EXPECT_EQ(response.header("allow"), allow);
  }
  EXPECT_FALSE(has_token(response.header("connection"), "close")) << printable(response.raw);
  ASSERT_TRUE(client.send(get_request("/hello")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
}

// --- Malformed requests and request smuggling shapes: 400, then close -----------------------

TEST_F(LimitsTest, ContentLengthWithTransferEncodingIsRejected) {
  expect_rejected_and_closed(port(),
                             "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                             400);
}

TEST_F(LimitsTest, TransferEncodingBeforeContentLengthIsRejected) {
  expect_rejected_and_closed(port(),
                             "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 5\r\n\r\n0\r\n\r\n",
                             400);
}

TEST_F(LimitsTest, TwoDifferentContentLengthsAreRejected) {
  expect_rejected_and_closed(port(),
                             "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                             "Content-Length: 6\r\n\r\nhello!",
                             400);
}

TEST_F(LimitsTest, NonNumericContentLengthIsRejected) {
  expect_rejected_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400);
}

TEST_F(LimitsTest, BadChunkSizeIsRejected) {
  expect_rejected_and_closed(port(),
                             "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "zz\r\nhello\r\n0\r\n\r\n",
                             400);
}

TEST_F(LimitsTest, ChunkWithoutItsCrlfIsRejected) {
  expect_rejected_and_closed(port(),
                             "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabcXX\r\n0\r\n\r\n",
                             400);
}

TEST_F(LimitsTest, ObsoleteLineFoldingIsRejected) {
  expect_rejected_and_closed(
      port(), "GET /hello HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n", 400);
}

TEST_F(LimitsTest, ControlByteInAFieldValueIsRejected) {
  expect_rejected_and_closed(
      port(), std::string("GET /hello HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01z\r\n\r\n"), 400);
}

TEST_F(LimitsTest, NulInAFieldValueIsRejected) {
  expect_rejected_and_closed(
      port(), std::string_view("GET /hello HTTP/1.1\r\nHost: a\r\nX-Bad: a\0z\r\n\r\n", 44), 400);
}

TEST_F(LimitsTest, SpaceInAFieldNameIsRejected) {
  expect_rejected_and_closed(port(), "GET /hello HTTP/1.1\r\nHost: a\r\nX Bad: z\r\n\r\n", 400);
}

TEST_F(LimitsTest, WhitespaceBeforeTheColonIsRejected) {
  expect_rejected_and_closed(port(), "GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400);
}

TEST_F(LimitsTest, BareLineFeedLineEndingsAreRejected) {
  expect_rejected_and_closed(port(), "GET /hello HTTP/1.1\nHost: a\n\n", 400);
}

TEST_F(LimitsTest, MissingHostOnHttp11IsRejected) {
  expect_rejected_and_closed(port(), "GET /hello HTTP/1.1\r\n\r\n", 400);
}

TEST_F(LimitsTest, TwoHostFieldsAreRejected) {
  expect_rejected_and_closed(port(), "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

TEST_F(LimitsTest, MalformedRequestLinesAreRejected) {
  for (const char* request :
       {"GET /hello HTT/1.1\r\nHost: a\r\n\r\n", "GET  /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /hello\r\nHost: a\r\n\r\n", "GET /hello HTTP/1.1 x\r\nHost: a\r\n\r\n",
        "\x01\x02 / HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    expect_rejected_and_closed(port(), request, 400);
  }
}

TEST_F(LimitsTest, MalformedRequestAfterAGoodOneOnTheSameConnection) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send(get_request("/hello") + "GET /hello HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 400));
  EXPECT_TRUE(client.expect_closed());
}

// --- Routing errors: the connection stays usable ---------------------------------------------

TEST_F(LimitsTest, UnknownPathIs404) {
  expect_rejected_and_kept(port(), get_request("/no/such/path"), 404);
}

TEST_F(LimitsTest, WrongMethodIs405WithAllow) {
  expect_rejected_and_kept(port(), "POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                           405, "GET, HEAD");
}

TEST_F(LimitsTest, AllowListsEveryMethodOfThePath) {
  expect_rejected_and_kept(port(), "PUT /teapot HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                           405, "GET, HEAD, DELETE");
  expect_rejected_and_kept(port(), get_request("/small"), 405, "POST");
}

TEST_F(LimitsTest, UnknownMethodOnAKnownPathIs405) {
  expect_rejected_and_kept(port(), "OPTIONS /echo HTTP/1.1\r\nHost: a\r\n\r\n", 405,
                           "GET, HEAD, POST, PUT");
}

TEST_F(LimitsTest, InvalidPercentEscapeIs400) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/hello/%zz"), response));
  EXPECT_TRUE(is_json_error(response, 400));
  ASSERT_TRUE(exchange(port(), get_request("/hello/abc%2"), response));
  EXPECT_TRUE(is_json_error(response, 400));
}

TEST_F(LimitsTest, DotSegmentsAre400) {
  for (const char* target :
       {"/hello/../echo", "/hello/./x", "/hello/%2e%2e/echo", "/hello/%2E", "/.."}) {
    HttpResponse response;
    ASSERT_TRUE(exchange(port(), get_request(target), response)) << target;
    EXPECT_TRUE(is_json_error(response, 400)) << target;
  }
}

TEST_F(LimitsTest, EncodedNulInThePathIs400) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/hello/a%00b"), response));
  EXPECT_TRUE(is_json_error(response, 400));
}

// --- Size limits ---------------------------------------------------------------------------

TEST_F(LimitsTest, HeadAboveMaxHeaderBytesIs431) {
  // basic.toml: max_header_bytes = 4KiB.
  expect_rejected_and_closed(
      port(), get_request("/hello", "X-Big: " + std::string(5000, 'b') + "\r\n"), 431);
}

TEST_F(LimitsTest, ManySmallFieldsAboveMaxHeaderBytesIs431) {
  std::string fields;
  for (int i = 0; i < 60; ++i)
    fields += "X-Field-" + std::to_string(i) + ": " + std::string(80, 'v') + "\r\n";
  expect_rejected_and_closed(port(), get_request("/hello", fields), 431);
}

TEST_F(LimitsTest, HeadJustBelowMaxHeaderBytesIsServed) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/hello", "X-Big: " + std::string(3500, 'b') + "\r\n"),
                       response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
}

TEST_F(LimitsTest, TargetAboveMaxTargetBytesIs414) {
  // basic.toml: max_target_bytes = 1024.
  expect_rejected_and_closed(port(), get_request("/hello/" + std::string(2000, 'a')), 414);
}

TEST_F(LimitsTest, TargetBelowMaxTargetBytesIsServed) {
  const std::string name(900, 'a');
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/hello/" + name), response));
  EXPECT_EQ(response.body, "Hello, " + name + "!");
}

TEST_F(LimitsTest, ContentLengthAboveTheFunctionLimitIs413BeforeTheBody) {
  // small: max_body_bytes = 16. Only the head is sent; the 413 must come without the body.
  expect_rejected_and_closed(port(),
                             "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n", 413);
}

TEST_F(LimitsTest, ContentLengthAtTheFunctionLimitIsServed) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(),
                       "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n\r\n"
                       "0123456789abcdef",
                       response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
}

TEST_F(LimitsTest, ContentLengthAboveTheServerLimitIs413BeforeTheBody) {
  // max_body_bytes = 64KiB for every function without its own limit.
  expect_rejected_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413);
}

TEST_F(LimitsTest, HugeContentLengthIs413) {
  expect_rejected_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999\r\n\r\n", 413);
}

TEST_F(LimitsTest, ChunkedBodyAboveTheLimitIs413) {
  expect_rejected_and_closed(port(),
                             "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
                             413);
}

// --- Timeouts ------------------------------------------------------------------------------

TEST_F(LimitsTest, IncompleteHeadGets408ThenClose) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: a\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  const auto elapsed = SteadyClock::now() - start;
  EXPECT_TRUE(is_json_error(response, 408));
  EXPECT_TRUE(has_token(response.header("connection"), "close"));
  EXPECT_TRUE(client.expect_closed());
  // header_timeout = 300ms.
  EXPECT_GE(elapsed, Millis{250});
  EXPECT_LE(elapsed, Millis{1500});
}

TEST_F(LimitsTest, HeaderTimeoutIsNotExtendedByTrickledBytes) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: a\r\n"));
  // A field every 50 ms for up to 1.5 s, five times the header timeout; stop once rejected.
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(Millis{50});
    if (!client.send("X-Slow-" + std::to_string(i) + ": 1\r\n")) break;
    if (!client.expect_silence(Millis{0})) break;  // the answer (or the close) arrived
  }
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 408));
  EXPECT_LE(SteadyClock::now() - start, Millis{1200});
}

TEST_F(LimitsTest, IdleConnectionWithoutARequestIsClosedSilently) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  const auto start = SteadyClock::now();
  EXPECT_TRUE(client.expect_closed(Millis{2500}));
  EXPECT_GE(SteadyClock::now() - start, Millis{250});
}

TEST_F(LimitsTest, IdleKeepAliveConnectionIsClosedSilently) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(get_request("/hello")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  const auto start = SteadyClock::now();
  // idle_timeout = 500ms: closed without any response bytes.
  EXPECT_TRUE(client.expect_closed(Millis{2500}));
  const auto elapsed = SteadyClock::now() - start;
  EXPECT_GE(elapsed, Millis{400});
  EXPECT_LE(elapsed, Millis{2000});
}

TEST_F(LimitsTest, EachRequestRestartsTheIdleTimeout) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  // 5 requests 300 ms apart: 1.5 s in all, three idle timeouts, never 500 ms idle at once.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.send(get_request("/hello"))) << "request " << i;
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response)) << "request " << i;
    EXPECT_EQ(response.status, 200);
    std::this_thread::sleep_for(Millis{300});
  }
}

// --- max_connections -----------------------------------------------------------------------

class MaxConnectionsTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("limits.toml"); }
};

TEST_F(MaxConnectionsTest, ConnectionsBeyondTheLimitAreClosed) {
  // limits.toml: max_connections = 2 for the whole process (2 workers).
  std::vector<Client> held(2);
  for (Client& client : held) {
    ASSERT_TRUE(client.connect(port()));
    ASSERT_TRUE(client.send(get_request("/hello")));
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response));
    ASSERT_EQ(response.status, 200);
  }
  for (int i = 0; i < 3; ++i) {
    Client extra;
    if (extra.try_connect(port()) != 0) continue;  // refused outright is fine too
    // The send may fail: the server may have closed the connection already.
    static_cast<void>(extra.send(get_request("/hello")));
    EXPECT_TRUE(extra.expect_closed()) << "connection " << i + 3 << " was served";
  }
  // The held connections still work.
  for (Client& client : held) {
    ASSERT_TRUE(client.send(get_request("/hello")));
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.status, 200);
  }
  // Closing one makes room for a new one (the server sees the close asynchronously: retry).
  held[0].close();
  const auto deadline = SteadyClock::now() + Millis{2000};
  bool served = false;
  while (!served && SteadyClock::now() < deadline) {
    HttpResponse response;
    served = exchange(port(), get_request("/hello"), response) && response.status == 200;
    if (!served) std::this_thread::sleep_for(Millis{20});
  }
  EXPECT_TRUE(served) << "no new connection accepted after one of two closed";
}

}  // namespace
}  // namespace edgefn::integration
