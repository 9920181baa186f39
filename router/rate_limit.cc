// Token buckets in hash-selected shards; see rate_limit.h for the locking and memory bounds.
#include "router/rate_limit.h"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace edgefn::router {
namespace {

constexpr double kNanosPerSecond = 1e9;

std::string_view clip(std::string_view text) {
  return text.substr(0, std::min(text.size(), RateLimiter::kMaxKeyBytes));
}

char tag_of(const RateKey& key) {
  return key.from_header ? 'h' : 'i';
}

std::size_t mix(char tag, std::string_view text) {
  // The tag keeps the header and IP key spaces apart in the shard choice as in the map.
  return std::hash<std::string_view>{}(text) ^
         (static_cast<std::size_t>(tag) * 0x9e3779b97f4a7c15u);
}

}  // namespace

std::int64_t RateLimiter::monotonic_now() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

std::size_t RateLimiter::Hash::operator()(const RateKey& key) const {
  return mix(tag_of(key), key.text);
}

std::size_t RateLimiter::Hash::operator()(const std::string& key) const {
  if (key.empty()) return 0;
  return mix(key[0], std::string_view(key).substr(1));
}

bool RateLimiter::Equal::operator()(const RateKey& a, const std::string& b) const {
  return !b.empty() && b[0] == tag_of(a) && std::string_view(b).substr(1) == a.text;
}

RateLimiter::RateLimiter(RateLimitSettings settings, Clock clock)
    : settings_(std::move(settings)),
      clock_(std::move(clock)),
      max_per_shard_(std::max<std::size_t>(1, settings_.max_keys / kShards)) {}

RateKey RateLimiter::key_for(bool has_header, std::string_view header_value,
                             std::string_view client_ip) const {
  if (!settings_.header.empty() && has_header) return RateKey{true, clip(header_value)};
  return RateKey{false, clip(client_ip)};
}

double RateLimiter::refilled(const Bucket& bucket, std::int64_t now_ns) const {
  // A clock that stepped back (it cannot with CLOCK_MONOTONIC, but a test clock may) refills
  // nothing rather than draining.
  const double elapsed =
      now_ns > bucket.last_ns ? static_cast<double>(now_ns - bucket.last_ns) / kNanosPerSecond : 0;
  return std::min(static_cast<double>(settings_.burst),
                  bucket.tokens + elapsed * settings_.per_second);
}

void RateLimiter::make_room(Shard& shard, std::int64_t now_ns) {
  const double burst = static_cast<double>(settings_.burst);
  std::erase_if(shard.buckets,
                [&](const auto& entry) { return refilled(entry.second, now_ns) >= burst; });
  if (shard.buckets.size() < max_per_shard_) return;
  // Every tracked key is still limited: drop the one idle the longest. It starts over with a
  // full bucket, an error toward admitting that one key, never toward unbounded memory.
  const auto oldest = std::min_element(
      shard.buckets.begin(), shard.buckets.end(),
      [](const auto& a, const auto& b) { return a.second.last_ns < b.second.last_ns; });
  shard.buckets.erase(oldest);
}

RateDecision RateLimiter::admit(RateKey key) {
  key.text = clip(key.text);
  const std::size_t hash = Hash{}(key);
  Shard& shard = shards_[hash % kShards];
  const std::int64_t now_ns = clock_();
  RateDecision decision;
  decision.limit = settings_.burst;

  const std::lock_guard lock(shard.mutex);
  auto found = shard.buckets.find(key);
  if (found == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) make_room(shard, now_ns);
    std::string stored(1, tag_of(key));
    stored.append(key.text);
    found = shard.buckets
                .emplace(std::move(stored), Bucket{static_cast<double>(settings_.burst), now_ns})
                .first;
  }
  Bucket& bucket = found->second;
  bucket.tokens = refilled(bucket, now_ns);
  bucket.last_ns = std::max(bucket.last_ns, now_ns);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    decision.allowed = true;
    decision.remaining = static_cast<std::uint64_t>(std::floor(bucket.tokens));
    return decision;
  }
  // The small tolerance keeps an exact answer (2s at 0.5/s) from rounding up to the next
  // second through floating-point error.
  const double wait = (1 - bucket.tokens) / settings_.per_second;
  const double seconds = std::ceil(wait - 1e-9);
  decision.retry_after_seconds = seconds < 1 ? 1 : static_cast<std::uint64_t>(seconds);
  return decision;
}

std::size_t RateLimiter::tracked_keys() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    const std::lock_guard lock(shard.mutex);
    total += shard.buckets.size();
  }
  return total;
}

}  // namespace edgefn::router
