// RequestParser: heads, bodies, pipelining, every split of the input, limits and error statuses.
#include "runtime/http_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::runtime::http {
namespace {

// Everything one request produced, copied out of the parser.
struct Seen {
  std::string method, target, host, path, query;
  int major = 0, minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = false;
  bool expect_continue = false;
  std::string body;
  std::size_t head_position = 0;  // position() at kHeadComplete, relative to the request

  bool operator==(const Seen&) const = default;
};

// Drives a parser exactly the way the connection does (see runtime/http_parser.h).
struct Conn {
  explicit Conn(ParserLimits l = {}) : limits(l), parser(limits) {}

  // Appends bytes and parses as far as they go.
  void feed(std::string_view bytes) {
    in.append(bytes);
    drive();
  }

  void drive() {
    for (;;) {
      ParseEvent ev = parser.parse({in.data(), in.size()});
      if (ev == ParseEvent::kNeedMore) return;
      if (ev == ParseEvent::kError) {
        failed = true;
        error = parser.error();
        return;
      }
      if (ev == ParseEvent::kHeadComplete) {
        ++heads;
        head_position = parser.position();
        RequestHead h = parser.head({in.data(), in.size()});
        if (h.expect_continue) ++continues;
        if (route_limit && !parser.set_body_limit(*route_limit)) {
          failed = true;
          error = parser.error();
          return;
        }
        continue;
      }
      RequestHead h = parser.head({in.data(), in.size()});
      Seen s;
      s.method = h.method;
      s.target = h.target;
      s.host = h.host;
      s.path = h.path;
      s.query = h.query;
      s.major = h.http_major;
      s.minor = h.http_minor;
      for (const api::Header& f : h.headers)
        s.headers.emplace_back(f.name, f.value);
      s.content_length = h.content_length;
      s.chunked = h.chunked;
      s.keep_alive = h.keep_alive;
      s.expect_continue = h.expect_continue;
      s.body = parser.body();
      s.head_position = head_position;
      seen.push_back(std::move(s));
      parser.next_request();
      std::size_t dropped = parser.position();
      in.erase(0, dropped);
      parser.rebase(dropped);
    }
  }

  ParserLimits limits;
  RequestParser parser;
  std::string in;
  std::vector<Seen> seen;
  std::optional<std::uint64_t> route_limit;
  int heads = 0;
  int continues = 0;
  std::size_t head_position = 0;
  bool failed = false;
  ParseError error;
};

// The status a complete request (fed at once) fails with, or 0 if it parses.
int status_of(std::string_view request, ParserLimits limits = {}) {
  Conn c(limits);
  c.feed(request);
  if (c.failed) return c.error.status;
  EXPECT_EQ(c.seen.size(), 1u) << request;
  return 0;
}

constexpr std::string_view kGet =
    "GET /items/a%20b?x=1&y=2 HTTP/1.1\r\n"
    "Host: Example.COM:8080\r\n"
    "User-Agent: test/1.0\r\n"
    "Accept:  */*  \r\n"
    "X-Empty:\r\n"
    "X-Tab:\tvalue with\tinner tab\t\r\n"
    "\r\n";

TEST(HttpParser, ParsesAGetHeadByteExact) {
  Conn c;
  c.feed(kGet);
  ASSERT_FALSE(c.failed) << c.error.reason;
  ASSERT_EQ(c.seen.size(), 1u);
  const Seen& s = c.seen[0];
  EXPECT_EQ(s.method, "GET");
  EXPECT_EQ(s.target, "/items/a%20b?x=1&y=2");
  EXPECT_EQ(s.path, "/items/a%20b");
  EXPECT_EQ(s.query, "x=1&y=2");
  EXPECT_EQ(s.host, "example.com:8080");
  EXPECT_EQ(s.major, 1);
  EXPECT_EQ(s.minor, 1);
  std::vector<std::pair<std::string, std::string>> expected = {
      {"host", "example.com:8080"},
      {"user-agent", "test/1.0"},
      {"accept", "*/*"},
      {"x-empty", ""},
      {"x-tab", "value with\tinner tab"},
  };
  EXPECT_EQ(s.headers, expected);
  EXPECT_EQ(s.content_length, std::nullopt);
  EXPECT_FALSE(s.chunked);
  EXPECT_TRUE(s.keep_alive);
  EXPECT_FALSE(s.expect_continue);
  EXPECT_EQ(s.body, "");
  EXPECT_EQ(s.head_position, kGet.size());
  EXPECT_TRUE(c.in.empty());
}

TEST(HttpParser, FoldsNamesAndHostInPlace) {
  RequestParser p({});
  std::string in = "GET / HTTP/1.1\r\nHOST: A.Example\r\nX-Mixed-Case: KeepMe\r\n\r\n";
  ASSERT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kHeadComplete);
  EXPECT_EQ(in, "GET / HTTP/1.1\r\nhost: a.example\r\nx-mixed-case: KeepMe\r\n\r\n");
  RequestHead h = p.head({in.data(), in.size()});
  EXPECT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(api::HeaderList(h.headers).get("x-mixed-case"), "KeepMe");
}

TEST(HttpParser, StopsAtTheHeadThenAtTheMessage) {
  RequestParser p({});
  std::string in = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  const std::size_t head_size = in.size() - 5;
  ASSERT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kHeadComplete);
  EXPECT_EQ(p.position(), head_size);
  EXPECT_TRUE(p.in_message());
  EXPECT_EQ(p.body(), "");
  ASSERT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kMessageComplete);
  EXPECT_EQ(p.position(), in.size());
  EXPECT_FALSE(p.in_message());
  EXPECT_EQ(p.body(), "hello");
  RequestHead h = p.head({in.data(), in.size()});
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_EQ(h.path, "/p");
  // Without next_request() the parser stays at the complete message.
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kMessageComplete);
  p.next_request();
  in.erase(0, p.position());
  p.rebase(p.position());
  EXPECT_EQ(p.position(), 0u);
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kNeedMore);
  EXPECT_FALSE(p.in_message());
}

TEST(HttpParser, InMessageFromTheFirstRequestByte) {
  RequestParser p({});
  std::string in;
  EXPECT_FALSE(p.in_message());
  in = "\r\n";  // an empty line before a request is ignored (RFC 9112 section 2.2)
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kNeedMore);
  EXPECT_FALSE(p.in_message());
  in += "G";
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kNeedMore);
  EXPECT_TRUE(p.in_message());
  in += "ET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kHeadComplete);
  EXPECT_TRUE(p.in_message());
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kMessageComplete);
  EXPECT_FALSE(p.in_message());
  p.next_request();
  EXPECT_FALSE(p.in_message());
}

TEST(HttpParser, ContentLengthBody) {
  Conn c;
  c.feed("POST /orders HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].body, "{\"a\":\"bcd\"}");
  EXPECT_EQ(c.seen[0].content_length, 11u);
  EXPECT_FALSE(c.seen[0].chunked);
}

TEST(HttpParser, ZeroContentLength) {
  Conn c;
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].content_length, 0u);
  EXPECT_EQ(c.seen[0].body, "");
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailers) {
  Conn c;
  c.feed(
      "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1;flag\r\n,\r\n"
      "6;q=\"quoted ext\"\r\n world\r\n"
      "A\r\n0123456789\r\n"
      "0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n");
  ASSERT_FALSE(c.failed) << c.error.reason;
  ASSERT_EQ(c.seen.size(), 1u);
  const Seen& s = c.seen[0];
  EXPECT_TRUE(s.chunked);
  EXPECT_EQ(s.content_length, std::nullopt);
  EXPECT_EQ(s.body, "hello, world0123456789");
  // Trailers are ignored: the header list is the head's.
  ASSERT_EQ(s.headers.size(), 2u);
  EXPECT_EQ(s.headers[1].first, "transfer-encoding");
  EXPECT_EQ(s.headers[1].second, "chunked");
  EXPECT_TRUE(c.in.empty());
}

TEST(HttpParser, TransferCodingNamesAreCaseInsensitive) {
  Conn c;
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].body, "abc");
}

// A mix of every framing, with empty lines between two of the requests.
constexpr std::string_view kPipeline =
    "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /two?q HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nxyz"
    "\r\n\r\n"
    "PUT /three HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    "2;e=1\r\nab\r\n1\r\nc\r\n0\r\nT: v\r\n\r\n"
    "HEAD /four HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    "DELETE http://Other.example/five HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n";

std::vector<Seen> whole_pipeline() {
  Conn c;
  c.feed(kPipeline);
  EXPECT_FALSE(c.failed) << c.error.reason;
  return c.seen;
}

TEST(HttpParser, PipelinedRequestsInOneBuffer) {
  std::vector<Seen> seen = whole_pipeline();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/one");
  EXPECT_EQ(seen[0].host, "a");
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].query, "q");
  EXPECT_EQ(seen[1].body, "xyz");
  EXPECT_EQ(seen[2].method, "PUT");
  EXPECT_EQ(seen[2].body, "abc");
  EXPECT_TRUE(seen[2].chunked);
  EXPECT_EQ(seen[3].method, "HEAD");
  EXPECT_EQ(seen[3].minor, 0);
  EXPECT_TRUE(seen[3].keep_alive);
  EXPECT_EQ(seen[3].host, "");
  EXPECT_EQ(seen[4].method, "DELETE");
  EXPECT_EQ(seen[4].host, "other.example");
  EXPECT_EQ(seen[4].path, "/five");
  EXPECT_FALSE(seen[4].keep_alive);
}

TEST(HttpParser, SplitAtEveryOffsetGivesTheSameRequests) {
  const std::vector<Seen> expected = whole_pipeline();
  ASSERT_EQ(expected.size(), 5u);
  for (std::size_t split = 1; split < kPipeline.size(); ++split) {
    Conn c;
    c.feed(kPipeline.substr(0, split));
    ASSERT_FALSE(c.failed) << "split " << split << ": " << c.error.reason;
    c.feed(kPipeline.substr(split));
    ASSERT_FALSE(c.failed) << "split " << split << ": " << c.error.reason;
    ASSERT_EQ(c.seen, expected) << "split at " << split;
    EXPECT_TRUE(c.in.empty());
  }
}

TEST(HttpParser, OneByteAtATimeGivesTheSameRequests) {
  const std::vector<Seen> expected = whole_pipeline();
  Conn c;
  for (char ch : kPipeline) {
    c.feed(std::string_view(&ch, 1));
    ASSERT_FALSE(c.failed) << c.error.reason;
  }
  EXPECT_EQ(c.seen, expected);
}

TEST(HttpParser, ErrorsAtEverySplitMatchTheWholeInput) {
  // Each must fail the same way however the bytes arrive.
  const std::vector<std::pair<std::string_view, int>> cases = {
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
      {"FOO / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
      {"GE / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
      {"GET / RTSP/1.0\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
  };
  for (const auto& [request, status] : cases) {
    ASSERT_EQ(status_of(request), status) << request;
    for (std::size_t split = 1; split < request.size(); ++split) {
      Conn c;
      c.feed(request.substr(0, split));
      if (!c.failed) c.feed(request.substr(split));
      EXPECT_TRUE(c.failed) << request << " split " << split;
      EXPECT_EQ(c.error.status, status) << request << " split " << split;
    }
  }
}

TEST(HttpParser, KeepAliveRules) {
  Conn c;
  c.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  c.feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  c.feed("GET / HTTP/1.0\r\n\r\n");
  c.feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(c.seen.size(), 4u);
  EXPECT_TRUE(c.seen[0].keep_alive);
  EXPECT_FALSE(c.seen[1].keep_alive);
  EXPECT_FALSE(c.seen[2].keep_alive);
  EXPECT_TRUE(c.seen[3].keep_alive);
}

TEST(HttpParser, Http10WithoutHostIsAccepted) {
  Conn c;
  c.feed("GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].minor, 0);
  EXPECT_EQ(c.seen[0].host, "");
  EXPECT_EQ(c.seen[0].path, "/old");
}

TEST(HttpParser, ExpectContinueArrivesBeforeTheBody) {
  Conn c;
  c.feed("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(c.heads, 1);
  EXPECT_EQ(c.continues, 1);
  EXPECT_TRUE(c.seen.empty());
  EXPECT_TRUE(c.parser.in_message());
  c.feed("data");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].body, "data");
  EXPECT_TRUE(c.seen[0].expect_continue);
}

TEST(HttpParser, ExpectContinueOnlyWhenABodyFollowsOnHttp11) {
  Conn c;
  c.feed("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
  c.feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  c.feed(
      "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(c.continues, 1);
  ASSERT_EQ(c.seen.size(), 2u);
  EXPECT_FALSE(c.seen[0].expect_continue);
  EXPECT_FALSE(c.seen[1].expect_continue);
}

TEST(HttpParser, OtherExpectationsFailWith417) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx"),
            417);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n"), 417);
}

TEST(HttpParser, AbsoluteFormTargets) {
  Conn c;
  c.feed("GET http://API.Example.com:81/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n");
  c.feed("GET https://x.example HTTP/1.1\r\nHost: x.example\r\n\r\n");
  c.feed("GET HTTP://x.example?q=1 HTTP/1.1\r\nHost: x.example\r\n\r\n");
  c.feed("GET http://[::1]:8080/v6 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  ASSERT_FALSE(c.failed) << c.error.reason;
  ASSERT_EQ(c.seen.size(), 4u);
  EXPECT_EQ(c.seen[0].host, "api.example.com:81");
  EXPECT_EQ(c.seen[0].path, "/a/b");
  EXPECT_EQ(c.seen[0].query, "c=d");
  EXPECT_EQ(c.seen[0].target, "http://api.example.com:81/a/b?c=d");
  EXPECT_EQ(c.seen[1].host, "x.example");
  EXPECT_EQ(c.seen[1].path, "/");
  EXPECT_EQ(c.seen[1].query, "");
  EXPECT_EQ(c.seen[2].path, "/");
  EXPECT_EQ(c.seen[2].query, "q=1");
  EXPECT_EQ(c.seen[3].host, "[::1]:8080");
  EXPECT_EQ(c.seen[3].path, "/v6");
}

TEST(HttpParser, AsteriskFormOnlyForOptions) {
  Conn c;
  c.feed("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0].target, "*");
  EXPECT_EQ(c.seen[0].path, "/");
  EXPECT_EQ(status_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(HttpParser, OtherTargetFormsFailWith400) {
  EXPECT_EQ(status_of("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http://user@h/x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\xc3\xbc HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(HttpParser, HostRules) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http://h/ HTTP/1.1\r\n\r\n"), 400);  // Host is still required
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);   // empty: no authority
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a%2Db.example:80\r\n\r\n"), 0);
}

TEST(HttpParser, FramingErrorsFailWith400) {
  // Content-Length and Transfer-Encoding together, in either order.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            400);
  // Duplicate, conflicting, listed, signed, empty and overflowing Content-Length.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                      "Content-Length: 3\r\n\r\nabc"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                      "Content-Length: 4\r\n\r\nabcd"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\n"
                      "Content-Length: 99999999999999999999999\r\n\r\n"),
            400);
  // Chunk sizes: not hex, space before the CRLF, overflow, missing CRLF after the data.
  const std::string chunked_head =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(status_of(chunked_head + "g\r\nx\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of(chunked_head + "1 \r\nx\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of(chunked_head + "fffffffffffffffff\r\n"), 400);
  EXPECT_EQ(status_of(chunked_head + "1\r\nxy\r\n0\r\n\r\n"), 400);
  // Transfer codings: chunked not last, twice, or in an HTTP/1.0 request.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                      "0\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
}

TEST(HttpParser, UnsupportedTransferCodingsFailWith501) {
  Conn c;
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 501);
  EXPECT_EQ(c.error.reason, "unsupported transfer coding");
  EXPECT_EQ(c.heads, 0);  // refused before the caller ever sees the head
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
      501);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            501);
}

TEST(HttpParser, MalformedLinesFailWith400) {
  // obs-fold, with and without a first value.
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX:\r\n\tb\r\n\r\n"), 400);
  // Whitespace before the first field, in a name, before the colon.
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n"), 400);
  // Bad bytes in names and values.
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX\x01: y\r\n\r\n"), 400);
  constexpr char kNul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
  EXPECT_EQ(status_of(std::string_view(kNul, sizeof(kNul) - 1)), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"), 400);
  // Bare LF: after the request line, in a field, at the end of the head, after chunk data.
  EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "1\r\nx\n0\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "1\nx\r\n0\r\n\r\n"),
            400);
  // Request-line spacing and versions that are not versions.
  EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTPS/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / http/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / RTSP/1.0\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\r\nHost: h\r\n\r\n"), 400);  // HTTP/0.9 simple request
  // Not HTTP at all.
  EXPECT_EQ(status_of("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400);
}

TEST(HttpParser, UnknownMethodsFailWith501) {
  Conn c;
  c.feed("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 501);
  EXPECT_EQ(c.error.reason, "method not implemented");
  EXPECT_EQ(status_of("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);  // methods are case-sensitive
  EXPECT_EQ(status_of("GE / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);   // a prefix of GET
  EXPECT_EQ(status_of("DESCRIBE / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);  // RTSP only
  EXPECT_EQ(status_of("GET\x01 / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(HttpParser, UnsupportedVersionsFailWith505) {
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/3.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);  // HTTP/2 prior knowledge
}

TEST(HttpParser, HeadLargerThanTheLimitFailsWith431) {
  ParserLimits limits;
  limits.max_header_bytes = 100;
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  const std::string end = "\r\n\r\n";
  head += std::string(100 - head.size() - end.size(), 'v') + end;
  ASSERT_EQ(head.size(), 100u);
  EXPECT_EQ(status_of(head, limits), 0);
  std::string over = head;
  over.insert(over.size() - end.size(), "v");
  EXPECT_EQ(status_of(over, limits), 431);
}

TEST(HttpParser, EndlessHeadIsCutOffBeforeItCompletes) {
  ParserLimits limits;
  limits.max_header_bytes = 1024;
  Conn c(limits);
  c.feed("GET / HTTP/1.1\r\nHost: h\r\n");
  std::size_t fed = c.in.size();
  while (!c.failed && fed < 100 * 1024) {
    c.feed("X-Filler: 0123456789abcdef\r\n");
    fed = c.in.size();
  }
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 431);
  EXPECT_LE(c.in.size(), 1024u + 30u);
  EXPECT_EQ(c.heads, 0);
}

TEST(HttpParser, EndlessEmptyLinesAreCutOff) {
  ParserLimits limits;
  limits.max_header_bytes = 256;
  Conn c(limits);
  for (int i = 0; i < 1000 && !c.failed; ++i)
    c.feed("\r\n");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 431);
}

TEST(HttpParser, TooManyFieldsFailWith431) {
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (std::size_t i = 1; i < kMaxHeaders; ++i)
    request += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(request + "\r\n"), 0);
  EXPECT_EQ(status_of(request + "One-Too-Many: v\r\n\r\n"), 431);
}

TEST(HttpParser, LongTargetFailsWith414EvenBeforeTheLineEnds) {
  ParserLimits limits;
  limits.max_target_bytes = 64;
  EXPECT_EQ(status_of("GET /" + std::string(63, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits), 0);
  EXPECT_EQ(status_of("GET /" + std::string(64, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits),
            414);
  Conn c(limits);
  c.feed("GET /" + std::string(100, 'a'));
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 414);
}

TEST(HttpParser, ContentLengthOverTheDefaultLimitFailsWith413) {
  ParserLimits limits;
  limits.max_body_bytes = 10;
  Conn c(limits);
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 413);
  EXPECT_EQ(c.heads, 1);  // the caller saw the head and set no route limit
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits),
            0);
}

TEST(HttpParser, RouteLimitIsCheckedAgainstContentLengthAtOnce) {
  RequestParser p({});
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
  ASSERT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kHeadComplete);
  EXPECT_FALSE(p.set_body_limit(99));
  EXPECT_EQ(p.error().status, 413);
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kError);
}

TEST(HttpParser, RouteLimitCanRaiseTheDefault) {
  ParserLimits limits;
  limits.max_body_bytes = 4;
  Conn c(limits);
  c.route_limit = 8;
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n01234567");
  c.feed(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n0\r\n\r\n");
  ASSERT_FALSE(c.failed) << c.error.reason;
  ASSERT_EQ(c.seen.size(), 2u);
  EXPECT_EQ(c.seen[1].body, "01234567");
}

TEST(HttpParser, ChunkedBodyOverTheLimitFailsAsSoonAsItPasses) {
  Conn c;
  c.route_limit = 10;
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  c.feed("6\r\nabcdef\r\n");
  EXPECT_FALSE(c.failed);
  c.feed("4\r\nghij\r\n");
  EXPECT_FALSE(c.failed);
  c.feed("1\r\n");
  EXPECT_FALSE(c.failed);
  c.feed("k");  // the eleventh byte, long before the last chunk
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 413);
}

TEST(HttpParser, EndlessTrailersAreCutOff) {
  ParserLimits limits;
  limits.max_header_bytes = 512;
  Conn c(limits);
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n");
  for (int i = 0; i < 1000 && !c.failed; ++i)
    c.feed("T: 0123456789\r\n");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 431);
}

TEST(HttpParser, EndlessChunkExtensionsAreCutOff) {
  ParserLimits limits;
  limits.max_header_bytes = 512;
  Conn c(limits);
  c.feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=");
  for (int i = 0; i < 1000 && !c.failed; ++i)
    c.feed("abcdefghij");
  ASSERT_TRUE(c.failed);
  EXPECT_EQ(c.error.status, 431);
}

TEST(HttpParser, ErrorIsTerminal) {
  RequestParser p({});
  std::string in =
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kError);
  EXPECT_EQ(p.error().status, 400);
  EXPECT_FALSE(p.error().reason.empty());
  EXPECT_EQ(p.parse({in.data(), in.size()}), ParseEvent::kError);
}

TEST(HttpParser, UpgradeRequestsAreOrdinaryRequests) {
  // No upgrade is supported, so Upgrade is ignored and the next request still parses.
  Conn c;
  c.feed(
      "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(c.failed) << c.error.reason;
  ASSERT_EQ(c.seen.size(), 2u);
  EXPECT_EQ(c.seen[1].path, "/next");
}

TEST(HttpParser, ParsesAWarmedUpGetWithoutAllocating) {
  constexpr std::string_view kBrowserGet =
      "GET /api/v1/items/42?fields=name,price&lang=en HTTP/1.1\r\n"
      "Host: shop.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
      "Accept: application/json, text/plain, */*\r\n"
      "Accept-Language: en-US,en;q=0.5\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Referer: https://shop.example.com/items\r\n"
      "Connection: keep-alive\r\n"
      "Cookie: session=0123456789abcdef; theme=dark\r\n"
      "Sec-Fetch-Mode: cors\r\n"
      "Cache-Control: no-cache\r\n"
      "\r\n";
  RequestParser p({});
  std::string in;
  in.reserve(4096);
  auto one_request = [&p, &in]() {
    ParseEvent head = p.parse({in.data(), in.size()});
    RequestHead h = p.head({in.data(), in.size()});
    ParseEvent done = p.parse({in.data(), in.size()});
    bool ok = head == ParseEvent::kHeadComplete && done == ParseEvent::kMessageComplete &&
              h.headers.size() == 10 && p.body().empty();
    p.next_request();
    std::size_t dropped = p.position();
    in.erase(0, dropped);
    p.rebase(dropped);
    return ok;
  };
  in.append(kBrowserGet);
  ASSERT_TRUE(one_request());
  in.append(kBrowserGet);
  bool ok = false;
  EXPECT_NO_ALLOC(ok = one_request());
  EXPECT_TRUE(ok);
}

TEST(HttpParser, BodyCapacityIsKeptForSmallBodiesAndReleasedForLargeOnes) {
  RequestParser p({});
  auto post = [&p](std::size_t size) {
    std::string in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    char size_hex[16];
    int n = std::snprintf(size_hex, sizeof(size_hex), "%zx", size);
    in.append(size_hex, static_cast<std::size_t>(n));
    in += "\r\n" + std::string(size, 'b') + "\r\n0\r\n\r\n";
    std::size_t allocations = 0;
    {
      testing::AllocationScope scope;
      p.parse({in.data(), in.size()});
      p.parse({in.data(), in.size()});
      allocations = scope.count();
    }
    EXPECT_EQ(p.body().size(), size);
    p.next_request();
    p.rebase(p.position());
    return allocations;
  };
  post(4096);
  EXPECT_EQ(post(4096), 0u);  // the capacity stayed
  post(200 * 1024);
  EXPECT_GT(post(4096), 0u);  // the large buffer was released after its request
}

}  // namespace
}  // namespace edgefn::runtime::http
