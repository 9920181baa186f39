// Tests the `kv` module against a test store: each route's answer, config errors, and that a
// call which suspends (as a Redis call does) resumes the handler or is cancelled with it.
#include "functions/kv/kv.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "functions/kv/settings.h"
#include "functions/registry.h"
#include "tests/functions/module_harness.h"

namespace edgefn::functions {
namespace {

using std::chrono::milliseconds;
using testing::create_error;
using testing::create_ok;
using testing::Harness;
using Status = api::KvStatus;

// A store in a std::map. Synchronous by default; with `suspend`, every call stays pending until
// the test calls answer(), as a Redis call waits for its reply.
class TestKv final : public api::Kv {
 public:
  struct Seen {
    api::KvCall::Op op;
    std::string key;
    std::string value;
    milliseconds ttl;
    std::int64_t by;
  };

  std::size_t max_value_bytes() const override { return 1 << 20; }

  // Finishes the pending call with what the map says (or `forced`, when set).
  void answer() {
    api::KvCall* call = std::exchange(pending, nullptr);
    ASSERT_NE(call, nullptr);
    call->finish(compute(*call));
  }

  std::map<std::string, std::string, std::less<>> values;
  std::optional<Status> forced;  // every call answers this status
  bool suspend = false;
  api::KvCall* pending = nullptr;
  std::vector<Seen> seen;
  int cancelled = 0;

 private:
  void start(api::KvCall& call) override {
    seen.push_back(
        {call.op(), std::string(call.key()), std::string(call.value()), call.ttl(), call.by()});
    if (suspend) {
      pending = &call;
      return;
    }
    call.finish(compute(call));
  }
  void cancel(api::KvCall& call) noexcept override {
    if (pending == &call) pending = nullptr;
    ++cancelled;
  }

  api::KvResult compute(const api::KvCall& call) {
    if (forced) return api::KvResult::of(*forced);
    const auto it = values.find(call.key());
    switch (call.op()) {
      case api::KvCall::Op::kGet:
        if (it == values.end()) return api::KvResult::of(Status::kNotFound);
        if (call.into() == nullptr) return api::KvResult::found(it->second);
        call.into()->assign(it->second);
        return api::KvResult::found(*call.into());
      case api::KvCall::Op::kPut:
        values[std::string(call.key())] = std::string(call.value());
        return api::KvResult::of(Status::kOk);
      case api::KvCall::Op::kRemove:
        if (it == values.end()) return api::KvResult::of(Status::kNotFound);
        values.erase(it);
        return api::KvResult::of(Status::kOk);
      case api::KvCall::Op::kIncr: {
        std::int64_t n = it == values.end() ? 0 : std::stoll(it->second);
        n += call.by();
        values[std::string(call.key())] = std::to_string(n);
        return api::KvResult::counted(n);
      }
    }
    return {};
  }
};

const api::ModuleSpec& spec() {
  return testing::module_spec("kv");
}

class KvModuleTest : public ::testing::Test {
 protected:
  void SetUp() override { make({}); }
  void make(api::Config config) {
    module_ = create_ok(spec(), config);
    ASSERT_NE(module_, nullptr);
    harness_.kv = &store_;
  }

  api::Request request(std::string_view method, std::string_view path, std::string_view key,
                       std::string_view body = {}, std::string_view query = {}) {
    param_ = {"key", key};
    return api::Request{.method = method,
                        .target = path,
                        .path = path,
                        .query = query,
                        .host = "test.local",
                        .client_ip = "127.0.0.1",
                        .traceparent = {},
                        .http_minor = 1,
                        .headers = {},
                        .params = api::ParamList(std::span<const api::Param>(&param_, 1)),
                        .body = body};
  }
  api::Response call(std::string_view method, std::string_view path, std::string_view key,
                     std::string_view body = {}, std::string_view query = {}) {
    const api::Request made = request(method, path, key, body, query);
    api::Context ctx = harness_.context();
    return testing::run(module_->handle(made, ctx));
  }

  static std::string error_body(int status, std::string_view message) {
    return "{\"error\":\"" + std::string(message) + "\",\"status\":" + std::to_string(status) + "}";
  }

  Harness harness_;
  TestKv store_;
  api::Param param_;
  std::unique_ptr<api::Module> module_;
};

TEST_F(KvModuleTest, GetAnswersTheValueOrA404) {
  store_.values["a"] = std::string("bin\0ary", 7);
  const api::Response found = call("GET", "/kv/a", "a");
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.header("content-type"), "application/octet-stream");
  EXPECT_EQ(std::string_view(found.body), std::string_view("bin\0ary", 7));
  const api::Response missing = call("GET", "/kv/b", "b");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("content-type"), "application/json");
  EXPECT_EQ(std::string_view(missing.body), error_body(404, "no value for this key"));
  EXPECT_EQ(call("HEAD", "/kv/a", "a").status, 200);
}

TEST_F(KvModuleTest, PutStoresTheBodyAndDeleteRemovesIt) {
  const api::Response put = call("PUT", "/kv/k", "k", "the value");
  EXPECT_EQ(put.status, 204);
  EXPECT_EQ(put.body, "");
  EXPECT_EQ(store_.values["k"], "the value");
  EXPECT_EQ(store_.seen.back().ttl, milliseconds(0));
  EXPECT_EQ(call("DELETE", "/kv/k", "k").status, 204);
  EXPECT_EQ(store_.values.count("k"), 0u);
  // Deleting what is not there is a success too.
  EXPECT_EQ(call("DELETE", "/kv/k", "k").status, 204);
}

TEST_F(KvModuleTest, APutAboveMaxValueBytesIsA413AndNeverReachesTheStore) {
  make(api::Config({{"max_value_bytes", std::int64_t{8}}}, ""));
  EXPECT_EQ(call("PUT", "/kv/k", "k", "12345678").status, 204);
  const api::Response big = call("PUT", "/kv/k", "k", "123456789");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(std::string_view(big.body), error_body(413, "value larger than max_value_bytes"));
  EXPECT_EQ(store_.seen.size(), 1u);
  EXPECT_EQ(store_.values["k"], "12345678");
  // The store's own limit comes back as a 413 too.
  store_.forced = Status::kTooLarge;
  EXPECT_EQ(call("PUT", "/kv/k", "k", "1").status, 413);
}

TEST_F(KvModuleTest, IncrAnswersTheNewValueAsJson) {
  const api::Response first = call("POST", "/kv/n/incr", "n");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("content-type"), "application/json");
  EXPECT_EQ(first.body, "{\"value\":1}");
  EXPECT_EQ(call("POST", "/kv/n/incr", "n", {}, "by=41").body, "{\"value\":42}");
  EXPECT_EQ(call("POST", "/kv/n/incr", "n", {}, "x=1&by=-50").body, "{\"value\":-8}");
  EXPECT_EQ(store_.seen.back().by, -50);
  for (std::string_view bad : {"by=", "by=1.5", "by=ten", "by=99999999999999999999", "by=+1"}) {
    const api::Response refused = call("POST", "/kv/n/incr", "n", {}, bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(std::string_view(refused.body), error_body(400, "by: expected a 64-bit integer"));
  }
  store_.forced = Status::kNotInteger;
  const api::Response conflict = call("POST", "/kv/n/incr", "n");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(std::string_view(conflict.body),
            error_body(409, "the stored value is not an integer, or the sum would overflow"));
}

TEST_F(KvModuleTest, AnUnavailableStoreIsA503WithRetryAfter) {
  store_.forced = Status::kUnavailable;
  for (std::string_view method : {"GET", "PUT", "DELETE"}) {
    const api::Response response = call(method, "/kv/k", "k", "v");
    EXPECT_EQ(response.status, 503) << method;
    EXPECT_EQ(response.header("retry-after"), "1");
    EXPECT_EQ(std::string_view(response.body),
              error_body(503, "the key-value store is unavailable"));
  }
  EXPECT_EQ(call("POST", "/kv/k/incr", "k").status, 503);
}

TEST_F(KvModuleTest, AContextWithoutAStoreAnswers503) {
  harness_.kv = nullptr;
  EXPECT_EQ(call("GET", "/kv/k", "k").status, 503);
  EXPECT_EQ(call("POST", "/kv/k/incr", "k").status, 503);
}

TEST_F(KvModuleTest, PrefixAndTtlComeFromTheConfig) {
  make(api::Config({{"prefix", std::string("tenant1:")}, {"ttl", std::string("90s")}}, ""));
  EXPECT_EQ(call("PUT", "/kv/k", "k", "v").status, 204);
  EXPECT_EQ(store_.seen.back().key, "tenant1:k");
  EXPECT_EQ(store_.seen.back().ttl, milliseconds(90'000));
  EXPECT_EQ(call("POST", "/kv/c/incr", "c").status, 200);
  EXPECT_EQ(store_.seen.back().key, "tenant1:c");
  EXPECT_EQ(store_.seen.back().ttl, milliseconds(90'000));
  EXPECT_EQ(call("GET", "/kv/k", "k").body, "v");
}

TEST_F(KvModuleTest, OtherMethodsAndShapesAreRefused) {
  const api::Response post = call("POST", "/kv/k", "k", "v");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD, PUT, DELETE, POST");
  EXPECT_EQ(call("PATCH", "/kv/k", "k").status, 405);
  EXPECT_EQ(call("GET", "/kv/", "").status, 404);
  EXPECT_EQ(call("GET", "/kv/long", std::string(KvModule::kMaxKeyBytes + 1, 'k')).status, 414);
  EXPECT_TRUE(store_.seen.empty());
}

TEST_F(KvModuleTest, ASuspendedCallResumesTheHandlerWithItsAnswer) {
  store_.suspend = true;
  store_.values["k"] = "later";
  const api::Request get = request("GET", "/kv/k", "k");
  api::Context ctx = harness_.context();
  api::Task<api::Response> task = module_->handle(get, ctx);
  task.start();
  EXPECT_FALSE(task.done());
  ASSERT_NE(store_.pending, nullptr);
  EXPECT_TRUE(store_.pending->pending());
  store_.answer();
  ASSERT_TRUE(task.done());
  const api::Response response = task.result();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "later");
  EXPECT_EQ(store_.cancelled, 0);
}

TEST_F(KvModuleTest, DestroyingTheHandlerCancelsItsPendingCall) {
  store_.suspend = true;
  const api::Request put = request("PUT", "/kv/k", "k", "v");
  api::Context ctx = harness_.context();
  {
    api::Task<api::Response> task = module_->handle(put, ctx);
    task.start();
    ASSERT_FALSE(task.done());
    ASSERT_NE(store_.pending, nullptr);
  }  // a timeout or a departed client destroys the function's coroutine where it waits
  EXPECT_EQ(store_.cancelled, 1);
  EXPECT_EQ(store_.pending, nullptr);
  EXPECT_EQ(store_.values.count("k"), 0u);
}

TEST(KvConfig, ErrorsNameTheKey) {
  EXPECT_EQ(create_error(spec(), api::Config({{"max_value_bytes", std::int64_t{0}}}, "")),
            "max_value_bytes: expected a size from 1 byte to 512MiB (bytes, or a string like "
            "\"64KiB\")");
  EXPECT_EQ(create_error(spec(), api::Config({{"max_value_bytes", std::string("1TiB")},
                                              {"prefix", std::int64_t{1}},
                                              {"ttl", std::string("0s")},
                                              {"size", true}},
                                             "")),
            "max_value_bytes: expected a size from 1 byte to 512MiB (bytes, or a string like "
            "\"64KiB\"); prefix: expected a string of at most 256 bytes; size: unknown key (kv "
            "accepts: max_value_bytes, prefix, ttl); ttl: expected a duration like \"30s\" (ms, "
            "s, m, h or d; more than 0, at most 366d)");
  EXPECT_NE(create_ok(spec(), api::Config({{"max_value_bytes", std::string("1MiB")}}, "")),
            nullptr);
}

TEST(KvConfig, SizesAndDurations) {
  EXPECT_EQ(kv::parse_size("512"), 512u);
  EXPECT_EQ(kv::parse_size("512B"), 512u);
  EXPECT_EQ(kv::parse_size("64KiB"), 64u << 10);
  EXPECT_EQ(kv::parse_size("2MiB"), 2u << 20);
  EXPECT_EQ(kv::parse_size("1GiB"), 1u << 30);
  EXPECT_EQ(kv::parse_size("64kb"), std::nullopt);
  EXPECT_EQ(kv::parse_size("KiB"), std::nullopt);
  EXPECT_EQ(kv::parse_size("-1"), std::nullopt);
  EXPECT_EQ(kv::parse_size("99999999999GiB"), std::nullopt);
  EXPECT_EQ(kv::parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(kv::parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(kv::parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(kv::parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(kv::parse_duration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(kv::parse_duration("0s"), std::nullopt);
  EXPECT_EQ(kv::parse_duration("30"), std::nullopt);
  EXPECT_EQ(kv::parse_duration("367d"), std::nullopt);
  EXPECT_EQ(kv::parse_duration("1w"), std::nullopt);
}

}  // namespace
}  // namespace edgefn::functions
