// Rendering with cmark-gfm, and the module's config.
#include "functions/markdown/markdown.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "functions/api/json.h"

namespace edgefn::functions {

namespace {

// Safe mode is cmark's default (no CMARK_OPT_UNSAFE); it is spelled out so nobody drops it.
// Validating UTF-8 keeps the HTML well-formed whatever bytes were posted.
constexpr int kOptions = CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8 | CMARK_OPT_GITHUB_PRE_LANG;

// tagfilter escapes the tags GitHub filters (<script>, <iframe>, ...) should raw HTML ever be
// let through; with safe mode it is a second fence.
constexpr std::string_view kExtensions[] = {"table", "autolink", "strikethrough", "tagfilter"};

struct ParserFree {
  void operator()(cmark_parser* parser) const { cmark_parser_free(parser); }
};
struct NodeFree {
  void operator()(cmark_node* node) const { cmark_node_free(node); }
};
struct CharFree {
  void operator()(char* text) const { std::free(text); }
};

bool set_integer(const api::Config& config, std::string_view key, std::int64_t max,
                 std::int64_t min, std::int64_t& out, std::string& problems) {
  const std::optional<std::int64_t> value = config.integer(key);
  if (value && *value >= min && *value <= max) {
    out = *value;
    return true;
  }
  if (!problems.empty()) problems += "; ";
  problems.append(key)
      .append(": expected an integer from ")
      .append(std::to_string(min))
      .append(" to ")
      .append(std::to_string(max));
  return false;
}

}  // namespace

std::unique_ptr<api::Module> MarkdownModule::create(const api::Config& config, std::string& error) {
  std::string problems;
  std::int64_t max_input = 0;
  std::int64_t spin = 0;
  for (const auto& [key, value] : config.values()) {
    if (key == "max_input_bytes") {
      set_integer(config, key, kMaxInputBytes, 1, max_input, problems);
    } else if (key == "spin_ms") {
      set_integer(config, key, kMaxSpinMs, 0, spin, problems);
    } else {
      if (!problems.empty()) problems += "; ";
      problems.append(key).append(": unknown key (markdown accepts: max_input_bytes, spin_ms)");
    }
  }
  if (!problems.empty()) {
    error = std::move(problems);
    return nullptr;
  }
  cmark_gfm_core_extensions_ensure_registered();
  std::vector<cmark_syntax_extension*> extensions;
  for (std::string_view name : kExtensions) {
    cmark_syntax_extension* extension = cmark_find_syntax_extension(std::string(name).c_str());
    if (extension == nullptr) {
      error = "cmark-gfm has no \"" + std::string(name) + "\" extension";
      return nullptr;
    }
    extensions.push_back(extension);
  }
  return std::make_unique<MarkdownModule>(static_cast<std::uint64_t>(max_input),
                                          std::chrono::milliseconds(spin), std::move(extensions));
}

api::Task<api::Response> MarkdownModule::handle(const api::Request& request,
                                                api::Context& ctx) const {
  const auto started = std::chrono::steady_clock::now();
  if (request.body.empty()) co_return ctx.error(400, "the request body holds no Markdown");
  if (max_input_bytes_ != 0 && request.body.size() > max_input_bytes_) {
    co_return ctx.error(413, "the Markdown is longer than max_input_bytes");
  }
  const std::unique_ptr<cmark_parser, ParserFree> parser(cmark_parser_new(kOptions));
  for (cmark_syntax_extension* extension : extensions_)
    cmark_parser_attach_syntax_extension(parser.get(), extension);
  cmark_parser_feed(parser.get(), request.body.data(), request.body.size());
  const std::unique_ptr<cmark_node, NodeFree> document(cmark_parser_finish(parser.get()));
  const std::unique_ptr<char, CharFree> html(cmark_render_html(
      document.get(), kOptions, cmark_parser_get_syntax_extensions(parser.get())));

  api::Response response = ctx.response(200);
  response.set_header("Content-Type", "text/html; charset=utf-8");
  response.body.assign(html.get());
  // Busy on purpose (see spin_ms): the point is to hold a CPU, as real rendering work would.
  while (spin_.count() != 0 && std::chrono::steady_clock::now() - started < spin_) {
  }
  co_return response;
}

}  // namespace edgefn::functions
