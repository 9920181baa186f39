// Kv: the node's key-value store as a module sees it (ctx.kv()). Values live in Redis when the
// manifest has [cache.redis] — shared by every node that names the same server — and otherwise in
// a node-wide memory store shared by every worker. Last writer wins; incr is atomic.
//
//   api::KvResult got = co_await ctx.kv().get(key);
//   if (got.status == api::KvStatus::kOk) response.body = got.value;
//   api::KvResult hits = co_await ctx.kv().incr("hits:" + ..., 1);   // hits.integer
//
// Every operation is an awaitable that completes at once when the backend can (memory) and
// suspends the function otherwise (Redis), without holding its worker. A store that is down or
// slow answers kUnavailable within the Redis layer's timeout: an await never hangs. When the
// function's coroutine is destroyed while it waits (its timeout ran out, its client left), the
// call is cancelled with it and its answer, if it still comes, is dropped.
//
// Contract for callers: one call at a time per request (a second call started while one waits
// answers kUnavailable); `key` and `value` need to stay valid only until the co_await starts (the
// backend copies them). A value returned by get() is a copy in the request's arena (the Context's
// arena()), valid until the request ends, or in the string given to get(key, into). Nothing here
// allocates on the heap.
//
// Contract for backends (the runtime): start() either finishes the call before returning
// (KvCall::finish, no resumption) or keeps it pending and later calls KvCall::finish from the
// worker's loop — never from inside start() — which resumes the waiting coroutine; cancel() is
// called for a pending call whose awaiter is destroyed, after which the backend must not touch it.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <string>
#include <string_view>
#include <utility>

namespace edgefn::api {

enum class KvStatus : std::uint8_t {
  kOk,           // done; for get, `value` holds the bytes; for incr, `integer` the new value
  kNotFound,     // get: no such key (or it expired); remove: there was none
  kUnavailable,  // the store is down, slow, full of calls, or this context has none
  kNotInteger,   // incr: the stored value is not a decimal 64-bit integer, or would overflow
  kTooLarge,     // put: the value is larger than the store takes (see Kv::max_value_bytes)
};

// A short, stable name for logs and error bodies: "ok", "not found", "unavailable", ...
constexpr std::string_view describe(KvStatus status) {
  switch (status) {
    case KvStatus::kOk:
      return "ok";
    case KvStatus::kNotFound:
      return "not found";
    case KvStatus::kUnavailable:
      return "unavailable";
    case KvStatus::kNotInteger:
      return "not an integer";
    case KvStatus::kTooLarge:
      return "too large";
  }
  return "unknown";
}

struct KvResult {
  KvStatus status = KvStatus::kUnavailable;
  std::string_view value;    // get: the value's bytes, in the request's arena
  std::int64_t integer = 0;  // incr: the counter after the increment

  bool ok() const { return status == KvStatus::kOk; }

  static KvResult of(KvStatus status) { return {status, {}, 0}; }
  static KvResult found(std::string_view value) { return {KvStatus::kOk, value, 0}; }
  static KvResult counted(std::int64_t integer) { return {KvStatus::kOk, {}, integer}; }
};

class Kv;

// One operation, awaited once. Made by Kv's operations; the backend reads its fields.
class [[nodiscard]] KvCall {
 public:
  enum class Op : std::uint8_t { kGet, kPut, kRemove, kIncr };

  KvCall(Kv& kv, Op op, std::string_view key, std::string_view value = {},
         std::chrono::milliseconds ttl = std::chrono::milliseconds(0), std::int64_t by = 0,
         std::pmr::string* into = nullptr)
      : kv_(&kv), op_(op), key_(key), value_(value), ttl_(ttl), by_(by), into_(into) {}
  KvCall(const KvCall&) = delete;
  KvCall& operator=(const KvCall&) = delete;
  ~KvCall();

  // Starts the operation; true when it finished at once (nothing to wait for).
  bool await_ready();
  void await_suspend(std::coroutine_handle<> waiter) noexcept { waiter_ = waiter; }
  KvResult await_resume() const noexcept { return result_; }

  // What the backend reads.
  Op op() const { return op_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }       // put
  std::chrono::milliseconds ttl() const { return ttl_; }  // put, incr; 0: none
  std::int64_t by() const { return by_; }                 // incr
  // get: where the value goes when the caller named a string (else: the request's arena).
  std::pmr::string* into() const { return into_; }
  bool pending() const { return state_ == State::kPending; }

  // The backend's answer. Called at most once per call; resumes the awaiter when it suspended.
  // `result.value` must outlive the request (backends copy it into the request's arena).
  void finish(const KvResult& result);

 private:
  enum class State : std::uint8_t { kIdle, kPending, kDone };

  Kv* kv_;
  Op op_;
  State state_ = State::kIdle;
  std::string_view key_;
  std::string_view value_;
  std::chrono::milliseconds ttl_{0};
  std::int64_t by_ = 0;
  std::pmr::string* into_ = nullptr;
  KvResult result_;
  std::coroutine_handle<> waiter_;
};

class Kv {
 public:
  // `co_await get(key)`: kOk with the value, or kNotFound.
  KvCall get(std::string_view key) { return KvCall(*this, KvCall::Op::kGet, key); }
  // The same, copying the value straight into `into` (replacing its contents), e.g. a response
  // body: one copy instead of two for a value that is sent on. `value` then views `into`, which
  // must live until the call has finished (a local of the awaiting coroutine does).
  KvCall get(std::string_view key, std::pmr::string& into) {
    return KvCall(*this, KvCall::Op::kGet, key, {}, std::chrono::milliseconds(0), 0, &into);
  }
  // Stores `value` under `key`, replacing any value and its expiry (last writer wins); with a
  // ttl above zero the key expires that long after the put.
  KvCall put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) {
    return KvCall(*this, KvCall::Op::kPut, key, value, ttl);
  }
  // Deletes `key`: kOk, or kNotFound when there was none.
  KvCall remove(std::string_view key) { return KvCall(*this, KvCall::Op::kRemove, key); }
  // Adds `by` (may be negative) to the decimal integer stored under `key` (a missing key counts
  // as 0) and answers the new value; atomic across workers and, with Redis, across nodes. With a
  // ttl above zero, a counter that has no expiry yet (it was just created) gets one: a fixed
  // window, which is what a rate limit needs.
  KvCall incr(std::string_view key, std::int64_t by = 1,
              std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) {
    return KvCall(*this, KvCall::Op::kIncr, key, {}, ttl, by);
  }

  // The largest value put() takes (kTooLarge above it); 0 when the store takes none.
  virtual std::size_t max_value_bytes() const = 0;

 protected:
  virtual ~Kv() = default;

 private:
  friend class KvCall;
  virtual void start(KvCall& call) = 0;
  virtual void cancel(KvCall& call) noexcept = 0;
};

// The store of a Context that has none (tests, tools): every call answers kUnavailable at once.
class UnavailableKv final : public Kv {
 public:
  static UnavailableKv& instance() {
    static UnavailableKv kv;  // stateless: safe to share between threads
    return kv;
  }
  std::size_t max_value_bytes() const override { return 0; }

 private:
  void start(KvCall& call) override { call.finish({}); }
  void cancel(KvCall&) noexcept override {}
};

inline bool KvCall::await_ready() {
  state_ = State::kPending;
  kv_->start(*this);
  return state_ == State::kDone;
}

inline void KvCall::finish(const KvResult& result) {
  result_ = result;
  state_ = State::kDone;
  if (waiter_) std::exchange(waiter_, {}).resume();
}

inline KvCall::~KvCall() {
  if (state_ == State::kPending) kv_->cancel(*this);
}

}  // namespace edgefn::api
