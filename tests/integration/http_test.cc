// HTTP/1.1 over real sockets: framing, keep-alive, pipelining, chunked request bodies,
// Expect: 100-continue, HEAD, HTTP/1.0, absolute-form targets and Connection: close.
#include <thread>

#include "tests/integration/fixture.h"
#include "tests/integration/json_util.h"

namespace edgefn::integration {
namespace {

using HttpTest = ServerTest;

std::string post_request(std::string_view target, std::string_view body,
                         std::string_view extra_headers = {}) {
  std::string request = "POST ";
  request.append(target).append(" HTTP/1.1\r\nHost: test.local\r\nContent-Length: ");
  request.append(std::to_string(body.size())).append("\r\n").append(extra_headers);
  request.append("\r\n").append(body);
  return request;
}

// Parses an echo response body and returns its `body` member (or a failure).
::testing::AssertionResult echoed_body(const HttpResponse& response, std::string& body) {
  if (response.status != 200) {
    return ::testing::AssertionFailure()
           << "status " << response.status << ": " << printable(response.raw);
  }
  rapidjson::Document document;
  if (auto parsed = parse_json(response.body, document); !parsed) return parsed;
  const std::optional<std::string> text = json_string(document, "body");
  const std::optional<std::int64_t> bytes = json_int(document, "body_bytes");
  if (!text || !bytes)
    return ::testing::AssertionFailure() << "no body/body_bytes: " << response.body;
  if (static_cast<std::size_t>(*bytes) != text->size()) {
    return ::testing::AssertionFailure()
           << "body_bytes " << *bytes << " for " << text->size() << " bytes of body";
  }
  body = *text;
  return ::testing::AssertionSuccess();
}

TEST_F(HttpTest, SimpleGetHasExactStatusFieldsAndBody) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/hello"), response));
  EXPECT_EQ(response.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.header("content-length"), "13");
  EXPECT_EQ(response.body, "Hello, world!");
  EXPECT_TRUE(has_standard_fields(response));
  // A 1.1 request without Connection: close keeps the connection: no "close" in the answer.
  EXPECT_FALSE(has_token(response.header("connection"), "close")) << printable(response.raw);
  EXPECT_EQ(response.header_count("transfer-encoding"), 0u);
}

TEST_F(HttpTest, ManyRequestsOnOneKeepAliveConnection) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  for (int i = 0; i < 100; ++i) {
    const std::string name = "n" + std::to_string(i);
    ASSERT_TRUE(client.send(get_request("/hello/" + name))) << "request " << i;
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response)) << "request " << i;
    ASSERT_EQ(response.body, "Hello, " + name + "!") << "request " << i;
    ASSERT_TRUE(has_standard_fields(response)) << "request " << i;
  }
}

TEST_F(HttpTest, PipelinedRequestsAreAnsweredInOrder) {
  std::string batch;
  for (int i = 0; i < 20; ++i)
    batch += get_request("/hello/p" + std::to_string(i));
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(batch));  // one write: every request arrives together
  for (int i = 0; i < 20; ++i) {
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response)) << "response " << i;
    EXPECT_EQ(response.body, "Hello, p" + std::to_string(i) + "!");
  }
  EXPECT_TRUE(client.expect_silence(Millis{100}));
}

TEST_F(HttpTest, PipelinedMixOfMethodsBodiesAndErrors) {
  const std::string batch = get_request("/hello") + post_request("/echo", "first body") +
                            get_request("/missing") + "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n" +
                            post_request("/echo", "second") + get_request("/teapot");
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(batch));
  HttpResponse response;
  std::string body;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
  ASSERT_TRUE(client.read_response(response));
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "first body");
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 404));
  ASSERT_TRUE(client.read_response(response, kIoTimeout, /*head_request=*/true));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-length"), "13");
  ASSERT_TRUE(client.read_response(response));
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "second");
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 418);
  EXPECT_TRUE(client.expect_silence(Millis{100}));
}

TEST_F(HttpTest, RequestSplitIntoTinyWrites) {
  const std::string request = post_request("/echo", "split body");
  Client client;
  ASSERT_TRUE(client.connect(port()));
  for (std::size_t i = 0; i < request.size(); i += 3) {
    ASSERT_TRUE(client.send(std::string_view(request).substr(i, 3)));
    std::this_thread::sleep_for(Millis{1});
  }
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  std::string body;
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "split body");
}

TEST_F(HttpTest, ChunkedRequestBodyIsDechunked) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\nA\r\n, chunked!\r\n0\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(has_standard_fields(response));
  rapidjson::Document echo;
  ASSERT_TRUE(parse_json(response.body, echo));
  EXPECT_EQ(json_int(echo, "body_bytes"), 21);
  EXPECT_EQ(json_string(echo, "body"), "hello world, chunked!");
  // The connection is still good for the next request.
  ASSERT_TRUE(client.send(get_request("/hello")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
}

TEST_F(HttpTest, ChunkedBodyWithExtensionsAndTrailerSentInPieces) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(client.send("3;name=value\r\nabc\r\n"));
  std::this_thread::sleep_for(Millis{20});
  ASSERT_TRUE(client.send("4\r\ndefg\r\n"));
  std::this_thread::sleep_for(Millis{20});
  ASSERT_TRUE(client.send("0\r\nX-Trailer: yes\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  std::string body;
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "abcdefg");
}

TEST_F(HttpTest, EmptyChunkedBody) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(),
                       "POST /echo HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: "
                       "chunked\r\n\r\n0\r\n\r\n",
                       response));
  std::string body;
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "");
}

TEST_F(HttpTest, LargeBodyBelowTheLimit) {
  std::string payload(60 * 1024, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 100)
    payload[i] = static_cast<char>('a' + i % 26);
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), post_request("/echo", payload), response));
  std::string body;
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, payload);
}

TEST_F(HttpTest, ExpectContinueGetsAnInterimResponseBeforeTheBody) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  HttpResponse interim;
  ASSERT_TRUE(client.read_response(interim));
  EXPECT_EQ(interim.raw, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.send("12345"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  std::string body;
  ASSERT_TRUE(echoed_body(response, body));
  EXPECT_EQ(body, "12345");
}

TEST_F(HttpTest, ExpectContinueOnAnOversizedBodyGets413Instead) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("POST /small HTTP/1.1\r\nHost: test.local\r\nContent-Length: 1000\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 413));
  EXPECT_TRUE(client.expect_closed());
}

TEST_F(HttpTest, ExpectContinueOnAnUnknownPathGets404WithoutContinue) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("POST /nowhere HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 404));
}

TEST_F(HttpTest, HeadHasTheGetLengthAndNoBody) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send("HEAD /hello HTTP/1.1\r\nHost: test.local\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response, kIoTimeout, /*head_request=*/true));
  EXPECT_EQ(response.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.header("content-length"), "13");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_TRUE(has_standard_fields(response, /*head_request=*/true));
  // No body bytes follow: the next response on the connection starts right away.
  EXPECT_TRUE(client.expect_silence(Millis{100}));
  ASSERT_TRUE(client.send(get_request("/hello")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
}

TEST_F(HttpTest, HeadWithConnectionCloseSendsNoBody) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(
      client.send("HEAD /teapot HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"));
  std::string bytes;
  ASSERT_TRUE(client.read_until_close(bytes));
  const std::size_t head_end = bytes.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << printable(bytes);
  EXPECT_EQ(bytes.size(), head_end + 4) << "HEAD response carries a body: " << printable(bytes);
  EXPECT_NE(bytes.find("Content-Length: 13\r\n"), std::string::npos) << printable(bytes);
}

TEST_F(HttpTest, Http10ClosesAfterTheResponse) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, world!");
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_TRUE(client.expect_closed());
}

TEST_F(HttpTest, Http10KeepAliveWhenRequested) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response)) << "request " << i;
    EXPECT_EQ(response.body, "Hello, world!");
    // A 1.0 client keeps the connection only if the server says so.
    EXPECT_TRUE(has_token(response.header("connection"), "keep-alive")) << printable(response.raw);
  }
  ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\n\r\n"));
  HttpResponse last;
  ASSERT_TRUE(client.read_response(last));
  EXPECT_TRUE(client.expect_closed());
}

TEST_F(HttpTest, ConnectionCloseIsHonoured) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(get_request("/hello", "Connection: close\r\n") + get_request("/hello")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(has_token(response.header("connection"), "close")) << printable(response.raw);
  // The pipelined second request is not answered.
  EXPECT_TRUE(client.expect_closed());
}

TEST_F(HttpTest, AbsoluteFormTarget) {
  HttpResponse response;
  ASSERT_TRUE(exchange(
      port(), "GET http://test.local/hello/abs HTTP/1.1\r\nHost: test.local\r\n\r\n", response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(response.body, "Hello, abs!");
}

TEST_F(HttpTest, AbsoluteFormAuthorityChoosesTheHostRoute) {
  HttpResponse response;
  ASSERT_TRUE(exchange(
      port(), "GET http://howdy.example/hello HTTP/1.1\r\nHost: howdy.example\r\n\r\n", response));
  EXPECT_EQ(response.body, "Howdy, world!") << printable(response.raw);
}

TEST_F(HttpTest, AbsoluteFormWithQuery) {
  HttpResponse response;
  ASSERT_TRUE(exchange(
      port(), "GET http://test.local:8080/echo?x=1&y=2 HTTP/1.1\r\nHost: test.local\r\n\r\n",
      response));
  ASSERT_EQ(response.status, 200) << printable(response.raw);
  rapidjson::Document echo;
  ASSERT_TRUE(parse_json(response.body, echo));
  EXPECT_EQ(json_string(echo, "path"), "/echo");
  EXPECT_EQ(json_string(echo, "query"), "x=1&y=2");
}

TEST_F(HttpTest, ManyConnectionsInParallelAcrossWorkers) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client;
      if (auto connected = client.connect(port()); !connected) {
        failures[t] = connected.message();
        return;
      }
      for (int i = 0; i < kRequests; ++i) {
        const std::string name = std::to_string(t) + "-" + std::to_string(i);
        HttpResponse response;
        if (auto sent = client.send(get_request("/hello/" + name)); !sent) {
          failures[t] = sent.message();
          return;
        }
        if (auto read = client.read_response(response); !read) {
          failures[t] = read.message();
          return;
        }
        if (response.body != "Hello, " + name + "!") {
          failures[t] = "wrong body: " + printable(response.raw);
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], "") << "connection " << t;
}

TEST_F(HttpTest, ClientHalfCloseStillGetsTheResponse) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(get_request("/hello")));
  client.shutdown_write();
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
  EXPECT_TRUE(client.expect_closed());
}

}  // namespace
}  // namespace edgefn::integration
