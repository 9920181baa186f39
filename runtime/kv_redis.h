// The kv store's Redis layout and protocol: which command each ctx.kv() operation sends, and
// what each reply means. No I/O here; RequestKv sends through the worker's RedisClient.
//
// Layout: a value lives under "edgefn:kv:" + its key (the module's prefix included), a plain
// Redis string, so redis-cli and other clients read and write the same values. The response
// cache's keys ("edgefn:v2|...") never collide with it.
//   get     GET k                          bulk → kOk, nil → kNotFound
//   put     SET k v [PX ttl]               OK → kOk
//   remove  DEL k                          1 → kOk, 0 → kNotFound
//   incr    INCRBY k by                    integer → kOk; "not an integer"/"overflow" → kNotInteger
//           EVAL (INCRBY, then PEXPIRE NX) with a ttl: one atomic step, so a counter created by
//           incr gets its window and an existing one keeps the one it has
// Anything else (no reply: down, timeout, garbage; another error) is kUnavailable.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <string>
#include <string_view>

#include "cache/redis_pipe.h"
#include "functions/api/kv.h"

namespace edgefn::runtime {

class RedisClient;

inline constexpr std::string_view kKvRedisPrefix = "edgefn:kv:";

// Sends `call`'s command as `token`, the Redis key built in `key_scratch` (its capacity kept).
// False when the client could not take it (no connection up, too much queued).
bool send_kv_command(RedisClient& redis, std::uint64_t token, const api::KvCall& call,
                     std::string& key_scratch);

// What `reply` (null: the call failed) means for an operation `op`; a value is copied into
// `into` when given, else into `arena`, since the reply's bytes are gone once the reply callback
// returns.
api::KvResult kv_result(api::KvCall::Op op, const cache::RedisReply* reply,
                        std::pmr::memory_resource* arena, std::pmr::string* into = nullptr);

}  // namespace edgefn::runtime
