// HTTP/1.1 response serialization: status line, the module's fields minus the ones framing
// owns, Date, Content-Length and Connection, then the body.
#include "runtime/http_writer.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iterator>
#include <memory_resource>

#include "functions/api/ascii.h"
#include "functions/api/json.h"

namespace edgefn::runtime::http {
namespace {

using api::ascii::iequals;

using api::ascii::is_tchar;

// A module's field reaches the wire only if the framing does not own it and it cannot break
// the message: the name is a token, the value has no CR, LF or NUL (response splitting).
bool writable_field(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_tchar(c)) return false;
  }
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
      iequals(name, "connection") || iequals(name, "date")) {
    return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// RFC 9110 section 6.4.1 and 8.6: no content in 1xx, 204 and 304 responses, and no
// Content-Length in 1xx and 204; a 304's would have to be the 200's, which is unknown here.
bool status_has_content(int status) {
  return status >= 200 && status != 204 && status != 304;
}

// The Content-Length to announce: the body's, except for a HEAD answer without one whose module
// said what a GET's would be (a proxy passing on its origin's answer to HEAD).
std::uint64_t content_length(const api::Response& response, const ResponseFraming& framing) {
  if (framing.head && response.content().empty()) {
    const std::string_view declared = response.header("content-length");
    std::uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(declared.data(), declared.data() + declared.size(), value);
    if (!declared.empty() && ec == std::errc() && end == declared.data() + declared.size()) {
      return value;
    }
  }
  return response.content().size();
}

// A status the wire can carry: three digits. Anything else is the module's bug, answered 500.
int wire_status(int status) {
  return (status >= 100 && status <= 999) ? status : 500;
}

struct Digits {
  char text[24];
  std::size_t size;
  std::string_view view() const { return {text, size}; }
};

Digits digits(std::uint64_t value) {
  Digits d{};
  auto result = std::to_chars(d.text, d.text + sizeof(d.text), value);
  d.size = static_cast<std::size_t>(result.ptr - d.text);
  return d;
}

constexpr std::string_view kHttp11 = "HTTP/1.1 ";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kDate = "Date: ";
constexpr std::string_view kContentLength = "Content-Length: ";
constexpr std::string_view kClose = "Connection: close\r\n";
constexpr std::string_view kKeepAlive = "Connection: keep-alive\r\n";

std::string_view connection_field(const ResponseFraming& framing) {
  if (!framing.keep_alive) return kClose;
  // HTTP/1.0 connections close by default; say so when this one stays open.
  if (framing.http_minor == 0) return kKeepAlive;
  return {};
}

// Grows `out` at most once for `extra` more bytes, geometrically so that many pipelined
// responses appended to one buffer do not reallocate each time.
void reserve_for(std::string& out, std::size_t extra) {
  const std::size_t needed = out.size() + extra;
  if (needed > out.capacity()) out.reserve(std::max(needed, 2 * out.capacity()));
}

void append_status_line(std::string& out, int status, const Digits& code) {
  out.append(kHttp11);
  out.append(code.view());
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append(kCrlf);
}

std::size_t status_line_size(int status, const Digits& code) {
  return kHttp11.size() + code.size + 1 + reason_phrase(status).size() + kCrlf.size();
}

// Date, Content-Length (when the status has content), Connection, blank line.
void append_framing(std::string& out, int status, const Digits& length,
                    const ResponseFraming& framing) {
  out.append(kDate);
  out.append(framing.date);
  out.append(kCrlf);
  if (status_has_content(status)) {
    out.append(kContentLength);
    out.append(length.view());
    out.append(kCrlf);
  }
  out.append(connection_field(framing));
  out.append(kCrlf);
}

std::size_t framing_size(int status, const Digits& length, const ResponseFraming& framing) {
  std::size_t n = kDate.size() + framing.date.size() + kCrlf.size();
  if (status_has_content(status)) n += kContentLength.size() + length.size + kCrlf.size();
  return n + connection_field(framing).size() + kCrlf.size();
}

// RFC 9110 section 15 and the IANA status code registry, sorted by code.
struct Reason {
  int status;
  std::string_view phrase;
};
constexpr Reason kReasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {208, "Already Reported"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {510, "Not Extended"},
    {511, "Network Authentication Required"},
};
static_assert(std::is_sorted(std::begin(kReasons), std::end(kReasons),
                             [](const Reason& a, const Reason& b) { return a.status < b.status; }));

// True when one of the preformatted `lines` names the field `name`.
bool named_in(std::string_view name, std::string_view lines) {
  while (!lines.empty()) {
    const std::size_t end = lines.find(kCrlf);
    const std::string_view line = lines.substr(0, end);
    lines = end == std::string_view::npos ? std::string_view{} : lines.substr(end + kCrlf.size());
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) return true;
  }
  return false;
}

}  // namespace

std::string_view reason_phrase(int status) {
  const Reason* it = std::lower_bound(std::begin(kReasons), std::end(kReasons), status,
                                      [](const Reason& r, int value) { return r.status < value; });
  return (it != std::end(kReasons) && it->status == status) ? it->phrase : "Unknown";
}

void write_response(std::string& out, const api::Response& response, const ResponseFraming& framing,
                    std::string_view extra_headers) {
  const int status = wire_status(response.status);
  const Digits code = digits(static_cast<std::uint64_t>(status));
  const Digits length = digits(content_length(response, framing));
  const bool send_body = status_has_content(status) && !framing.head;

  std::size_t total = status_line_size(status, code) + framing_size(status, length, framing);
  for (const api::HeaderField& field : response.headers()) {
    if (writable_field(field.name, field.value)) {
      total += field.name.size() + 2 + field.value.size() + kCrlf.size();
    }
  }
  total += extra_headers.size();
  if (send_body) total += response.content().size();
  reserve_for(out, total);

  append_status_line(out, status, code);
  for (const api::HeaderField& field : response.headers()) {
    if (!writable_field(field.name, field.value)) continue;
    if (!extra_headers.empty() && named_in(field.name, extra_headers)) continue;
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append(kCrlf);
  }
  out.append(extra_headers);
  append_framing(out, status, length, framing);
  if (send_body) out.append(response.content());
}

void append_storable_fields(std::string& out, const api::Response& response) {
  for (const api::HeaderField& field : response.headers()) {
    if (!writable_field(field.name, field.value) || iequals(field.name, "age") ||
        iequals(field.name, "cache-status")) {
      continue;
    }
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append(kCrlf);
  }
}

void write_stored(std::string& out, int status, std::string_view header_lines,
                  std::string_view body, const ResponseFraming& framing,
                  std::string_view extra_headers) {
  status = wire_status(status);
  const Digits code = digits(static_cast<std::uint64_t>(status));
  const Digits length = digits(body.size());
  const bool send_body = status_has_content(status) && !framing.head;
  reserve_for(out, status_line_size(status, code) + framing_size(status, length, framing) +
                       extra_headers.size() + header_lines.size() + (send_body ? body.size() : 0));
  append_status_line(out, status, code);
  out.append(extra_headers);
  while (!header_lines.empty()) {
    const std::size_t end = header_lines.find(kCrlf);
    const std::size_t line_end = end == std::string_view::npos ? header_lines.size() : end + 2;
    const std::string_view line = header_lines.substr(0, line_end);
    header_lines.remove_prefix(line_end);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (!extra_headers.empty() && named_in(line.substr(0, colon), extra_headers)) continue;
    out.append(line);
  }
  append_framing(out, status, length, framing);
  if (send_body) out.append(body);
}

void write_error(std::string& out, int status, std::string_view message,
                 const ResponseFraming& framing, std::string_view extra_headers) {
  write_error(out, status, message, framing, extra_headers, {});
}

void write_error(std::string& out, int status, std::string_view message,
                 const ResponseFraming& framing, std::string_view extra_headers,
                 std::string_view extra_members) {
  status = wire_status(status);
  // The body is built on the stack first: its length goes before it. Messages are short static
  // texts, so the arena's upstream allocator is only reached by unusually long ones.
  char scratch[1024];
  std::pmr::monotonic_buffer_resource arena(scratch, sizeof(scratch));
  std::pmr::string body(&arena);
  body.reserve(message.size() + extra_members.size() + 48);
  const Digits code = digits(static_cast<std::uint64_t>(status));
  body.append("{\"error\":");
  api::json::append_string(body, message);
  body.append(",\"status\":");
  body.append(code.view());
  if (!extra_members.empty()) {
    body.push_back(',');
    body.append(extra_members);
  }
  body.push_back('}');

  constexpr std::string_view kContentType = "Content-Type: application/json\r\n";
  const Digits length = digits(body.size());
  const bool send_body = status_has_content(status) && !framing.head;
  std::size_t total = status_line_size(status, code) + kContentType.size() + extra_headers.size() +
                      framing_size(status, length, framing) + (send_body ? body.size() : 0);
  reserve_for(out, total);

  append_status_line(out, status, code);
  out.append(kContentType);
  out.append(extra_headers);
  append_framing(out, status, length, framing);
  if (send_body) out.append(body);
}

DateClock::DateClock() {
  tick();
}

void DateClock::tick() {
  // The coarse clock is a vDSO read of the last tick (no syscall, ~4 ms resolution), plenty
  // for a field with one-second granularity.
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec == second_) return;
  second_ = now.tv_sec;

  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  time_t seconds = now.tv_sec;
  gmtime_r(&seconds, &tm);

  // IMF-fixdate, RFC 9110 section 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT".
  char* p = text_;
  auto put = [&p](std::string_view s) {
    for (char c : s)
      *p++ = c;
  };
  auto two = [&p](int v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  put(kDays[tm.tm_wday]);
  put(", ");
  two(tm.tm_mday);
  *p++ = ' ';
  put(kMonths[tm.tm_mon]);
  *p++ = ' ';
  const int year = tm.tm_year + 1900;
  two(year / 100);
  two(year % 100);
  *p++ = ' ';
  two(tm.tm_hour);
  *p++ = ':';
  two(tm.tm_min);
  *p++ = ':';
  two(tm.tm_sec);
  put(" GMT");
  *p = '\0';
}

}  // namespace edgefn::runtime::http
