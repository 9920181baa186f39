// Tests the `markdown` module: GFM extensions (tables, autolinks, strikethrough), raw HTML
// filtered, the empty-body and max_input_bytes errors, its config errors and spin_ms.
#include "functions/markdown/markdown.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "functions/registry.h"
#include "tests/functions/module_harness.h"

namespace edgefn::functions {
namespace {

using testing::create_error;
using testing::create_ok;
using testing::Harness;
using testing::run;

const api::ModuleSpec& spec() {
  return testing::module_spec("markdown");
}

using testing::config_of;

struct Rendered {
  int status;
  std::string content_type;
  std::string body;
};

Rendered render(std::string_view markdown, const api::Config& config = {}) {
  Harness h;
  std::unique_ptr<api::Module> module = create_ok(spec(), config);
  if (!module) return {};
  api::Request request;
  request.method = "POST";
  request.path = "/markdown";
  request.body = markdown;
  api::Context ctx = h.context();
  const api::Response response = run(module->handle(request, ctx));
  return {response.status, std::string(response.header("content-type")),
          std::string(response.body)};
}

TEST(Markdown, RendersCommonMark) {
  const Rendered r = render("# Title\n\nSome *emphasis* and `code`.\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<h1>Title</h1>\n<p>Some <em>emphasis</em> and <code>code</code>.</p>\n");
}

TEST(Markdown, Tables) {
  const Rendered r = render("| a | b |\n|---|--:|\n| 1 | 2 |\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "<table>\n<thead>\n<tr>\n<th>a</th>\n<th align=\"right\">b</th>\n</tr>\n</thead>\n"
            "<tbody>\n<tr>\n<td>1</td>\n<td align=\"right\">2</td>\n</tr>\n</tbody>\n</table>\n");
}

TEST(Markdown, AutolinksAndStrikethrough) {
  const Rendered r = render("see www.example.com and https://edgefn.dev/x ~~old~~\n");
  EXPECT_EQ(r.body,
            "<p>see <a href=\"http://www.example.com\">www.example.com</a> and "
            "<a href=\"https://edgefn.dev/x\">https://edgefn.dev/x</a> <del>old</del></p>\n");
}

TEST(Markdown, RawHtmlIsFiltered) {
  const Rendered r = render(
      "<script>alert(1)</script>\n\ninline <img src=x onerror=alert(1)> text\n\n"
      "[link](javascript:alert(1))\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("<script"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<img"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("javascript:"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<!-- raw HTML omitted -->"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<a href=\"\">link</a>"), std::string::npos) << r.body;
}

TEST(Markdown, InvalidUtf8BecomesReplacementCharacters) {
  const Rendered r = render(
      "a\xff"
      "b\n");
  EXPECT_EQ(r.body,
            "<p>a\xEF\xBF\xBD"
            "b</p>\n");
}

TEST(Markdown, EmptyBodyIs400) {
  const Rendered r = render("");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"the request body holds no Markdown","status":400})");
}

TEST(Markdown, MaxInputBytes) {
  const api::Config config = config_of({{"max_input_bytes", std::int64_t{8}}});
  EXPECT_EQ(render("12345678", config).status, 200);
  const Rendered r = render("123456789", config);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"error":"the Markdown is longer than max_input_bytes","status":413})");
}

TEST(Markdown, SpinHoldsTheCallAtLeastThatLong) {
  const auto start = std::chrono::steady_clock::now();
  const Rendered r = render("x", config_of({{"spin_ms", std::int64_t{30}}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
}

TEST(Markdown, ConfigErrors) {
  EXPECT_EQ(create_error(spec(), config_of({{"max_input_bytes", std::int64_t{0}}})),
            "max_input_bytes: expected an integer from 1 to 67108864");
  EXPECT_EQ(create_error(spec(), config_of({{"spin_ms", std::string("5")}})),
            "spin_ms: expected an integer from 0 to 10000");
  EXPECT_EQ(create_error(spec(), config_of({{"safe", false}})),
            "safe: unknown key (markdown accepts: max_input_bytes, spin_ms)");
}

}  // namespace
}  // namespace edgefn::functions
