// FlightTable: the keys whose response is being produced right now on this node, so that
// concurrent misses for one key run the function once (request coalescing): the first miss
// leads, the others follow and, when the leader lands, look the key up again — finding what the
// leader stored, or running the function themselves when its answer could not be stored (a
// personalised or failed response is never handed to another client).
//
// Threads: thread-safe; shards by key hash, each with a mutex held for one map operation. Only
// misses of cacheable requests come here. Followers stay on their own worker; the table records
// which workers have followers so that land() can say whom to wake.
#pragma once

#include <bitset>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cache/key.h"

namespace edgefn::cache {

class FlightTable {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxWorkers = 1024;

  // True: the caller leads the flight for `key` and must land() it exactly once, whatever its
  // request's outcome. False: a flight is under way; `worker` is recorded as having a follower.
  // Allocates when a flight starts (its map node and key).
  bool lead_or_follow(const CacheKey& key, unsigned worker);
  // Leads the flight for `key` if none is under way (true); records no follower otherwise.
  bool try_lead(const CacheKey& key);

  // Ends the flight for `key` and calls wake(worker) once for every worker with followers.
  template <class Wake>
  void land(const CacheKey& key, Wake&& wake) {
    std::bitset<kMaxWorkers> followers;
    {
      Shard& shard = shard_of(key);
      std::lock_guard lock(shard.mutex);
      const auto it = shard.flights.find(std::string_view(key.bytes()));
      if (it == shard.flights.end()) return;
      followers = it->second;
      shard.flights.erase(it);
    }
    for (std::size_t worker = 0; worker < kMaxWorkers && followers.any(); ++worker) {
      if (!followers.test(worker)) continue;
      followers.reset(worker);
      wake(static_cast<unsigned>(worker));
    }
  }

  bool in_flight(const CacheKey& key) const;
  std::size_t flights() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view bytes) const { return hash_key_bytes(bytes); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::bitset<kMaxWorkers>, Hash, std::equal_to<>> flights;
  };
  Shard& shard_of(const CacheKey& key) { return shards_[key.hash() % kShards]; }
  const Shard& shard_of(const CacheKey& key) const { return shards_[key.hash() % kShards]; }

  Shard shards_[kShards];
};

}  // namespace edgefn::cache
