// RedisClient: a worker's connections to the [cache.redis] server (the cache's L3), driven by
// the worker's own Io (io_uring or epoll): no thread of its own, no blocking call. Commands are
// pipelined on a few connections, RESP answering strictly in order on each (cache::RedisPipe); the
// reply to a call reaches the worker's Listener with the token it was made with.
//
// Layout in Redis: every variant of a URI is a field of one hash, so one DEL invalidates them
// all (as an unsafe method must), on every node that shares the server:
//   key   "edgefn:" + the URI part of the canonical cache key (scope, method, host, path)
//   field the rest of the canonical key (query, vary headers)
//   value the stored blob (cache/stored.h), which carries its own wall-clock lifetime
// The hash expires with its longest-lived variant (PEXPIRE NX, then GT).
//
// Failure never reaches a request as an error. A server that is down, refuses, is slow (no
// answer within `timeout` of the oldest command waiting) or sends what is not RESP fails every
// call in flight on that connection (each answered with no reply), and the connection is
// dropped and retried with backoff, 50 ms doubling to 1 s: a Redis that returns is used again
// within about a second, at the price of one connect per second while it is away. While no
// connection is up, calls fail at once and writes are dropped. Everything is counted (stats()).
//
// Memory is bounded: a connection holds at most kMaxQueuedBytes of unsent commands and
// kMaxWaiting commands awaiting answers; beyond that, writes are dropped and calls refused. A
// reply may be at most max_value_bytes plus some room for its framing.
// One thread only: the worker's.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis_pipe.h"
#include "functions/api/alarm.h"
#include "runtime/alarm_queue.h"
#include "runtime/io.h"
#include "runtime/manifest.h"
#include "runtime/resolver.h"

namespace edgefn::runtime {

// The set of a Cache-Tag's URI keys: "edgefn:tag:" + the tag (see store_response).
inline constexpr std::string_view kRedisTagPrefix = "edgefn:tag:";

struct RedisStats {
  std::uint64_t failures = 0;        // calls failed: down, timeout, garbage, refused, error
  std::uint64_t writes = 0;          // stores and removals queued
  std::uint64_t dropped_writes = 0;  // not queued: no connection up, or too much queued
  std::uint64_t connects = 0;        // connections established
  std::uint64_t disconnects = 0;     // connections dropped after a failure
};

class RedisClient {
 public:
  class Listener {
   public:
    // The reply to call(token), valid during the call only; null when the command failed (no
    // connection, timeout, garbage). Called from a completion of the worker's loop, never from
    // within call().
    virtual void redis_answered(std::uint64_t token, const cache::RedisReply* reply) = 0;

   protected:
    ~Listener() = default;
  };

  static constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;
  static constexpr std::size_t kMaxWaiting = 4096;

  // `resolver` finds the server when the config names it by host (a connection attempt while
  // the name is not resolved yet fails like a refused one, and is retried after the backoff).
  RedisClient(Io& io, AlarmQueue& alarms, const RedisConfig& config, Listener& listener,
              Resolver& resolver);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // The Redis key and field of a canonical cache key (see the layout above), into `key`.
  // Returns the field, a view of `canonical`; nullopt when `canonical` is not a cache key.
  static std::optional<std::string_view> locate(std::string_view canonical, std::string& key);

  // Sends any command (at most cache::RedisPipe::kMaxArgs words). True when it was sent or
  // queued: its reply comes to the Listener, unless `token` is 0 (no reply wanted). False when
  // no connection can take it now. Connects on first use: start-up does nothing for Redis.
  bool call(std::uint64_t token, std::initializer_list<std::string_view> command);
  // Stores a field, fire-and-forget: the hash lives at least `ttl` (at least 1 ms).
  void store(std::string_view key, std::string_view field, std::string_view value,
             std::chrono::milliseconds ttl);
  // Adds `member` to the set `key`, fire-and-forget: the set lives at least `ttl`.
  void add_member(std::string_view key, std::string_view member, std::chrono::milliseconds ttl);
  // Deletes a URI's hash, every variant with it; fire-and-forget.
  void remove(std::string_view key);

  // Completions the worker routes here (Op::kRedisConnect, kRedisSend, kRedisRecv; index: the
  // connection).
  void on_completion(Op op, std::uint32_t index, int result);

  const RedisStats& stats() const { return stats_; }
  // Scratch for a key the caller composes; reused.
  std::string& tag_scratch() { return tag_scratch_; }
  // Connections up now.
  unsigned connected() const;

 private:
  struct Link;
  Link* pick();
  // Where the next connection goes: the numeric address, or the next of the resolved ones;
  // false while the name has none.
  bool next_address(SocketAddress& address);
  void connect(Link& link);
  void flush(Link& link);
  void arm_recv(Link& link);
  void on_connect(Link& link, int result);
  void on_send(Link& link, int result);
  void on_recv(Link& link, int result);
  // Fails what waits on the link, cancels its operations and, once they are back, closes the
  // socket and waits out the backoff.
  void fail(Link& link);
  void maybe_closed(Link& link);
  void on_alarm(Link& link);
  void arm_timeout(Link& link);
  // The link connected or was answered: its timeout restarts, or stops with nothing waiting.
  void made_progress(Link& link);
  void answer(std::uint64_t token, const cache::RedisReply* reply);
  // Queues `command` on a link that can take it, arming its timeout; null when none can.
  Link* queue(std::uint64_t token, std::initializer_list<std::string_view> command);
  // Queues `command` for `key` and the expiry that keeps the key at least `ttl`, then sends.
  void write_with_expiry(std::initializer_list<std::string_view> command, std::string_view key,
                         std::chrono::milliseconds ttl);

  Io& io_;
  AlarmQueue& alarms_;
  const RedisConfig config_;
  Listener& listener_;
  Resolver& resolver_;
  std::shared_ptr<const ResolvedName> name_;  // config_.host's, once a connection wanted it
  std::vector<SocketAddress> addresses_;      // its addresses as of name_generation_
  std::uint64_t name_generation_ = ~std::uint64_t{0};
  std::size_t next_address_ = 0;
  std::vector<std::unique_ptr<Link>> links_;
  std::size_t next_ = 0;  // round robin
  RedisStats stats_;
  std::string tag_scratch_;
};

}  // namespace edgefn::runtime
