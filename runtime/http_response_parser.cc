// HTTP/1.1 response parsing on llhttp: offsets into the upstream connection's buffer, in-place
// de-chunking, interim responses skipped, and the limits.
//
// llhttp pauses twice per response, on purpose: at the end of a head that a body follows (the
// only way to learn exactly where the head ends, so the head limit, the Content-Length limit and
// the start of the body are exact), and at the end of the response (so nothing after it is ever
// parsed). A response without a body is told to llhttp by returning 1 from on_headers_complete,
// which sets F_SKIPBODY; its end is found at the second pause.
#include "runtime/http_response_parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "functions/api/ascii.h"

namespace edgefn::runtime::http {
namespace {

[[noreturn]] void broken_invariant(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: broken invariant: %s\n", file, line, what);
  std::abort();
}
#define EDGEFN_RESPONSE_CHECK(condition)                                \
  do {                                                                  \
    if (!(condition)) broken_invariant(#condition, __FILE__, __LINE__); \
  } while (0)

using api::ascii::for_each_list_item;
using api::ascii::iequals;
using api::ascii::to_lower;
using api::ascii::trim_ows;

// on_headers_complete's "this response has no body" (see llhttp.h).
constexpr int kSkipBody = 1;

ResponseParser* self_of(llhttp_t* parser) {
  return static_cast<ResponseParser*>(parser->data);
}

constexpr bool is_interim(int status) {
  return status / 100 == 1;
}

}  // namespace

ResponseParser::ResponseParser() {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &ResponseParser::on_message_begin;
  settings_.on_header_field = &ResponseParser::on_header_field;
  settings_.on_header_value = &ResponseParser::on_header_value;
  settings_.on_headers_complete = &ResponseParser::on_headers_complete;
  settings_.on_chunk_header = &ResponseParser::on_chunk_header;
  settings_.on_body = &ResponseParser::on_body;
  settings_.on_message_complete = &ResponseParser::on_message_complete;
  // No lenient flag is ever set, as for requests: a response that frames itself ambiguously
  // could poison the next one on a kept-alive connection.
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  // Until start(), there is no response to parse.
  state_ = State::kFailed;
  error_ = "no response expected (start() was not called)";
}

void ResponseParser::start(bool head_request, std::size_t max_head_bytes,
                           std::size_t max_body_bytes) {
  // A reset, not a resume: the previous response ended paused, or failed.
  llhttp_reset(&parser_);
  position_ = 0;
  max_head_bytes_ = max_head_bytes;
  max_body_bytes_ = max_body_bytes;
  head_request_ = head_request;
  state_ = State::kHead;
  last_ = Last::kNone;
  failure_ = ResponseEvent::kError;
  status_ = 0;
  keep_alive_ = false;
  chunked_ = false;
  header_count_ = 0;
  head_end_ = 0;
  wire_end_ = 0;
  body_offset_ = 0;
  body_length_ = 0;
  error_ = {};
}

ResponseEvent ResponseParser::parse(std::span<char> buffer) {
  switch (state_) {
    case State::kFailed:
      return failure_;
    case State::kComplete:
      // Bytes arriving after the response: the connection's framing is no longer trusted.
      if (buffer.size() > position_) keep_alive_ = false;
      return ResponseEvent::kComplete;
    case State::kHead:
    case State::kBody:
      break;
  }
  EDGEFN_RESPONSE_CHECK(buffer.size() >= position_);
  EDGEFN_RESPONSE_CHECK(buffer.size() <= std::numeric_limits<std::uint32_t>::max());

  char* base = buffer.data();
  base_ = base;
  for (;;) {
    // After the head pause this may run with no new byte: llhttp then finishes a message with
    // an empty body (Content-Length: 0) without reading anything.
    const llhttp_errno_t err =
        llhttp_execute(&parser_, base + position_, buffer.size() - position_);
    if (err == HPE_OK) {
      base_ = nullptr;
      position_ = buffer.size();
      return need_more(buffer.size());
    }
    if (err != HPE_PAUSED) {
      base_ = nullptr;
      return fail_from_llhttp(err);
    }
    // Both pauses stop right after the byte that completed the head or the response.
    position_ = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - base);
    if (state_ == State::kComplete) break;
    // The head pause: a body follows.
    head_end_ = position_;
    body_offset_ = head_end_;
    if (head_end_ > max_head_bytes_) {
      base_ = nullptr;
      return fail(ResponseEvent::kTooLarge, "response head too large");
    }
    // A declared length is checked before any body byte is waited for.
    if (!chunked_ && (parser_.flags & F_CONTENT_LENGTH) != 0 &&
        parser_.content_length > max_body_bytes_) {
      base_ = nullptr;
      return fail(ResponseEvent::kTooLarge, "response body too large");
    }
    llhttp_resume(&parser_);
  }
  base_ = nullptr;
  return complete(buffer.size());
}

ResponseEvent ResponseParser::finish(std::span<char> buffer) {
  switch (state_) {
    case State::kFailed:
      return failure_;
    case State::kComplete:
      return ResponseEvent::kComplete;
    case State::kHead:
      return fail(ResponseEvent::kError, position_ == 0 ? "connection closed before the response"
                                                        : "connection closed in the response head");
    case State::kBody:
      break;
  }
  // Only a body that runs until the close ends well here: llhttp calls on_message_complete
  // (which pauses) for it, and reports an invalid EOF state for a cut-short length or chunk.
  base_ = buffer.data();
  const llhttp_errno_t err = llhttp_finish(&parser_);
  base_ = nullptr;
  if (state_ == State::kComplete && (err == HPE_OK || err == HPE_PAUSED)) {
    position_ = buffer.size();
    return ResponseEvent::kComplete;
  }
  if (state_ == State::kFailed) return failure_;
  return fail(ResponseEvent::kError, "connection closed before the end of the response body");
}

std::span<const api::Header> ResponseParser::headers(std::span<const char> buffer) {
  const char* base = buffer.data();
  for (std::size_t i = 0; i < header_count_; ++i) {
    views_[i] = api::Header{std::string_view(base + names_[i].offset, names_[i].length),
                            std::string_view(base + values_[i].offset, values_[i].length)};
  }
  return {views_.data(), header_count_};
}

std::string_view ResponseParser::body(std::span<const char> buffer) const {
  if (body_length_ == 0) return {};
  return {buffer.data() + body_offset_, body_length_};
}

ResponseEvent ResponseParser::complete(std::size_t buffered) {
  // Without a body the response ends with its head.
  if (head_end_ == 0) head_end_ = position_;
  if (head_end_ > max_head_bytes_) {
    return fail(ResponseEvent::kTooLarge, "response head too large");
  }
  if (buffered > position_) keep_alive_ = false;
  return ResponseEvent::kComplete;
}

ResponseEvent ResponseParser::need_more(std::size_t buffered) {
  // Bytes that never complete anything are cut off at the head limit: an endless head (or an
  // endless run of interim responses, which count towards it), and in a chunked body an endless
  // run of chunk-size digits, extensions or trailer fields between two data bytes.
  if (state_ == State::kHead && buffered > max_head_bytes_) {
    return fail(ResponseEvent::kTooLarge, "response head too large");
  }
  if (state_ == State::kBody && chunked_ &&
      buffered - std::max(head_end_, wire_end_) > max_head_bytes_) {
    return fail(ResponseEvent::kTooLarge, "chunk framing or trailer fields too large");
  }
  return ResponseEvent::kNeedMore;
}

ResponseEvent ResponseParser::fail(ResponseEvent event, std::string_view reason) {
  failure_ = event;
  error_ = reason;
  state_ = State::kFailed;
  return event;
}

int ResponseParser::fail_in_callback(ResponseEvent event, std::string_view reason) {
  fail(event, reason);
  return -1;  // llhttp turns this into HPE_USER and stops
}

ResponseEvent ResponseParser::fail_from_llhttp(llhttp_errno_t err) {
  if (state_ == State::kFailed) return failure_;  // a callback has said why
  switch (err) {
    case HPE_INVALID_CONSTANT:
      return fail(ResponseEvent::kError, "not an HTTP response");
    case HPE_INVALID_VERSION:
      return fail(ResponseEvent::kError, "invalid HTTP version");
    case HPE_INVALID_STATUS:
      return fail(ResponseEvent::kError, "invalid status line");
    case HPE_INVALID_HEADER_TOKEN:
      return fail(ResponseEvent::kError, "invalid header field");
    case HPE_INVALID_CONTENT_LENGTH:
      return fail(ResponseEvent::kError, "invalid Content-Length");
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      if ((parser_.flags & F_TRANSFER_ENCODING) != 0) {
        return fail(ResponseEvent::kError, "Content-Length with Transfer-Encoding");
      }
      return fail(ResponseEvent::kError, "more than one Content-Length");
    case HPE_INVALID_TRANSFER_ENCODING:
      return fail(ResponseEvent::kError, "invalid Transfer-Encoding");
    case HPE_INVALID_CHUNK_SIZE:
      return fail(ResponseEvent::kError, "invalid chunk size");
    default:
      return fail(ResponseEvent::kError, "malformed response");
  }
}

std::uint32_t ResponseParser::offset_of(const char* at) const {
  return static_cast<std::uint32_t>(at - base_);
}

int ResponseParser::on_message_begin(llhttp_t* parser) {
  // Also the start of the final response after an interim one, whose fields are dropped.
  ResponseParser* self = self_of(parser);
  self->header_count_ = 0;
  self->last_ = Last::kNone;
  return 0;
}

int ResponseParser::on_header_field(llhttp_t* parser, const char* at, std::size_t length) {
  ResponseParser* self = self_of(parser);
  if (self->state_ != State::kHead) return 0;  // trailer fields are ignored
  // Folded here, piece by piece, so that every consumer can compare bytes.
  char* name = self->base_ + self->offset_of(at);
  for (std::size_t i = 0; i < length; ++i) {
    name[i] = to_lower(name[i]);
  }
  if (self->last_ == Last::kField) {
    Span& span = self->names_[self->header_count_ - 1];
    if (self->offset_of(at) != span.offset + span.length) {
      return self->fail_in_callback(ResponseEvent::kError, "invalid header field");
    }
    span.length += static_cast<std::uint32_t>(length);
    return 0;
  }
  if (self->header_count_ == kMaxResponseHeaders) {
    return self->fail_in_callback(ResponseEvent::kError, "too many header fields");
  }
  const Span span{self->offset_of(at), static_cast<std::uint32_t>(length)};
  self->names_[self->header_count_] = span;
  self->values_[self->header_count_] = Span{span.offset + span.length, 0};  // an empty value
  ++self->header_count_;
  self->last_ = Last::kField;
  return 0;
}

int ResponseParser::on_header_value(llhttp_t* parser, const char* at, std::size_t length) {
  ResponseParser* self = self_of(parser);
  if (self->state_ != State::kHead) return 0;
  Span& value = self->values_[self->header_count_ - 1];
  const std::uint32_t offset = self->offset_of(at);
  if (self->last_ != Last::kValue) {
    value = Span{offset, static_cast<std::uint32_t>(length)};
    self->last_ = Last::kValue;
    return 0;
  }
  // Pieces of one value are adjacent, except across an obs-fold (CRLF and whitespace), which
  // RFC 9112 section 5.2 has a client replace with spaces: done in place, the value stays one
  // view.
  if (offset < value.offset + value.length) {
    return self->fail_in_callback(ResponseEvent::kError, "invalid header field");
  }
  for (std::uint32_t i = value.offset + value.length; i < offset; ++i) {
    char& c = self->base_[i];
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
      return self->fail_in_callback(ResponseEvent::kError, "invalid header field");
    }
    c = ' ';
  }
  value.length = offset + static_cast<std::uint32_t>(length) - value.offset;
  return 0;
}

int ResponseParser::on_headers_complete(llhttp_t* parser) {
  ResponseParser* self = self_of(parser);
  const int status = parser->status_code;
  self->status_ = status;
  if (status == 101) {
    // Never asked for: ctx.fetch sends no Upgrade.
    return self->fail_in_callback(ResponseEvent::kError, "unexpected 101 Switching Protocols");
  }
  if (status < 100) return self->fail_in_callback(ResponseEvent::kError, "invalid status code");
  if (parser->http_major != 1) {
    return self->fail_in_callback(ResponseEvent::kError, "HTTP version not supported");
  }
  // An interim response's fields are dropped at the next on_message_begin; it has no body.
  if (is_interim(status)) return kSkipBody;

  for (std::size_t i = 0; i < self->header_count_; ++i) {
    // llhttp lets an empty name and DEL in values through; neither may reach a function.
    Span& value = self->values_[i];
    const std::string_view raw(self->base_ + value.offset, value.length);
    const std::string_view trimmed = trim_ows(raw);
    if (self->names_[i].length == 0 || trimmed.find('\x7f') != std::string_view::npos) {
      return self->fail_in_callback(ResponseEvent::kError, "invalid header field");
    }
    value = Span{value.offset + static_cast<std::uint32_t>(trimmed.data() - raw.data()),
                 static_cast<std::uint32_t>(trimmed.size())};
  }

  // RFC 9112 section 6.3: these have no body whatever their framing fields say.
  if (self->head_request_ || status == 204 || status == 304) return kSkipBody;

  if ((parser->flags & F_TRANSFER_ENCODING) != 0) {
    // Only "chunked" is decoded. Any other coding would hand the function an encoded body as
    // if it were the content (and a final coding other than chunked means read-until-close).
    int chunked = 0;
    bool other = false;
    for (std::size_t i = 0; i < self->header_count_; ++i) {
      const Span& name = self->names_[i];
      if (std::string_view(self->base_ + name.offset, name.length) != "transfer-encoding") {
        continue;
      }
      const Span& value = self->values_[i];
      for_each_list_item(std::string_view(self->base_ + value.offset, value.length),
                         [&](std::string_view coding) {
                           if (iequals(coding, "chunked")) {
                             ++chunked;
                           } else {
                             other = true;
                           }
                           return true;
                         });
    }
    if (other || chunked != 1) {
      return self->fail_in_callback(ResponseEvent::kError, "unsupported transfer coding");
    }
  }
  self->chunked_ = (parser->flags & F_CHUNKED) != 0;
  self->state_ = State::kBody;
  return HPE_PAUSED;  // parse() learns where the head ends, checks the limits and resumes
}

int ResponseParser::on_chunk_header(llhttp_t* parser) {
  // A chunk that would pass the body limit is refused when announced, not once received.
  ResponseParser* self = self_of(parser);
  if (parser->content_length > self->max_body_bytes_ - self->body_length_) {
    return self->fail_in_callback(ResponseEvent::kTooLarge, "response body too large");
  }
  return 0;
}

int ResponseParser::on_body(llhttp_t* parser, const char* at, std::size_t length) {
  ResponseParser* self = self_of(parser);
  if (length > self->max_body_bytes_ - self->body_length_) {
    return self->fail_in_callback(ResponseEvent::kTooLarge, "response body too large");
  }
  // The body is written right after the head, over the chunk framing already parsed. The
  // write position never passes the read position (framing only ever precedes data), so
  // llhttp never reads a byte written here; for a Content-Length or close-delimited body both
  // positions are the same and nothing moves.
  char* to = self->base_ + self->body_offset_ + self->body_length_;
  if (to != at) std::memmove(to, at, length);
  self->body_length_ += length;
  self->wire_end_ = self->offset_of(at) + length;
  return 0;
}

int ResponseParser::on_message_complete(llhttp_t* parser) {
  ResponseParser* self = self_of(parser);
  // After an interim response llhttp goes on to the next message: the final response.
  if (is_interim(parser->status_code)) return 0;
  // Read before llhttp clears its flags. False for a close-delimited body as well (it needs
  // EOF); complete() also clears it if any byte follows.
  self->keep_alive_ = llhttp_should_keep_alive(parser) != 0;
  self->state_ = State::kComplete;
  // Pausing keeps llhttp from parsing whatever follows as another response.
  return HPE_PAUSED;
}

}  // namespace edgefn::runtime::http
