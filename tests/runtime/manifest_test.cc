// Tests for the manifest loader (runtime/manifest.h): values, defaults, and the exact text of
// every diagnostic for broken manifests.
#include "runtime/manifest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kHello = R"(
[functions.hello]
module = "hello"
routes = ["GET /hello"]
)";

// The diagnostics for `text` (parsed as "edgefn.toml"), as the user sees them.
std::vector<std::string> errors_of(std::string_view text) {
  std::vector<Diagnostic> errors;
  const std::optional<Manifest> manifest = parse_manifest(text, "edgefn.toml", errors);
  EXPECT_FALSE(manifest.has_value()) << "expected the manifest to be rejected";
  std::vector<std::string> lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  return lines;
}

Manifest parse_ok(std::string_view text, std::string_view path = "edgefn.toml") {
  std::vector<Diagnostic> errors;
  std::optional<Manifest> manifest = parse_manifest(text, path, errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  if (!manifest) {
    ADD_FAILURE() << "manifest rejected";
    return Manifest{};
  }
  return std::move(*manifest);
}

using Lines = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Values and defaults

TEST(Manifest, DefaultsApplyWhenServerIsAbsent) {
  const Manifest manifest = parse_ok(kHello);
  const ServerConfig& server = manifest.server;
  EXPECT_EQ(server.listen.to_string(), "0.0.0.0:8080");
  EXPECT_EQ(server.admin.to_string(), "127.0.0.1:9901");
  EXPECT_EQ(server.workers, 0u);
  EXPECT_EQ(server.max_connections, 10000u);
  EXPECT_EQ(server.max_header_bytes, 16u * 1024);
  EXPECT_EQ(server.max_target_bytes, 8u * 1024);
  EXPECT_EQ(server.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(server.header_timeout, 10s);
  EXPECT_EQ(server.idle_timeout, 30s);
  EXPECT_EQ(server.drain_timeout, 30s);
  EXPECT_EQ(manifest.path, "edgefn.toml");
  EXPECT_EQ(manifest.dir, ".");
}

TEST(Manifest, DefaultsApplyToKeysAnEmptyServerTableLeavesOut) {
  std::string text = "[server]\nworkers = 2\n";
  text += kHello;
  const Manifest manifest = parse_ok(text);
  EXPECT_EQ(manifest.server.workers, 2u);
  EXPECT_EQ(manifest.server.listen.to_string(), "0.0.0.0:8080");
  EXPECT_EQ(manifest.server.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(manifest.server.idle_timeout, 30s);
}

TEST(Manifest, EveryServerKey) {
  std::string text = R"(
[server]
listen = "127.0.0.1:0"
admin = "[::1]:9902"
workers = 4
max_connections = 1000000
max_header_bytes = "32KiB"
max_target_bytes = 2048
max_body_bytes = "0B"
header_timeout = "1.5s"
idle_timeout = "250ms"
drain_timeout = "1h"
)";
  text += kHello;
  const ServerConfig server = parse_ok(text).server;
  EXPECT_EQ(server.listen.to_string(), "127.0.0.1:0");
  EXPECT_EQ(server.admin.to_string(), "[::1]:9902");
  EXPECT_EQ(server.workers, 4u);
  EXPECT_EQ(server.max_connections, 1000000u);
  EXPECT_EQ(server.max_header_bytes, 32u * 1024);
  EXPECT_EQ(server.max_target_bytes, 2048u);
  EXPECT_EQ(server.max_body_bytes, 0u);
  EXPECT_EQ(server.header_timeout, 1500ms);
  EXPECT_EQ(server.idle_timeout, 250ms);
  EXPECT_EQ(server.drain_timeout, 1h);
}

TEST(Manifest, RangeBoundsAreInclusive) {
  std::string text = R"(
[server]
workers = 1024
max_connections = 1
max_header_bytes = "1KiB"
max_target_bytes = "1KiB"
max_body_bytes = "1GiB"
header_timeout = "1ns"
idle_timeout = "60m"
)";
  text += kHello;
  const ServerConfig server = parse_ok(text).server;
  EXPECT_EQ(server.workers, 1024u);
  EXPECT_EQ(server.max_connections, 1u);
  EXPECT_EQ(server.max_header_bytes, 1024u);
  EXPECT_EQ(server.max_target_bytes, 1024u);
  EXPECT_EQ(server.max_body_bytes, 1024u * 1024 * 1024);
  EXPECT_EQ(server.header_timeout, 1ns);
  EXPECT_EQ(server.idle_timeout, 1h);

  text = "[server]\nmax_header_bytes = \"1MiB\"\nmax_target_bytes = 256\n";
  text += kHello;
  const ServerConfig upper = parse_ok(text).server;
  EXPECT_EQ(upper.max_header_bytes, 1024u * 1024);
  EXPECT_EQ(upper.max_target_bytes, 256u);
}

TEST(Manifest, DefaultTargetLimitShrinksToASmallerHeaderLimit) {
  std::string text = "[server]\nmax_header_bytes = \"4KiB\"\n";
  text += kHello;
  const ServerConfig server = parse_ok(text).server;
  EXPECT_EQ(server.max_header_bytes, 4096u);
  EXPECT_EQ(server.max_target_bytes, 4096u);
}

TEST(Manifest, FunctionFields) {
  const Manifest manifest = parse_ok(R"([functions.orders]
module = "echo"
routes = ["POST /orders", "GET /orders/:id"]
host = "API.Example.COM"
max_body_bytes = "64KiB"
config = { name = "x", count = -3, ratio = 0.5, on = true, tags = ["a", "b"], none = [] }
)",
                                     "/etc/edgefn/edgefn.toml");
  EXPECT_EQ(manifest.dir, "/etc/edgefn");
  ASSERT_EQ(manifest.functions.size(), 1u);
  const FunctionConfig& function = manifest.functions[0];
  EXPECT_EQ(function.name, "orders");
  EXPECT_EQ(function.position.line, 1u);
  EXPECT_EQ(function.position.column, 1u);
  EXPECT_EQ(function.module, "echo");
  EXPECT_EQ(function.module_position.line, 2u);
  EXPECT_EQ(function.module_position.column, 10u);
  ASSERT_EQ(function.routes.size(), 2u);
  EXPECT_EQ(function.routes[0].method, "POST");
  EXPECT_EQ(function.routes[0].pattern, "/orders");
  EXPECT_EQ(function.routes[0].position.line, 3u);
  EXPECT_EQ(function.routes[0].position.column, 11u);
  EXPECT_EQ(function.routes[1].method, "GET");
  EXPECT_EQ(function.routes[1].pattern, "/orders/:id");
  EXPECT_EQ(function.routes[1].position.column, 27u);
  EXPECT_EQ(function.host, "api.example.com");
  EXPECT_EQ(function.max_body_bytes, 64u * 1024);
  EXPECT_EQ(function.config_position.line, 6u);
  EXPECT_EQ(function.config_position.column, 10u);

  const api::Config& config = function.config;
  EXPECT_EQ(config.base_dir(), "/etc/edgefn");
  EXPECT_EQ(config.values().size(), 6u);
  EXPECT_EQ(config.values().at("name"), api::ConfigValue(std::string("x")));
  EXPECT_EQ(config.values().at("count"), api::ConfigValue(std::int64_t{-3}));
  EXPECT_EQ(config.values().at("ratio"), api::ConfigValue(0.5));
  EXPECT_EQ(config.values().at("on"), api::ConfigValue(true));
  EXPECT_EQ(config.values().at("tags"), api::ConfigValue(std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(config.values().at("none"), api::ConfigValue(std::vector<std::string>{}));
}

TEST(Manifest, OptionalFunctionFieldsHaveDefaults) {
  const Manifest manifest = parse_ok(kHello, "deploy/edgefn.toml");
  ASSERT_EQ(manifest.functions.size(), 1u);
  const FunctionConfig& function = manifest.functions[0];
  EXPECT_EQ(function.host, "");
  EXPECT_FALSE(function.max_body_bytes.has_value());
  EXPECT_TRUE(function.config.values().empty());
  EXPECT_EQ(function.config.base_dir(), "deploy");
  EXPECT_EQ(function.config_position.line, 0u);
}

TEST(Manifest, ConfigMayBeItsOwnTable) {
  const Manifest manifest = parse_ok(R"([functions.page]
module = "static"
routes = ["GET /"]

[functions.page.config]
body = """
<p>hi</p>
"""
status = 200
)");
  const FunctionConfig& function = manifest.functions.at(0);
  EXPECT_EQ(function.config_position.line, 5u);
  EXPECT_EQ(function.config_position.column, 1u);
  EXPECT_EQ(function.config.values().at("body"), api::ConfigValue(std::string("<p>hi</p>\n")));
  EXPECT_EQ(function.config.values().at("status"), api::ConfigValue(std::int64_t{200}));
}

TEST(Manifest, FunctionsKeepFileOrder) {
  // toml++ sorts keys; the manifest promises the order the author wrote.
  const Manifest manifest = parse_ok(R"(
[functions.zeta]
module = "hello"
routes = ["GET /z"]

[functions.alpha]
module = "hello"
routes = ["GET /a"]

[functions]
mid = { module = "echo", routes = ["GET /m"] }
)");
  ASSERT_EQ(manifest.functions.size(), 3u);
  EXPECT_EQ(manifest.functions[0].name, "zeta");
  EXPECT_EQ(manifest.functions[1].name, "alpha");
  EXPECT_EQ(manifest.functions[2].name, "mid");
  EXPECT_EQ(manifest.functions[2].position.line, 11u);
  EXPECT_EQ(manifest.functions[2].position.column, 7u);
}

TEST(Manifest, EveryMethodAndSizeSpelling) {
  const Manifest manifest = parse_ok(R"(
[functions.all]
module = "echo"
routes = ["GET /", "HEAD /h", "POST /p", "PUT /u", "DELETE /d", "PATCH /a", "OPTIONS /o"]
max_body_bytes = 0
)");
  const FunctionConfig& function = manifest.functions.at(0);
  ASSERT_EQ(function.routes.size(), 7u);
  EXPECT_EQ(function.routes[6].method, "OPTIONS");
  EXPECT_EQ(function.routes[6].pattern, "/o");
  EXPECT_EQ(function.max_body_bytes, 0u);
}

TEST(Manifest, ExampleManifestParses) {
  std::vector<Diagnostic> errors;
  const std::optional<Manifest> manifest = load_manifest(EDGEFN_DEPLOY_DIR "/edgefn.toml", errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(manifest->dir, EDGEFN_DEPLOY_DIR);
  EXPECT_EQ(manifest->server.listen.to_string(), "0.0.0.0:8080");
  EXPECT_EQ(manifest->server.admin.to_string(), "127.0.0.1:9901");
  EXPECT_EQ(manifest->server.workers, 0u);
  EXPECT_EQ(manifest->cache.l1_bytes, 64u << 20);
  EXPECT_EQ(manifest->cache.l2_bytes, 256u << 20);
  EXPECT_EQ(manifest->cache.kv_bytes, 64u << 20);
  EXPECT_EQ(manifest->server.offload_threads, 0u);
  EXPECT_EQ(manifest->server.offload_queue, 1024u);
  ASSERT_EQ(manifest->functions.size(), 8u);
  EXPECT_EQ(manifest->functions[6].module, "markdown");
  EXPECT_EQ(manifest->functions[7].module, "proxy");
  EXPECT_EQ(manifest->functions[7].upstreams, std::vector<std::string>{"self"});
  ASSERT_EQ(manifest->upstreams.size(), 1u);
  EXPECT_EQ(manifest->upstreams[0].host_header, "127.0.0.1:8080");
  EXPECT_TRUE(manifest->functions[6].offload);
  EXPECT_EQ(manifest->functions[4].name, "orders");
  EXPECT_EQ(manifest->functions[5].module, "kv");
  EXPECT_EQ(manifest->functions[4].body_schema, "schemas/order.json");
  EXPECT_EQ(manifest->functions[0].name, "hello");
  ASSERT_TRUE(manifest->functions[0].cache.has_value());
  EXPECT_EQ(manifest->functions[0].cache->ttl, std::chrono::seconds(10));
  EXPECT_EQ(manifest->functions[0].cache->vary, std::vector<std::string>{"accept-language"});
  EXPECT_EQ(manifest->functions[1].name, "echo");
  EXPECT_EQ(manifest->functions[1].max_body_bytes, 64u * 1024);
  EXPECT_EQ(manifest->functions[3].module, "static");
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

TEST(Diagnostic, ToString) {
  EXPECT_EQ((Diagnostic{"a.toml", {3, 7}, "server.workers", "bad"}).to_string(),
            "a.toml:3:7: server.workers: bad");
  EXPECT_EQ((Diagnostic{"a.toml", {1, 2}, "", "syntax"}).to_string(), "a.toml:1:2: syntax");
  EXPECT_EQ((Diagnostic{"a.toml", {}, "", "cannot open"}).to_string(), "a.toml: cannot open");
  EXPECT_EQ((Diagnostic{"a.toml", {}, "functions", "none"}).to_string(), "a.toml: functions: none");
}

TEST(ManifestErrors, NoFunctions) {
  EXPECT_EQ(errors_of(""),
            Lines{"edgefn.toml: no functions defined; add a [functions.<name>] table"});
  EXPECT_EQ(errors_of("[server]\nworkers = 1\n"),
            Lines{"edgefn.toml: no functions defined; add a [functions.<name>] table"});
  EXPECT_EQ(
      errors_of("[server]\n[functions]\n"),
      Lines{"edgefn.toml:2:1: functions: no functions defined; add a [functions.<name>] table"});
  EXPECT_EQ(errors_of("functions = 1\n"),
            Lines{"edgefn.toml:1:13: functions: expected a table, got an integer"});
  EXPECT_EQ(errors_of("[[functions]]\nmodule = \"x\"\n"),
            Lines{"edgefn.toml:1:1: functions: expected a table, got an array"});
}

TEST(ManifestErrors, SyntaxErrorIsOneDiagnosticWithItsPosition) {
  EXPECT_EQ(errors_of("[server]\nworkers = = 4\n"),
            Lines{"edgefn.toml:2:11: Error while parsing value: could not determine value type"});
  EXPECT_EQ(errors_of("[server\n"),
            Lines{"edgefn.toml:1:8: Error while parsing table header: expected ']', saw '\\n'"});
}

TEST(ManifestErrors, DuplicateKeys) {
  // TOML forbids them, so toml++ stops at the first, pointing at the second value.
  EXPECT_EQ(errors_of("[server]\nworkers = 1\nworkers = 2\n"),
            Lines{"edgefn.toml:3:11: Error while parsing key-value pair: cannot redefine existing "
                  "integer 'workers'"});
  EXPECT_EQ(errors_of("[functions.a]\nmodule = \"x\"\nconfig = { k = 1, k = 2 }\n"),
            Lines{"edgefn.toml:3:23: Error while parsing key-value pair: cannot redefine existing "
                  "integer 'k'"});
  EXPECT_EQ(errors_of("[functions.a]\nmodule = \"x\"\n[functions.a]\n"),
            Lines{"edgefn.toml:3:1: Error while parsing table header: cannot redefine existing "
                  "table 'functions.a'"});
}

TEST(ManifestErrors, UnknownKeysPointAtTheKey) {
  std::string text = R"(
cache = { l1 = "64MiB" }

[server]
listen = "0.0.0.0:8080"
  max_body = "1MiB"

[upstream.origin]
url = "http://127.0.0.1:9000"
)";
  text += kHello;
  text += "offloaded = true\n";
  EXPECT_EQ(errors_of(text),
            (Lines{
                "edgefn.toml:2:11: cache.l1: unknown key; expected one of: l1_bytes, l2_bytes, "
                "max_entry_fraction, kv_bytes, redis",
                "edgefn.toml:6:3: server.max_body: unknown key; expected one of: listen, admin, "
                "workers, max_connections, max_header_bytes, max_target_bytes, max_body_bytes, "
                "header_timeout, idle_timeout, drain_timeout, offload_threads, offload_queue, "
                "offload_priority",
                "edgefn.toml:8:2: upstream: unknown key; expected one of: server, cache, log, "
                "upstreams, functions",
                "edgefn.toml:14:1: functions.hello.offloaded: unknown key; expected one of: "
                "module, routes, host, config, max_body_bytes, body_schema, query, headers, cors, "
                "response_headers, rate_limit, cache, timeout, max_concurrency, queue, "
                "queue_timeout, offload, upstreams",
            }));
}

TEST(Manifest, OffloadKeys) {
  std::string text = "[server]\noffload_threads = 3\noffload_queue = 7\n";
  text += kHello;
  text += "offload = true\n";
  std::vector<Diagnostic> errors;
  const std::optional<Manifest> manifest = parse_manifest(text, "edgefn.toml", errors);
  ASSERT_TRUE(manifest) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(manifest->server.offload_threads, 3u);
  EXPECT_EQ(manifest->server.offload_queue, 7u);
  ASSERT_EQ(manifest->functions.size(), 1u);
  EXPECT_TRUE(manifest->functions[0].offload);
}

TEST(Manifest, OffloadDefaults) {
  std::vector<Diagnostic> errors;
  const std::optional<Manifest> manifest = parse_manifest(kHello, "edgefn.toml", errors);
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->server.offload_threads, 0u);  // one per core
  EXPECT_EQ(manifest->server.offload_queue, 1024u);
  EXPECT_EQ(manifest->server.offload_priority, OffloadPriority::kIdle);
  EXPECT_FALSE(manifest->functions[0].offload);
}

TEST(Manifest, LogTable) {
  EXPECT_TRUE(parse_ok(kHello).log.access);
  EXPECT_EQ(parse_ok(kHello).log.sample, 1.0);
  const Manifest manifest =
      parse_ok(std::string("[log]\naccess = false\nsample = 0.1\n") + std::string(kHello));
  EXPECT_FALSE(manifest.log.access);
  EXPECT_EQ(manifest.log.sample, 0.1);
  EXPECT_EQ(parse_ok(kHello).log.level, LogLevel::kInfo);
  EXPECT_EQ(parse_ok(std::string("[log]\nlevel = \"warn\"\n") + std::string(kHello)).log.level,
            LogLevel::kWarn);
  EXPECT_EQ(
      errors_of(std::string("[log]\naccess = 1\nsample = 0\nlevel = \"loud\"\nlevels = 1\n") +
                std::string(kHello)),
      (Lines{
          "edgefn.toml:2:10: log.access: expected true or false, got an integer",
          "edgefn.toml:3:10: log.sample: must be more than 0 and at most 1; got 0",
          R"(edgefn.toml:4:9: log.level: expected "debug", "info", "warn" or "error"; got "loud")",
          "edgefn.toml:5:1: log.levels: unknown key; expected one of: access, sample, level"}));
}

TEST(Manifest, OffloadPriority) {
  for (const auto& [text, priority] :
       {std::pair{"idle", OffloadPriority::kIdle}, std::pair{"low", OffloadPriority::kLow},
        std::pair{"normal", OffloadPriority::kNormal}}) {
    std::string manifest = "[server]\noffload_priority = \"";
    manifest += text;
    manifest += "\"\n";
    manifest += kHello;
    EXPECT_EQ(parse_ok(manifest).server.offload_priority, priority) << text;
  }
  std::string bad = "[server]\noffload_priority = \"high\"\n";
  bad += kHello;
  EXPECT_EQ(
      errors_of(bad),
      (Lines{
          R"(edgefn.toml:2:20: server.offload_priority: expected "idle", "low" or "normal"; got "high")"}));
}

TEST(ManifestErrors, OffloadValues) {
  std::string text = "[server]\noffload_queue = 0\n";
  text += kHello;
  text += "offload = \"yes\"\n";
  const Lines errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_TRUE(errors[0].starts_with("edgefn.toml:2:17: server.offload_queue: ")) << errors[0];
  EXPECT_EQ(errors[1],
            "edgefn.toml:7:11: functions.hello.offload: expected true or false, got a string");
}

TEST(ManifestErrors, WrongTypes) {
  std::string text = R"([server]
listen = 8080
admin = ["127.0.0.1:9901"]
workers = "4"
max_connections = 1.5
max_header_bytes = true
header_timeout = 10
idle_timeout = { s = 30 }
server = 1
)";
  text += kHello;
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          R"(edgefn.toml:2:10: server.listen: expected an address such as "0.0.0.0:8080" or "[::1]:8080", got an integer)",
          R"(edgefn.toml:3:9: server.admin: expected an address such as "0.0.0.0:8080" or "[::1]:8080", got an array)",
          R"(edgefn.toml:4:11: server.workers: expected an integer, got a string)",
          R"(edgefn.toml:5:19: server.max_connections: expected an integer, got a float)",
          R"(edgefn.toml:6:20: server.max_header_bytes: expected a size such as 16384 or "16KiB", got a boolean)",
          R"(edgefn.toml:7:18: server.header_timeout: expected a duration such as "250ms" or "30s", got an integer)",
          R"(edgefn.toml:8:16: server.idle_timeout: expected a duration such as "250ms" or "30s", got a table)",
          R"(edgefn.toml:9:1: server.server: unknown key; expected one of: listen, admin, workers, max_connections, max_header_bytes, max_target_bytes, max_body_bytes, header_timeout, idle_timeout, drain_timeout, offload_threads, offload_queue, offload_priority)",
      }));
  EXPECT_EQ(errors_of(std::string("server = \"x\"\n") + std::string(kHello)),
            Lines{"edgefn.toml:1:10: server: expected a table, got a string"});
}

TEST(ManifestErrors, BadUnits) {
  std::string text = R"([server]
max_header_bytes = "16KB"
max_target_bytes = "1.5KiB"
max_body_bytes = "1 MiB"
header_timeout = "10"
idle_timeout = "30sec"
drain_timeout = "-1s"
)";
  text += kHello;
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          R"(edgefn.toml:2:20: server.max_header_bytes: expected a size such as 16384 or "16KiB" (units: B, KiB, MiB, GiB, kB, MB, GB))",
          R"(edgefn.toml:3:20: server.max_target_bytes: expected a size such as 16384 or "16KiB" (units: B, KiB, MiB, GiB, kB, MB, GB))",
          R"(edgefn.toml:4:18: server.max_body_bytes: expected a size such as 16384 or "16KiB" (units: B, KiB, MiB, GiB, kB, MB, GB))",
          R"(edgefn.toml:5:18: server.header_timeout: expected a duration such as "250ms" or "30s" (units: ns, us, ms, s, m, h))",
          R"(edgefn.toml:6:16: server.idle_timeout: expected a duration such as "250ms" or "30s" (units: ns, us, ms, s, m, h))",
          R"(edgefn.toml:7:17: server.drain_timeout: expected a duration such as "250ms" or "30s" (units: ns, us, ms, s, m, h))",
      }));
}

TEST(ManifestErrors, OutOfRange) {
  std::string text = R"([server]
workers = 1025
max_connections = 0
max_header_bytes = "2MiB"
max_body_bytes = 1073741825
header_timeout = "0s"
idle_timeout = "61m"
drain_timeout = "3601s"
)";
  text += kHello;
  text += "max_body_bytes = -1\n";
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          "edgefn.toml:2:11: server.workers: must be between 0 and 1024; got 1025",
          "edgefn.toml:3:19: server.max_connections: must be between 1 and 1000000; got 0",
          R"(edgefn.toml:4:20: server.max_header_bytes: must be between 1KiB and 1MiB; got "2MiB")",
          "edgefn.toml:5:18: server.max_body_bytes: must be between 0 and 1GiB; got "
          "1073741825",
          R"(edgefn.toml:6:18: server.header_timeout: must be more than 0 and at most 1h; got "0s")",
          R"(edgefn.toml:7:16: server.idle_timeout: must be more than 0 and at most 1h; got "61m")",
          R"(edgefn.toml:8:17: server.drain_timeout: must be more than 0 and at most 1h; got "3601s")",
          "edgefn.toml:13:18: functions.hello.max_body_bytes: must be between 0 and 1GiB; "
          "got -1",
      }));
}

TEST(ManifestErrors, TargetLimitIsCheckedAgainstTheHeaderLimit) {
  std::string text = "[server]\nmax_target_bytes = \"8KiB\"\nmax_header_bytes = \"4KiB\"\n";
  text += kHello;
  EXPECT_EQ(
      errors_of(text),
      Lines{
          R"(edgefn.toml:2:20: server.max_target_bytes: must be between 256 bytes and max_header_bytes (4KiB); got "8KiB")"});

  text = "[server]\nmax_target_bytes = 255\n";
  text += kHello;
  EXPECT_EQ(errors_of(text),
            Lines{"edgefn.toml:2:20: server.max_target_bytes: must be between 256 bytes and "
                  "max_header_bytes (16KiB); got 255"});

  // An invalid header limit is reported on its own; the target is then checked against 1MiB.
  text = "[server]\nmax_header_bytes = 10\nmax_target_bytes = \"2MiB\"\n";
  text += kHello;
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          "edgefn.toml:2:20: server.max_header_bytes: must be between 1KiB and 1MiB; "
          "got 10",
          R"(edgefn.toml:3:20: server.max_target_bytes: must be between 256 bytes and max_header_bytes (1MiB); got "2MiB")"}));
}

TEST(ManifestErrors, BadAddresses) {
  std::string text = R"([server]
listen = "localhost:8080"
admin = "127.0.0.1:99999"
)";
  text += kHello;
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          R"(edgefn.toml:2:10: server.listen: expected an address such as "0.0.0.0:8080" or "[::1]:8080")",
          R"(edgefn.toml:3:9: server.admin: expected an address such as "0.0.0.0:8080" or "[::1]:8080")",
      }));
}

TEST(ManifestErrors, ListenersMustNotOverlap) {
  std::string text = "[server]\nlisten = \"0.0.0.0:9000\"\nadmin = \"127.0.0.1:9000\"\n";
  text += kHello;
  EXPECT_EQ(errors_of(text),
            Lines{"edgefn.toml:3:9: server.admin: overlaps server.listen (0.0.0.0:9000)"});

  // Only listen given: it collides with the default admin address.
  text = "[server]\nlisten = \"127.0.0.1:9901\"\n";
  text += kHello;
  EXPECT_EQ(errors_of(text),
            Lines{"edgefn.toml:2:10: server.listen: overlaps server.admin (127.0.0.1:9901)"});

  // Port 0 picks a free port for each: never a collision; other hosts on one port are fine.
  text = "[server]\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n";
  text += kHello;
  EXPECT_EQ(parse_ok(text).server.admin.port(), 0);
  text = "[server]\nlisten = \"127.0.0.2:9000\"\nadmin = \"127.0.0.1:9000\"\n";
  text += kHello;
  EXPECT_EQ(parse_ok(text).server.listen.port(), 9000);
}

TEST(ManifestErrors, MissingAndMistypedFunctionKeys) {
  EXPECT_EQ(
      errors_of(R"([functions.a]
module = 1
routes = "GET /"
[functions.b]
routes = []
[functions.c]
host = "example.com"
)"),
      (Lines{
          "edgefn.toml:2:10: functions.a.module: expected a string, got an integer",
          R"(edgefn.toml:3:10: functions.a.routes: expected an array of routes such as ["GET /hello"], got a string)",
          R"(edgefn.toml:4:1: functions.b: missing required key "module")",
          R"(edgefn.toml:5:10: functions.b.routes: expected at least one route such as "GET /hello")",
          R"(edgefn.toml:6:1: functions.c: missing required key "module")",
          R"(edgefn.toml:6:1: functions.c: missing required key "routes")",
      }));
  EXPECT_EQ(errors_of("[functions]\nhello = \"hello\"\n"),
            Lines{"edgefn.toml:2:9: functions.hello: expected a table, got a string"});
}

TEST(ManifestErrors, BadRoutes) {
  EXPECT_EQ(
      errors_of(R"([functions.a]
module = "echo"
routes = [
  "get /x",
  "GET x",
  "GET",
  "GET  /x",
  "FETCH /x",
  5,
  " /x",
  "GET /x y",
  "POST /fine",
]
)"),
      (Lines{
          R"(edgefn.toml:4:3: functions.a.routes[0]: unknown method "get"; expected one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)",
          R"(edgefn.toml:5:3: functions.a.routes[1]: the pattern must start with '/')",
          R"(edgefn.toml:6:3: functions.a.routes[2]: expected "METHOD /pattern", such as "GET /hello")",
          R"(edgefn.toml:7:3: functions.a.routes[3]: expected "METHOD /pattern", such as "GET /hello")",
          R"(edgefn.toml:8:3: functions.a.routes[4]: unknown method "FETCH"; expected one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)",
          R"(edgefn.toml:9:3: functions.a.routes[5]: expected "METHOD /pattern", such as "GET /hello", got an integer)",
          R"(edgefn.toml:10:3: functions.a.routes[6]: expected "METHOD /pattern", such as "GET /hello")",
          R"(edgefn.toml:11:3: functions.a.routes[7]: expected "METHOD /pattern", such as "GET /hello")",
      }));
}

TEST(ManifestErrors, BadHosts) {
  EXPECT_EQ(
      errors_of(R"([functions.a]
module = "echo"
routes = ["GET /a"]
host = "api.example.com:443"
[functions.b]
module = "echo"
routes = ["GET /b"]
host = "under_score.com"
[functions.c]
module = "echo"
routes = ["GET /c"]
host = "-dash.example.com"
[functions.d]
module = "echo"
routes = ["GET /d"]
host = "a..b"
[functions.e]
module = "echo"
routes = ["GET /e"]
host = ""
[functions.f]
module = "echo"
routes = ["GET /f"]
host = 1
)"),
      (Lines{
          "edgefn.toml:4:8: functions.a.host: a host takes no port; the router ignores the "
          "request's port",
          R"(edgefn.toml:8:8: functions.b.host: expected a host name such as "api.example.com")",
          R"(edgefn.toml:12:8: functions.c.host: expected a host name such as "api.example.com")",
          R"(edgefn.toml:16:8: functions.d.host: expected a host name such as "api.example.com")",
          R"(edgefn.toml:20:8: functions.e.host: expected a host name such as "api.example.com")",
          "edgefn.toml:24:8: functions.f.host: expected a string, got an integer",
      }));
  // The longest legal label and name pass.
  const std::string label(63, 'a');
  const std::string name = label + "." + label + "." + label + "." + std::string(61, 'b');
  std::string text =
      "[functions.a]\nmodule = \"echo\"\nroutes = [\"GET /\"]\nhost = \"" + name + "\"\n";
  EXPECT_EQ(parse_ok(text).functions.at(0).host, name);
  text = "[functions.a]\nmodule = \"echo\"\nroutes = [\"GET /\"]\nhost = \"" + name + "b\"\n";
  EXPECT_EQ(
      errors_of(text),
      Lines{
          R"(edgefn.toml:4:8: functions.a.host: expected a host name such as "api.example.com")"});
}

TEST(ManifestErrors, BadConfigValues) {
  EXPECT_EQ(
      errors_of(R"([functions.a]
module = "echo"
routes = ["GET /a"]
config = { nested = { x = 1 }, list = ["a", 2, true], when = 1979-05-27, ok = 1.5 }

[functions.b]
module = "echo"
routes = ["GET /b"]
config = "greeting=hi"
)"),
      (Lines{
          "edgefn.toml:4:21: functions.a.config.nested: expected a string, integer, float, "
          "boolean or array of strings, got a table",
          "edgefn.toml:4:45: functions.a.config.list[1]: config arrays may hold only strings, got "
          "an integer",
          "edgefn.toml:4:48: functions.a.config.list[2]: config arrays may hold only strings, got "
          "a boolean",
          "edgefn.toml:4:62: functions.a.config.when: expected a string, integer, float, boolean "
          "or array of strings, got a date",
          R"(edgefn.toml:9:10: functions.b.config: expected a table, got a string)",
      }));
}

TEST(ManifestErrors, FunctionNames) {
  EXPECT_EQ(
      errors_of(R"([functions."hello world"]
module = "hello"
routes = ["GET /"]
[functions."café"]
module = "hello"
routes = ["GET /c"]
[functions.""]
module = "hello"
routes = ["GET /e"]
)"),
      (Lines{
          R"(edgefn.toml:1:12: functions."hello world": a function name may contain only letters, digits, '_' and '-')",
          R"(edgefn.toml:4:12: functions."café": a function name may contain only letters, digits, '_' and '-')",
          R"(edgefn.toml:7:12: functions."": a function name may contain only letters, digits, '_' and '-')",
      }));
  const Manifest manifest =
      parse_ok("[functions.Fn_2-b]\nmodule = \"hello\"\nroutes = [\"GET /\"]\n");
  EXPECT_EQ(manifest.functions.at(0).name, "Fn_2-b");
}

TEST(ManifestErrors, EveryErrorInOneRunInFileOrder) {
  std::vector<Diagnostic> errors;
  errors.push_back(Diagnostic{"earlier.toml", {1, 1}, "", "kept"});
  const std::optional<Manifest> manifest =
      load_manifest(EDGEFN_TESTDATA_DIR "/broken.toml", errors);
  EXPECT_FALSE(manifest.has_value());
  std::vector<std::string> lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  const std::string file = EDGEFN_TESTDATA_DIR "/broken.toml";
  EXPECT_EQ(
      lines,
      (Lines{
          "earlier.toml:1:1: kept",  // errors already in the vector stay first and untouched
          file +
              R"(:5:10: server.listen: expected an address such as "0.0.0.0:8080" or "[::1]:8080")",
          file + ":6:11: server.workers: expected an integer, got a string",
          file +
              R"(:7:18: server.max_body_bytes: expected a size such as 16384 or "16KiB" (units: B, KiB, MiB, GiB, kB, MB, GB))",
          file +
              R"(:8:16: server.idle_timeout: expected a duration such as "250ms" or "30s", got an integer)",
          file + ":9:1: server.keepalive: unknown key; expected one of: listen, admin, workers, "
                 "max_connections, max_header_bytes, max_target_bytes, max_body_bytes, "
                 "header_timeout, idle_timeout, drain_timeout, offload_threads, offload_queue, "
                 "offload_priority",
          file +
              R"(:13:25: functions.hello.routes[1]: unknown method "get"; expected one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)",
          file + ":14:23: functions.hello.config.greeting: expected a string, integer, float, "
                 "boolean or array of strings, got a table",
          file + R"(:16:1: functions.orders: missing required key "routes")",
          file +
              ":18:1: functions.orders.route: unknown key; expected one of: module, routes, "
              "host, config, max_body_bytes, body_schema, query, headers, cors, response_headers, "
              "rate_limit, cache, timeout, max_concurrency, queue, queue_timeout, offload, "
              "upstreams",
          file + ":19:8: functions.orders.host: a host takes no port; the router ignores the "
                 "request's port",
          file +
              R"(:20:18: functions.orders.max_body_bytes: expected a size such as 16384 or "16KiB" (units: B, KiB, MiB, GiB, kB, MB, GB))",
      }));
}

// ---------------------------------------------------------------------------------------------
// Input toml++ must never see, and input that trips toml++ 3.3.0's own assertions

TEST(ManifestErrors, NulByte) {
  const std::string text("# ok\n\nname = \"a\0b\"\n", 19);
  EXPECT_EQ(errors_of(text), Lines{"edgefn.toml:3:10: the manifest contains a NUL byte"});
}

TEST(ManifestErrors, InvalidUtf8) {
  // Columns count code points, as toml++ does: "é" is one column.
  EXPECT_EQ(errors_of("# é\xff\n"), Lines{"edgefn.toml:1:4: the manifest is not valid UTF-8"});
  EXPECT_EQ(errors_of("a = \"\xc3\"\n"), Lines{"edgefn.toml:1:6: the manifest is not valid UTF-8"});
  // Overlong encoding of '/', a UTF-16 surrogate, and a code point above U+10FFFF.
  EXPECT_EQ(errors_of("\xc0\xaf"), Lines{"edgefn.toml:1:1: the manifest is not valid UTF-8"});
  EXPECT_EQ(errors_of("\n\xed\xa0\x80"), Lines{"edgefn.toml:2:1: the manifest is not valid UTF-8"});
  EXPECT_EQ(errors_of("\xf4\x90\x80\x80"),
            Lines{"edgefn.toml:1:1: the manifest is not valid UTF-8"});
  EXPECT_EQ(errors_of("\xe2\x82"), Lines{"edgefn.toml:1:1: the manifest is not valid UTF-8"});
  // The largest code point and a 4-byte character are fine.
  std::string text = "# \xf4\x8f\xbf\xbf \xf0\x9f\x98\x80\n";
  text += kHello;
  EXPECT_EQ(parse_ok(text).functions.size(), 1u);
}

TEST(ManifestErrors, InputThatAssertsInsideTomlplusplus) {
  // toml++ 3.3.0 asserts in parse_key() on a table header starting with a non-key character
  // (marzer/tomlplusplus#294); the loader must report it like any other syntax error.
  EXPECT_EQ(errors_of("[&"), Lines{"edgefn.toml:1:2: Error while parsing key: expected bare key "
                                   "starting character or string delimiter, saw '&'"});
  EXPECT_EQ(errors_of("[server]\n[[("),
            Lines{"edgefn.toml:2:3: Error while parsing key: expected bare key starting "
                  "character or string delimiter, saw '('"});
}

TEST(ManifestErrors, NonAsciiWhereTomlplusplusWouldMisbehave) {
  // toml++ 3.3.0 tests these characters with a lookup that reaches undefined behaviour; the
  // loader refuses them first (see check_parser_hazards in runtime/manifest.cc).
  EXPECT_EQ(errors_of("\xef\xba\xbfrr"),
            Lines{"edgefn.toml:1:1: a non-ASCII character may appear only inside a string or a "
                  "comment"});
  EXPECT_EQ(errors_of("[server]\nworkers = 4\u00e9\n"),
            Lines{"edgefn.toml:2:12: a non-ASCII character may appear only inside a string or a "
                  "comment"});
  // A quote glued to a number starts no string for toml++, which scans the token to its end.
  EXPECT_EQ(errors_of("a =0\"\"\"\"x\\.5.\u00c9\"=\n"),
            Lines{"edgefn.toml:1:14: a non-ASCII character may appear only inside a string or a "
                  "comment"});
  EXPECT_EQ(errors_of("a = 1.\"\u00e9\"\n"),
            Lines{"edgefn.toml:1:8: a non-ASCII character may appear only inside a string or a "
                  "comment"});
  EXPECT_EQ(errors_of("a = \"x\\\u00e9\"\n"),
            Lines{"edgefn.toml:1:8: invalid escape: '\\' followed by a non-ASCII character"});
  EXPECT_EQ(errors_of("a = \"\"\"\n\\\u00e9\"\"\"\n"),
            Lines{"edgefn.toml:2:2: invalid escape: '\\' followed by a non-ASCII character"});
  EXPECT_EQ(errors_of("a = \"\"\"x \\  \n\n   \u00e9t\u00e9\"\"\"\n"),
            Lines{"edgefn.toml:3:4: a non-ASCII character cannot start the text after a "
                  "line-ending backslash; write it as \\u00E9"});
  EXPECT_EQ(errors_of("a = \"\"\"\\\n\U0001F600\"\"\"\n"),
            Lines{"edgefn.toml:2:1: a non-ASCII character cannot start the text after a "
                  "line-ending backslash; write it as \\U0001F600"});
}

TEST(Manifest, NonAsciiInStringsAndCommentsIsFine) {
  std::string text = R"(# Grüße, 世界 ✓
[functions.hello]   # ünïcödé
module = "hello"
routes = ['GET /caf\u00e9', "GET /ü"]
config = { greeting = "Grüß dich", "clé" = 'été', body = """
«\u00e9» \
  x é
""", raw = '''
ß''' }
)";
  const Manifest manifest = parse_ok(text);
  ASSERT_EQ(manifest.functions.size(), 1u);
  const FunctionConfig& function = manifest.functions[0];
  EXPECT_EQ(function.routes.at(0).pattern, "/caf\\u00e9");  // a literal string: no escapes
  EXPECT_EQ(function.routes.at(1).pattern, "/ü");
  EXPECT_EQ(function.config.values().at("greeting"), api::ConfigValue(std::string("Grüß dich")));
  EXPECT_EQ(function.config.values().at("clé"), api::ConfigValue(std::string("été")));
  EXPECT_EQ(function.config.values().at("body"), api::ConfigValue(std::string("«é» x é\n")));
  EXPECT_EQ(function.config.values().at("raw"), api::ConfigValue(std::string("ß")));
}

TEST(Manifest, NonAsciiQuotedKeysAndNestedValuesAreFine) {
  const Manifest manifest = parse_ok(R"([functions."a"]
module = "echo"
routes = [
  "GET /a", # é
  "GET /ä",
]
config."clé" = "x"
config.list = ["é", 'ü']
)");
  const FunctionConfig& function = manifest.functions.at(0);
  EXPECT_EQ(function.routes.at(1).pattern, "/ä");
  EXPECT_EQ(function.config.values().at("clé"), api::ConfigValue(std::string("x")));
  EXPECT_EQ(function.config.values().at("list"),
            api::ConfigValue(std::vector<std::string>{"é", "ü"}));
}

TEST(Manifest, ByteOrderMarkIsSkipped) {
  std::string text = "\xef\xbb\xbf";
  text += "[functions.a]\nmodule = 1\nroutes = [\"GET /\"]\n";
  EXPECT_EQ(errors_of(text),
            Lines{"edgefn.toml:2:10: functions.a.module: expected a string, got an integer"});
}

TEST(ManifestErrors, LargerThanOneMiB) {
  std::string text(std::size_t{1} << 20, '#');
  text += '\n';
  EXPECT_EQ(errors_of(text), Lines{"edgefn.toml: the manifest is larger than 1MiB"});
}

// ---------------------------------------------------------------------------------------------
// load_manifest

TEST(LoadManifest, MissingFile) {
  std::vector<Diagnostic> errors;
  EXPECT_FALSE(load_manifest("/nonexistent/edgefn.toml", errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "/nonexistent/edgefn.toml: cannot open the manifest: No such file or directory");
}

TEST(LoadManifest, Directory) {
  std::vector<Diagnostic> errors;
  EXPECT_FALSE(load_manifest(EDGEFN_TESTDATA_DIR, errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            EDGEFN_TESTDATA_DIR ": cannot read the manifest: Is a directory");
}

class LoadManifestFile : public ::testing::Test {
 protected:
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& text) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
  // One file per test process: ctest runs the tests of this fixture in parallel.
  const std::string path_ =
      ::testing::TempDir() + "edgefn_manifest_test_" + std::to_string(::getpid()) + ".toml";
};

TEST_F(LoadManifestFile, ReadsAndParses) {
  write(std::string(kHello));
  std::vector<Diagnostic> errors;
  const std::optional<Manifest> manifest = load_manifest(path_, errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(manifest->path, path_);
  EXPECT_EQ(manifest->functions.at(0).name, "hello");
}

TEST_F(LoadManifestFile, ExactlyOneMiBIsReadLargerIsRejected) {
  std::string text(kHello);
  text += std::string((std::size_t{1} << 20) - text.size() - 1, '#') + "\n";
  write(text);
  std::vector<Diagnostic> errors;
  EXPECT_TRUE(load_manifest(path_, errors).has_value());
  EXPECT_TRUE(errors.empty());

  write(text + "\n");
  EXPECT_FALSE(load_manifest(path_, errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), path_ + ": the manifest is larger than 1MiB");
}

// ---------------------------------------------------------------------------------------------
// Request validation rules: body_schema, query, headers

TEST(Manifest, ValidationRulesAreRead) {
  const Manifest manifest = parse_ok(R"([functions.api]
module = "echo"
routes = ["POST /orders"]
body_schema = "schemas/order.json"
query = { required = ["page", "q"], page = "^[0-9]+$" }
headers = { required = ["X-Api-Key"], "X-Api-Key" = "^[A-Za-z0-9]{32}$", accept = "json" }
)");
  const FunctionConfig& function = manifest.functions.at(0);
  EXPECT_EQ(function.body_schema, "schemas/order.json");
  EXPECT_EQ(function.body_schema_position.line, 4u);
  EXPECT_EQ(function.body_schema_position.column, 15u);
  // Ordered by where each pattern is, else by the name in `required`.
  ASSERT_EQ(function.query.size(), 2u);
  EXPECT_EQ(function.query[0].name, "q");
  EXPECT_TRUE(function.query[0].required);
  EXPECT_FALSE(function.query[0].has_pattern);
  EXPECT_EQ(function.query[1].name, "page");
  EXPECT_TRUE(function.query[1].required);
  EXPECT_TRUE(function.query[1].has_pattern);
  EXPECT_EQ(function.query[1].pattern, "^[0-9]+$");
  EXPECT_EQ(function.query[1].key, "functions.api.query.page");
  ASSERT_EQ(function.headers.size(), 2u);
  EXPECT_EQ(function.headers[0].name, "x-api-key");  // lower-case
  EXPECT_TRUE(function.headers[0].required);
  EXPECT_EQ(function.headers[0].pattern, "^[A-Za-z0-9]{32}$");
  EXPECT_EQ(function.headers[1].name, "accept");
  EXPECT_FALSE(function.headers[1].required);
}

TEST(ManifestErrors, ValidationRules) {
  EXPECT_EQ(
      errors_of(R"([functions.api]
module = "echo"
routes = ["POST /orders"]
body_schema = ""
query = { required = "page", n = 5 }
headers = { required = ["bad name", ""], "X-A" = "a", "x-a" = "b" }
)"),
      (Lines{
          R"(edgefn.toml:4:15: functions.api.body_schema: expected a file name such as "schemas/order.json")",
          R"(edgefn.toml:5:22: functions.api.query.required: expected an array of names such as ["page"], got a string)",
          R"(edgefn.toml:5:34: functions.api.query.n: expected a regular expression such as "^[0-9]+$", or required = [...], got an integer)",
          R"(edgefn.toml:6:25: functions.api.headers.required[0]: not a valid header name)",
          R"(edgefn.toml:6:37: functions.api.headers.required[1]: a header name cannot be empty)",
          R"(edgefn.toml:6:63: functions.api.headers.x-a: a pattern for this header is already given)",
      }));
  EXPECT_EQ(errors_of(R"([functions.api]
module = "echo"
routes = ["GET /a"]
body_schema = 1
query = "page"
)"),
            (Lines{
                R"(edgefn.toml:4:15: functions.api.body_schema: expected a string, got an integer)",
                R"(edgefn.toml:5:9: functions.api.query: expected a table, got a string)",
            }));
}

// ---------------------------------------------------------------------------------------------
// CORS and response_headers

TEST(Manifest, CorsAndResponseHeaders) {
  const Manifest manifest = parse_ok(R"(
[functions.api]
module = "echo"
routes = ["GET /a", "POST /a"]
cors = { origins = ["https://App.Example.com", "http://localhost:3000"], methods = ["GET"], headers = ["Content-Type"], expose = ["X-Request-Id"], max_age = "10m", credentials = true }
response_headers = { "Strict-Transport-Security" = "max-age=63072000", "x-content-type-options" = "nosniff" }
)");
  ASSERT_EQ(manifest.functions.size(), 1u);
  const FunctionConfig& function = manifest.functions[0];
  ASSERT_TRUE(function.cors.has_value());
  EXPECT_EQ(function.cors->origins, (Lines{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_EQ(function.cors->methods, Lines{"GET"});
  EXPECT_EQ(function.cors->headers, Lines{"content-type"});
  EXPECT_EQ(function.cors->expose, Lines{"x-request-id"});
  EXPECT_EQ(function.cors->max_age_seconds, 600u);
  EXPECT_TRUE(function.cors->credentials);
  ASSERT_EQ(function.response_headers.size(), 2u);
  EXPECT_EQ(function.response_headers[0].name, "Strict-Transport-Security");
  EXPECT_EQ(function.response_headers[0].value, "max-age=63072000");
  EXPECT_EQ(function.response_headers[1].name, "x-content-type-options");
  EXPECT_EQ(function.response_headers[1].value, "nosniff");
}

TEST(Manifest, CorsDefaults) {
  const Manifest manifest = parse_ok(R"(
[functions.api]
module = "echo"
routes = ["GET /a"]
cors = { origins = ["*"] }
)");
  ASSERT_TRUE(manifest.functions[0].cors.has_value());
  const CorsDecl& cors = *manifest.functions[0].cors;
  EXPECT_EQ(cors.origins, Lines{"*"});
  EXPECT_TRUE(cors.methods.empty());
  EXPECT_TRUE(cors.headers.empty());
  EXPECT_TRUE(cors.expose.empty());
  EXPECT_FALSE(cors.max_age_seconds.has_value());
  EXPECT_FALSE(cors.credentials);
  EXPECT_FALSE(parse_ok(kHello).functions[0].cors.has_value());
}

TEST(ManifestErrors, CorsValues) {
  std::string text = R"(
[functions.api]
module = "echo"
routes = ["GET /a"]
cors = { origins = ["https://ok.example", "https://a.example/path", "app.example.com", 3, "http://h:99999", "http://a:b:1", "https://[::1]:8443"], methods = ["GET", "FETCH"], headers = ["bad name"], max_age = "1500ms", credentials = "yes", extra = 1 }
)";
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          "edgefn.toml:5:43: functions.api.cors.origins[1]: expected an origin such as "
          "\"https://app.example.com\" (scheme://host[:port], no path) or \"*\"",
          "edgefn.toml:5:69: functions.api.cors.origins[2]: expected an origin such as "
          "\"https://app.example.com\" (scheme://host[:port], no path) or \"*\"",
          "edgefn.toml:5:88: functions.api.cors.origins[3]: expected a string, got an integer",
          "edgefn.toml:5:91: functions.api.cors.origins[4]: expected an origin such as "
          "\"https://app.example.com\" (scheme://host[:port], no path) or \"*\"",
          "edgefn.toml:5:109: functions.api.cors.origins[5]: expected an origin such as "
          "\"https://app.example.com\" (scheme://host[:port], no path) or \"*\"",
          "edgefn.toml:5:166: functions.api.cors.methods[1]: unknown method \"FETCH\"; expected "
          "one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS",
          "edgefn.toml:5:187: functions.api.cors.headers[0]: not a valid header name",
          "edgefn.toml:5:210: functions.api.cors.max_age: must be whole seconds, at most 24h; got "
          "\"1500ms\"",
          "edgefn.toml:5:234: functions.api.cors.credentials: expected true or false, got a string",
          "edgefn.toml:5:241: functions.api.cors.extra: unknown key; expected one of: origins, "
          "methods, headers, expose, max_age, credentials",
      }));
}

TEST(Manifest, RateLimit) {
  const Manifest manifest = parse_ok(R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
rate_limit = { per_second = 100, burst = 200, key = "client_ip" }

[functions.b]
module = "echo"
routes = ["GET /b"]
rate_limit = { per_second = 0.5, key = "header:X-API-Key" }

[functions.c]
module = "echo"
routes = ["GET /c"]
rate_limit = { per_second = 2.5 }
)");
  ASSERT_EQ(manifest.functions.size(), 3u);
  ASSERT_TRUE(manifest.functions[0].rate_limit.has_value());
  EXPECT_EQ(manifest.functions[0].rate_limit->per_second, 100.0);
  EXPECT_EQ(manifest.functions[0].rate_limit->burst, 200u);
  EXPECT_EQ(manifest.functions[0].rate_limit->header, "");
  EXPECT_EQ(manifest.functions[0].rate_limit->position.line, 5u);
  ASSERT_TRUE(manifest.functions[1].rate_limit.has_value());
  EXPECT_EQ(manifest.functions[1].rate_limit->per_second, 0.5);
  EXPECT_EQ(manifest.functions[1].rate_limit->burst, 1u);  // default: per_second, at least 1
  EXPECT_EQ(manifest.functions[1].rate_limit->header, "x-api-key");
  ASSERT_TRUE(manifest.functions[2].rate_limit.has_value());
  EXPECT_EQ(manifest.functions[2].rate_limit->burst, 3u);  // 2.5 rounded up
  EXPECT_FALSE(parse_ok(kHello).functions[0].rate_limit.has_value());
}

TEST(ManifestErrors, RateLimitValues) {
  const std::string text = R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
rate_limit = { per_second = 0, burst = 0, key = "ip", extra = 1 }

[functions.b]
module = "echo"
routes = ["GET /b"]
rate_limit = { per_second = -1.5, burst = 2.5, key = "header:bad name" }

[functions.c]
module = "echo"
routes = ["GET /c"]
rate_limit = { per_second = "fast", key = 3 }

[functions.d]
module = "echo"
routes = ["GET /d"]
rate_limit = { burst = 5 }

[functions.e]
module = "echo"
routes = ["GET /e"]
rate_limit = 10
)";
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          "edgefn.toml:5:29: functions.a.rate_limit.per_second: must be a number greater than 0; "
          "got 0",
          "edgefn.toml:5:40: functions.a.rate_limit.burst: must be at least 1; got 0",
          "edgefn.toml:5:49: functions.a.rate_limit.key: expected \"client_ip\" or "
          "\"header:<name>\" such as \"header:x-api-key\"; got \"ip\"",
          "edgefn.toml:5:55: functions.a.rate_limit.extra: unknown key; expected one of: "
          "per_second, burst, key",
          "edgefn.toml:10:29: functions.b.rate_limit.per_second: must be a number greater than 0; "
          "got -1.5",
          "edgefn.toml:10:43: functions.b.rate_limit.burst: expected a whole number of requests "
          "such as 200, got a float",
          "edgefn.toml:10:54: functions.b.rate_limit.key: expected \"client_ip\" or "
          "\"header:<name>\" such as \"header:x-api-key\"; got \"header:bad name\"",
          "edgefn.toml:15:29: functions.c.rate_limit.per_second: expected a number of requests "
          "per second such as 100 or 0.5, got a string",
          "edgefn.toml:15:43: functions.c.rate_limit.key: expected \"client_ip\" or "
          "\"header:<name>\" such as \"header:x-api-key\", got an integer",
          "edgefn.toml:20:14: functions.d.rate_limit: missing required key \"per_second\"",
          "edgefn.toml:25:14: functions.e.rate_limit: expected a table, got an integer",
      }));
}

TEST(ManifestErrors, CorsCredentialsWithAnyOriginAndMissingOrigins) {
  const std::string text = R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
cors = { origins = ["https://x.example", "*"], credentials = true }

[functions.b]
module = "echo"
routes = ["GET /b"]
cors = { methods = ["GET"] }

[functions.c]
module = "echo"
routes = ["GET /c"]
cors = { origins = [], max_age = 10 }
)";
  EXPECT_EQ(
      errors_of(text),
      (Lines{
          "edgefn.toml:5:62: functions.a.cors.credentials: cannot be true when origins has "
          "\"*\" (browsers refuse credentials with any origin); list the origins instead",
          "edgefn.toml:10:8: functions.b.cors: missing required key \"origins\"",
          "edgefn.toml:15:20: functions.c.cors.origins: expected at least one origin such as "
          "\"https://app.example.com\"",
          "edgefn.toml:15:34: functions.c.cors.max_age: expected a duration such as \"250ms\" "
          "or \"30s\", got an integer",
      }));
}

TEST(ManifestErrors, ResponseHeaderValues) {
  const std::string text = R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
response_headers = { "bad name" = "x", "x-ok" = "a\r\nb", "content-length" = "5", "x-num" = 5 }
)";
  EXPECT_EQ(errors_of(text),
            (Lines{
                "edgefn.toml:5:22: functions.a.response_headers.\"bad name\": not a valid header "
                "name",
                "edgefn.toml:5:49: functions.a.response_headers.x-ok: a header value cannot "
                "contain CR, LF or NUL",
                "edgefn.toml:5:59: functions.a.response_headers.content-length: this header is set "
                "by the server or the function; it cannot be configured",
                "edgefn.toml:5:93: functions.a.response_headers.x-num: expected a string, got an "
                "integer",
            }));
}

TEST(Manifest, TimeoutAndConcurrency) {
  const Manifest manifest = parse_ok(R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
timeout = "500ms"
max_concurrency = 8
queue = 100
queue_timeout = "2s"

[functions.b]
module = "echo"
routes = ["GET /b"]
max_concurrency = 1
)");
  ASSERT_EQ(manifest.functions.size(), 2u);
  const FunctionConfig& a = manifest.functions[0];
  EXPECT_EQ(a.timeout, std::chrono::milliseconds(500));
  ASSERT_TRUE(a.concurrency.has_value());
  EXPECT_EQ(a.concurrency->max, 8u);
  EXPECT_EQ(a.concurrency->queue, 100u);
  EXPECT_EQ(a.concurrency->queue_timeout, std::chrono::seconds(2));
  EXPECT_EQ(a.concurrency->position.line, 6u);
  const FunctionConfig& b = manifest.functions[1];
  EXPECT_FALSE(b.timeout.has_value());
  ASSERT_TRUE(b.concurrency.has_value());
  EXPECT_EQ(b.concurrency->queue, 0u);  // default: refuse at once
  EXPECT_EQ(b.concurrency->queue_timeout, std::chrono::seconds(1));
  EXPECT_FALSE(parse_ok(kHello).functions[0].concurrency.has_value());
}

TEST(ManifestErrors, TimeoutAndConcurrencyValues) {
  const std::string text = R"(
[functions.a]
module = "echo"
routes = ["GET /a"]
timeout = "0ms"
max_concurrency = 0
queue = -1

[functions.b]
module = "echo"
routes = ["GET /b"]
queue_timeout = "1s"
timeout = 5
)";
  EXPECT_EQ(errors_of(text),
            (Lines{
                "edgefn.toml:5:11: functions.a.timeout: must be more than 0 and at most 1h; got "
                "\"0ms\"",
                "edgefn.toml:6:19: functions.a.max_concurrency: must be between 1 and 1000000; "
                "got 0",
                "edgefn.toml:7:9: functions.a.queue: must be between 0 and 1000000; got -1",
                "edgefn.toml:12:17: functions.b.queue_timeout: needs max_concurrency: a queue "
                "holds requests over that limit",
                "edgefn.toml:13:11: functions.b.timeout: expected a duration such as \"250ms\" or "
                "\"30s\", got an integer",
            }));
}

TEST(Manifest, CachePolicy) {
  const Manifest manifest = parse_ok(R"(
[cache]
l1_bytes = "8MiB"
l2_bytes = 67108864
kv_bytes = "2MiB"

[functions.a]
module = "echo"
routes = ["GET /a"]
cache = { ttl = "60s", stale_while_revalidate = "30s", stale_if_error = "5m", vary = ["Accept-Language", "x-tenant"] }

[functions.b]
module = "echo"
routes = ["GET /b"]
cache = { ttl = "1s", key = ["query:page", "query:sort"] }

[functions.c]
module = "echo"
routes = ["GET /c"]
cache = { ttl = "1s", key = [] }
)");
  EXPECT_EQ(manifest.cache.l1_bytes, 8u << 20);
  EXPECT_EQ(manifest.cache.l2_bytes, 64u << 20);
  EXPECT_EQ(manifest.cache.kv_bytes, 2u << 20);
  ASSERT_EQ(manifest.functions.size(), 3u);
  const CachePolicyDecl& a = *manifest.functions[0].cache;
  EXPECT_EQ(a.ttl, std::chrono::seconds(60));
  EXPECT_EQ(a.stale_while_revalidate, std::chrono::seconds(30));
  EXPECT_EQ(a.stale_if_error, std::chrono::minutes(5));
  EXPECT_EQ(a.vary, (std::vector<std::string>{"accept-language", "x-tenant"}));
  EXPECT_TRUE(a.key_host);
  EXPECT_TRUE(a.key_query);
  const CachePolicyDecl& b = *manifest.functions[1].cache;
  EXPECT_TRUE(b.key_host == false && b.key_query == false);
  EXPECT_EQ(b.key_query_params, (std::vector<std::string>{"page", "sort"}));
  const CachePolicyDecl& c = *manifest.functions[2].cache;
  EXPECT_FALSE(c.key_host);
  EXPECT_FALSE(c.key_query);
  const Manifest defaults = parse_ok(kHello);
  EXPECT_EQ(defaults.cache.l1_bytes, 64u << 20);
  EXPECT_EQ(defaults.cache.kv_bytes, 64u << 20);
  EXPECT_FALSE(defaults.functions[0].cache.has_value());
}

TEST(Manifest, MaxEntryFractionBoundsWhatTheLayersAdmit) {
  EXPECT_DOUBLE_EQ(parse_ok(kHello).cache.max_entry_fraction, 0.125);
  EXPECT_DOUBLE_EQ(
      parse_ok(std::string("[cache]\nmax_entry_fraction = 0.5\n") + std::string(kHello))
          .cache.max_entry_fraction,
      0.5);
  EXPECT_EQ(errors_of(std::string("[cache]\nmax_entry_fraction = 1.5\n") + std::string(kHello)),
            (Lines{"edgefn.toml:2:22: cache.max_entry_fraction: must be more than 0 and at most "
                   "1; got 1.5"}));
  EXPECT_EQ(
      errors_of(std::string("[cache]\nmax_entry_fraction = \"half\"\n") + std::string(kHello)),
      (Lines{"edgefn.toml:2:22: cache.max_entry_fraction: expected a share of the budget "
             "such as 0.125, got a string"}));
}

TEST(Manifest, RedisLayerSettingsAndDefaults) {
  const Manifest manifest = parse_ok(std::string(R"(
[cache.redis]
address = "127.0.0.1:6380"
timeout = "20ms"
connections = 4
max_value_bytes = "64KiB"
)") + std::string(kHello));
  ASSERT_TRUE(manifest.cache.redis.has_value());
  EXPECT_EQ(manifest.cache.redis->address.to_string(), "127.0.0.1:6380");
  EXPECT_EQ(manifest.cache.redis->timeout, std::chrono::milliseconds(20));
  EXPECT_EQ(manifest.cache.redis->connections, 4u);
  EXPECT_EQ(manifest.cache.redis->max_value_bytes, 64u << 10);
  const Manifest defaults =
      parse_ok(std::string("[cache.redis]\naddress = \"[::1]:6379\"\n") + std::string(kHello));
  EXPECT_EQ(defaults.cache.redis->timeout, std::chrono::milliseconds(50));
  EXPECT_EQ(defaults.cache.redis->connections, 2u);
  EXPECT_FALSE(parse_ok(kHello).cache.redis.has_value());
  EXPECT_EQ(
      errors_of(std::string("[cache.redis]\naddress = \"127.0.0.1:0\"\n") + std::string(kHello)),
      (Lines{"edgefn.toml:2:11: cache.redis.address: needs the server's port; got "
             "\"127.0.0.1:0\""}));
}

TEST(Manifest, RedisByHostName) {
  const Manifest manifest = parse_ok(
      std::string("[cache.redis]\naddress = \"Redis.Cache.svc:6380\"\n") + std::string(kHello));
  ASSERT_TRUE(manifest.cache.redis.has_value());
  EXPECT_EQ(manifest.cache.redis->host, "redis.cache.svc");
  EXPECT_EQ(manifest.cache.redis->port, 6380);
  EXPECT_EQ(manifest.cache.redis->address.length, 0u);  // nothing numeric to connect to
  const auto error_for = [](const char* address) {
    std::string text = "[cache.redis]\naddress = \"";
    text += address;
    text += "\"\n";
    text += kHello;
    const Lines errors = errors_of(text);
    return errors.empty() ? std::string() : errors[0];
  };
  EXPECT_EQ(
      error_for("redis"),
      R"(edgefn.toml:2:11: cache.redis.address: expected an address such as "127.0.0.1:6379" or "redis.cache.svc:6379")");
  EXPECT_EQ(
      error_for("redis:0"),
      R"(edgefn.toml:2:11: cache.redis.address: needs the server's port (1 to 65535); got "redis:0")");
  EXPECT_EQ(
      error_for("redis:x"),
      R"(edgefn.toml:2:11: cache.redis.address: needs the server's port (1 to 65535); got "redis:x")");
  EXPECT_EQ(
      error_for("bad_name:6379"),
      R"(edgefn.toml:2:11: cache.redis.address: expected an address such as "127.0.0.1:6379" or "redis.cache.svc:6379")");
  EXPECT_EQ(
      error_for("10.0.0.300:6379"),
      R"(edgefn.toml:2:11: cache.redis.address: expected an address such as "127.0.0.1:6379" or "redis.cache.svc:6379")");
}

TEST(ManifestErrors, CachePolicyValues) {
  const std::string text = R"(
[cache]
l1_bytes = "1KiB"

[functions.a]
module = "echo"
routes = ["GET /a"]
cache = { stale_if_error = "0s", vary = ["bad name", "x", "X"], key = ["query", "query:a", "path"], extra = 1 }
)";
  EXPECT_EQ(errors_of(text),
            (Lines{
                "edgefn.toml:3:12: cache.l1_bytes: must be between 64KiB and 1024GiB; got "
                "\"1KiB\"",
                "edgefn.toml:8:9: functions.a.cache: missing required key \"ttl\"",
                "edgefn.toml:8:28: functions.a.cache.stale_if_error: must be more than 0 and at "
                "most 1h; got \"0s\"",
                "edgefn.toml:8:42: functions.a.cache.vary[0]: expected a header name; got \"bad "
                "name\"",
                "edgefn.toml:8:59: functions.a.cache.vary[2]: listed twice",
                "edgefn.toml:8:71: functions.a.cache.key: \"query\" already keys on every "
                "parameter; drop the \"query:<name>\" items",
                "edgefn.toml:8:92: functions.a.cache.key[2]: expected \"host\", \"query\" or "
                "\"query:<name>\" such as \"query:page\"; got \"path\"",
                "edgefn.toml:8:101: functions.a.cache.extra: unknown key; expected one of: ttl, "
                "stale_while_revalidate, stale_if_error, vary, key",
            }));
}

}  // namespace
}  // namespace edgefn::runtime
