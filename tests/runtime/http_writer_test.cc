// Response serialization: byte-exact responses, framing rules, response splitting, DateClock.
#include "runtime/http_writer.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <string_view>

#include "tests/support/alloc_counter.h"

namespace edgefn::runtime::http {
namespace {

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

ResponseFraming framing(bool keep_alive = true, int http_minor = 1, bool head = false) {
  return ResponseFraming{kDate, http_minor, head, keep_alive};
}

api::Response hello() {
  api::Response r;
  r.status = 200;
  r.set_header("Content-Type", "text/plain; charset=utf-8");
  r.body = "Hello, world!";
  return r;
}

TEST(HttpWriter, WritesAResponseByteExact) {
  std::string out;
  write_response(out, hello(), framing());
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 13\r\n"
            "\r\n"
            "Hello, world!");
}

TEST(HttpWriter, AppendsAfterWhatIsAlreadyThere) {
  std::string out = "previous";
  api::Response r;
  r.status = 404;
  write_response(out, r, framing());
  EXPECT_EQ(out,
            "previousHTTP/1.1 404 Not Found\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(HttpWriter, KeepsRepeatedFieldsInOrder) {
  api::Response r;
  r.status = 201;
  r.add_header("Set-Cookie", "a=1");
  r.add_header("X-Other", "x");
  r.add_header("Set-Cookie", "b=2");
  std::string out;
  write_response(out, r, framing());
  EXPECT_EQ(out,
            "HTTP/1.1 201 Created\r\n"
            "Set-Cookie: a=1\r\n"
            "X-Other: x\r\n"
            "Set-Cookie: b=2\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(HttpWriter, FramingOwnsItsFields) {
  api::Response r;
  r.add_header("content-length", "999");
  r.add_header("Transfer-Encoding", "chunked");
  r.add_header("CONNECTION", "upgrade");
  r.add_header("Date", "yesterday");
  r.add_header("X-Kept", "yes");
  r.body = "abc";
  std::string out;
  write_response(out, r, framing(/*keep_alive=*/false));
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "X-Kept: yes\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 3\r\n"
            "Connection: close\r\n"
            "\r\n"
            "abc");
}

TEST(HttpWriter, FieldsThatWouldSplitTheResponseAreDropped) {
  api::Response r;
  r.add_header("X-Split", "a\r\nSet-Cookie: evil=1");
  r.add_header("X-Lf", "a\nb");
  r.add_header("X-Cr", "a\rb");
  r.add_header("X-Nul", std::string_view("a\0b", 3));
  r.add_header("Bad Name", "v");
  r.add_header("Bad:Name", "v");
  r.add_header("", "v");
  r.add_header("X-Fine", "tab\tand obs-text \xc3\xa9");
  std::string out;
  write_response(out, r, framing());
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "X-Fine: tab\tand obs-text \xc3\xa9\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(HttpWriter, HeadResponsesCarryTheLengthButNoBody) {
  std::string out;
  write_response(out, hello(), framing(true, 1, /*head=*/true));
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 13\r\n"
            "\r\n");
}

TEST(HttpWriter, ABodyViewIsSentInsteadOfTheBody) {
  static constexpr std::string_view kKept = "bytes the module keeps";
  api::Response r;
  r.body = "ignored";
  r.set_body_view(kKept);
  EXPECT_EQ(r.content(), kKept);
  std::string out;
  write_response(out, r, framing());
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 22\r\n"
            "\r\n"
            "bytes the module keeps");
}

TEST(HttpWriter, AHeadAnswerWithoutBodyMayDeclareItsLength) {
  api::Response r;
  r.set_header("Content-Length", "18");  // a proxy's origin answered HEAD
  std::string out;
  write_response(out, r, framing(true, 1, /*head=*/true));
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 18\r\n"
            "\r\n");
  // Only for HEAD, only a plain decimal, and a body's own length wins.
  for (const char* bad : {"", "1x", "-1", " 5"}) {
    out.clear();
    r.set_header("Content-Length", bad);
    write_response(out, r, framing(true, 1, true));
    EXPECT_NE(out.find("Content-Length: 0\r\n"), std::string::npos) << bad;
  }
  out.clear();
  r.set_header("Content-Length", "18");
  write_response(out, r, framing());
  EXPECT_NE(out.find("Content-Length: 0\r\n"), std::string::npos);
  api::Response with_body = hello();
  with_body.set_header("Content-Length", "99");
  out.clear();
  write_response(out, with_body, framing(true, 1, true));
  EXPECT_NE(out.find("Content-Length: 13\r\n"), std::string::npos);
}

TEST(HttpWriter, NoContentStatusesHaveNoLengthAndNoBody) {
  for (int status : {100, 103, 204, 304}) {
    api::Response r;
    r.status = status;
    r.body = "ignored";
    std::string out;
    write_response(out, r, framing());
    std::string expected = "HTTP/1.1 " + std::to_string(status) + " " +
                           std::string(reason_phrase(status)) +
                           "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
    EXPECT_EQ(out, expected) << status;
  }
}

TEST(HttpWriter, Http10PeersGetHttp11AndAnExplicitKeepAlive) {
  std::string out;
  write_response(out, hello(), framing(/*keep_alive=*/true, /*http_minor=*/0));
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 13\r\n"
            "Connection: keep-alive\r\n"
            "\r\n"
            "Hello, world!");
  out.clear();
  write_response(out, hello(), framing(/*keep_alive=*/false, /*http_minor=*/0));
  EXPECT_NE(out.find("\r\nConnection: close\r\n\r\n"), std::string::npos);
  EXPECT_EQ(out.find("keep-alive"), std::string::npos);
}

TEST(HttpWriter, StatusesOutsideThreeDigitsBecome500) {
  api::Response r;
  r.status = 42;
  std::string out;
  write_response(out, r, framing());
  EXPECT_EQ(out.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u);
  r.status = 1000;
  out.clear();
  write_response(out, r, framing());
  EXPECT_EQ(out.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u);
}

TEST(HttpWriter, UnregisteredStatusesSayUnknown) {
  api::Response r;
  r.status = 299;
  std::string out;
  write_response(out, r, framing());
  EXPECT_EQ(out.rfind("HTTP/1.1 299 Unknown\r\n", 0), 0u);
}

TEST(HttpWriter, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(301), "Moved Permanently");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
  EXPECT_EQ(reason_phrase(408), "Request Timeout");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(414), "URI Too Long");
  EXPECT_EQ(reason_phrase(417), "Expectation Failed");
  EXPECT_EQ(reason_phrase(422), "Unprocessable Content");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(501), "Not Implemented");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(600), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
  // Every code from 100 to 599 has a phrase of visible characters and spaces.
  for (int status = 100; status < 600; ++status) {
    std::string_view phrase = reason_phrase(status);
    ASSERT_FALSE(phrase.empty());
    for (char c : phrase)
      ASSERT_TRUE(c == ' ' || (c > 0x20 && c < 0x7f)) << status;
  }
}

TEST(HttpWriter, WritesAnErrorByteExact) {
  std::string out;
  write_error(out, 404, "no route", framing());
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: application/json\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 33\r\n"
            "\r\n"
            "{\"error\":\"no route\",\"status\":404}");
  EXPECT_EQ(std::string_view("{\"error\":\"no route\",\"status\":404}").size(), 33u);
}

TEST(HttpWriter, ErrorsCarryExtraFieldsAndClose) {
  std::string out;
  write_error(out, 405, "method not allowed", framing(/*keep_alive=*/false),
              "Allow: GET, HEAD\r\n");
  const std::string body = "{\"error\":\"method not allowed\",\"status\":405}";
  EXPECT_EQ(out,
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: application/json\r\n"
            "Allow: GET, HEAD\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: " +
                std::to_string(body.size()) +
                "\r\n"
                "Connection: close\r\n"
                "\r\n" +
                body);
}

TEST(HttpWriter, ErrorMessagesAreJsonEscaped) {
  std::string out;
  write_error(out, 400, "bad \"quote\" \\ and\ncontrol", framing());
  const std::string body = "{\"error\":\"bad \\\"quote\\\" \\\\ and\\ncontrol\",\"status\":400}";
  EXPECT_EQ(out.substr(out.size() - body.size()), body);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
}

TEST(HttpWriter, HeadErrorsCarryTheLengthButNoBody) {
  std::string out;
  write_error(out, 404, "no route", framing(true, 1, /*head=*/true));
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: application/json\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 33\r\n"
            "\r\n");
}

TEST(HttpWriter, LongErrorMessagesAreWhole) {
  std::string message(5000, 'm');
  std::string out;
  write_error(out, 500, message, framing());
  const std::string body = "{\"error\":\"" + message + "\",\"status\":500}";
  EXPECT_EQ(out.substr(out.size() - body.size()), body);
  EXPECT_NE(out.find("Content-Length: 5025\r\n"), std::string::npos);
}

TEST(HttpWriter, ContinueResponse) {
  EXPECT_EQ(kContinueResponse, "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(HttpWriter, WritesIntoAWarmedBufferWithoutAllocating) {
  api::Response r = hello();
  r.add_header("Cache-Control", "max-age=60");
  std::string out;
  write_response(out, r, framing());
  write_error(out, 404, "no route", framing());
  const std::size_t size = out.size();
  out.clear();
  EXPECT_NO_ALLOC(write_response(out, r, framing()));
  EXPECT_NO_ALLOC(write_error(out, 404, "no route", framing()));
  EXPECT_EQ(out.size(), size);
}

TEST(HttpWriter, DateClockFormatsTheCurrentTimeAsImfFixdate) {
  DateClock clock;
  std::string_view now = clock.now();
  ASSERT_EQ(now.size(), 29u);
  std::tm tm{};
  const std::string text(now);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  ASSERT_NE(end, nullptr) << text;
  EXPECT_EQ(*end, '\0') << text;
  const time_t parsed = timegm(&tm);
  const time_t wall = time(nullptr);
  EXPECT_LE(parsed, wall);
  EXPECT_GE(parsed, wall - 2);
  // The same second formatted by the C library (in the C locale): day name, zero-padded day,
  // month name, four-digit year.
  std::tm utc{};
  gmtime_r(&parsed, &utc);
  char expected[64];
  const std::size_t n = strftime(expected, sizeof(expected), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  EXPECT_EQ(now, std::string_view(expected, n));
  EXPECT_NO_ALLOC(clock.tick());
  EXPECT_EQ(clock.now().size(), 29u);
}

}  // namespace
}  // namespace edgefn::runtime::http
