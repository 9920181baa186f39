// HTTP/1.1 request parsing: llhttp (strict mode, no lenient flags) glued to the connection's
// input buffer.
//
// The connection owns one contiguous input buffer that may move when it grows, so the parser
// records offsets, never pointers, and turns them into views on demand. It stops twice per
// request: when the head is complete (so the caller can route, check the body limit against
// Content-Length and answer `Expect: 100-continue` before any body byte is read) and when the
// message is complete. Pipelined bytes after a message are left unparsed until the caller asks
// for the next request. Header names and the host are folded to lower case in place.
//
// Allocation: none per request once the connection's body buffer has grown to its working size.
#pragma once

#include <llhttp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "functions/api/request.h"

namespace edgefn::runtime::http {

struct ParserLimits {
  std::uint64_t max_header_bytes = 16 * 1024;  // request line + headers -> 431
  std::uint64_t max_target_bytes = 8 * 1024;   // request target -> 414
  std::uint64_t max_body_bytes = 1024 * 1024;  // until set_body_limit() -> 413
};

// Most header fields one request may carry; more -> 431.
inline constexpr std::size_t kMaxHeaders = 64;

enum class ParseEvent : std::uint8_t {
  kNeedMore,         // every byte given was consumed; feed more
  kHeadComplete,     // head() is valid; parse() again goes on with the body
  kMessageComplete,  // head() and body() are valid until next_request()
  kError,            // error() says what; the connection must answer and close
};

struct ParseError {
  int status = 400;         // 400, 413, 414, 417, 431, 501 (method, transfer coding), 505
  std::string_view reason;  // static text for the JSON error body
};

// The request head as views into the input buffer passed to head().
struct RequestHead {
  std::string_view method;
  std::string_view target;
  std::string_view host;   // Host field, or the authority of an absolute-form target
  std::string_view path;   // target's path part, still percent-encoded; "/" for "*"
  std::string_view query;  // without '?'
  int http_major = 1;
  int http_minor = 1;
  std::span<const api::Header> headers;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;        // llhttp_should_keep_alive at head time
  bool expect_continue = false;  // "Expect: 100-continue" on HTTP/1.1 with a body to come
};

class RequestParser {
 public:
  explicit RequestParser(const ParserLimits& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses input[position()..size). `input` is the whole buffer; header names in it, and the
  // host (the Host value, or an absolute-form target's authority), are folded to lower case in
  // place.
  ParseEvent parse(std::span<char> input);

  // Bytes of the buffer consumed so far (the next parse starts here).
  std::size_t position() const { return position_; }

  // Valid after kHeadComplete or kMessageComplete; `input` is the buffer as it is now.
  RequestHead head(std::span<const char> input);
  // The de-chunked body, valid after kMessageComplete.
  std::string_view body() const { return body_; }
  const ParseError& error() const { return error_; }

  // After kHeadComplete: the body limit for the route, checked against Content-Length at once
  // (returns false and sets error() to 413 if it exceeds) and against chunked data as it comes.
  bool set_body_limit(std::uint64_t max_body_bytes);

  // Starts the next request. The caller then drops input[0..position()) and must call
  // rebase(position()) so offsets stay right.
  void next_request();
  void rebase(std::size_t dropped_bytes);

  // True between the first byte of a request and its kMessageComplete: the header-timeout
  // clock runs from the first byte.
  bool in_message() const;

 private:
  // Where the current message is: kHead until on_headers_complete pauses, kHeadDone until the
  // caller resumes with parse(), kBody until on_message_complete pauses, kMessageDone until
  // next_request(). kFailed is terminal.
  enum class State : std::uint8_t { kHead, kHeadDone, kBody, kMessageDone, kFailed };
  // Which header callback ran last, to tell a field's continuation from the next field.
  enum class Last : std::uint8_t { kNone, kField, kValue };

  // A byte range of the input buffer, by offset so it survives the buffer moving.
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t end() const { return offset + length; }
  };

  static int on_message_begin(llhttp_t*);
  static int on_method(llhttp_t*, const char*, std::size_t);
  static int on_url(llhttp_t*, const char*, std::size_t);
  static int on_header_field(llhttp_t*, const char*, std::size_t);
  static int on_header_value(llhttp_t*, const char*, std::size_t);
  static int on_headers_complete(llhttp_t*);
  static int on_body(llhttp_t*, const char*, std::size_t);
  static int on_message_complete(llhttp_t*);

  // Records the error and makes the parser terminal.
  ParseEvent fail(int status, std::string_view reason);
  // The same from inside an llhttp callback: the returned value stops llhttp.
  int fail_in_callback(int status, std::string_view reason);
  // Turns an llhttp error into a status, using the bytes around the error position.
  ParseEvent fail_from_llhttp(llhttp_errno_t err, const char* base, std::size_t size);
  // Checks and digests a complete head; lower-cases the host in place.
  ParseEvent finish_head(char* base);
  // The request-target forms, RFC 9112 section 3.2: sets path_ and query_, and `authority` for
  // an absolute-form target. False if the target is none of them.
  bool split_target(char* base, Span& authority);
  // kNeedMore, unless the bytes buffered without progress exceed their limit.
  ParseEvent need_more(std::size_t buffered);
  // Extends `span` by a callback's piece, which must follow it in the buffer.
  bool extend(Span& span, const char* at, std::size_t length) const;
  std::uint32_t offset_of(const char* at) const;
  void reset_message();

  llhttp_t parser_;
  llhttp_settings_t settings_;
  ParserLimits limits_;
  char* base_ = nullptr;  // the buffer during parse(), for offset arithmetic
  std::size_t position_ = 0;
  std::size_t message_start_ = 0;  // where the bytes of this message (and CRLFs before it) begin
  State state_ = State::kHead;
  Last last_ = Last::kNone;
  bool in_message_ = false;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool path_is_root_ = false;  // "*" or an absolute-form target without a path: path is "/"
  Span method_;
  Span target_;
  Span host_;
  Span path_;
  Span query_;
  std::size_t head_end_ = 0;       // offset just past the blank line that ends the head
  std::size_t body_wire_end_ = 0;  // offset just past the last body byte seen (chunked)
  std::array<Span, kMaxHeaders> names_{};
  std::array<Span, kMaxHeaders> values_{};
  std::array<api::Header, kMaxHeaders> views_{};
  std::size_t header_count_ = 0;
  std::optional<std::uint64_t> content_length_;
  std::uint64_t body_limit_ = 0;
  std::string body_;
  ParseError error_;
};

}  // namespace edgefn::runtime::http
