// ResponseParser: framing (Content-Length, chunked, close-delimited, none), interim responses,
// in-place de-chunking across feeds and buffer moves, limits, keep-alive and errors.
#include "runtime/http_response_parser.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::runtime::http {
namespace {

constexpr std::size_t kHeadLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;

// Everything one response produced, copied out of the parser.
struct Seen {
  int status = 0;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Drives a parser the way an upstream connection does: one buffer, appended to, parsed again.
struct Upstream {
  explicit Upstream(bool head_request = false, std::size_t head_limit = kHeadLimit,
                    std::size_t body_limit = kBodyLimit) {
    parser.start(head_request, head_limit, body_limit);
  }

  ResponseEvent feed(std::string_view bytes) {
    in.append(bytes);
    last = parser.parse({in.data(), in.size()});
    return last;
  }
  // Feeds one byte at a time; stops at the first event other than kNeedMore.
  ResponseEvent feed_bytes(std::string_view bytes) {
    for (char c : bytes) {
      if (feed(std::string_view(&c, 1)) != ResponseEvent::kNeedMore) break;
    }
    return last;
  }
  ResponseEvent finish() {
    last = parser.finish({in.data(), in.size()});
    return last;
  }

  Seen seen() {
    Seen s;
    s.status = parser.status();
    s.keep_alive = parser.keep_alive();
    for (const api::Header& h : parser.headers({in.data(), in.size()})) {
      s.headers.emplace_back(h.name, h.value);
    }
    s.body = parser.body({in.data(), in.size()});
    return s;
  }

  ResponseParser parser;
  std::string in;
  ResponseEvent last = ResponseEvent::kNeedMore;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ResponseParser, ContentLengthBody) {
  Upstream up;
  ASSERT_EQ(
      up.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
      ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(s.keep_alive);
  EXPECT_EQ(s.headers, (Headers{{"content-length", "5"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(s.body, "hello");
  EXPECT_EQ(up.parser.position(), up.in.size());
}

TEST(ResponseParser, ContentLengthBodyIsAViewInPlace) {
  Upstream up;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  ASSERT_EQ(up.feed(head + "abc"), ResponseEvent::kComplete);
  std::string_view body = up.parser.body({up.in.data(), up.in.size()});
  EXPECT_EQ(body.data(), up.in.data() + head.size());
  EXPECT_EQ(body, "abc");
}

TEST(ResponseParser, ContentLengthZero) {
  Upstream up;
  ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().body, "");
  EXPECT_TRUE(up.parser.keep_alive());
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "hello\r\n"
    "1\r\n"
    " \r\n"
    "6;a;b=\"quoted\"\r\n"
    "world!\r\n"
    "0\r\n"
    "Trailer-One: x\r\n"
    "Trailer-Two: y\r\n"
    "\r\n";

TEST(ResponseParser, ChunkedInOnePieceIsCompacted) {
  Upstream up;
  ASSERT_EQ(up.feed(kChunked), ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(s.keep_alive);
  // Trailer fields are not headers.
  EXPECT_EQ(s.headers, (Headers{{"transfer-encoding", "chunked"}}));
  EXPECT_EQ(s.body, "hello world!");
  // The body sits right after the head, over the framing it was read from.
  const std::size_t head_size = kChunked.find("\r\n\r\n") + 4;
  EXPECT_EQ(up.parser.body({up.in.data(), up.in.size()}).data(), up.in.data() + head_size);
  EXPECT_EQ(up.parser.position(), kChunked.size());
}

TEST(ResponseParser, ChunkedByteByByte) {
  Upstream up;
  ASSERT_EQ(up.feed_bytes(kChunked), ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.headers, (Headers{{"transfer-encoding", "chunked"}}));
  EXPECT_EQ(s.body, "hello world!");
  EXPECT_TRUE(s.keep_alive);
  EXPECT_EQ(up.parser.position(), kChunked.size());
}

TEST(ResponseParser, EverySplitGivesTheSameResponse) {
  for (std::size_t split = 1; split < kChunked.size(); ++split) {
    Upstream up;
    up.feed(std::string_view(kChunked).substr(0, split));
    ASSERT_EQ(up.feed(std::string_view(kChunked).substr(split)), ResponseEvent::kComplete) << split;
    EXPECT_EQ(up.seen().body, "hello world!") << split;
  }
}

TEST(ResponseParser, BufferMovesBetweenFeeds) {
  // The connection's buffer grows by copying: every piece lands in a new allocation, and the
  // views are made from the last one.
  ResponseParser parser;
  parser.start(false, kHeadLimit, kBodyLimit);
  const std::string wire =
      "HTTP/1.1 201 Created\r\nX-Long-Header-Name: first part of a value\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
  std::string buffer;
  ResponseEvent ev = ResponseEvent::kNeedMore;
  for (std::size_t at = 0; at < wire.size(); at += 7) {
    std::string bigger;
    bigger.reserve(buffer.size() + 64 + at);
    bigger = buffer;
    bigger.append(wire, at, 7);
    buffer = std::move(bigger);
    ev = parser.parse({buffer.data(), buffer.size()});
    if (ev != ResponseEvent::kNeedMore) break;
  }
  ASSERT_EQ(ev, ResponseEvent::kComplete);
  std::string moved = buffer;  // a copy at another address
  auto headers = parser.headers({moved.data(), moved.size()});
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "x-long-header-name");
  EXPECT_EQ(headers[0].value, "first part of a value");
  EXPECT_EQ(headers[0].value.data(), moved.data() + wire.find("first"));
  EXPECT_EQ(headers[1].name, "transfer-encoding");
  EXPECT_EQ(parser.body({moved.data(), moved.size()}), "abcdefg");
  EXPECT_EQ(parser.status(), 201);
}

TEST(ResponseParser, HeaderNamesLowerCasedValuesIntactRepeatsInOrder) {
  Upstream up;
  ASSERT_EQ(up.feed_bytes("HTTP/1.1 200 OK\r\n"
                          "Set-Cookie: A=One; Path=/\r\n"
                          "X-MiXeD-CaSe:   Value With Spaces  \r\n"
                          "SET-COOKIE: B=Two\r\n"
                          "Empty:\r\n"
                          "set-cookie: C=Three\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n"),
            ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().headers, (Headers{{"set-cookie", "A=One; Path=/"},
                                        {"x-mixed-case", "Value With Spaces"},
                                        {"set-cookie", "B=Two"},
                                        {"empty", ""},
                                        {"set-cookie", "C=Three"},
                                        {"content-length", "0"}}));
}

TEST(ResponseParser, ObsFoldBecomesSpaces) {
  Upstream up;
  ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 0\r\n\r\n"),
            ResponseEvent::kComplete);
  ASSERT_EQ(up.seen().headers.size(), 2u);
  EXPECT_EQ(up.seen().headers[0].second, "one   two");
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  Upstream up(/*head_request=*/true);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  ASSERT_EQ(up.feed(head), ResponseEvent::kComplete);
  EXPECT_EQ(up.parser.position(), head.size());
  Seen s = up.seen();
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "");
  EXPECT_TRUE(s.keep_alive);
  EXPECT_EQ(s.headers, (Headers{{"content-length", "1234"}}));
}

TEST(ResponseParser, HeadResponseToChunkedHasNoBody) {
  Upstream up(/*head_request=*/true);
  ASSERT_EQ(up.feed_bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().body, "");
  EXPECT_TRUE(up.parser.keep_alive());
}

TEST(ResponseParser, NoContentAndNotModifiedHaveNoBody) {
  for (std::string_view status : {"204 No Content", "304 Not Modified"}) {
    Upstream up;
    const std::string head = "HTTP/1.1 " + std::string(status) + "\r\nContent-Length: 10\r\n\r\n";
    ASSERT_EQ(up.feed(head), ResponseEvent::kComplete) << status;
    EXPECT_EQ(up.parser.position(), head.size());
    EXPECT_EQ(up.seen().body, "");
    EXPECT_TRUE(up.parser.keep_alive());
  }
  Upstream up;
  ASSERT_EQ(up.feed("HTTP/1.1 204 No Content\r\n\r\n"), ResponseEvent::kComplete);
  EXPECT_EQ(up.parser.status(), 204);
  EXPECT_TRUE(up.parser.keep_alive());
}

TEST(ResponseParser, ContinueThenFinalResponse) {
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (bool bytewise : {false, true}) {
    Upstream up;
    ASSERT_EQ(bytewise ? up.feed_bytes(wire) : up.feed(wire), ResponseEvent::kComplete);
    Seen s = up.seen();
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.headers, (Headers{{"content-length", "2"}}));
    EXPECT_EQ(s.body, "ok");
    EXPECT_TRUE(s.keep_alive);
  }
}

TEST(ResponseParser, EarlyHintsHeadersAreDiscarded) {
  Upstream up;
  ASSERT_EQ(up.feed("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Final: yes\r\n\r\n!"),
            ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.headers, (Headers{{"content-length", "1"}, {"x-final", "yes"}}));
  EXPECT_EQ(s.body, "!");
}

TEST(ResponseParser, SwitchingProtocolsIsAnError) {
  Upstream up;
  EXPECT_EQ(up.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\n\r\n"),
            ResponseEvent::kError);
  EXPECT_EQ(up.parser.error(), "unexpected 101 Switching Protocols");
  // Terminal.
  EXPECT_EQ(up.feed("more"), ResponseEvent::kError);
}

TEST(ResponseParser, CloseDelimitedBodyCompletedByFinish) {
  Upstream up;
  EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil "),
            ResponseEvent::kNeedMore);
  EXPECT_EQ(up.feed("the close"), ResponseEvent::kNeedMore);
  ASSERT_EQ(up.finish(), ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.body, "until the close");
  EXPECT_FALSE(s.keep_alive);
  EXPECT_EQ(up.parser.position(), up.in.size());
}

TEST(ResponseParser, CloseDelimitedEmptyBody) {
  Upstream up;
  EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\n\r\n"), ResponseEvent::kNeedMore);
  ASSERT_EQ(up.finish(), ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().body, "");
  EXPECT_FALSE(up.parser.keep_alive());
}

TEST(ResponseParser, CutShortBodiesAreErrors) {
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
              ResponseEvent::kNeedMore);
    EXPECT_EQ(up.finish(), ResponseEvent::kError);
    EXPECT_FALSE(up.parser.error().empty());
  }
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
              ResponseEvent::kNeedMore);
    EXPECT_EQ(up.finish(), ResponseEvent::kError);
  }
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-"), ResponseEvent::kNeedMore);
    EXPECT_EQ(up.finish(), ResponseEvent::kError);
    EXPECT_EQ(up.parser.error(), "connection closed in the response head");
  }
  {
    Upstream up;
    EXPECT_EQ(up.finish(), ResponseEvent::kError);
    EXPECT_EQ(up.parser.error(), "connection closed before the response");
  }
}

TEST(ResponseParser, HeadTooLarge) {
  const std::string head = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200, 'a') + "\r\n";
  {
    // Still coming: refused once the buffered bytes pass the limit.
    Upstream up(false, 100, kBodyLimit);
    EXPECT_EQ(up.feed(head), ResponseEvent::kTooLarge);
    EXPECT_EQ(up.parser.error(), "response head too large");
  }
  {
    // Complete in one piece, with a body.
    Upstream up(false, 100, kBodyLimit);
    EXPECT_EQ(up.feed(head + "Content-Length: 1\r\n\r\nx"), ResponseEvent::kTooLarge);
  }
  {
    // Complete in one piece, without a body.
    Upstream up(false, 100, kBodyLimit);
    EXPECT_EQ(up.feed(head + "Content-Length: 0\r\n\r\n"), ResponseEvent::kTooLarge);
  }
  {
    // Exactly at the limit is fine.
    const std::string exact = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    Upstream up(false, exact.size(), kBodyLimit);
    EXPECT_EQ(up.feed(exact), ResponseEvent::kComplete);
  }
}

TEST(ResponseParser, TooManyHeaderFields) {
  std::string head = "HTTP/1.1 200 OK\r\n";
  for (std::size_t i = 0; i <= kMaxResponseHeaders; ++i) {
    head += "X-H: v\r\n";
  }
  Upstream up;
  EXPECT_EQ(up.feed(head + "\r\n"), ResponseEvent::kError);
  EXPECT_EQ(up.parser.error(), "too many header fields");
}

TEST(ResponseParser, ContentLengthOverTheLimitIsRefusedBeforeTheBody) {
  Upstream up(false, kHeadLimit, 10);
  EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"), ResponseEvent::kTooLarge);
  EXPECT_EQ(up.parser.error(), "response body too large");
}

TEST(ResponseParser, ChunkedTotalOverTheLimit) {
  {
    Upstream up(false, kHeadLimit, 10);
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"),
              ResponseEvent::kNeedMore);
    // The second chunk is refused when announced.
    EXPECT_EQ(up.feed("5\r\n"), ResponseEvent::kTooLarge);
  }
  {
    Upstream up(false, kHeadLimit, 10);
    EXPECT_EQ(up.feed_bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "6\r\nabcdef\r\n4\r\nghij\r\n1\r\nk\r\n0\r\n\r\n"),
              ResponseEvent::kTooLarge);
  }
  {
    // Exactly at the limit is fine.
    Upstream up(false, kHeadLimit, 10);
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n"),
              ResponseEvent::kComplete);
    EXPECT_EQ(up.seen().body, "abcdefghij");
  }
}

TEST(ResponseParser, CloseDelimitedOverTheLimit) {
  Upstream up(false, kHeadLimit, 10);
  EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\n\r\n0123456789"), ResponseEvent::kNeedMore);
  EXPECT_EQ(up.feed("x"), ResponseEvent::kTooLarge);
}

TEST(ResponseParser, EndlessChunkFramingIsCutOff) {
  Upstream up(false, 100, kBodyLimit);
  EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="),
            ResponseEvent::kNeedMore);
  EXPECT_EQ(up.feed(std::string(200, 'e')), ResponseEvent::kTooLarge);
}

TEST(ResponseParser, GarbageIsAnError) {
  for (std::string_view garbage :
       {"GET / HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00", "HTTP/1.1 abc OK\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: no name\r\n\r\n"}) {
    Upstream up;
    EXPECT_EQ(up.feed(garbage), ResponseEvent::kError) << garbage;
    EXPECT_FALSE(up.parser.error().empty());
  }
}

TEST(ResponseParser, FramingErrors) {
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
              ResponseEvent::kError);
  }
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
              ResponseEvent::kError);
    EXPECT_EQ(up.parser.error(), "unsupported transfer coding");
  }
  {
    Upstream up;
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
              ResponseEvent::kError);
  }
}

TEST(ResponseParser, KeepAlive) {
  {
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"), ResponseEvent::kComplete);
    EXPECT_FALSE(up.parser.keep_alive());
  }
  {
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"),
              ResponseEvent::kComplete);
    EXPECT_TRUE(up.parser.keep_alive());
  }
  {
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"),
              ResponseEvent::kComplete);
    EXPECT_FALSE(up.parser.keep_alive());
  }
  {
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), ResponseEvent::kComplete);
    EXPECT_TRUE(up.parser.keep_alive());
  }
}

TEST(ResponseParser, ByteAfterTheResponseEndsKeepAlive) {
  {
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy"), ResponseEvent::kComplete);
    EXPECT_FALSE(up.parser.keep_alive());
    EXPECT_EQ(up.seen().body, "x");
    // The stray byte is not parsed.
    EXPECT_EQ(up.parser.position(), up.in.size() - 1);
  }
  {
    // Arriving after kComplete was reported.
    Upstream up;
    ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), ResponseEvent::kComplete);
    EXPECT_TRUE(up.parser.keep_alive());
    EXPECT_EQ(up.feed("HTTP/1.1 200 OK\r\n"), ResponseEvent::kComplete);
    EXPECT_FALSE(up.parser.keep_alive());
  }
}

TEST(ResponseParser, StartReusesTheParser) {
  Upstream up;
  ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: 1\r\n\r\n"
                    "3\r\none\r\n0\r\n\r\n"),
            ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().body, "one");

  up.in.clear();
  up.parser.start(false, kHeadLimit, kBodyLimit);
  ASSERT_EQ(up.feed("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo"),
            ResponseEvent::kComplete);
  Seen s = up.seen();
  EXPECT_EQ(s.status, 404);
  EXPECT_EQ(s.headers, (Headers{{"content-length", "3"}}));
  EXPECT_EQ(s.body, "two");
  EXPECT_TRUE(s.keep_alive);

  // Also after a failure.
  up.in.clear();
  up.parser.start(false, kHeadLimit, kBodyLimit);
  ASSERT_EQ(up.feed("garbage"), ResponseEvent::kError);
  up.in.clear();
  up.parser.start(true, kHeadLimit, kBodyLimit);
  ASSERT_EQ(up.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), ResponseEvent::kComplete);
  EXPECT_EQ(up.seen().body, "");
}

TEST(ResponseParser, ParseBeforeStartIsAnError) {
  ResponseParser parser;
  std::string in = "HTTP/1.1 200 OK\r\n\r\n";
  EXPECT_EQ(parser.parse({in.data(), in.size()}), ResponseEvent::kError);
}

TEST(ResponseParser, ParsingAllocatesNothing) {
  ResponseParser parser;
  std::string in;
  in.reserve(1024);
  in = kChunked;
  std::string in2 = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ResponseEvent first = ResponseEvent::kNeedMore;
  ResponseEvent second = ResponseEvent::kNeedMore;
  std::size_t header_count = 0;
  std::size_t body_size = 0;
  EXPECT_NO_ALLOC({
    parser.start(false, kHeadLimit, kBodyLimit);
    first = parser.parse({in.data(), in.size()});
    header_count = parser.headers({in.data(), in.size()}).size();
    body_size = parser.body({in.data(), in.size()}).size();
    parser.start(false, kHeadLimit, kBodyLimit);
    second = parser.parse({in2.data(), in2.size()});
  });
  EXPECT_EQ(first, ResponseEvent::kComplete);
  EXPECT_EQ(second, ResponseEvent::kComplete);
  EXPECT_EQ(header_count, 1u);
  EXPECT_EQ(body_size, 12u);
}

}  // namespace
}  // namespace edgefn::runtime::http
