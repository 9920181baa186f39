// Tests the `proxy` module against a fake upstream (an api::Fetcher that records each call and
// answers it at once or later): the target and header set sent upstream, the answer copied
// back, each failure's status, config errors, and that a call allocates only from the arena.
#include "functions/proxy/proxy.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "functions/registry.h"
#include "tests/functions/module_harness.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::functions {
namespace {

using testing::config_of;
using testing::create_error;
using testing::create_ok;
using testing::Harness;
using Fields = std::vector<std::pair<std::string, std::string>>;
using Status = api::FetchStatus;

// An upstream in memory. With `answer` set, start() finishes every call with it at once;
// without, the call stays pending until the test calls finish(), as a real upstream call waits
// for its response.
class FakeFetcher final : public api::Fetcher {
 public:
  struct Seen {
    std::string upstream;
    std::string method;
    std::string target;
    Fields headers;
    std::string body;
  };

  void finish(const api::FetchResult& result) {
    api::FetchCall* call = std::exchange(pending, nullptr);
    ASSERT_NE(call, nullptr);
    call->finish(result);
  }

  std::optional<api::FetchResult> answer;
  bool record = true;  // false: keep nothing, so start() itself allocates nothing
  api::FetchCall* pending = nullptr;
  std::vector<Seen> seen;
  int cancelled = 0;

 private:
  void start(api::FetchCall& call) override {
    if (record) {
      const api::FetchRequest& r = call.request();
      Seen s{std::string(call.upstream()),
             std::string(r.method),
             std::string(r.target),
             {},
             std::string(r.body)};
      for (const api::Header& h : r.headers)
        s.headers.emplace_back(std::string(h.name), std::string(h.value));
      seen.push_back(std::move(s));
    }
    if (answer) {
      call.finish(*answer);
    } else {
      pending = &call;
    }
  }
  void cancel(api::FetchCall& call) noexcept override {
    if (pending == &call) pending = nullptr;
    ++cancelled;
  }
};

const api::ModuleSpec& spec() {
  return testing::module_spec("proxy");
}

api::FetchResult ok(int code, std::span<const api::Header> headers, std::string_view body) {
  return {Status::kOk, code, api::HeaderList(headers), body};
}

Fields fields_of(const api::Response& response) {
  Fields out;
  for (const api::HeaderField& f : response.headers())
    out.emplace_back(std::string(f.name), std::string(f.value));
  return out;
}

std::string error_body(int status, std::string_view message) {
  return "{\"error\":\"" + std::string(message) + "\",\"status\":" + std::to_string(status) + "}";
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make(config_of({{"upstream", std::string("origin")}}));
    fetcher_.answer = ok(200, {}, "");
  }
  void make(const api::Config& config) {
    module_ = create_ok(spec(), config);
    ASSERT_NE(module_, nullptr);
  }

  api::Context context() {
    return api::Context(harness_.config, harness_.logger, &harness_.arena,
                        api::Context::Clock::now() + Harness::kTimeout, harness_.scheduler, nullptr,
                        &fetcher_);
  }

  static api::Request request(std::string_view target, std::span<const api::Header> headers = {}) {
    api::Request r;
    r.method = "GET";
    r.target = target;
    r.path = target.substr(0, target.find('?'));
    r.host = "example.com";
    r.client_ip = "192.0.2.1";
    r.headers = api::HeaderList(headers);
    return r;
  }

  api::Response call(const api::Request& made) {
    api::Context ctx = context();
    return testing::run(module_->handle(made, ctx));
  }

  // The target the upstream received for a request to `target`.
  std::string sent_target(std::string_view target) {
    fetcher_.seen.clear();
    call(request(target));
    return fetcher_.seen.empty() ? "<no call>" : fetcher_.seen.back().target;
  }

  // The fields sent upstream, less the four the proxy adds.
  Fields sent_as_is() const {
    Fields out;
    for (const auto& [name, value] : fetcher_.seen.back().headers) {
      if (name != "X-Forwarded-For" && name != "X-Forwarded-Host" && name != "X-Forwarded-Proto" &&
          name != "Forwarded") {
        out.emplace_back(name, value);
      }
    }
    return out;
  }

  // The value of the one field `name` sent upstream; "<none>" or "<several>" otherwise.
  std::string sent(std::string_view name) const {
    std::string value = "<none>";
    int count = 0;
    for (const auto& [n, v] : fetcher_.seen.back().headers) {
      if (n == name && count++ == 0) value = v;
    }
    return count > 1 ? "<several>" : value;
  }

  Harness harness_;
  FakeFetcher fetcher_;
  std::unique_ptr<api::Module> module_;
};

// ---- what goes upstream -----------------------------------------------------------------------

TEST_F(ProxyTest, ForwardsMethodTargetAndBodyToTheConfiguredUpstream) {
  api::Request r = request("/items/a%2Fb?page=2&q=%20x");
  r.method = "POST";
  r.body = std::string_view("binary\0body", 11);
  call(r);
  ASSERT_EQ(fetcher_.seen.size(), 1u);
  EXPECT_EQ(fetcher_.seen[0].upstream, "origin");
  EXPECT_EQ(fetcher_.seen[0].method, "POST");
  EXPECT_EQ(fetcher_.seen[0].target, "/items/a%2Fb?page=2&q=%20x");
  EXPECT_EQ(fetcher_.seen[0].body, std::string("binary\0body", 11));
}

TEST_F(ProxyTest, StripPrefixOnlyAtASegmentBoundary) {
  make(config_of({{"upstream", std::string("origin")}, {"strip_prefix", std::string("/api")}}));
  EXPECT_EQ(sent_target("/api"), "/");
  EXPECT_EQ(sent_target("/api/"), "/");
  EXPECT_EQ(sent_target("/api/x"), "/x");
  EXPECT_EQ(sent_target("/api/x/y?z=1"), "/x/y?z=1");
  EXPECT_EQ(sent_target("/api?x=1"), "/?x=1");
  EXPECT_EQ(sent_target("/api/?x=1"), "/?x=1");
  EXPECT_EQ(sent_target("/api//x"), "//x");
  EXPECT_EQ(sent_target("/apix"), "/apix");
  EXPECT_EQ(sent_target("/apix?x=1"), "/apix?x=1");
  EXPECT_EQ(sent_target("/ap"), "/ap");
  EXPECT_EQ(sent_target("/"), "/");
  EXPECT_EQ(sent_target("/v1/api/x"), "/v1/api/x");
  EXPECT_EQ(sent_target("/API/x"), "/API/x");  // paths are case-sensitive
  // Only the path is looked at, and it is compared encoded: the query may hold anything.
  EXPECT_EQ(sent_target("/x?next=/api/y"), "/x?next=/api/y");
  EXPECT_EQ(sent_target("/api/a%20b?q=%2F"), "/a%20b?q=%2F");
  EXPECT_EQ(sent_target("/%61pi/x"), "/%61pi/x");
}

TEST_F(ProxyTest, MultiSegmentStripPrefix) {
  make(config_of({{"upstream", std::string("origin")}, {"strip_prefix", std::string("/v1/api")}}));
  EXPECT_EQ(sent_target("/v1/api/items"), "/items");
  EXPECT_EQ(sent_target("/v1/api"), "/");
  EXPECT_EQ(sent_target("/v1/apis"), "/v1/apis");
  EXPECT_EQ(sent_target("/v1"), "/v1");
}

TEST_F(ProxyTest, AbsoluteFormSendsItsPathAndQuery) {
  EXPECT_EQ(sent_target("http://example.com/p/q?x=1"), "/p/q?x=1");
  EXPECT_EQ(sent_target("http://example.com:8080/p"), "/p");
  EXPECT_EQ(sent_target("HTTP://Example.COM/p"), "/p");
  EXPECT_EQ(sent_target("http://example.com"), "/");
  EXPECT_EQ(sent_target("http://example.com?x=1"), "/?x=1");
  EXPECT_EQ(sent_target("http://user@[::1]:80/p"), "/p");
  make(config_of({{"upstream", std::string("origin")}, {"strip_prefix", std::string("/api")}}));
  EXPECT_EQ(sent_target("http://example.com/api/x?y=2"), "/x?y=2");
  EXPECT_EQ(sent_target("http://example.com/api?y=2"), "/?y=2");
  EXPECT_EQ(sent_target("http://example.com/apix"), "/apix");
}

TEST_F(ProxyTest, AFragmentIsNeverSent) {
  EXPECT_EQ(sent_target("/p?q=1#frag"), "/p?q=1");
  EXPECT_EQ(sent_target("http://example.com/p#frag"), "/p");
  EXPECT_EQ(sent_target("http://example.com#frag"), "/");
}

TEST_F(ProxyTest, OtherTargetFormsAreABadRequest) {
  for (std::string_view target : {"*", "example.com:443", "", "1http://x/"}) {
    const api::Response r = call(request(target));
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.content(), error_body(400, "the request target cannot be proxied"));
  }
  EXPECT_TRUE(fetcher_.seen.empty());
}

TEST(ProxyTargetTest, UpstreamTargetViewsTheRequestUnlessItHasToBuildOne) {
  std::pmr::string scratch;
  const std::string_view target = "/api/x?y=1";
  const std::optional<std::string_view> stripped = proxy::upstream_target(target, "/api", scratch);
  ASSERT_TRUE(stripped.has_value());
  EXPECT_EQ(*stripped, "/x?y=1");
  EXPECT_EQ(stripped->data(), target.data() + 4);  // a view: nothing copied
  EXPECT_TRUE(scratch.empty());
  const std::optional<std::string_view> built = proxy::upstream_target("/api?y=1", "/api", scratch);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(*built, "/?y=1");
  EXPECT_EQ(built->data(), scratch.data());
  EXPECT_EQ(proxy::upstream_target("*", "", scratch), std::nullopt);
}

TEST_F(ProxyTest, RequestHopByHopFieldsAreNotForwarded) {
  const std::array headers{
      api::Header{"accept", "text/html"},
      api::Header{"connection", "keep-alive, X-Secret"},
      api::Header{"connection", "x-other"},
      api::Header{"keep-alive", "timeout=5"},
      api::Header{"x-secret", "s"},
      api::Header{"x-other", "o"},
      api::Header{"proxy-connection", "keep-alive"},
      api::Header{"proxy-authorization", "Basic eA=="},
      api::Header{"proxy-authenticate", "Basic"},
      api::Header{"te", "trailers"},
      api::Header{"trailer", "x-checksum"},
      api::Header{"transfer-encoding", "chunked"},
      api::Header{"upgrade", "websocket"},
      api::Header{"host", "example.com"},
      api::Header{"content-length", "3"},
      api::Header{"expect", "100-continue"},
      api::Header{"authorization", "Bearer t"},
      api::Header{"x-secretive", "not named"},
      api::Header{"accept", "application/json"},
  };
  call(request("/p", headers));
  EXPECT_EQ(sent_as_is(), (Fields{{"accept", "text/html"},
                                  {"authorization", "Bearer t"},
                                  {"x-secretive", "not named"},
                                  {"accept", "application/json"}}));
}

TEST_F(ProxyTest, AddsForwardingFieldsForAPlainRequest) {
  const std::array headers{api::Header{"accept", "*/*"}};
  call(request("/p", headers));
  EXPECT_EQ(fetcher_.seen.back().headers,
            (Fields{{"accept", "*/*"},
                    {"X-Forwarded-For", "192.0.2.1"},
                    {"X-Forwarded-Host", "example.com"},
                    {"X-Forwarded-Proto", "http"},
                    {"Forwarded", "for=192.0.2.1;host=example.com;proto=http"}}));
}

TEST_F(ProxyTest, XForwardedForAppendsTheClientToEveryEarlierValue) {
  const std::array headers{api::Header{"x-forwarded-for", "203.0.113.9"},
                           api::Header{"accept", "*/*"},
                           api::Header{"x-forwarded-for", " 198.51.100.7, 10.0.0.1 "}};
  call(request("/p", headers));
  EXPECT_EQ(sent("X-Forwarded-For"), "203.0.113.9, 198.51.100.7, 10.0.0.1, 192.0.2.1");
  EXPECT_EQ(sent("x-forwarded-for"), "<none>");  // the earlier fields are replaced by the one
}

TEST_F(ProxyTest, XForwardedHostAndProtoReplaceWhatTheClientSent) {
  // The client is not a proxy the origin trusts: its claims about host and scheme are dropped.
  const std::array headers{api::Header{"x-forwarded-host", "public.example"},
                           api::Header{"x-forwarded-proto", "https"}};
  const api::Request r = request("/p", headers);
  call(r);
  EXPECT_EQ(sent("x-forwarded-host"), "<none>");
  EXPECT_EQ(sent("x-forwarded-proto"), "<none>");
  EXPECT_EQ(sent("X-Forwarded-Host"), r.host);
  EXPECT_EQ(sent("X-Forwarded-Proto"), "http");

  api::Request no_host = request("/p");
  no_host.host = "";
  call(no_host);
  EXPECT_EQ(sent("X-Forwarded-Host"), "<none>");
  EXPECT_EQ(sent("Forwarded"), "for=192.0.2.1;proto=http");
}

TEST_F(ProxyTest, ForwardedQuotesIPv6AndHostsWithPorts) {
  api::Request r = request("/p");
  r.client_ip = "2001:db8::1";
  r.host = "example.com:8080";
  call(r);
  EXPECT_EQ(sent("Forwarded"), "for=\"[2001:db8::1]\";host=\"example.com:8080\";proto=http");
  EXPECT_EQ(sent("X-Forwarded-For"), "2001:db8::1");  // de facto: no brackets there

  r.client_ip = "::1";
  r.host = "[::1]:8080";
  call(r);
  EXPECT_EQ(sent("Forwarded"), "for=\"[::1]\";host=\"[::1]:8080\";proto=http");

  r.client_ip = "";
  r.host = "a\"b";
  call(r);
  EXPECT_EQ(sent("Forwarded"), "for=unknown;host=\"a\\\"b\";proto=http");
  EXPECT_EQ(sent("X-Forwarded-For"), "<none>");
}

TEST_F(ProxyTest, ForwardedAppendsToEarlierElements) {
  const std::array headers{api::Header{"forwarded", "for=198.51.100.7;proto=https"},
                           api::Header{"forwarded", "for=\"[2001:db8::2]\""}};
  call(request("/p", headers));
  EXPECT_EQ(sent("Forwarded"),
            "for=198.51.100.7;proto=https, for=\"[2001:db8::2]\", "
            "for=192.0.2.1;host=example.com;proto=http");
  EXPECT_EQ(sent("forwarded"), "<none>");
}

TEST_F(ProxyTest, ForwardingFieldsTheConnectionHeaderNamesAreTheLastHopsOnly) {
  const std::array headers{
      api::Header{"connection", "x-forwarded-for, Forwarded, x-forwarded-proto"},
      api::Header{"x-forwarded-for", "10.9.9.9"},
      api::Header{"forwarded", "for=10.9.9.9"},
      api::Header{"x-forwarded-proto", "https"},
  };
  call(request("/p", headers));
  EXPECT_EQ(fetcher_.seen.back().headers,
            (Fields{{"X-Forwarded-For", "192.0.2.1"},
                    {"X-Forwarded-Host", "example.com"},
                    {"X-Forwarded-Proto", "http"},
                    {"Forwarded", "for=192.0.2.1;host=example.com;proto=http"}}));
}

// ---- what comes back --------------------------------------------------------------------------

TEST_F(ProxyTest, StatusBodyAndFieldsPassThrough) {
  const std::array headers{api::Header{"content-type", "text/plain"},
                           api::Header{"set-cookie", "a=1"},
                           api::Header{"etag", "\"v1\""},
                           api::Header{"set-cookie", "b=2"},
                           api::Header{"age", "7"},
                           api::Header{"server", "origin/1.0"}};
  fetcher_.answer = ok(201, headers, "created\n");
  const api::Response r = call(request("/p"));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content(), "created\n");
  EXPECT_EQ(fields_of(r), (Fields{{"content-type", "text/plain"},
                                  {"set-cookie", "a=1"},
                                  {"etag", "\"v1\""},
                                  {"set-cookie", "b=2"},
                                  {"age", "7"},
                                  {"server", "origin/1.0"}}));
}

TEST_F(ProxyTest, ErrorStatusesOfTheUpstreamAreItsOwn) {
  fetcher_.answer = ok(503, {}, "origin down");
  const api::Response r = call(request("/p"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content(), "origin down");
  EXPECT_TRUE(r.headers().empty());
  fetcher_.answer = ok(304, {}, "");
  EXPECT_EQ(call(request("/p")).status, 304);
}

TEST_F(ProxyTest, ResponseHopByHopAndFramingFieldsAreDropped) {
  const std::array headers{
      api::Header{"connection", "close, X-Internal"},
      api::Header{"keep-alive", "timeout=5"},
      api::Header{"x-internal", "i"},
      api::Header{"transfer-encoding", "chunked"},
      api::Header{"content-length", "2"},
      api::Header{"date", "Tue, 01 Dec 2026"},
      api::Header{"upgrade", "h2c"},
      api::Header{"proxy-authenticate", "Basic"},
      api::Header{"trailer", "x-sum"},
      api::Header{"proxy-connection", "close"},
      api::Header{"te", "trailers"},
      api::Header{"content-type", "text/plain"},
      api::Header{"x-internal-not", "kept"},
  };
  fetcher_.answer = ok(200, headers, "ok");
  const api::Response r = call(request("/p"));
  EXPECT_EQ(fields_of(r), (Fields{{"content-type", "text/plain"}, {"x-internal-not", "kept"}}));
  EXPECT_EQ(r.content(), "ok");
}

TEST_F(ProxyTest, RepeatedFieldsPassThroughInOrder) {
  // The cache joins repeated Cache-Control and Vary fields itself (runtime/response_store.cc).
  const std::array headers{
      api::Header{"cache-control", "max-age=60"}, api::Header{"vary", "accept"},
      api::Header{"content-type", "text/plain"},  api::Header{"cache-control", " no-store"},
      api::Header{"vary", "accept-language"},     api::Header{"cache-control", ""},
  };
  fetcher_.answer = ok(200, headers, "x");
  const api::Response r = call(request("/p"));
  EXPECT_EQ(fields_of(r), (Fields{{"cache-control", "max-age=60"},
                                  {"vary", "accept"},
                                  {"content-type", "text/plain"},
                                  {"cache-control", " no-store"},
                                  {"vary", "accept-language"},
                                  {"cache-control", ""}}));
}

TEST_F(ProxyTest, TheBodyIsSentFromTheUpstreamBufferWithoutACopy) {
  const std::string buffer = "a body the runtime's buffer holds until the request's next fetch";
  fetcher_.answer = ok(200, {}, buffer);
  const api::Response r = call(request("/p"));
  EXPECT_EQ(r.content(), buffer);
  EXPECT_EQ(r.content().data(), buffer.data());
  EXPECT_TRUE(r.body.empty());
}

// ---- failures ---------------------------------------------------------------------------------

TEST_F(ProxyTest, EachFailureHasItsStatus) {
  const std::pair<Status, int> cases[] = {
      {Status::kTimeout, 504},       {Status::kCircuitOpen, 503}, {Status::kNotAllowed, 500},
      {Status::kConnectFailed, 502}, {Status::kBadResponse, 502}, {Status::kTooLarge, 502},
      {Status::kUnavailable, 502},
  };
  for (const auto& [status, code] : cases) {
    fetcher_.answer = api::FetchResult::of(status);
    const api::Response r = call(request("/p"));
    EXPECT_EQ(r.status, code) << api::describe(status);
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.content(), error_body(code, api::describe(status)));
    EXPECT_EQ(r.header("retry-after"), status == Status::kCircuitOpen ? "1" : "");
  }
}

TEST_F(ProxyTest, NotAllowedIsLoggedAsAManifestMistake) {
  fetcher_.answer = api::FetchResult::of(Status::kTimeout);
  call(request("/p"));
  EXPECT_TRUE(harness_.logger.lines.empty());
  fetcher_.answer = api::FetchResult::of(Status::kNotAllowed);
  call(request("/p"));
  ASSERT_EQ(harness_.logger.lines.size(), 1u);
  EXPECT_EQ(harness_.logger.lines[0].first, api::LogLevel::kError);
  EXPECT_EQ(harness_.logger.lines[0].second,
            "proxy: upstream \"origin\" is not allowed: declare [upstreams.origin] and list it in "
            "the function's upstreams");
}

TEST_F(ProxyTest, AContextWithoutAFetcherAnswers502) {
  api::Context ctx(harness_.config, harness_.logger, &harness_.arena,
                   api::Context::Clock::now() + Harness::kTimeout, harness_.scheduler);
  const api::Request r = request("/p");
  const api::Response response = testing::run(module_->handle(r, ctx));
  EXPECT_EQ(response.status, 502);
  EXPECT_EQ(response.content(), error_body(502, "fetch unavailable"));
}

// ---- suspension -------------------------------------------------------------------------------

TEST_F(ProxyTest, ResumesWhenAPendingCallFinishes) {
  fetcher_.answer.reset();
  const std::array sent{api::Header{"x-a", "1"}};
  const api::Request r = request("/api/late?x=1", sent);
  api::Context ctx = context();
  api::Task<api::Response> task = module_->handle(r, ctx);
  task.start();
  ASSERT_FALSE(task.done());
  ASSERT_NE(fetcher_.pending, nullptr);
  // While it waits, the call's fields still view live memory of the suspended handler.
  EXPECT_EQ(fetcher_.pending->request().target, "/api/late?x=1");
  ASSERT_EQ(fetcher_.pending->request().headers.size(), 5u);
  EXPECT_EQ(fetcher_.pending->request().headers[1].value, "192.0.2.1");
  EXPECT_EQ(fetcher_.pending->request().headers[4].value,
            "for=192.0.2.1;host=example.com;proto=http");

  const std::array back{api::Header{"content-type", "text/plain"},
                        api::Header{"connection", "close"}};
  fetcher_.finish(ok(202, back, "later"));
  ASSERT_TRUE(task.done());
  const api::Response response = task.result();
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(response.content(), "later");
  EXPECT_EQ(fields_of(response), (Fields{{"content-type", "text/plain"}}));
  EXPECT_EQ(fetcher_.cancelled, 0);
}

TEST_F(ProxyTest, PendingFailureResumesWithItsStatus) {
  fetcher_.answer.reset();
  const api::Request r = request("/p");
  api::Context ctx = context();
  api::Task<api::Response> task = module_->handle(r, ctx);
  task.start();
  ASSERT_FALSE(task.done());
  fetcher_.finish(api::FetchResult::of(Status::kTimeout));
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result().status, 504);
}

TEST_F(ProxyTest, DestroyingTheHandlerCancelsItsPendingCall) {
  fetcher_.answer.reset();
  const api::Request r = request("/p");
  api::Context ctx = context();
  {
    api::Task<api::Response> task = module_->handle(r, ctx);
    task.start();
    ASSERT_FALSE(task.done());
    ASSERT_NE(fetcher_.pending, nullptr);
  }
  EXPECT_EQ(fetcher_.pending, nullptr);
  EXPECT_EQ(fetcher_.cancelled, 1);
}

// ---- allocation -------------------------------------------------------------------------------

TEST_F(ProxyTest, HandleAllocatesOnlyFromTheArena) {
  make(config_of({{"upstream", std::string("origin")}, {"strip_prefix", std::string("/api")}}));
  const std::array headers{
      api::Header{"accept", "text/html"},
      api::Header{"connection", "keep-alive, x-drop"},
      api::Header{"x-drop", "dropped"},
      api::Header{"x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.2.3, 10.4.5.6"},
      api::Header{"forwarded", "for=203.0.113.9;proto=https;host=public.example.org"},
      api::Header{"user-agent", "a user agent that is longer than any small string buffer"},
  };
  const std::array back{
      api::Header{"content-type", "text/html; charset=utf-8"},
      api::Header{"cache-control", "public, max-age=60"},
      api::Header{"cache-control", "stale-while-revalidate=30"},
      api::Header{"connection", "keep-alive"},
      api::Header{"x-origin-request-id", "0123456789abcdef0123456789abcdef"},
  };
  const std::string body(1024, 'b');
  api::Request r = request("/api?x=1", headers);
  r.client_ip = "2001:db8:ffff:ffff:ffff:ffff:ffff:1";
  r.host = "edge.example.com:8080";

  // The arena itself must not reach the heap, or EXPECT_NO_ALLOC would count it; it throws
  // bad_alloc (and the handler's task rethrows it) if the module outgrows it.
  alignas(std::max_align_t) static std::byte buffer[16384];
  std::pmr::monotonic_buffer_resource backing(buffer, sizeof buffer,
                                              std::pmr::null_memory_resource());
  testing::CountingResource arena(&backing);
  api::Context ctx(harness_.config, harness_.logger, &arena, api::Context::Clock::now(),
                   harness_.scheduler, nullptr, &fetcher_);

  fetcher_.record = false;
  fetcher_.answer.reset();
  std::optional<api::Task<api::Response>> task;
  std::optional<api::Response> response;
  EXPECT_NO_ALLOC({
    task.emplace(module_->handle(r, ctx));
    task->start();
    fetcher_.finish(ok(200, back, body));
    response.emplace(task->result());
  });
  ASSERT_TRUE(response.has_value());
  EXPECT_GT(arena.allocations, 0u);
  EXPECT_EQ(response->content(), body);
  EXPECT_EQ(response->header("cache-control"), "public, max-age=60");  // the first of two
  for (const api::HeaderField& f : response->headers()) {
    EXPECT_EQ(f.name.get_allocator().resource(), &arena);
    EXPECT_EQ(f.value.get_allocator().resource(), &arena);
  }
}

// ---- config -----------------------------------------------------------------------------------

TEST(ProxyConfigTest, UpstreamIsRequired) {
  EXPECT_EQ(create_error(spec(), config_of({})),
            "upstream: required: the name of an [upstreams.<name>] entry");
  EXPECT_EQ(create_error(spec(), config_of({{"strip_prefix", std::string("/api")}})),
            "upstream: required: the name of an [upstreams.<name>] entry");
  EXPECT_EQ(create_error(spec(), config_of({{"upstream", std::string("")}})),
            "upstream: expected the name of an [upstreams.<name>] entry");
  EXPECT_EQ(create_error(spec(), config_of({{"upstream", std::int64_t{1}}})),
            "upstream: expected the name of an [upstreams.<name>] entry");
}

TEST(ProxyConfigTest, StripPrefixMustBeAPathWithoutATrailingSlash) {
  const std::string reason =
      "strip_prefix: expected a path like \"/api\": starting with '/', not ending with '/', "
      "without '?', '#', spaces or non-ASCII bytes (percent-encode them)";
  for (const char* bad :
       {"api", "/api/", "/", "", "/a?b", "/a#b", "/a b", "/a\tb", "/caf\xC3\xA9"}) {
    EXPECT_EQ(create_error(spec(), config_of({{"upstream", std::string("origin")},
                                              {"strip_prefix", std::string(bad)}})),
              reason)
        << bad;
  }
  EXPECT_EQ(create_error(spec(), config_of({{"upstream", std::string("origin")},
                                            {"strip_prefix", std::int64_t{1}}})),
            reason);
  EXPECT_NE(create_ok(spec(), config_of({{"upstream", std::string("origin")},
                                         {"strip_prefix", std::string("/v1/a%20b")}})),
            nullptr);
}

TEST(ProxyConfigTest, UnknownKeysAreErrorsAndEveryErrorIsReported) {
  EXPECT_EQ(create_error(spec(), config_of({{"upstream", std::string("origin")},
                                            {"timeout", std::string("1s")}})),
            "timeout: unknown key (proxy accepts: upstream, strip_prefix)");
  EXPECT_EQ(create_error(spec(), config_of({{"strip_prefix", std::string("api")},
                                            {"timeout", std::string("1s")}})),
            "strip_prefix: expected a path like \"/api\": starting with '/', not ending with "
            "'/', without '?', '#', spaces or non-ASCII bytes (percent-encode them); timeout: "
            "unknown key (proxy accepts: upstream, strip_prefix); upstream: required: the name "
            "of an [upstreams.<name>] entry");
}

TEST(ProxyConfigTest, IsRegistered) {
  const api::ModuleSpec& proxy = spec();
  EXPECT_EQ(proxy.name, "proxy");
  EXPECT_FALSE(proxy.summary.empty());
}

}  // namespace
}  // namespace edgefn::functions
