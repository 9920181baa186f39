// Tests for [upstreams.*] in the manifest and the functions' `upstreams` allow-list: values,
// defaults, URL forms, and the diagnostics for broken ones.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/app.h"
#include "runtime/manifest.h"
#include "runtime/upstream.h"

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

std::optional<Manifest> parse(const std::string& text, std::vector<Diagnostic>& errors) {
  return parse_manifest(text, "edgefn.toml", errors);
}

Lines errors_of(const std::string& text) {
  std::vector<Diagnostic> errors;
  EXPECT_FALSE(parse(text, errors).has_value()) << "expected the manifest to be rejected";
  Lines lines;
  for (const Diagnostic& error : errors)
    lines.push_back(error.to_string());
  return lines;
}

Manifest parse_ok(const std::string& text) {
  std::vector<Diagnostic> errors;
  std::optional<Manifest> manifest = parse(text, errors);
  for (const Diagnostic& error : errors)
    ADD_FAILURE() << error.to_string();
  return manifest ? std::move(*manifest) : Manifest{};
}

// A proxy function allowed to reach `origin`, after the given upstream tables.
std::string with_proxy(const std::string& upstreams) {
  return upstreams + R"(
[functions.p]
module = "proxy"
routes = ["GET /p/*rest"]
upstreams = ["origin"]
config = { upstream = "origin" }
)";
}

TEST(UpstreamManifest, EveryKey) {
  const Manifest manifest = parse_ok(with_proxy(R"(
[upstreams.origin]
url = "http://Origin.Internal:9000/base/"
timeout = "250ms"
retries = 3
connections = 4
circuit_failures = 7
circuit_reset = "2s"
max_response_bytes = "64KiB"
)"));
  ASSERT_EQ(manifest.upstreams.size(), 1u);
  const UpstreamConfig& upstream = manifest.upstreams[0];
  EXPECT_EQ(upstream.name, "origin");
  EXPECT_EQ(upstream.url, "http://Origin.Internal:9000/base/");
  EXPECT_EQ(upstream.host, "origin.internal");
  EXPECT_EQ(upstream.port, 9000);
  EXPECT_EQ(upstream.base_path, "/base");
  EXPECT_EQ(upstream.host_header, "origin.internal:9000");
  EXPECT_EQ(upstream.timeout, 250ms);
  EXPECT_EQ(upstream.retries, 3u);
  EXPECT_EQ(upstream.connections, 4u);
  EXPECT_EQ(upstream.circuit_failures, 7u);
  EXPECT_EQ(upstream.circuit_reset, 2s);
  EXPECT_EQ(upstream.max_response_bytes, 64u * 1024);
  ASSERT_EQ(manifest.functions.size(), 1u);
  EXPECT_EQ(manifest.functions[0].upstreams, (std::vector<std::string>{"origin"}));
}

TEST(UpstreamManifest, Defaults) {
  const Manifest manifest = parse_ok(with_proxy("[upstreams.origin]\nurl = \"http://10.0.0.1\"\n"));
  const UpstreamConfig& upstream = manifest.upstreams.at(0);
  EXPECT_EQ(upstream.port, 80);
  EXPECT_EQ(upstream.base_path, "");
  EXPECT_EQ(upstream.host_header, "10.0.0.1");
  EXPECT_EQ(upstream.timeout, 2s);
  EXPECT_EQ(upstream.retries, 1u);
  EXPECT_EQ(upstream.connections, 16u);
  EXPECT_EQ(upstream.circuit_failures, 5u);
  EXPECT_EQ(upstream.circuit_reset, 10s);
  EXPECT_EQ(upstream.max_response_bytes, 8u * 1024 * 1024);
}

TEST(UpstreamManifest, NumericHostsNeedNoResolution) {
  const Manifest manifest = parse_ok(with_proxy(R"(
[upstreams.origin]
url = "http://127.0.0.1:9000"
[upstreams.v6]
url = "http://[::1]:9001/x"
[upstreams.named]
url = "http://localhost:9002"
)"));
  ASSERT_EQ(manifest.upstreams.size(), 3u);
  // File order, not toml++'s sorted order.
  EXPECT_EQ(manifest.upstreams[0].name, "origin");
  EXPECT_EQ(manifest.upstreams[1].name, "v6");
  EXPECT_EQ(manifest.upstreams[1].host, "::1");
  EXPECT_EQ(manifest.upstreams[1].host_header, "[::1]:9001");
  const Upstream v4(manifest.upstreams[0]);
  ASSERT_TRUE(v4.address);
  EXPECT_EQ(v4.address->to_string(), "127.0.0.1:9000");
  const Upstream v6(manifest.upstreams[1]);
  ASSERT_TRUE(v6.address);
  EXPECT_EQ(v6.address->to_string(), "[::1]:9001");
  const Upstream named(manifest.upstreams[2]);
  EXPECT_FALSE(named.address);
}

TEST(UpstreamManifest, BadUrls) {
  EXPECT_EQ(
      errors_of(with_proxy(R"(
[upstreams.origin]
url = "https://127.0.0.1"
[upstreams.a]
url = "ftp://x"
[upstreams.b]
url = "http://:80"
[upstreams.c]
url = "http://x:0"
[upstreams.d]
url = "http://x/y?q=1"
[upstreams.e]
url = "http://user@x"
[upstreams.f]
url = "http://[nope]"
[upstreams.g]
timeout = "1s"
)")),
      (Lines{
          "edgefn.toml:3:7: upstreams.origin.url: https is not supported; use an http:// "
          "origin",
          R"(edgefn.toml:5:7: upstreams.a.url: expected an http URL such as "http://127.0.0.1:9000")",
          "edgefn.toml:7:7: upstreams.b.url: expected a host name or address after http://",
          "edgefn.toml:9:7: upstreams.c.url: the port must be between 1 and 65535",
          "edgefn.toml:11:7: upstreams.d.url: an upstream URL takes no query, fragment or "
          "user info",
          "edgefn.toml:13:7: upstreams.e.url: an upstream URL takes no query, fragment or "
          "user info",
          "edgefn.toml:15:7: upstreams.f.url: expected an IPv6 address between the brackets",
          R"(edgefn.toml:16:1: upstreams.g: missing required key "url")",
      }));
}

TEST(UpstreamManifest, BadValuesAndUnknownKeys) {
  EXPECT_EQ(
      errors_of(with_proxy(R"(
[upstreams.origin]
url = "http://127.0.0.1:9000"
connections = 0
retries = -1
circuit_reset = "0s"
max_response_bytes = "1B"
keepalive = true
)")),
      (Lines{
          "edgefn.toml:4:15: upstreams.origin.connections: must be between 1 and 4096; "
          "got 0",
          "edgefn.toml:5:11: upstreams.origin.retries: must be between 0 and 10; got -1",
          R"(edgefn.toml:6:17: upstreams.origin.circuit_reset: must be more than 0 and at most 1h; got "0s")",
          R"(edgefn.toml:7:22: upstreams.origin.max_response_bytes: must be between 1KiB and 1GiB; got "1B")",
          "edgefn.toml:8:1: upstreams.origin.keepalive: unknown key; expected one of: url, "
          "timeout, retries, connections, circuit_failures, circuit_reset, "
          "max_response_bytes",
      }));
}

TEST(UpstreamManifest, AllowListNamesDeclaredUpstreams) {
  EXPECT_EQ(
      errors_of(R"(
[upstreams.origin]
url = "http://127.0.0.1:9000"

[functions.p]
module = "proxy"
routes = ["GET /p"]
upstreams = ["origin", "other", "origin"]
config = { upstream = "origin" }
)"),
      (Lines{
          R"(edgefn.toml:8:13: functions.p.upstreams[1]: no upstream "other"; declare it as [upstreams.other])",
          "edgefn.toml:8:13: functions.p.upstreams[2]: listed twice",
      }));
}

TEST(UpstreamManifest, ConfigUpstreamMustBeAllowed) {
  EXPECT_EQ(
      errors_of(R"(
[upstreams.origin]
url = "http://127.0.0.1:9000"

[functions.p]
module = "proxy"
routes = ["GET /p"]
config = { upstream = "origin" }
)"),
      (Lines{
          R"(edgefn.toml:8:23: functions.p.config.upstream: "origin" is not in this function's upstreams; add upstreams = ["origin"])",
      }));
}

TEST(UpstreamManifest, AppResolvesTheAllowList) {
  std::vector<Diagnostic> errors;
  std::optional<Manifest> manifest = parse(R"(
[upstreams.first]
url = "http://127.0.0.1:9000"
[upstreams.second]
url = "http://127.0.0.1:9001"

[functions.p]
module = "proxy"
routes = ["GET /p"]
upstreams = ["second"]
config = { upstream = "second" }
)",
                                           errors);
  ASSERT_TRUE(manifest);
  std::unique_ptr<const App> app = build_app(std::move(*manifest), errors);
  ASSERT_TRUE(app) << (errors.empty() ? "" : errors[0].to_string());
  ASSERT_EQ(app->upstreams().size(), 2u);
  EXPECT_EQ(app->functions()[0].upstreams, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(app->upstreams()[1].config.name, "second");
  EXPECT_EQ(app->upstreams()[1].breaker->state(), CircuitBreaker::State::kClosed);
}

TEST(Upstream, IdempotentMethods) {
  for (const char* method : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    EXPECT_TRUE(is_idempotent(method)) << method;
  for (const char* method : {"POST", "PATCH", "CONNECT", "get"})
    EXPECT_FALSE(is_idempotent(method)) << method;
}

}  // namespace
}  // namespace edgefn::runtime
