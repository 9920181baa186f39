// Tests the `hello` module: its output byte for byte, its config errors, and that a call
// allocates nothing outside the request arena.
#include "functions/hello/hello.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <optional>

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
  return testing::module_spec("hello");
}

using testing::config_of;

// Runs the module once and returns the response.
api::Response hello(const api::Config& config, const api::Request& request, Harness& h) {
  std::unique_ptr<api::Module> module = create_ok(spec(), config);
  if (!module) return api::Response();
  api::Context ctx = h.context();
  return run(module->handle(request, ctx));
}

TEST(HelloTest, GreetsTheWorldByDefault) {
  Harness h;
  api::Request request;
  request.method = "GET";
  request.path = "/hello";
  const api::Response r = hello(api::Config(), request, h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, world!");
  ASSERT_EQ(r.headers().size(), 1u);
  EXPECT_EQ(r.headers()[0].name, "Content-Type");
  EXPECT_EQ(r.headers()[0].value, "text/plain; charset=utf-8");
}

TEST(HelloTest, GreetsTheNameParameter) {
  Harness h;
  const std::array params{api::Param{"id", "7"}, api::Param{"name", "Ada"}};
  api::Request request;
  request.method = "GET";
  request.path = "/hello/Ada";
  request.params = api::ParamList(params);
  EXPECT_EQ(hello(api::Config(), request, h).body, "Hello, Ada!");
}

TEST(HelloTest, NameIsPassedThroughAsIs) {
  Harness h;
  const std::array params{api::Param{"name", "Zo\xC3\xAB & <b>"}};
  api::Request request;
  request.params = api::ParamList(params);
  EXPECT_EQ(hello(api::Config(), request, h).body, "Hello, Zo\xC3\xAB & <b>!");
}

TEST(HelloTest, ConfiguredGreeting) {
  Harness h;
  const std::array params{api::Param{"name", "edge"}};
  api::Request request;
  request.params = api::ParamList(params);
  EXPECT_EQ(hello(config_of({{"greeting", std::string("Howdy")}}), request, h).body,
            "Howdy, edge!");
  EXPECT_EQ(hello(config_of({{"greeting", std::string("")}}), api::Request(), h).body, ", world!");
}

TEST(HelloTest, RequestDetailsOtherThanTheNameDoNotMatter) {
  Harness h;
  const std::array headers{api::Header{"accept", "text/html"}};
  api::Request request;
  request.method = "POST";
  request.path = "/other";
  request.query = "name=ignored";
  request.headers = api::HeaderList(headers);
  request.body = "ignored";
  EXPECT_EQ(hello(api::Config(), request, h).body, "Hello, world!");
}

TEST(HelloTest, RejectsANonStringGreeting) {
  EXPECT_EQ(create_error(spec(), config_of({{"greeting", std::int64_t{1}}})),
            "greeting: expected a string");
  EXPECT_EQ(create_error(spec(), config_of({{"greeting", true}})), "greeting: expected a string");
  EXPECT_EQ(create_error(spec(), config_of({{"greeting", std::vector<std::string>{"Hi"}}})),
            "greeting: expected a string");
}

TEST(HelloTest, RejectsUnknownKeysByName) {
  EXPECT_EQ(create_error(spec(), config_of({{"greting", std::string("Hi")}})),
            "greting: unknown key (hello accepts: greeting)");
  EXPECT_EQ(create_error(spec(), config_of({{"greeting", 2.5}, {"name", std::string("x")}})),
            "name: unknown key (hello accepts: greeting); greeting: expected a string");
}

TEST(HelloTest, HandleAllocatesOnlyFromTheArena) {
  std::unique_ptr<api::Module> module =
      create_ok(spec(), config_of({{"greeting", std::string("A greeting longer than SSO")}}));
  ASSERT_NE(module, nullptr);
  const std::array params{api::Param{"name", "a name that is also rather long"}};
  api::Request request;
  request.method = "GET";
  request.path = "/hello/x";
  request.params = api::ParamList(params);

  // A stack buffer with no upstream: anything beyond it would throw rather than use the heap.
  alignas(std::max_align_t) std::byte buffer[4096];
  std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer,
                                            std::pmr::null_memory_resource());
  testing::RecordingLogger logger;
  const api::Config config;
  testing::ManualScheduler scheduler;
  api::Context ctx(config, logger, &arena, api::Context::Clock::now(), scheduler);

  std::optional<api::Response> response;
  EXPECT_NO_ALLOC(response.emplace(run(module->handle(request, ctx))));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "A greeting longer than SSO, a name that is also rather long!");
  EXPECT_EQ(response->body.get_allocator().resource(), &arena);
}

TEST(HelloTest, OneInstanceServesManyRequests) {
  std::unique_ptr<api::Module> module = create_ok(spec(), api::Config());
  ASSERT_NE(module, nullptr);
  for (const char* name : {"a", "b", "c"}) {
    Harness h;
    const std::array params{api::Param{"name", name}};
    api::Request request;
    request.params = api::ParamList(params);
    api::Context ctx = h.context();
    const api::Response r = run(module->handle(request, ctx));
    EXPECT_EQ(std::string_view(r.body), std::string("Hello, ") + name + "!");
  }
}

}  // namespace
}  // namespace edgefn::functions
