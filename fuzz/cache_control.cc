// Fuzz target: the response fields a function (or a proxied origin) controls caching with,
// through cache/policy: Cache-Control (parse_cache_control) and Vary into plan_store, and an
// HTTP-date (parse_http_date, and not_modified as Last-Modified against If-Modified-Since).
// The input is the three values, one per line: "Cache-Control\nVary\nHTTP-date"; missing lines
// are empty. The plan must respect the bounds policy.h states, whatever the values.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cache/policy.h"
#include "fuzz/check.h"

namespace edgefn::fuzz {
namespace {

using cache::Duration;

// Cuts the next line off `input` (without its '\n'); the rest stays in `input`.
std::string_view next_line(std::string_view& input) {
  const std::size_t end = input.find('\n');
  const std::string_view line = input.substr(0, end);
  input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
  return line;
}

void check_delta(const std::optional<Duration>& d) {
  if (d) FUZZ_CHECK(*d >= Duration::zero() && *d <= std::chrono::seconds(std::int64_t{1} << 31));
}

}  // namespace
}  // namespace edgefn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cache = edgefn::cache;
  using edgefn::fuzz::check_delta;
  using edgefn::fuzz::next_line;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view cache_control = next_line(input);
  const std::string_view vary = next_line(input);
  const std::string_view date = next_line(input);

  const cache::CacheControl cc = cache::parse_cache_control(cache_control);
  check_delta(cc.max_age);
  check_delta(cc.s_maxage);
  check_delta(cc.stale_while_revalidate);
  check_delta(cc.stale_if_error);

  const std::array<std::string, 2> route_vary = {"accept-language", "accept-encoding"};
  const cache::RoutePolicy route{.ttl = std::chrono::seconds(60),
                                 .stale_while_revalidate = std::chrono::seconds(30),
                                 .stale_if_error = std::chrono::minutes(5),
                                 .vary = route_vary};
  const cache::TimePoint now{std::chrono::hours(24)};
  // A default-cacheable status, one stored only with explicit freshness, and an authorized
  // request: the branches of plan_store that the directives steer.
  constexpr std::array<std::pair<int, bool>, 3> kCases = {
      {{200, false}, {500, false}, {200, true}}};
  for (const auto& [status, authorized] : kCases) {
    const cache::ResponseFacts facts{.status = status,
                                     .cache_control = cc,
                                     .vary = vary,
                                     .has_set_cookie = false,
                                     .request_authorized = authorized};
    const cache::StorePlan plan = cache::plan_store(route, facts, now);
    FUZZ_CHECK(!cache::describe(plan.verdict).empty());
    if (plan.verdict != cache::StoreVerdict::kStore) continue;
    const cache::Lifetime& life = plan.lifetime;
    FUZZ_CHECK(life.stored_at == now);
    FUZZ_CHECK(life.fresh_until >= now && life.fresh_until - now <= route.ttl);
    FUZZ_CHECK(life.stale_until >= life.fresh_until);
    FUZZ_CHECK(life.stale_until - life.fresh_until <= route.stale_if_error);
    FUZZ_CHECK(life.stale_until > now);
    if (cc.must_revalidate) FUZZ_CHECK(life.stale_until == life.fresh_until);
  }

  const std::optional<std::int64_t> seconds = cache::parse_http_date(date);
  // A resource last modified at a date that parses is not modified since that date.
  if (seconds) FUZZ_CHECK(cache::not_modified(std::nullopt, date, "", date));
  return 0;
}
