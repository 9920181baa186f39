// POST /purge on the admin listener over sockets (cache.toml): by path, by prefix, by tag, by
// host and everything; every worker stops serving what a purge matches at once, what it does not
// match stays, and bad purge requests get JSON errors.
#include <string>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

class PurgeTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("cache.toml"); }

  // GET `target` on a fresh connection (so both workers are asked over a test).
  HttpResponse get(std::string_view target, std::string_view marker = "m") {
    HttpResponse response;
    EXPECT_TRUE(
        exchange(port(), get_request(target, "X-Req: " + std::string(marker) + "\r\n"), response));
    return response;
  }
  static bool hit(const HttpResponse& response) {
    return response.header("cache-status").value_or("").starts_with("edgefn; hit;");
  }
  static bool answered(const HttpResponse& response, std::string_view marker) {
    return response.body.find("\"x-req\":\"" + std::string(marker) + "\"") != std::string::npos;
  }
  // Stores `target`, then sees it answered from the cache by a dozen connections (both workers).
  void store(std::string_view target) {
    ASSERT_FALSE(hit(get(target, "stored")));
    for (int i = 0; i < 12; ++i)
      ASSERT_TRUE(hit(get(target))) << target;
  }
  HttpResponse purge(std::string_view query, std::string_view method = "POST") {
    HttpResponse response;
    EXPECT_TRUE(exchange(admin_port(),
                         std::string(method) + " /purge" + std::string(query) +
                             " HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n",
                         response));
    return response;
  }
  // No connection of a dozen gets a stored answer from before: the first misses and stores anew.
  void expect_purged(std::string_view target) {
    const HttpResponse first = get(target, "after");
    EXPECT_FALSE(hit(first)) << target << ": " << first.header("cache-status").value_or("");
    for (int i = 0; i < 12; ++i) {
      const HttpResponse again = get(target);
      if (again.body.find("x-req") != std::string::npos) {
        EXPECT_TRUE(answered(again, "after")) << target << ": " << again.body;
      }
    }
  }
  void expect_kept(std::string_view target) {
    for (int i = 0; i < 12; ++i)
      EXPECT_TRUE(hit(get(target))) << target;
  }
};

TEST_F(PurgeTest, ByPathEveryVariantOfThePathOnEveryWorker) {
  store("/page/a");
  store("/page/a?x=1");
  store("/page/b");
  const HttpResponse response = purge("?path=/page/a");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(response.body, "{\"purged\":1,\"sequence\":1}\n");
  expect_purged("/page/a");
  expect_purged("/page/a?x=1");
  expect_kept("/page/b");
}

TEST_F(PurgeTest, ByPrefix) {
  store("/page/x/1");
  store("/page/x/2");
  store("/page/y");
  EXPECT_EQ(purge("?prefix=/page/x/").status, 200);
  expect_purged("/page/x/1");
  expect_purged("/page/x/2");
  expect_kept("/page/y");
}

TEST_F(PurgeTest, ByCacheTag) {
  store("/product/1");
  store("/product/2");
  store("/page/untagged");
  EXPECT_EQ(purge("?tag=catalog").body, "{\"purged\":1,\"sequence\":1}\n");
  for (std::string_view target : {"/product/1", "/product/2"}) {
    EXPECT_FALSE(hit(get(target))) << target;
    EXPECT_TRUE(hit(get(target))) << target;  // stored again after the purge
  }
  expect_kept("/page/untagged");
  EXPECT_EQ(purge("?tag=other").status, 200);
  expect_kept("/product/1");
}

TEST_F(PurgeTest, AHostLimitsAPurgeToThatHost) {
  store("/page/h");
  EXPECT_EQ(purge("?path=/page/h&host=elsewhere.example").status, 200);
  expect_kept("/page/h");
  EXPECT_EQ(purge("?path=/page/h&host=TEST.local").status, 200);
  expect_purged("/page/h");
}

TEST_F(PurgeTest, SeveralRulesAndEverything) {
  store("/page/1");
  store("/page/2");
  store("/product/3");
  EXPECT_EQ(purge("?path=/page/1&tag=product").body, "{\"purged\":2,\"sequence\":1}\n");
  expect_purged("/page/1");
  expect_purged("/product/3");
  expect_kept("/page/2");
  EXPECT_EQ(purge("?all=1").body, "{\"purged\":\"all\",\"sequence\":1}\n");
  expect_purged("/page/2");
}

TEST_F(PurgeTest, BadPurgeRequestsGetJsonErrors) {
  const HttpResponse get_purge = purge("?path=/a", "GET");
  EXPECT_TRUE(is_json_error(get_purge, 405));
  EXPECT_EQ(get_purge.header("allow"), "POST");
  EXPECT_TRUE(is_json_error(purge(""), 400));
  EXPECT_TRUE(is_json_error(purge("?colour=red"), 400));
  EXPECT_TRUE(is_json_error(purge("?path=relative"), 400));
  EXPECT_TRUE(is_json_error(purge("?tag="), 400));
  EXPECT_TRUE(is_json_error(purge("?path=%zz"), 400));
  // Percent-decoded: a path with a space.
  EXPECT_EQ(purge("?path=/page/with%20space").status, 200);
}

}  // namespace
}  // namespace edgefn::integration
