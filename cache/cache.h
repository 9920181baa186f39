// cache/: the layered response cache. This header is what the folder offers; include it, or
// the one header you need.
//
// In place:
//   cache/key.h  CacheKey (XXH3 hash + canonical bytes) and build_key(), which composes method,
//                host, decoded path, query and a route's `vary` headers into a reusable buffer.
//   cache/l1.h   L1Cache, one per worker thread: byte-bounded LRU of serialized responses with
//                RFC 9111 fresh/stale windows; a hit allocates nothing and takes no lock.
//   cache/l2.h   L2Cache, node-wide: sharded, lock-striped, byte-bounded LRU of immutable
//                reference-counted values; a hit copies nothing and allocates nothing.
//   cache/stored.h      the blob every layer stores: prefix, header lines, body.
//   cache/policy.h      RFC 9111/5861/9211 semantics: Cache-Control, what to store and for how
//                       long, conditional requests, Cache-Status.
//   cache/invalidation.h  per-URI generations that invalidate every layer at once.
//   cache/redis_pipe.h    RedisPipe: one Redis connection's pipelined protocol state, no I/O.
//
// The request path (DESIGN.md): L1 per worker, then L2 node-wide, then Redis; a hit's bytes go
// to the socket as they are. Everything here is single-threaded unless a header says otherwise,
// and nothing here throws.
#pragma once

#include "cache/invalidation.h"  // IWYU pragma: export
#include "cache/key.h"           // IWYU pragma: export
#include "cache/l1.h"            // IWYU pragma: export
#include "cache/l2.h"            // IWYU pragma: export
#include "cache/policy.h"        // IWYU pragma: export
#include "cache/stored.h"        // IWYU pragma: export
