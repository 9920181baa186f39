// Storing a function's answer into the cache layers, for a miss (Connection) and for a
// stale-while-revalidate refresh (Refresh) alike.
#pragma once

#include <cstdint>

#include "cache/key.h"
#include "cache/policy.h"
#include "functions/api/response.h"
#include "runtime/manifest.h"

namespace edgefn::runtime {

class Worker;

// What a response is stored with, both read when its request began: the URI's invalidation
// generation (cache/invalidation.h) and the newest purge (cache/purge.h).
struct StoreStamp {
  std::uint64_t generation = 0;
  std::uint64_t purge_mark = 0;
};

struct StoreOutcome {
  cache::StoreVerdict verdict = cache::StoreVerdict::kNoStore;
  bool stored = false;  // kStore, and at least one layer took it (false: too large)
};

// Decides by RFC 9111 (cache::plan_store) under `policy`, and when the answer may be stored,
// puts it into the worker's L1 and the node's L2 under `key` with `stamp`, and writes it to
// Redis when there is a Redis layer (behind the response: nothing waits for it). Allocates the
// stored copies; the scratch buffers it formats into are the worker's.
StoreOutcome store_response(Worker& worker, const CachePolicyDecl& policy,
                            const cache::CacheKey& key, const StoreStamp& stamp,
                            const api::Response& response);

}  // namespace edgefn::runtime
