// The store path shared by misses and refreshes.
#include "runtime/response_store.h"

#include <chrono>

#include "cache/stored.h"
#include "runtime/http_writer.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

StoreOutcome store_response(Worker& worker, const CachePolicyDecl& policy,
                            const cache::CacheKey& key, std::uint64_t generation,
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
  outcome.stored = worker.l1().insert(key, blob, plan.lifetime, generation) |
                   worker.shared().l2.insert(key, blob, plan.lifetime, generation);
  if (RedisClient* redis = worker.redis()) {
    // Sent behind the response, never before it: the client's answer does not wait for Redis.
    std::string& redis_key = worker.redis_key_scratch();
    const std::optional<std::string_view> field = RedisClient::locate(key.bytes(), redis_key);
    if (field && blob.size() <= worker.shared().cache.redis->max_value_bytes) {
      redis->store(redis_key, *field, blob,
                   std::chrono::ceil<std::chrono::milliseconds>(plan.lifetime.stale_until - now));
      outcome.stored = true;
    }
  }
  return outcome;
}

}  // namespace edgefn::runtime
