// The store path shared by misses and refreshes.
#include "runtime/response_store.h"

#include <chrono>

#include "cache/stored.h"
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

}  // namespace

StoreOutcome store_response(Worker& worker, const CachePolicyDecl& policy,
                            const cache::CacheKey& key, const StoreStamp& stamp,
                            const api::Response& response) {
  const cache::RoutePolicy route{.ttl = policy.ttl,
                                 .stale_while_revalidate = policy.stale_while_revalidate,
                                 .stale_if_error = policy.stale_if_error,
                                 .vary = policy.vary};
  const cache::ResponseFacts facts{
      .status = response.status,
      .cache_control = cache::parse_cache_control(response.header("cache-control")),
      .vary = response.header("vary"),
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
      blob, response.status, lines, response.body,
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
