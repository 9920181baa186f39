// Invalidation: how an unsafe request (POST, PUT, PATCH, DELETE) on one worker makes every
// layer's stored responses for its URI unusable at once (RFC 9111 4.4), without touching the
// other workers' L1 caches, which no other thread may modify.
//
// Each stored response records the generation of its URI when it was stored; a lookup uses it
// only while that generation is unchanged. Generations live in a fixed table of atomic counters
// indexed by a hash of the URI (scope, host, path — every variant and query of a path shares
// one), so bumping one is one atomic increment, and checking one is one relaxed load: no lock
// on the lookup path. URIs that share a counter are invalidated together, which costs only a
// miss. A purge of everything bumps the epoch that is part of every generation.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace edgefn::cache {

class Invalidations {
 public:
  static constexpr std::size_t kCounters = 1u << 16;

  Invalidations() : counters_(std::make_unique<std::atomic<std::uint32_t>[]>(kCounters)) {}

  // The counter a URI uses: from the hash of its scope, host (lower-case) and decoded path.
  static std::size_t slot_of(std::uint64_t uri_hash) { return uri_hash & (kCounters - 1); }

  // The generation to store with a response for the URI, and to compare at lookup.
  std::uint64_t generation(std::size_t slot) const {
    return (static_cast<std::uint64_t>(epoch_.load(std::memory_order_relaxed)) << 32) |
           counters_[slot].load(std::memory_order_relaxed);
  }

  // Makes every response stored for the URI (all its variants) stale for every layer's lookups.
  void invalidate(std::size_t slot) { counters_[slot].fetch_add(1, std::memory_order_relaxed); }
  // Makes every stored response unusable.
  void invalidate_all() { epoch_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::unique_ptr<std::atomic<std::uint32_t>[]> counters_;
  std::atomic<std::uint32_t> epoch_{0};
};

// The hash of a URI for Invalidations::slot_of: scope, lower-cased host and path.
std::uint64_t uri_hash(std::string_view scope, std::string_view host, std::string_view path);

}  // namespace edgefn::cache
