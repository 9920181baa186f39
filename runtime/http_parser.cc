// HTTP/1.1 request parsing on llhttp: offsets into the connection's buffer, limits, and the
// checks llhttp's strict mode leaves to its user.
#include "runtime/http_parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "functions/api/ascii.h"

namespace edgefn::runtime::http {
namespace {

// A body buffer that grew past this is released after its request, so a connection that once
// received a large upload does not keep the memory while it idles.
constexpr std::size_t kMaxIdleBodyCapacity = 64 * 1024;

[[noreturn]] void broken_invariant(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: broken invariant: %s\n", file, line, what);
  std::abort();
}
#define EDGEFN_HTTP_CHECK(condition)                                    \
  do {                                                                  \
    if (!(condition)) broken_invariant(#condition, __FILE__, __LINE__); \
  } while (0)

using api::ascii::iequals;
using api::ascii::to_lower;

void lower_in_place(char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = to_lower(p[i]);
  }
}

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

using api::ascii::is_tchar;

// reg-name characters, RFC 3986 section 3.2.2: unreserved and sub-delims ('%' is checked apart).
constexpr bool is_reg_name_char(char c) {
  constexpr std::string_view kSymbols = "-._~!$&'()*+,;=";
  return is_alpha(c) || is_digit(c) || kSymbols.find(c) != std::string_view::npos;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

// uri-host [ ":" port ], RFC 9110 section 7.2. An empty text is valid only if `allow_empty`
// (an HTTP/1.1 client sends an empty Host when the target URI has no authority).
bool valid_authority(std::string_view text, bool allow_empty) {
  if (text.empty()) return allow_empty;
  std::size_t host_end = 0;
  if (text.front() == '[') {
    // IP-literal: the address syntax is left to whoever uses it; the characters are checked.
    host_end = text.find(']');
    if (host_end == std::string_view::npos || host_end == 1) return false;
    for (char c : text.substr(1, host_end - 1)) {
      if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    ++host_end;
  } else {
    while (host_end < text.size() && text[host_end] != ':') {
      char c = text[host_end];
      if (c == '%') {
        if (host_end + 2 >= text.size() || !is_hex(text[host_end + 1]) ||
            !is_hex(text[host_end + 2])) {
          return false;
        }
        host_end += 3;
        continue;
      }
      if (!is_reg_name_char(c)) return false;
      ++host_end;
    }
    if (host_end == 0) return false;
  }
  if (host_end == text.size()) return true;
  if (text[host_end] != ':') return false;
  for (char c : text.substr(host_end + 1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

RequestParser* self_of(llhttp_t* parser) {
  return static_cast<RequestParser*>(parser->data);
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_method = &RequestParser::on_method;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_header_field = &RequestParser::on_header_field;
  settings_.on_header_value = &RequestParser::on_header_value;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
  settings_.on_body = &RequestParser::on_body;
  settings_.on_message_complete = &RequestParser::on_message_complete;
  // No lenient flag is ever set: the strict parser is the point.
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
  body_limit_ = limits_.max_body_bytes;
}

bool RequestParser::in_message() const {
  return in_message_ && state_ != State::kMessageDone && state_ != State::kFailed;
}

ParseEvent RequestParser::parse(std::span<char> input) {
  switch (state_) {
    case State::kFailed:
      return ParseEvent::kError;
    case State::kMessageDone:
      return ParseEvent::kMessageComplete;
    case State::kHeadDone:
      // The caller has routed and set the route's limit (or left the default in force).
      if (content_length_ && *content_length_ > body_limit_) {
        return fail(413, "request body too large");
      }
      // Reserve for a declared body up front, but no more than an idle connection may keep:
      // a client that announces a megabyte and sends nothing gets no megabyte.
      if (content_length_) {
        body_.reserve(static_cast<std::size_t>(
            std::min<std::uint64_t>(*content_length_, kMaxIdleBodyCapacity)));
      }
      llhttp_resume(&parser_);
      state_ = State::kBody;
      break;
    case State::kHead:
    case State::kBody:
      break;
  }
  EDGEFN_HTTP_CHECK(input.size() >= position_);
  EDGEFN_HTTP_CHECK(input.size() <= std::numeric_limits<std::uint32_t>::max());

  char* base = input.data();
  base_ = base;
  // After the head pause this may run with no new byte: llhttp then reaches the end of a
  // body-less message without reading anything.
  llhttp_errno_t err = llhttp_execute(&parser_, base + position_, input.size() - position_);
  base_ = nullptr;

  if (err == HPE_OK) {
    position_ = input.size();
    return need_more(input.size());
  }
  if (err == HPE_PAUSED) {
    // Both pauses stop right after the byte that completed the head or the message, so the
    // error position is where the next parse must start.
    position_ = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - base);
    if (state_ == State::kHead) {
      head_end_ = position_;
      return finish_head(base);
    }
    state_ = State::kMessageDone;
    return ParseEvent::kMessageComplete;
  }
  return fail_from_llhttp(err, base, input.size());
}

RequestHead RequestParser::head(std::span<const char> input) {
  const char* base = input.data();
  auto view = [base](Span s) { return std::string_view(base + s.offset, s.length); };
  RequestHead h;
  h.method = view(method_);
  h.target = view(target_);
  h.host = view(host_);
  h.path = path_is_root_ ? std::string_view("/") : view(path_);
  h.query = view(query_);
  h.http_major = parser_.http_major;
  h.http_minor = parser_.http_minor;
  for (std::size_t i = 0; i < header_count_; ++i) {
    views_[i] = api::Header{view(names_[i]), view(values_[i])};
  }
  h.headers = std::span<const api::Header>(views_.data(), header_count_);
  h.content_length = content_length_;
  h.chunked = chunked_;
  h.keep_alive = keep_alive_;
  h.expect_continue = expect_continue_;
  return h;
}

bool RequestParser::set_body_limit(std::uint64_t max_body_bytes) {
  body_limit_ = max_body_bytes;
  if ((content_length_ && *content_length_ > max_body_bytes) || body_.size() > max_body_bytes) {
    fail(413, "request body too large");
    return false;
  }
  return true;
}

void RequestParser::next_request() {
  // A reset rather than a resume: after a message llhttp would go on into its Upgrade/CONNECT
  // pause or its closed state, neither of which applies to a server that answers every request
  // itself and decides about the connection on its own.
  llhttp_reset(&parser_);
  message_start_ = position_;
  reset_message();
  body_.clear();
  if (body_.capacity() > kMaxIdleBodyCapacity) std::string().swap(body_);
}

void RequestParser::rebase(std::size_t dropped_bytes) {
  EDGEFN_HTTP_CHECK(dropped_bytes <= message_start_);
  EDGEFN_HTTP_CHECK(!in_message_);
  position_ -= dropped_bytes;
  message_start_ -= dropped_bytes;
}

void RequestParser::reset_message() {
  state_ = State::kHead;
  last_ = Last::kNone;
  in_message_ = false;
  chunked_ = false;
  keep_alive_ = true;
  expect_continue_ = false;
  path_is_root_ = false;
  method_ = target_ = host_ = path_ = query_ = Span{};
  head_end_ = body_wire_end_ = 0;
  header_count_ = 0;
  content_length_.reset();
  body_limit_ = limits_.max_body_bytes;
  error_ = ParseError{};
}

ParseEvent RequestParser::fail(int status, std::string_view reason) {
  error_ = ParseError{status, reason};
  state_ = State::kFailed;
  return ParseEvent::kError;
}

int RequestParser::fail_in_callback(int status, std::string_view reason) {
  fail(status, reason);
  return -1;  // llhttp turns this into HPE_USER and stops
}

ParseEvent RequestParser::need_more(std::size_t buffered) {
  // Bytes that never complete anything are cut off at the head limit: an endless head (or
  // endless CRLFs before one), and in a chunked body an endless run of chunk-size digits,
  // extensions or trailers between two data bytes.
  if (state_ == State::kHead && buffered - message_start_ > limits_.max_header_bytes) {
    return fail(431, "request header fields too large");
  }
  if (state_ == State::kBody && chunked_ &&
      buffered - std::max(head_end_, body_wire_end_) > limits_.max_header_bytes) {
    return fail(431, "chunk extensions or trailer fields too large");
  }
  return ParseEvent::kNeedMore;
}

std::uint32_t RequestParser::offset_of(const char* at) const {
  return static_cast<std::uint32_t>(at - base_);
}

bool RequestParser::extend(Span& span, const char* at, std::size_t length) const {
  if (offset_of(at) != span.end()) return false;
  span.length += static_cast<std::uint32_t>(length);
  return true;
}

int RequestParser::on_message_begin(llhttp_t* parser) {
  self_of(parser)->in_message_ = true;
  return 0;
}

int RequestParser::on_method(llhttp_t* parser, const char* at, std::size_t length) {
  // The first piece starts the span (a method never follows the previous one's bytes).
  RequestParser* self = self_of(parser);
  if (!self->extend(self->method_, at, length)) {
    self->method_ = Span{self->offset_of(at), static_cast<std::uint32_t>(length)};
  }
  return 0;
}

int RequestParser::on_url(llhttp_t* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (self->target_.length == 0) {
    self->target_ = Span{self->offset_of(at), static_cast<std::uint32_t>(length)};
  } else if (!self->extend(self->target_, at, length)) {
    return self->fail_in_callback(400, "invalid request target");
  }
  if (self->target_.length > self->limits_.max_target_bytes) {
    return self->fail_in_callback(414, "request target too long");
  }
  return 0;
}

int RequestParser::on_header_field(llhttp_t* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (self->state_ != State::kHead) return 0;  // trailer fields are ignored
  // Header names are case-insensitive; folding them here, piece by piece, spares every
  // consumer a case-insensitive compare.
  lower_in_place(self->base_ + self->offset_of(at), length);
  if (self->last_ == Last::kField) {
    if (!self->extend(self->names_[self->header_count_ - 1], at, length)) {
      return self->fail_in_callback(400, "invalid header field");
    }
    return 0;
  }
  if (self->header_count_ == kMaxHeaders) {
    return self->fail_in_callback(431, "too many header fields");
  }
  Span name{self->offset_of(at), static_cast<std::uint32_t>(length)};
  self->names_[self->header_count_] = name;
  self->values_[self->header_count_] = Span{name.end(), 0};
  ++self->header_count_;
  self->last_ = Last::kField;
  return 0;
}

int RequestParser::on_header_value(llhttp_t* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (self->state_ != State::kHead) return 0;
  Span& value = self->values_[self->header_count_ - 1];
  if (self->last_ == Last::kValue) {
    // Pieces of one value are adjacent unless llhttp joined an obs-fold continuation line.
    if (!self->extend(value, at, length)) {
      return self->fail_in_callback(400, "obsolete line folding in header field");
    }
    return 0;
  }
  value = Span{self->offset_of(at), static_cast<std::uint32_t>(length)};
  self->last_ = Last::kValue;
  return 0;
}

int RequestParser::on_headers_complete(llhttp_t*) {
  return HPE_PAUSED;
}

int RequestParser::on_body(llhttp_t* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (self->body_.size() + length > self->body_limit_) {
    return self->fail_in_callback(413, "request body too large");
  }
  std::string& body = self->body_;
  if (body.size() + length > body.capacity()) {
    // Geometric growth, but never past a declared length.
    std::uint64_t want = std::max(body.size() + length, 2 * body.capacity());
    if (self->content_length_) want = std::min(want, *self->content_length_);
    body.reserve(static_cast<std::size_t>(want));
  }
  body.append(at, length);
  self->body_wire_end_ = self->offset_of(at) + length;
  return 0;
}

int RequestParser::on_message_complete(llhttp_t*) {
  return HPE_PAUSED;
}

ParseEvent RequestParser::finish_head(char* base) {
  if (head_end_ - message_start_ > limits_.max_header_bytes) {
    return fail(431, "request header fields too large");
  }

  // The request line is exactly method SP request-target SP HTTP-version CRLF; llhttp lets
  // extra spaces through.
  const std::size_t line_start = method_.offset;
  const char* line_end =
      static_cast<const char*>(std::memchr(base + line_start, '\n', head_end_ - line_start));
  EDGEFN_HTTP_CHECK(line_end != nullptr);
  const std::size_t version_start = target_.end() + 1;
  if (target_.offset != method_.end() + 1 || base[method_.end()] != ' ' ||
      base[target_.end()] != ' ' ||
      static_cast<std::size_t>(line_end - base) != version_start + 9 ||
      std::string_view(base + version_start, 5) != "HTTP/") {
    // The last check is not redundant: llhttp also takes "RTSP/1.0" (and reports 1.0).
    return fail(400, "malformed request line");
  }

  // Every line of the head ends in CRLF and none starts with whitespace. Strict llhttp still
  // takes a bare LF after the request line and after the last field, and joins obs-fold lines;
  // both are classic request-smuggling vectors, so they are refused here.
  for (std::size_t i = line_start; i < head_end_;) {
    const void* lf = std::memchr(base + i, '\n', head_end_ - i);
    if (lf == nullptr) break;
    std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
    if (at == line_start || base[at - 1] != '\r') return fail(400, "bare LF in request head");
    if (at + 1 < head_end_ && is_ows(base[at + 1])) {
      return fail(400, "obsolete line folding in header field");
    }
    i = at + 1;
  }

  const int major = parser_.http_major;
  const int minor = parser_.http_minor;
  if (major != 1 || minor > 1) return fail(505, "HTTP version not supported");

  Span authority;
  if (!split_target(base, authority)) return fail(400, "invalid request target");

  int host_fields = 0;
  int chunked_codings = 0;
  bool unsupported_coding = false;
  bool expect_100 = false;
  for (std::size_t i = 0; i < header_count_; ++i) {
    std::string_view raw(base + values_[i].offset, values_[i].length);
    std::string_view value = trim_ows(raw);
    // llhttp lets an empty name and DEL in values through; a field name is a token, a value
    // VCHAR, obs-text, SP and HTAB only.
    if (names_[i].length == 0 || value.find('\x7f') != std::string_view::npos) {
      return fail(400, "invalid header field");
    }
    values_[i] = Span{values_[i].offset + static_cast<std::uint32_t>(value.data() - raw.data()),
                      static_cast<std::uint32_t>(value.size())};
    std::string_view name(base + names_[i].offset, names_[i].length);
    if (name == "host") {
      if (++host_fields == 1) host_ = values_[i];
    } else if (name == "transfer-encoding") {
      // A list of codings, possibly with empty elements; only "chunked" is implemented.
      while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view coding = trim_ows(value.substr(0, comma));
        if (iequals(coding, "chunked")) {
          ++chunked_codings;
        } else if (!coding.empty()) {
          unsupported_coding = true;
        }
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    } else if (name == "expect") {
      if (!iequals(value, "100-continue")) return fail(417, "unsupported expectation");
      expect_100 = true;
    }
  }

  if ((parser_.flags & F_TRANSFER_ENCODING) != 0) {
    // RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
    if (minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (unsupported_coding) return fail(501, "unsupported transfer coding");
    if (chunked_codings != 1) return fail(400, "invalid Transfer-Encoding");
  }

  if (host_fields > 1) return fail(400, "more than one Host header field");
  if (host_fields == 0 && minor == 1) return fail(400, "missing Host header field");
  if (host_fields == 1) {
    std::string_view host(base + host_.offset, host_.length);
    if (!valid_authority(host, /*allow_empty=*/true)) return fail(400, "invalid Host header");
  }
  // An absolute-form target's authority wins over Host (RFC 9112 section 3.2.2).
  if (authority.length != 0) host_ = authority;
  // Hosts are case-insensitive; one spelling lets routing and cache keys compare bytes.
  lower_in_place(base + host_.offset, host_.length);

  chunked_ = (parser_.flags & F_CHUNKED) != 0;
  if ((parser_.flags & F_CONTENT_LENGTH) != 0) content_length_ = parser_.content_length;
  const bool body_follows = chunked_ || (content_length_ && *content_length_ > 0);
  // RFC 9110 section 10.1.1: an HTTP/1.0 client cannot have sent 100-continue meaningfully.
  expect_continue_ = expect_100 && minor == 1 && body_follows;
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
  state_ = State::kHeadDone;
  return ParseEvent::kHeadComplete;
}

bool RequestParser::split_target(char* base, Span& authority) {
  std::string_view target(base + target_.offset, target_.length);
  if (target.find('#') != std::string_view::npos) return false;  // fragments are never sent
  std::string_view method(base + method_.offset, method_.length);
  if (target == "*") {
    // asterisk-form, OPTIONS only
    if (method != "OPTIONS") return false;
    path_is_root_ = true;
    return true;
  }
  std::size_t path_start = 0;
  if (target.front() != '/') {
    // absolute-form: http(s)://authority[path][?query]
    std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    std::string_view scheme = target.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
    std::size_t start = scheme_end + 3;
    std::size_t end = target.find_first_of("/?", start);
    if (end == std::string_view::npos) end = target.size();
    if (!valid_authority(target.substr(start, end - start), /*allow_empty=*/false)) return false;
    authority = Span{target_.offset + static_cast<std::uint32_t>(start),
                     static_cast<std::uint32_t>(end - start)};
    if (end == target.size() || target[end] == '?') path_is_root_ = true;
    path_start = end;
  }
  std::size_t question = target.find('?', path_start);
  std::size_t path_end = question == std::string_view::npos ? target.size() : question;
  path_ = Span{target_.offset + static_cast<std::uint32_t>(path_start),
               static_cast<std::uint32_t>(path_end - path_start)};
  if (question != std::string_view::npos) {
    query_ = Span{target_.offset + static_cast<std::uint32_t>(question + 1),
                  static_cast<std::uint32_t>(target.size() - question - 1)};
  }
  return true;
}

ParseEvent RequestParser::fail_from_llhttp(llhttp_errno_t err, const char* base, std::size_t size) {
  if (state_ == State::kFailed) return ParseEvent::kError;  // a callback has said why
  const std::size_t pos = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - base);
  switch (err) {
    case HPE_INVALID_METHOD: {
      // llhttp stops at the first byte that leaves its method table. If the bytes before it are
      // a token and it continues the token or ends it with SP, this is a well-formed but
      // unknown method, for which RFC 9110 section 9.1 asks 501. Anything else (TLS bytes,
      // binary) is a bad request. The error position does not depend on how bytes arrive.
      std::size_t start = message_start_;
      while (start < pos && (base[start] == '\r' || base[start] == '\n'))
        ++start;
      bool token = pos < size && (is_tchar(base[pos]) || (base[pos] == ' ' && pos > start));
      for (std::size_t i = start; i < pos && token; ++i)
        token = is_tchar(base[i]);
      return token ? fail(501, "method not implemented") : fail(400, "invalid method");
    }
    case HPE_INVALID_CONSTANT:
      // RTSP methods ("DESCRIBE", "PLAY", ...) over HTTP: known to llhttp, not to HTTP.
      if (std::strcmp(llhttp_get_error_reason(&parser_), "Invalid method for HTTP/x.x request") ==
          0) {
        return fail(501, "method not implemented");
      }
      return fail(400, "malformed request");
    case HPE_INVALID_URL:
      return fail(400, "invalid request target");
    case HPE_INVALID_VERSION:
      // llhttp 8.1 takes 0.9, 1.0, 1.1 and 2.0 (finish_head refuses all but 1.x) and says
      // "Invalid HTTP version" for any other well-formed HTTP/d.d, such as 1.2 or 3.0. Its
      // other version errors are about syntax.
      if (std::strcmp(llhttp_get_error_reason(&parser_), "Invalid HTTP version") == 0) {
        return fail(505, "HTTP version not supported");
      }
      return fail(400, "invalid HTTP version");
    case HPE_PAUSED_H2_UPGRADE:
      return fail(505, "HTTP/2 is not supported");
    case HPE_INVALID_HEADER_TOKEN:
      return fail(400, "invalid header field");
    case HPE_INVALID_CONTENT_LENGTH:
      return fail(400, "invalid Content-Length");
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      if ((parser_.flags & F_TRANSFER_ENCODING) != 0) {
        return fail(400, "Content-Length with Transfer-Encoding");
      }
      return fail(400, "more than one Content-Length");
    case HPE_INVALID_TRANSFER_ENCODING:
      return fail(400, "invalid Transfer-Encoding");
    case HPE_INVALID_CHUNK_SIZE:
      return fail(400, "invalid chunk size");
    default:
      return fail(400, "malformed request");
  }
}

}  // namespace edgefn::runtime::http
