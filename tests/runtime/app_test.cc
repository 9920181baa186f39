// Tests for build_app (runtime/app.h): module look-up and init, route compilation, diagnostics.
#include "runtime/app.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "functions/registry.h"

namespace edgefn::runtime {
namespace {

// A module that only this test binary has: it fails on request, so messages and positions of
// init failures can be asserted exactly without depending on a built-in module's wording.
//   fail = "<message>"   create() fails with that message ("" fails with no message)
//   (no config at all)   create() fails with "needs a config"
// Otherwise it succeeds and keeps the config it saw.
class ProbeModule final : public api::Module {
 public:
  explicit ProbeModule(api::Config config) : config_(std::move(config)) {}

  static std::unique_ptr<api::Module> create(const api::Config& config, std::string& error) {
    if (config.values().empty()) {
      error = "needs a config";
      return nullptr;
    }
    if (std::optional<std::string_view> message = config.string("fail")) {
      error = std::string(*message);
      return nullptr;
    }
    return std::make_unique<ProbeModule>(config);
  }

  api::Task<api::Response> handle(const api::Request& /*request*/,
                                  api::Context& ctx) const override {
    co_return ctx.response(204);
  }

  const api::Config& config() const { return config_; }

 private:
  api::Config config_;
};

EDGEFN_MODULE(test_probe, "test-probe", "app_test's probe module", &ProbeModule::create);

Manifest parse(std::string_view text, std::string_view path = "edgefn.toml") {
  std::vector<Diagnostic> errors;
  std::optional<Manifest> manifest = parse_manifest(text, path, errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  if (!manifest) return Manifest{};
  return std::move(*manifest);
}

// The diagnostics build_app reports for `text`, which must itself parse.
std::vector<std::string> build_errors(std::string_view text) {
  std::vector<Diagnostic> errors;
  const std::unique_ptr<const App> app = build_app(parse(text), errors);
  EXPECT_EQ(app, nullptr);
  std::vector<std::string> lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  return lines;
}

std::unique_ptr<const App> build_ok(Manifest manifest) {
  std::vector<Diagnostic> errors;
  std::unique_ptr<const App> app = build_app(std::move(manifest), errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  return app;
}

using Lines = std::vector<std::string>;

struct Routed {
  router::Match match;
  std::string params;  // "name=value;..." for the matched route
};

Routed route(const App& app, std::string_view host, std::string_view method,
             std::string_view path) {
  std::array<api::Param, router::kMaxParams> params{};
  Routed routed{app.routes().match(host, method, path, params), {}};
  for (std::size_t i = 0; i < routed.match.param_count; ++i) {
    routed.params += std::string(params[i].name) + "=" + std::string(params[i].value) + ";";
  }
  return routed;
}

TEST(BuildApp, ExampleManifestBuilds) {
  std::vector<Diagnostic> errors;
  std::optional<Manifest> manifest = load_manifest(EDGEFN_DEPLOY_DIR "/edgefn.toml", errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(manifest.has_value());
  const std::unique_ptr<const App> app = build_ok(std::move(*manifest));
  ASSERT_NE(app, nullptr);

  ASSERT_EQ(app->functions().size(), 8u);
  EXPECT_EQ(app->functions()[7].name, "proxy");
  EXPECT_EQ(app->functions()[7].upstreams, std::vector<std::uint32_t>{0});
  ASSERT_EQ(app->upstreams().size(), 1u);
  ASSERT_TRUE(app->upstreams()[0].address);
  EXPECT_EQ(app->upstreams()[0].address->to_string(), "127.0.0.1:8080");
  const Function& hello = app->functions()[0];
  EXPECT_EQ(hello.name, "hello");
  EXPECT_EQ(hello.module_name, "hello");
  EXPECT_NE(hello.module, nullptr);
  EXPECT_EQ(hello.routes, (std::vector<std::string>{"GET /hello", "GET /hello/:name"}));
  EXPECT_EQ(hello.max_body_bytes, app->server().max_body_bytes);
  EXPECT_EQ(hello.config.string("greeting"), "Hello");
  const Function& echo = app->functions()[1];
  EXPECT_EQ(echo.name, "echo");
  EXPECT_EQ(echo.max_body_bytes, 64u * 1024);
  const Function& slow = app->functions()[2];
  EXPECT_EQ(slow.name, "slow");
  EXPECT_EQ(slow.timeout, std::chrono::seconds(1));
  EXPECT_EQ(app->functions()[3].module_name, "static");
  const Function& orders = app->functions()[4];
  EXPECT_EQ(orders.name, "orders");
  EXPECT_NE(orders.rules.body, nullptr);  // deploy/schemas/order.json
  EXPECT_EQ(orders.rules.query.size(), 1u);
  EXPECT_EQ(orders.rules.headers.size(), 1u);
  EXPECT_NE(orders.rate_limit, nullptr);
  ASSERT_NE(orders.concurrency, nullptr);
  EXPECT_EQ(orders.concurrency->settings().max, 64u);
  EXPECT_EQ(orders.concurrency->settings().queue, 256u);
  EXPECT_EQ(orders.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(app->functions()[6].module_name, "markdown");
  EXPECT_TRUE(app->functions()[6].offload);
  const Function& kv = app->functions()[5];
  EXPECT_EQ(kv.module_name, "kv");
  EXPECT_EQ(kv.config.string("prefix"), "demo:");
  EXPECT_EQ(app->manifest().cache.kv_bytes, 64u << 20);
  EXPECT_EQ(app->routes().size(), 16u);

  const Routed greeting = route(*app, "localhost:8080", "GET", "/hello/edge");
  EXPECT_EQ(greeting.match.status, router::Match::Status::kFound);
  EXPECT_EQ(greeting.match.target, 0u);
  EXPECT_EQ(greeting.params, "name=edge;");
  const Routed echoed = route(*app, "localhost", "POST", "/echo/a/b");
  EXPECT_EQ(echoed.match.status, router::Match::Status::kFound);
  EXPECT_EQ(echoed.match.target, 1u);
  EXPECT_EQ(echoed.params, "rest=a/b;");
  const Routed home = route(*app, "", "GET", "/");
  EXPECT_EQ(home.match.status, router::Match::Status::kFound);
  EXPECT_EQ(home.match.target, 3u);
  EXPECT_EQ(route(*app, "", "DELETE", "/echo").match.status,
            router::Match::Status::kMethodNotAllowed);
}

TEST(BuildApp, FunctionsAreTheRouteTargetsAndCarryTheirConfig) {
  const std::unique_ptr<const App> app = build_ok(parse(R"(
[server]
max_body_bytes = "2MiB"

[functions.first]
module = "test-probe"
routes = ["GET /first", "PUT /first/:id"]
config = { answer = 42, tags = ["a"] }

[functions.second]
module = "test-probe"
routes = ["GET /second"]
host = "Api.Example.com"
max_body_bytes = 100
config = { answer = 7 }
)",
                                                        "/srv/site/edgefn.toml"));
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->manifest().path, "/srv/site/edgefn.toml");
  ASSERT_EQ(app->functions().size(), 2u);

  const Function& first = app->functions()[0];
  EXPECT_EQ(first.max_body_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(first.host, "");
  EXPECT_EQ(first.routes, (std::vector<std::string>{"GET /first", "PUT /first/:id"}));
  const auto* probe = dynamic_cast<const ProbeModule*>(first.module.get());
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->config().integer("answer"), 42);
  EXPECT_EQ(probe->config().base_dir(), "/srv/site");
  EXPECT_EQ(first.config.integer("answer"), 42);

  const Function& second = app->functions()[1];
  EXPECT_EQ(second.max_body_bytes, 100u);
  EXPECT_EQ(second.host, "api.example.com");

  const Routed put = route(*app, "x", "PUT", "/first/9");
  EXPECT_EQ(put.match.status, router::Match::Status::kFound);
  EXPECT_EQ(put.match.target, 0u);
  EXPECT_EQ(put.params, "id=9;");
  EXPECT_EQ(route(*app, "API.example.com:443", "GET", "/second").match.target, 1u);
  EXPECT_EQ(route(*app, "other.example.com", "GET", "/second").match.status,
            router::Match::Status::kNotFound);
}

TEST(BuildApp, RelativeFilesResolveAgainstTheManifestDirectory) {
  const std::unique_ptr<const App> app = build_ok(parse(R"([functions.page]
module = "static"
routes = ["GET /page"]
config = { file = "page.html", content_type = "text/html" }
)",
                                                        EDGEFN_TESTDATA_DIR "/edgefn.toml"));
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->functions()[0].config.base_dir(), EDGEFN_TESTDATA_DIR);

  // The same relative name of a file that is not there: the module looked beside the manifest.
  std::vector<Diagnostic> errors;
  EXPECT_EQ(build_app(parse(R"([functions.page]
module = "static"
routes = ["GET /page"]
config = { file = "missing.html" }
)",
                            EDGEFN_TESTDATA_DIR "/edgefn.toml"),
                      errors),
            nullptr);
  ASSERT_EQ(errors.size(), 1u);
  const std::string message = errors[0].to_string();
  EXPECT_TRUE(message.starts_with(EDGEFN_TESTDATA_DIR "/edgefn.toml:4:10: functions.page.config: "))
      << message;
  EXPECT_NE(message.find(EDGEFN_TESTDATA_DIR "/missing.html"), std::string::npos) << message;
}

TEST(BuildApp, UnknownModuleListsTheRegisteredOnes) {
  const std::string names = functions::Registry::instance().names();
  // The built-in modules are all linked into this test, in sorted order.
  EXPECT_NE(names.find("echo, hello, kv, markdown, proxy, static"), std::string::npos) << names;
  EXPECT_EQ(
      build_errors(R"([functions.a]
routes = ["GET /a"]
module = "helo"
)"),
      Lines{"edgefn.toml:3:10: functions.a.module: unknown module \"helo\"; this binary has: " +
            names});
}

TEST(BuildApp, InitFailureIsReportedAtTheConfig) {
  EXPECT_EQ(build_errors(R"([functions.a]
module = "test-probe"
routes = ["GET /a"]
config = { fail = "answer: must be 42" }
)"),
            Lines{"edgefn.toml:4:10: functions.a.config: answer: must be 42"});
  EXPECT_EQ(
      build_errors(R"([functions.a]
module = "test-probe"
routes = ["GET /a"]

[functions.a.config]
fail = ""
)"),
      Lines{R"(edgefn.toml:5:1: functions.a.config: module "test-probe" failed to initialize)"});
}

TEST(BuildApp, InitFailureWithoutConfigIsReportedAtTheFunction) {
  EXPECT_EQ(build_errors(R"(
[functions.a]
module = "test-probe"
routes = ["GET /a"]
)"),
            Lines{"edgefn.toml:2:1: functions.a: needs a config"});
}

TEST(BuildApp, BuiltInModuleConfigErrors) {
  // The static module's own message, at the function's config table.
  const std::vector<std::string> errors = build_errors(R"([functions.page]
module = "static"
routes = ["GET /"]
config = { status = 200 }
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].starts_with("edgefn.toml:4:10: functions.page.config: ")) << errors[0];
  EXPECT_NE(errors[0].find("body"), std::string::npos) << errors[0];
}

TEST(BuildApp, RouteConflictNamesTheOtherRouteByItsKey) {
  EXPECT_EQ(
      build_errors(R"([functions.a]
module = "test-probe"
routes = ["GET /x", "GET /items/:id"]
config = { ok = true }

[functions.b]
module = "test-probe"
routes = ["POST /items/:id", "GET /items/:item"]
config = { ok = true }
)"),
      Lines{
          R"(edgefn.toml:8:30: functions.b.routes[1]: conflicts with functions.a.routes[1] "GET /items/:id" (line 3))"});
}

TEST(BuildApp, SamePatternOnDifferentHostsIsNoConflict) {
  const std::unique_ptr<const App> app = build_ok(parse(R"([functions.a]
module = "test-probe"
routes = ["GET /x"]
host = "a.example.com"
config = { ok = true }

[functions.b]
module = "test-probe"
routes = ["GET /x"]
config = { ok = true }
)"));
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(route(*app, "a.example.com", "GET", "/x").match.target, 0u);
  EXPECT_EQ(route(*app, "b.example.com", "GET", "/x").match.target, 1u);
}

TEST(BuildApp, InvalidPatternIsReportedAtTheRoute) {
  const std::vector<std::string> errors = build_errors(R"([functions.a]
module = "test-probe"
routes = ["GET /ok", "GET /a/*rest/b"]
config = { ok = true }
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].starts_with("edgefn.toml:3:22: functions.a.routes[1]: ")) << errors[0];
  EXPECT_NE(errors[0].find("/a/*rest/b"), std::string::npos) << errors[0];
}

TEST(BuildApp, EveryErrorInOneRunInFileOrder) {
  std::vector<Diagnostic> errors;
  errors.push_back(Diagnostic{"other.toml", {9, 9}, "", "kept"});
  const std::unique_ptr<const App> app = build_app(parse(R"([functions.a]
module = "test-probe"
routes = ["GET /dup"]
config = { fail = "first failure" }

[functions.b]
module = "nope"
routes = ["GET /dup"]

[functions.c]
module = "test-probe"
routes = ["GET /c"]
config = { fail = "second failure" }
)"),
                                                   errors);
  EXPECT_EQ(app, nullptr);
  std::vector<std::string> lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  EXPECT_EQ(
      lines,
      (Lines{
          "other.toml:9:9: kept",
          "edgefn.toml:4:10: functions.a.config: first failure",
          "edgefn.toml:7:10: functions.b.module: unknown module \"nope\"; this binary has: " +
              functions::Registry::instance().names(),
          R"(edgefn.toml:8:11: functions.b.routes[0]: conflicts with functions.a.routes[0] "GET /dup" (line 3))",
          "edgefn.toml:13:10: functions.c.config: second failure",
      }));
}

// --- Request validation rules ------------------------------------------------------------------

// A directory of schema files for one test, beside which its manifest "lives".
class BuildAppSchemas : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test process: ctest runs the tests of this fixture in parallel.
    dir_ = ::testing::TempDir() + "edgefn_app_test_schemas_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_ + "/schemas");
    write("schemas/order.json", R"({"type":"object","required":["id"]})");
    write("schemas/broken.json", R"({"type": )");
    write("schemas/nonsense.json", R"({"type":"nonsense"})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, std::string_view text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string manifest_path() const { return dir_ + "/edgefn.toml"; }

  std::string dir_;
};

TEST_F(BuildAppSchemas, SchemasAndPatternsAreCompiled) {
  const std::unique_ptr<const App> app = build_ok(parse(R"([functions.api]
module = "echo"
routes = ["POST /orders"]
body_schema = "schemas/order.json"
query = { required = ["page"], page = "^[0-9]+$" }
headers = { "x-api-key" = "^[a-z]{4}$" }
)",
                                                        manifest_path()));
  ASSERT_NE(app, nullptr);
  const router::RequestRules& rules = app->functions()[0].rules;
  ASSERT_NE(rules.body, nullptr);
  ASSERT_EQ(rules.query.size(), 1u);
  EXPECT_EQ(rules.query[0].pattern_text, "^[0-9]+$");
  ASSERT_EQ(rules.headers.size(), 1u);
  EXPECT_FALSE(rules.headers[0].required);

  router::ValidationScratch scratch;
  router::Rejection rejection;
  const std::array headers = {api::Header{"x-api-key", "abcd"}};
  EXPECT_TRUE(router::validate_request(rules, "POST", "page=1", api::HeaderList(headers),
                                       R"({"id":1})", scratch, rejection));
  EXPECT_FALSE(router::validate_request(rules, "POST", "page=1", api::HeaderList(headers), "{}",
                                        scratch, rejection));
  EXPECT_EQ(rejection.members, R"("pointer":"","keyword":"required")");
  // A function without rules checks nothing.
  const std::unique_ptr<const App> plain =
      build_ok(parse("[functions.h]\nmodule = \"hello\"\nroutes = [\"GET /h\"]\n"));
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->functions()[0].rules.empty());
}

TEST_F(BuildAppSchemas, BadSchemasAndPatternsAreReportedAtTheirValues) {
  std::vector<Diagnostic> errors;
  EXPECT_EQ(build_app(parse(R"([functions.a]
module = "echo"
routes = ["POST /a"]
body_schema = "schemas/missing.json"

[functions.b]
module = "echo"
routes = ["POST /b"]
body_schema = "schemas/broken.json"
query = { page = "([0-9]" }

[functions.c]
module = "echo"
routes = ["POST /c"]
body_schema = "schemas/nonsense.json"
headers = { required = ["x-key"], "x-key" = "[z-a]" }
)",
                            manifest_path()),
                      errors),
            nullptr);
  std::vector<std::string> lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  const std::string file = manifest_path();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], file + ":4:15: functions.a.body_schema: cannot open \"" + dir_ +
                          "/schemas/missing.json\": No such file or directory");
  EXPECT_EQ(lines[1], file + ":9:15: functions.b.body_schema: " + dir_ +
                          "/schemas/broken.json: the schema is not JSON: Invalid value at "
                          "offset 9");
  EXPECT_TRUE(lines[2].starts_with(file + ":10:18: functions.b.query.page: invalid regular "
                                          "expression: "))
      << lines[2];
  EXPECT_TRUE(lines[3].starts_with(file + ":15:15: functions.c.body_schema: " + dir_ +
                                   "/schemas/nonsense.json: not a valid JSON Schema (draft 7): "))
      << lines[3];
  EXPECT_TRUE(lines[4].starts_with(file + ":16:45: functions.c.headers.x-key: invalid regular "
                                          "expression: "))
      << lines[4];
}

TEST_F(BuildAppSchemas, ASchemaPatternAndAnOversizedSchemaAreReportedAtBodySchema) {
  write("schemas/bad-pattern.json", R"({"properties":{"id":{"pattern":"([0-9]"}}})");
  write("schemas/huge.json", "{\"title\":\"" + std::string(1 << 20, 'x') + "\"}");
  std::vector<Diagnostic> errors;
  EXPECT_EQ(build_app(parse(R"([functions.a]
module = "echo"
routes = ["POST /a"]
body_schema = "schemas/bad-pattern.json"

[functions.b]
module = "echo"
routes = ["POST /b"]
body_schema = "schemas/huge.json"
)",
                            manifest_path()),
                      errors),
            nullptr);
  ASSERT_EQ(errors.size(), 2u);
  const std::string file = manifest_path();
  EXPECT_TRUE(errors[0].to_string().starts_with(
      file + ":4:15: functions.a.body_schema: " + dir_ +
      "/schemas/bad-pattern.json: not a valid JSON Schema (draft 7): pattern \"([0-9]\": "
      "invalid regular expression: "))
      << errors[0].to_string();
  EXPECT_EQ(errors[1].to_string(), file + ":9:15: functions.b.body_schema: \"" + dir_ +
                                       "/schemas/huge.json\" is larger than 1MiB");
}

}  // namespace
}  // namespace edgefn::runtime
