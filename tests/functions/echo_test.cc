// Tests the `echo` module: its JSON byte for byte, that the JSON parses, and its config errors.
#include "functions/echo/echo.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "functions/registry.h"
#include "tests/functions/module_harness.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::functions {
namespace {

using testing::create_error;
using testing::create_ok;
using testing::Harness;
using testing::run;

const api::ModuleSpec& spec() {
  return testing::module_spec("echo");
}

class EchoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = create_ok(spec(), api::Config());
    ASSERT_NE(module_, nullptr);
  }

  api::Response echo(const api::Request& request) {
    api::Context ctx = harness_.context();
    return run(module_->handle(request, ctx));
  }

  // The body parsed as JSON; fails the test when it does not parse.
  static rapidjson::Document parse(std::string_view body) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    EXPECT_FALSE(doc.HasParseError()) << body;
    return doc;
  }

  Harness harness_;
  std::unique_ptr<api::Module> module_;
};

TEST_F(EchoTest, MinimalRequest) {
  api::Request request;
  request.method = "GET";
  request.path = "/echo";
  const api::Response r = echo(request);
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.headers().size(), 1u);
  EXPECT_EQ(r.headers()[0].name, "Content-Type");
  EXPECT_EQ(r.headers()[0].value, "application/json");
  EXPECT_EQ(r.body, R"({"method":"GET","path":"/echo","query":"","params":{},"headers":{},)"
                    R"("body_bytes":0,"body":"","body_encoding":"utf-8"})");
}

TEST_F(EchoTest, FullRequestWithTextBody) {
  const std::array params{api::Param{"id", "42"}, api::Param{"rest", "a/b c"}};
  const std::array headers{
      api::Header{"host", "api.example.com"},
      api::Header{"content-type", "application/json"},
      api::Header{"content-length", "25"},
  };
  api::Request request;
  request.method = "POST";
  request.target = "/orders/42/a%2Fb%20c?x=1&y=%22";
  request.path = "/orders/42/a/b c";
  request.query = "x=1&y=%22";
  request.params = api::ParamList(params);
  request.headers = api::HeaderList(headers);
  request.body = "{\"item\": \"caf\xC3\xA9\",\n\"n\": 2}";
  const api::Response r = echo(request);
  EXPECT_EQ(r.body, R"({"method":"POST","path":"/orders/42/a/b c","query":"x=1&y=%22",)"
                    R"("params":{"id":"42","rest":"a/b c"},)"
                    R"("headers":{"host":"api.example.com","content-type":"application/json",)"
                    R"("content-length":"25"},"body_bytes":25,)"
                    R"("body":"{\"item\": \"caf)"
                    "\xC3\xA9"
                    R"(\",\n\"n\": 2}","body_encoding":"utf-8"})");
  const rapidjson::Document doc = parse(r.body);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["body"].GetString(), "{\"item\": \"caf\xC3\xA9\",\n\"n\": 2}");
  EXPECT_EQ(doc["body_bytes"].GetUint64(), request.body.size());
}

TEST_F(EchoTest, RepeatedHeadersAreJoinedInOrder) {
  const std::array headers{
      api::Header{"accept", "text/html"},         api::Header{"x-forwarded-for", "10.0.0.1"},
      api::Header{"accept", "application/json"},  api::Header{"cookie", "a=1"},
      api::Header{"x-forwarded-for", "10.0.0.2"}, api::Header{"accept", "*/*"},
  };
  api::Request request;
  request.method = "GET";
  request.path = "/";
  request.headers = api::HeaderList(headers);
  const api::Response r = echo(request);
  EXPECT_EQ(r.body, R"({"method":"GET","path":"/","query":"","params":{},"headers":{)"
                    R"("accept":"text/html, application/json, */*",)"
                    R"("x-forwarded-for":"10.0.0.1, 10.0.0.2","cookie":"a=1"},)"
                    R"("body_bytes":0,"body":"","body_encoding":"utf-8"})");
}

TEST_F(EchoTest, HeaderNamesAreLowerCase) {
  // The runtime folds names before modules run; echo keeps its promise for any caller.
  const std::array headers{api::Header{"X-Trace", "1"}, api::Header{"x-trace", "2"},
                           api::Header{"Host", "h"}};
  api::Request request;
  request.headers = api::HeaderList(headers);
  const api::Response r = echo(request);
  EXPECT_NE(r.body.find(R"("headers":{"x-trace":"1, 2","host":"h"})"), std::string::npos) << r.body;
}

TEST_F(EchoTest, BinaryBodyIsBase64) {
  api::Request request;
  request.method = "PUT";
  request.path = "/blob";
  request.body = std::string_view("\x89PNG\r\n\x1A\n\0\xFF", 10);
  const api::Response r = echo(request);
  EXPECT_EQ(r.body, R"({"method":"PUT","path":"/blob","query":"","params":{},"headers":{},)"
                    R"("body_bytes":10,"body":"iVBORw0KGgoA/w==","body_encoding":"base64"})");
  parse(r.body);
}

TEST_F(EchoTest, OneBadByteMakesTheWholeBodyBase64) {
  api::Request request;
  request.body = "almost text\xC0\xAF";
  const api::Response r = echo(request);
  EXPECT_NE(r.body.find(R"("body":"YWxtb3N0IHRleHTArw==","body_encoding":"base64")"),
            std::string::npos)
      << r.body;
}

TEST_F(EchoTest, EscapesEveryStringField) {
  const std::array params{api::Param{"q\"", "a\\b"}};
  const std::array headers{api::Header{"x-ctl", "tab\there"}};
  api::Request request;
  request.method = "GET";
  request.path = "/\"quoted\"";
  request.query = "a=\x01";
  request.params = api::ParamList(params);
  request.headers = api::HeaderList(headers);
  request.body = std::string_view("nul\0", 4);
  const api::Response r = echo(request);
  EXPECT_EQ(r.body, R"({"method":"GET","path":"/\"quoted\"","query":"a=\u0001",)"
                    R"("params":{"q\"":"a\\b"},"headers":{"x-ctl":"tab\there"},)"
                    R"("body_bytes":4,"body":"nul\u0000","body_encoding":"utf-8"})");
  const rapidjson::Document doc = parse(r.body);
  EXPECT_EQ(doc["body"].GetStringLength(), 4u);
}

TEST_F(EchoTest, LargeBodyParsesAndCountsEveryByte) {
  std::string body(100000, 'x');
  for (std::size_t i = 0; i < body.size(); i += 7)
    body[i] = '"';
  api::Request request;
  request.body = body;
  const api::Response r = echo(request);
  const rapidjson::Document doc = parse(r.body);
  EXPECT_EQ(doc["body_bytes"].GetUint64(), 100000u);
  EXPECT_EQ(std::string_view(doc["body"].GetString(), doc["body"].GetStringLength()), body);
}

TEST_F(EchoTest, HandleAllocatesOnlyFromTheArena) {
  const std::array params{api::Param{"id", "1"}};
  const std::array headers{api::Header{"accept", "a"}, api::Header{"accept", "b"},
                           api::Header{"user-agent", "a user agent longer than SSO"}};
  api::Request request;
  request.method = "POST";
  request.path = "/echo/1";
  request.params = api::ParamList(params);
  request.headers = api::HeaderList(headers);
  request.body = "\xFF binary body";

  alignas(std::max_align_t) std::byte buffer[8192];
  std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer,
                                            std::pmr::null_memory_resource());
  testing::RecordingLogger logger;
  const api::Config config;
  testing::ManualScheduler scheduler;
  api::Context ctx(config, logger, &arena, api::Context::Clock::now(), scheduler);
  std::optional<api::Response> response;
  EXPECT_NO_ALLOC(response.emplace(run(module_->handle(request, ctx))));
  ASSERT_TRUE(response.has_value());
  parse(response->body);
}

TEST(EchoDelayTest, AnswersOnlyAfterItsSleepEnds) {
  std::unique_ptr<api::Module> module =
      create_ok(spec(), api::Config({{"delay_ms", std::int64_t{250}}}, ""));
  ASSERT_NE(module, nullptr);
  Harness harness;
  api::Context ctx = harness.context();
  api::Request request;
  request.method = "GET";
  request.path = "/slow";
  api::Task<api::Response> task = module->handle(request, ctx);
  const auto before = api::Context::Clock::now();
  task.start();
  EXPECT_FALSE(task.done());
  ASSERT_EQ(harness.scheduler.alarms.size(), 1u);
  EXPECT_GE(harness.scheduler.alarms[0]->deadline, before + std::chrono::milliseconds(250));
  harness.scheduler.fire_all();
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result().status, 200);
}

TEST(EchoDelayTest, DestroyingTheSleepingHandlerCancelsItsAlarm) {
  std::unique_ptr<api::Module> module =
      create_ok(spec(), api::Config({{"delay_ms", std::int64_t{1000}}}, ""));
  ASSERT_NE(module, nullptr);
  Harness harness;
  api::Context ctx = harness.context();
  api::Request request;
  {
    api::Task<api::Response> task = module->handle(request, ctx);
    task.start();
    EXPECT_EQ(harness.scheduler.alarms.size(), 1u);
  }
  EXPECT_TRUE(harness.scheduler.alarms.empty());
}

TEST(EchoConfigTest, RejectsABadDelay) {
  EXPECT_EQ(create_error(spec(), api::Config({{"delay_ms", std::int64_t{-1}}}, "")),
            "delay_ms: expected milliseconds from 0 to 60000");
  EXPECT_EQ(create_error(spec(), api::Config({{"delay_ms", std::string("1s")}}, "")),
            "delay_ms: expected milliseconds from 0 to 60000");
}

TEST(EchoConfigTest, RejectsUnknownKeys) {
  EXPECT_EQ(create_error(spec(), api::Config({{"pretty", true}}, "")),
            "pretty: unknown key (echo accepts: delay_ms)");
  EXPECT_EQ(create_error(spec(), api::Config({{"a", true}, {"b", std::string("x")}}, "")),
            "a: unknown key (echo accepts: delay_ms); b: unknown key (echo accepts: delay_ms)");
}

}  // namespace
}  // namespace edgefn::functions
