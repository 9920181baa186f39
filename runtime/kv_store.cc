// RequestKv: dispatches ctx.kv() calls to the memory store or to Redis and hands back replies.
#include "runtime/kv_store.h"

#include <utility>

#include "runtime/kv_redis.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

std::size_t RequestKv::max_value_bytes() const {
  if (worker_.shared().cache.redis) return worker_.shared().cache.redis->max_value_bytes;
  return worker_.shared().kv.max_value_bytes();
}

void RequestKv::start(api::KvCall& call) {
  if (call.op() == api::KvCall::Op::kPut && call.value().size() > max_value_bytes()) {
    call.finish(api::KvResult::of(api::KvStatus::kTooLarge));
    return;
  }
  if (!worker_.shared().cache.redis) {
    start_memory(call);
    return;
  }
  RedisClient* redis = worker_.redis();
  if (slot_ == kNoRedis || redis == nullptr || pending_ != nullptr) {
    call.finish({});  // kUnavailable
    return;
  }
  const std::uint32_t serial = ++serial_;
  if (!send_kv_command(*redis, Worker::redis_token(slot_, serial), call,
                       worker_.redis_key_scratch())) {
    call.finish({});  // no connection up (backoff after a failure), or too much queued
    return;
  }
  pending_ = &call;
  pending_serial_ = serial;
  answered_ = false;
}

void RequestKv::start_memory(api::KvCall& call) {
  MemoryKv& store = worker_.shared().kv;
  const auto now = MemoryKv::Clock::now();
  switch (call.op()) {
    case api::KvCall::Op::kGet:
      call.finish(store.get(call.key(), now, arena_, call.into()));
      return;
    case api::KvCall::Op::kPut:
      call.finish(api::KvResult::of(store.put(call.key(), call.value(), call.ttl(), now)));
      return;
    case api::KvCall::Op::kRemove:
      call.finish(api::KvResult::of(store.remove(call.key(), now)));
      return;
    case api::KvCall::Op::kIncr:
      call.finish(store.incr(call.key(), call.by(), call.ttl(), now));
      return;
  }
}

void RequestKv::cancel(api::KvCall& call) noexcept {
  if (pending_ != &call) return;
  pending_ = nullptr;
  answered_ = false;
}

void RequestKv::answered(const cache::RedisReply* reply) {
  answer_ = kv_result(pending_->op(), reply, arena_, pending_->into());
  answered_ = true;
}

void RequestKv::deliver() {
  if (pending_ == nullptr || !answered_) return;
  api::KvCall* call = std::exchange(pending_, nullptr);
  answered_ = false;
  call->finish(answer_);  // resumes the function; it may start the next call from here
}

}  // namespace edgefn::runtime
