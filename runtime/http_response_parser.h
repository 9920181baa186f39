// HTTP/1.1 response parsing for ctx.fetch: llhttp in response mode, glued to one receive buffer
// of an upstream connection.
//
// The buffer may move when it grows between parse() calls, so the parser records offsets, never
// pointers. It works in place: header names are folded to lower case, and a chunked body is
// compacted over its own chunk framing, so that after kComplete the headers and the body are
// views into the same buffer, ready to hand to a function with no copy. Interim 1xx responses
// (100 Continue, 103 Early Hints) are skipped.
//
// Framing, RFC 9112 section 6.3: no body for a HEAD request, 1xx, 204 and 304; else chunked,
// else Content-Length, else the body runs until the connection closes (finish()).
//
// Allocation: none; the parser is reused for every response of its connection.
#pragma once

#include <llhttp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "functions/api/request.h"

namespace edgefn::runtime::http {

// Most header fields one response may carry; more is an error.
inline constexpr std::size_t kMaxResponseHeaders = 100;

enum class ResponseEvent : std::uint8_t {
  kNeedMore,  // every byte given was consumed; feed more (or finish() at end of stream)
  kComplete,  // the response is whole: status(), headers(), body() are valid
  kTooLarge,  // the head exceeds max_head_bytes or the body max_body_bytes
  kError,     // not an HTTP/1.x response; error() says what
};

class ResponseParser {
 public:
  ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Expects a new response, in a buffer that starts empty: to a HEAD request (no body) or not,
  // with at most `max_head_bytes` of status line and headers and `max_body_bytes` of body.
  // Interim responses count towards `max_head_bytes` (it bounds everything before the body),
  // and so do the chunk framing and trailer fields between two data bytes of a chunked body.
  void start(bool head_request, std::size_t max_head_bytes, std::size_t max_body_bytes);

  // Parses buffer[position()..size). `buffer` is the whole buffer received so far.
  ResponseEvent parse(std::span<char> buffer);
  // The connection ended after `buffer`: kComplete for a body delimited by the close, else
  // kError (the response was cut short).
  ResponseEvent finish(std::span<char> buffer);

  // Bytes of the buffer consumed so far.
  std::size_t position() const { return position_; }

  // Valid after kComplete.
  int status() const { return status_; }
  // The connection may carry another request: HTTP/1.1 without `Connection: close` (or 1.0
  // with keep-alive), a length-delimited body, and no byte after the response.
  bool keep_alive() const { return keep_alive_; }
  // Views into `buffer`, which must be the buffer given to the parse() that completed (or a
  // copy of it at the same address range).
  std::span<const api::Header> headers(std::span<const char> buffer);
  std::string_view body(std::span<const char> buffer) const;
  // Why the last kError happened (static text).
  std::string_view error() const { return error_; }

 private:
  enum class State : std::uint8_t { kHead, kBody, kComplete, kFailed };
  enum class Last : std::uint8_t { kNone, kField, kValue };

  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  static int on_message_begin(llhttp_t*);
  static int on_header_field(llhttp_t*, const char*, std::size_t);
  static int on_header_value(llhttp_t*, const char*, std::size_t);
  static int on_headers_complete(llhttp_t*);
  static int on_chunk_header(llhttp_t*);
  static int on_body(llhttp_t*, const char*, std::size_t);
  static int on_message_complete(llhttp_t*);

  // At the pause after the final response: the head limit, and whether a byte follows.
  ResponseEvent complete(std::size_t buffered);
  // kNeedMore, unless the bytes buffered without progress exceed the head limit.
  ResponseEvent need_more(std::size_t buffered);
  // Records `event` (kError or kTooLarge) and why, and makes the parser terminal.
  ResponseEvent fail(ResponseEvent event, std::string_view reason);
  // The same from inside an llhttp callback: the returned value stops llhttp.
  int fail_in_callback(ResponseEvent event, std::string_view reason);
  ResponseEvent fail_from_llhttp(llhttp_errno_t err);
  std::uint32_t offset_of(const char* at) const;

  llhttp_t parser_;
  llhttp_settings_t settings_;
  char* base_ = nullptr;  // the buffer during parse(), for offset arithmetic
  std::size_t position_ = 0;
  std::size_t max_head_bytes_ = 0;
  std::size_t max_body_bytes_ = 0;
  bool head_request_ = false;
  State state_ = State::kHead;
  Last last_ = Last::kNone;
  ResponseEvent failure_ = ResponseEvent::kError;
  int status_ = 0;
  bool keep_alive_ = false;
  bool chunked_ = false;
  std::array<Span, kMaxResponseHeaders> names_{};
  std::array<Span, kMaxResponseHeaders> values_{};
  std::array<api::Header, kMaxResponseHeaders> views_{};
  std::size_t header_count_ = 0;
  std::size_t head_end_ = 0;     // just past the blank line of the final head; 0 until known
  std::size_t wire_end_ = 0;     // just past the last body byte received (before compaction)
  std::size_t body_offset_ = 0;  // where the (compacted) body starts
  std::size_t body_length_ = 0;
  std::string_view error_;
};

}  // namespace edgefn::runtime::http
