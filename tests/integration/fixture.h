// Shared fixture and response checks for the integration tests: a server on basic.toml per
// test, and the checks every response must pass (Date, Content-Length, JSON errors).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/http_client.h"
#include "tests/integration/process.h"

namespace edgefn::integration {

// Each test gets its own `edgefn serve` on basic.toml (fresh ports, fresh state); TearDown
// stops it with SIGTERM and expects exit status 0, so a crash or a sanitizer report during the
// test fails it.
class ServerTest : public ::testing::Test {
 protected:
  // The manifest and flags SetUp starts with; tests that need others override these.
  virtual std::string manifest() const { return manifest_path("basic.toml"); }
  virtual std::vector<std::string> flags() const { return {"--workers", "2"}; }

  void SetUp() override;
  void TearDown() override;

  std::uint16_t port() const { return server_.port(); }
  std::uint16_t admin_port() const { return server_.admin_port(); }

  Server server_;
};

// Exactly one Date (an IMF-fixdate) and exactly one Content-Length; unless `head_request`, the
// Content-Length equals the body's size.
::testing::AssertionResult has_standard_fields(const HttpResponse& response,
                                               bool head_request = false);

// `status`, Content-Type application/json, and a body that is exactly
// {"error":"<non-empty message>","status":<status>}.
::testing::AssertionResult is_json_error(const HttpResponse& response, int status);

// Waits until `server` has logged `count` lines containing `needle` (scanning from the start).
::testing::AssertionResult wait_for_log(Server& server, std::string_view needle, int count);

// "<status> <body>" of GET `target` on a fresh connection to `port`.
std::string status_and_body(std::uint16_t port, std::string_view target);

// True if `value` lists `token` (comma-separated, case-insensitive), as in Connection.
bool has_token(const std::optional<std::string>& value, std::string_view token);

}  // namespace edgefn::integration
