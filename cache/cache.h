// cache/: the layered response cache. This header is what the folder offers; include it, or
// the one header you need.
//
// In place:
//   cache/key.h  CacheKey (XXH3 hash + canonical bytes) and build_key(), which composes method,
//                host, decoded path, query and a route's `vary` headers into a reusable buffer.
//   cache/l1.h   L1Cache, one per worker thread: byte-bounded LRU of serialized responses with
//                RFC 9111 fresh/stale windows; a hit allocates nothing and takes no lock.
//
// The request path (DESIGN.md): L1 per worker, then L2 node-wide, then Redis; a hit's bytes go
// to the socket as they are. Everything here is single-threaded unless a header says otherwise,
// and nothing here throws.
#pragma once

#include "cache/key.h"  // IWYU pragma: export
#include "cache/l1.h"   // IWYU pragma: export
