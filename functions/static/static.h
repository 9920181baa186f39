// The `static` module: answers every request with a fixed status, Content-Type and body.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "functions/api/module.h"

namespace edgefn::functions {

// Config:
//   status        integer 100..599, default 200
//   content_type  string, default "text/plain; charset=utf-8"; no control characters
//   body          string: the response body, or
//   file          string: a file whose contents are the body, relative to the manifest's
//                 directory (Config::base_dir()); an absolute path is used as is
//   headers       array of "Name: value" strings added to the response (Cache-Control, ETag,
//                 Last-Modified...); not the framing fields nor Content-Type (see content_type)
// Exactly one of `body` and `file`. The file is read once, in create(), and must be a regular
// file of at most kMaxFileBytes. Statuses 1xx, 204 and 304 carry no content: the body must be
// empty and no Content-Type is sent. Any other key is an error.
// handle() never suspends; it copies the prebuilt body into ctx.arena() and nothing else.
class StaticModule final : public api::Module {
 public:
  static constexpr std::size_t kMaxFileBytes = std::size_t{16} << 20;  // 16 MiB
  static constexpr std::string_view kDefaultContentType = "text/plain; charset=utf-8";

  // Returns nullptr and sets `error` ("<key>: <reason>", several joined by "; ") on bad config
  // or an unreadable file (the message names the path and the system's reason). Reads the file
  // with blocking I/O: call it at startup or reload, never on a worker's event loop.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  StaticModule(int status, std::string content_type, std::string body,
               std::vector<std::pair<std::string, std::string>> headers = {})
      : status_(status),
        content_type_(std::move(content_type)),
        body_(std::move(body)),
        headers_(std::move(headers)) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  // All immutable after create(), so handle() is safe on every thread.
  int status_;
  std::string content_type_;  // empty: send no Content-Type
  std::string body_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace edgefn::functions
