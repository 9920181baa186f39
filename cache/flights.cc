// FlightTable's map operations.
#include "cache/flights.h"

namespace edgefn::cache {

bool FlightTable::lead_or_follow(const CacheKey& key, unsigned worker) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.flights.find(std::string_view(key.bytes()));
  if (it == shard.flights.end()) {
    shard.flights.emplace(std::string(key.bytes()), std::bitset<kMaxWorkers>());
    return true;
  }
  it->second.set(worker % kMaxWorkers);
  return false;
}

bool FlightTable::try_lead(const CacheKey& key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (shard.flights.find(std::string_view(key.bytes())) != shard.flights.end()) return false;
  shard.flights.emplace(std::string(key.bytes()), std::bitset<kMaxWorkers>());
  return true;
}

bool FlightTable::in_flight(const CacheKey& key) const {
  const Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  return shard.flights.find(std::string_view(key.bytes())) != shard.flights.end();
}

std::size_t FlightTable::flights() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.flights.size();
  }
  return total;
}

}  // namespace edgefn::cache
