// The store path shared by misses and refreshes.
#include "runtime/response_store.h"

#include <algorithm>
#include <chrono>

#include "cache/stored.h"
#include "functions/api/ascii.h"
#include "runtime/http_writer.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

// A purge by tag deletes the URIs listed in the tag's set (runtime/admin.cc): each tag of a
// stored response adds its URI key there. Capped, as a Cache-Tag is the function's to write.
constexpr int kMaxTagsPerResponse = 32;

void store_tags(RedisClient& redis, std::string_view tags, std::string_view uri_key,
                std::chrono::milliseconds ttl) {
  std::string& set = redis.tag_scratch();
  for (int count = 0; !tags.empty() && count < kMaxTagsPerResponse;) {
    const std::size_t comma = tags.find(',');
    std::string_view tag = tags.substr(0, comma);
    tags = comma == std::string_view::npos ? std::string_view{} : tags.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t'))
      tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t'))
      tag.remove_suffix(1);
    if (tag.empty()) continue;
    set.assign(kRedisTagPrefix).append(tag);
    redis.add_member(set, uri_key, ttl);
    ++count;
  }
}

// Every field called `name`, joined with ", " as RFC 9110 section 5.3 allows; a view of the
// only one in the usual case (no copy), else the joined text in `scratch`.
std::string_view joined_field(const api::Response& response, std::string_view name,
                              std::string& scratch) {
  std::string_view first;
  bool several = false;
  for (const api::HeaderField& field : response.headers()) {
    if (!api::ascii::iequals(field.name, name)) continue;
    if (first.data() == nullptr) {
      first = field.value;
      continue;
    }
    if (!several) scratch.assign(first);
    several = true;
    scratch.append(", ").append(field.value);
  }
  return several ? std::string_view(scratch) : first;
}

// The response's Cache-Control, with Expires standing in for max-age when it has neither max-age
// nor s-maxage (RFC 9111 section 5.3): the time left until that date by this node's clock (the
// origin's Date is not kept through a proxy); a date in the past or one that does not parse
// (`Expires: 0`) means already stale.
cache::CacheControl freshness_of(const api::Response& response, std::string& scratch) {
  cache::CacheControl cc =
      cache::parse_cache_control(joined_field(response, "cache-control", scratch));
  if (cc.max_age || cc.s_maxage) return cc;
  const std::string_view expires = response.header("expires");
  if (expires.empty()) return cc;
  const std::optional<std::int64_t> at = cache::parse_http_date(expires);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  cc.max_age = std::chrono::seconds(at ? std::max<std::int64_t>(*at - now, 0) : 0);
  return cc;
}

}  // namespace

StoreOutcome store_response(Worker& worker, const CachePolicyDecl& policy,
                            const cache::CacheKey& key, const StoreStamp& stamp,
                            const api::Response& response) {
  const cache::RoutePolicy route{.ttl = policy.ttl,
                                 .stale_while_revalidate = policy.stale_while_revalidate,
                                 .stale_if_error = policy.stale_if_error,
                                 .vary = policy.vary};
  std::string cache_control_scratch;  // used only when a response repeats a field
  std::string vary_scratch;
  const cache::ResponseFacts facts{
      .status = response.status,
      .cache_control = freshness_of(response, cache_control_scratch),
      .vary = joined_field(response, "vary", vary_scratch),
      .has_set_cookie = !response.header("set-cookie").empty(),
      .request_authorized = false,  // such requests bypass the cache altogether
  };
  const auto now = std::chrono::steady_clock::now();
  const cache::StorePlan plan = cache::plan_store(route, facts, now);
  StoreOutcome outcome{.verdict = plan.verdict, .stored = false};
  if (plan.verdict != cache::StoreVerdict::kStore) return outcome;
  std::string& lines = worker.cache_lines_scratch();
  lines.clear();
  http::append_storable_fields(lines, response);
  std::string& blob = worker.cache_blob_scratch();
  cache::encode_stored(
      blob, response.status, lines, response.content(),
      cache::to_stored_times(plan.lifetime, now, std::chrono::system_clock::now()));
  if (blob.empty()) return outcome;
  outcome.stored =
      worker.l1().insert(key, blob, plan.lifetime, stamp.generation, stamp.purge_mark) |
      worker.shared().l2.insert(key, blob, plan.lifetime, stamp.generation, stamp.purge_mark);
  if (RedisClient* redis = worker.redis()) {
    // Sent behind the response, never before it: the client's answer does not wait for Redis.
    std::string& redis_key = worker.redis_key_scratch();
    const std::optional<std::string_view> field = RedisClient::locate(key.bytes(), redis_key);
    if (field && blob.size() <= worker.shared().cache.redis->max_value_bytes) {
      const auto ttl =
          std::chrono::ceil<std::chrono::milliseconds>(plan.lifetime.stale_until - now);
      redis->store(redis_key, *field, blob, ttl);
      store_tags(*redis, response.header("cache-tag"), redis_key, ttl);
      outcome.stored = true;
    }
  }
  return outcome;
}

}  // namespace edgefn::runtime
