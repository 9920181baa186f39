// The `markdown` module: the request body, as GitHub Flavored Markdown, rendered to HTML with
// cmark-gfm. CPU-bound: the example manifest runs it with `offload = true`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "functions/api/module.h"

struct cmark_syntax_extension;

namespace edgefn::functions {

// 200 text/html; charset=utf-8 with the rendered body. Extensions on: table, autolink,
// strikethrough and tagfilter. Raw HTML is never passed through: cmark's safe mode (the default
// without CMARK_OPT_UNSAFE) replaces it with an `<!-- raw HTML omitted -->` comment and drops
// javascript:, vbscript:, file: and most data: links. Invalid UTF-8 is replaced with U+FFFD.
// An empty body is 400 and a body over max_input_bytes 413, both JSON errors. handle() never
// suspends; cmark allocates its tree and output on the heap (the output is then copied into
// ctx.arena()).
//
// Config:
//   `max_input_bytes` (1 to 64 MiB, default: none beyond the route's max_body_bytes).
//   `spin_ms` (0 to 10000, default 0): after rendering, keeps computing until that many
//   milliseconds have passed since handle() began — a stand-in for a heavier renderer, for
//   trying out offload, function timeouts and the offload queue (as echo's delay_ms is for a
//   slow origin). Only meaningful with `offload = true`: on a worker it would hold the loop.
class MarkdownModule final : public api::Module {
 public:
  static constexpr std::int64_t kMaxInputBytes = 64 * 1024 * 1024;
  static constexpr std::int64_t kMaxSpinMs = 10'000;

  // Registers cmark-gfm's core extensions (once per process; not thread-safe, so here, before
  // the server serves) and looks up the ones it attaches. Returns nullptr and sets `error` for
  // an unknown key or a value out of range.
  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error);

  MarkdownModule(std::uint64_t max_input_bytes, std::chrono::milliseconds spin,
                 std::vector<cmark_syntax_extension*> extensions)
      : max_input_bytes_(max_input_bytes), spin_(spin), extensions_(std::move(extensions)) {}

  api::Task<api::Response> handle(const api::Request& request, api::Context& ctx) const override;

 private:
  std::uint64_t max_input_bytes_;  // 0: no limit of its own
  std::chrono::milliseconds spin_;
  std::vector<cmark_syntax_extension*> extensions_;  // owned by cmark's registry, read-only
};

}  // namespace edgefn::functions
