// Rate limits over sockets (rate_limit.toml): the burst is served, then 429 with Retry-After and
// RateLimit-* fields on a connection that stays usable; the limit holds across workers; a
// header key gives each key its own bucket.
#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

class RateLimitTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("rate_limit.toml"); }
};

TEST_F(RateLimitTest, BurstThenTooManyRequestsOnTheSameConnection) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse response;
  for (const char* remaining : {"2", "1", "0"}) {
    ASSERT_TRUE(client.send(get_request("/limited")));
    ASSERT_TRUE(client.read_response(response));
    EXPECT_EQ(response.status, 200) << printable(response.raw);
    EXPECT_EQ(response.header("ratelimit-limit"), "3");
    EXPECT_EQ(response.header("ratelimit-remaining"), remaining);
    EXPECT_EQ(response.header_count("retry-after"), 0u);
  }
  ASSERT_TRUE(client.send(get_request("/limited")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_TRUE(is_json_error(response, 429)) << printable(response.raw);
  EXPECT_EQ(response.body, R"({"error":"rate limit exceeded","status":429})");
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header("retry-after"), "1");
  EXPECT_EQ(response.header("ratelimit-limit"), "3");
  EXPECT_EQ(response.header("ratelimit-remaining"), "0");
  EXPECT_EQ(response.header("ratelimit-reset"), "1");
  EXPECT_FALSE(has_token(response.header("connection"), "close"));

  // The connection stays usable, and functions without a limit carry no RateLimit fields.
  ASSERT_TRUE(client.send(get_request("/free")));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  EXPECT_EQ(response.header_count("ratelimit-limit"), 0u);
}

TEST_F(RateLimitTest, LimitHoldsForTheWholeNodeAcrossConnectionsAndWorkers) {
  // One request per connection: SO_REUSEPORT spreads the connections over both workers, and
  // the total admitted is still the burst.
  int allowed = 0;
  int refused = 0;
  for (int i = 0; i < 24; ++i) {
    Client client;
    ASSERT_TRUE(client.connect(port()));
    ASSERT_TRUE(client.send(get_request("/shared")));
    HttpResponse response;
    ASSERT_TRUE(client.read_response(response));
    if (response.status == 200) {
      ++allowed;
    } else {
      EXPECT_TRUE(is_json_error(response, 429)) << printable(response.raw);
      EXPECT_EQ(response.header("retry-after"), "100");  // one token at 0.01/s
      ++refused;
    }
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_EQ(refused, 19);
}

TEST_F(RateLimitTest, HeaderKeyGivesEachKeyItsOwnBucket) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  HttpResponse response;
  auto status_for = [&](std::string_view extra) {
    EXPECT_TRUE(client.send(get_request("/keyed", extra)));
    EXPECT_TRUE(client.read_response(response));
    return response.status;
  };
  EXPECT_EQ(status_for("X-API-Key: alpha\r\n"), 200);
  EXPECT_EQ(status_for("X-API-Key: alpha\r\n"), 200);
  EXPECT_EQ(status_for("X-API-Key: alpha\r\n"), 429);
  EXPECT_EQ(status_for("X-API-Key: beta\r\n"), 200);
  // Without the header the client IP is the key: a bucket of its own.
  EXPECT_EQ(status_for(""), 200);
  EXPECT_EQ(status_for(""), 200);
  EXPECT_EQ(status_for(""), 429);
  // A 429 still carries the function's CORS fields, so a browser can read it.
  EXPECT_EQ(status_for("Origin: https://app.example.com\r\nX-API-Key: alpha\r\n"), 429);
  EXPECT_EQ(response.header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(response.header("ratelimit-limit"), "2");
}

}  // namespace
}  // namespace edgefn::integration
