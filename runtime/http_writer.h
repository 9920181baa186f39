// HTTP/1.1 response serialization into a connection's output buffer. Every response carries
// Date and Content-Length; HEAD responses carry the length of the body they omit.
#pragma once

#include <string>
#include <string_view>

#include "functions/api/response.h"

namespace edgefn::runtime::http {

struct ResponseFraming {
  std::string_view date;   // IMF-fixdate from DateClock
  int http_minor = 1;      // 0: HTTP/1.0 peer
  bool head = false;       // HEAD request: headers only
  bool keep_alive = true;  // false: "Connection: close"
};

// The reason phrase for a status ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status);

// Appends the whole response. Fields the module set that the framing owns (Content-Length,
// Transfer-Encoding, Connection, Date) are replaced, not duplicated. `extra_headers` is
// preformatted "Name: value\r\n" lines (CORS, a function's response_headers), possibly empty;
// they are written after the module's fields and replace any of the same name (compared
// case-insensitively). Allocates only when `out` must grow.
void write_response(std::string& out, const api::Response& response, const ResponseFraming& framing,
                    std::string_view extra_headers = {});

// Appends an error response: `{"error":"<message>","status":<status>}` as application/json.
// `extra_headers` is preformatted "Name: value\r\n" lines (e.g. Allow), possibly empty.
void write_error(std::string& out, int status, std::string_view message,
                 const ResponseFraming& framing, std::string_view extra_headers = {});

// The same with more members after "status": `extra_members` is preformatted JSON members
// without a leading comma (`"pointer":"/a","keyword":"type"`), possibly empty.
void write_error(std::string& out, int status, std::string_view message,
                 const ResponseFraming& framing, std::string_view extra_headers,
                 std::string_view extra_members);

// Appends the module's fields a shared cache keeps, as "Name: value\r\n" lines: the ones
// write_response would send, minus Age and Cache-Status (the cache writes its own). Allocates
// only when `out` must grow.
void append_storable_fields(std::string& out, const api::Response& response);

// Appends a response answered from a cache: `header_lines` are stored lines (from
// append_storable_fields), written after `extra_headers` lines (Age, Cache-Status, CORS, a
// function's response_headers), which replace stored lines of the same name. A 304 carries the
// stored fields but no body and no Content-Length. Allocates only when `out` must grow.
void write_stored(std::string& out, int status, std::string_view header_lines,
                  std::string_view body, const ResponseFraming& framing,
                  std::string_view extra_headers);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted at most once
// per second. One per worker thread; not thread-safe.
class DateClock {
 public:
  DateClock();
  // Re-formats if the wall-clock second changed; cheap otherwise (one clock_gettime).
  void tick();
  std::string_view now() const { return {text_, kLength}; }

 private:
  static constexpr std::size_t kLength = 29;
  long second_ = -1;
  char text_[kLength + 1] = {};
};

}  // namespace edgefn::runtime::http
