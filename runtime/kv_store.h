// RequestKv: ctx.kv() for the requests of one connection (or one background refresh) — the
// api::Kv that picks the node's backend: Redis when [cache.redis] is configured, else the
// node-wide MemoryKv (runtime/kv_memory.h).
//
// Memory calls finish inside start(), so `co_await ctx.kv()...` does not suspend. A Redis call
// is sent through the worker's RedisClient with the owner's token (Worker::redis_token(slot,
// serial), the serial shared with the owner's other Redis calls); its reply reaches the owner's
// redis_answered, which hands it to answered() when waiting_for(serial). The owner then calls
// deliver() from the worker's loop — never from the reply callback — which resumes the function.
// A call whose coroutine is destroyed is cancelled: its reply, when it comes, matches nothing.
//
// One call at a time: a second call while one waits answers kUnavailable. Values larger than
// max_value_bytes() are refused (kTooLarge) before anything is sent: with Redis that is
// [cache.redis] max_value_bytes, beyond which a reply would be taken for garbage.
//
// One thread: the worker's. Nothing here allocates: keys are built in the worker's scratch
// string, values are copied into the owner's arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>

#include "cache/redis_pipe.h"
#include "functions/api/kv.h"

namespace edgefn::runtime {

class Worker;

class RequestKv final : public api::Kv {
 public:
  // For owners that cannot receive Redis replies (a background refresh): with Redis configured,
  // their calls answer kUnavailable.
  static constexpr std::uint32_t kNoRedis = 0xffffffffu;

  // `serial` numbers the owner's Redis calls (shared with its other ones, so a late reply is
  // recognised); `arena` receives the values get() returns.
  RequestKv(Worker& worker, std::uint32_t slot, std::uint32_t& serial,
            std::pmr::memory_resource* arena)
      : worker_(worker), slot_(slot), serial_(serial), arena_(arena) {}
  RequestKv(const RequestKv&) = delete;
  RequestKv& operator=(const RequestKv&) = delete;

  std::size_t max_value_bytes() const override;

  // A Redis call numbered `serial` waits for its reply.
  bool waiting_for(std::uint32_t serial) const {
    return pending_ != nullptr && !answered_ && serial == pending_serial_;
  }
  // Keeps what the reply (null: failed) means; the owner calls deliver() from the loop next.
  void answered(const cache::RedisReply* reply);
  // Finishes the answered call, resuming its coroutine (which may run to its end). A no-op when
  // the call was cancelled meanwhile.
  void deliver();

 private:
  void start(api::KvCall& call) override;
  void cancel(api::KvCall& call) noexcept override;
  void start_memory(api::KvCall& call);

  Worker& worker_;
  const std::uint32_t slot_;
  std::uint32_t& serial_;
  std::pmr::memory_resource* arena_;
  api::KvCall* pending_ = nullptr;  // the Redis call waiting, or answered and not delivered
  std::uint32_t pending_serial_ = 0;
  bool answered_ = false;
  api::KvResult answer_;
};

}  // namespace edgefn::runtime
