// Request validation over sockets (validation.toml): valid requests reach the echo function,
// invalid JSON, schema failures and broken query/header rules are 400s naming what failed, and
// the connection stays open after each of them.
#include <rapidjson/document.h>

#include "tests/integration/fixture.h"
#include "tests/integration/json_util.h"

namespace edgefn::integration {
namespace {

constexpr std::string_view kKey = "0123456789abcdefABCDEF0123456789";  // 32 alphanumerics

class ValidationTest : public ServerTest {
 protected:
  std::string manifest() const override { return manifest_path("validation.toml"); }
};

std::string post(std::string_view target, std::string_view body, std::string_view key = kKey) {
  std::string request = "POST " + std::string(target) + " HTTP/1.1\r\nHost: test.local\r\n";
  if (!key.empty()) request += "X-API-Key: " + std::string(key) + "\r\n";
  request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + std::string(body);
  return request;
}

constexpr std::string_view kValidOrder = R"({"id":"ABC-42","items":[{"sku":"a-1","qty":2}]})";

// Sends `request`, expects a 400 whose JSON body has exactly `error` and the `extra` members
// (compact JSON, e.g. `"pointer":"/a","keyword":"type"`), then checks that the same connection
// still serves a valid order.
void expect_400_and_kept(std::uint16_t port, const std::string& request, std::string_view error,
                         std::string_view extra) {
  SCOPED_TRACE("request: \"" + printable(request) + "\"");
  Client client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(request));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(has_standard_fields(response));
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_FALSE(has_token(response.header("connection"), "close")) << printable(response.raw);
  rapidjson::Document document;
  ASSERT_TRUE(parse_json(response.body, document));
  std::string expected =
      "{\"error\":" +
      json_text(rapidjson::Value(error.data(), static_cast<rapidjson::SizeType>(error.size()))) +
      ",\"status\":400";
  if (!extra.empty()) expected += "," + std::string(extra);
  expected += "}";
  EXPECT_EQ(response.body, expected);

  ASSERT_TRUE(client.send(post("/orders?page=1", kValidOrder)));
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
}

TEST_F(ValidationTest, AValidRequestReachesTheFunction) {
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), post("/orders?page=12", kValidOrder), response));
  ASSERT_EQ(response.status, 200) << printable(response.raw);
  rapidjson::Document document;
  ASSERT_TRUE(parse_json(response.body, document));
  EXPECT_EQ(json_string(document, "body"), std::string(kValidOrder));
  EXPECT_EQ(json_string(document, "query"), "page=12");
}

TEST_F(ValidationTest, InvalidJsonIs400WithTheParserMessage) {
  expect_400_and_kept(port(), post("/orders?page=1", R"({"id":"ABC-1",})"),
                      "invalid JSON: Missing a name for object member at offset 14", "");
}

TEST_F(ValidationTest, AnEmptyBodyIs400) {
  expect_400_and_kept(port(), post("/orders?page=1", ""), "a JSON body is required", "");
}

TEST_F(ValidationTest, SchemaFailureNamesPointerAndKeyword) {
  expect_400_and_kept(
      port(), post("/orders?page=1", R"({"id":"ABC-1","items":[{"sku":"a","qty":0}]})"),
      "the body does not match the schema: Expected number greater than or equal to 1.000000",
      R"("pointer":"/items/0/qty","keyword":"minimum")");
  expect_400_and_kept(port(), post("/orders?page=1", R"(["not","an","object"])"),
                      "the body does not match the schema: Value type not permitted by 'type' "
                      "constraint.",
                      R"("pointer":"","keyword":"type")");
}

TEST_F(ValidationTest, MissingAndMalformedQueryParametersAre400) {
  expect_400_and_kept(port(), post("/orders", kValidOrder), R"(query parameter "page" is required)",
                      R"("parameter":"page")");
  expect_400_and_kept(port(), post("/orders?page=1%2B1", kValidOrder),
                      R"(query parameter "page" must match ^[0-9]+$)", R"("parameter":"page")");
}

TEST_F(ValidationTest, MissingAndMalformedHeadersAre400) {
  expect_400_and_kept(port(), post("/orders?page=1", kValidOrder, ""),
                      R"(header "x-api-key" is required)", R"("header":"x-api-key")");
  expect_400_and_kept(port(), post("/orders?page=1", kValidOrder, "short"),
                      R"(header "x-api-key" must match ^[A-Za-z0-9]{32}$)",
                      R"("header":"x-api-key")");
}

TEST_F(ValidationTest, GetIsNotBodyValidatedButItsQueryIs) {
  const std::string key = "X-Api-Key: " + std::string(kKey) + "\r\n";
  HttpResponse response;
  ASSERT_TRUE(exchange(port(), get_request("/orders?page=3", key), response));
  EXPECT_EQ(response.status, 200) << printable(response.raw);
  expect_400_and_kept(port(), get_request("/orders?page=x", key),
                      R"(query parameter "page" must match ^[0-9]+$)", R"("parameter":"page")");
}

TEST_F(ValidationTest, PipelinedRequestsAreAnsweredInOrderAroundA400) {
  Client client;
  ASSERT_TRUE(client.connect(port()));
  ASSERT_TRUE(client.send(post("/orders?page=1", "{") + post("/orders?page=1", kValidOrder) +
                          get_request("/hello")));
  HttpResponse response;
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 400);
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.status, 200);
  ASSERT_TRUE(client.read_response(response));
  EXPECT_EQ(response.body, "Hello, world!");
}

}  // namespace
}  // namespace edgefn::integration
