// Fetch: HTTP/1.1 calls from a module to the manifest's named upstreams (ctx.fetch()).
//
//   api::FetchResult got = co_await ctx.fetch("origin", {.method = "GET", .target = "/v1/items"});
//   if (got.ok()) response.body = got.body;        // got.code: the upstream's HTTP status
//   else return ctx.error(502, describe(got.status));
//
// The runtime sends the call on a pooled keep-alive connection of the worker's (`connections`
// per upstream and worker; calls beyond wait for one), answers within the upstream's `timeout`
// per attempt, retries an idempotent method after a failed attempt (`retries`), and fails fast
// while the upstream's circuit is open. A function may reach only the upstreams its manifest
// entry names in `upstreams = [...]`; any other name answers kNotAllowed.
//
// What is sent: `method` and `target` (the upstream's URL path is put in front of it), the given
// headers, `Host` of the upstream's URL, and `Content-Length` for a body. The runtime owns the
// framing: given `host`, `content-length`, `transfer-encoding`, `connection`, `keep-alive`, `te`,
// `upgrade`, `trailer` and `expect` fields are not sent. A method that is not a token, a target
// that is not origin-form, or a field that is not valid (a name that is not a token, a value
// with CR, LF or NUL) fails the call with kInvalidRequest: nothing can be smuggled upstream.
//
// Contract for callers: one call at a time per request (a second call started while one waits
// answers kUnavailable); the request's strings need to stay valid until the co_await finishes (a
// local of the awaiting coroutine does). A result's headers and body view memory of the runtime's
// that stays valid until this request's next fetch starts, or the request ends. Nothing here
// allocates on the heap.
//
// Contract for backends (the runtime): as for Kv — start() either finishes the call before it
// returns or keeps it pending and later calls FetchCall::finish from the worker's loop; cancel()
// is called for a pending call whose awaiter is destroyed, after which the backend must not touch
// it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "functions/api/request.h"

namespace edgefn::api {

enum class FetchStatus : std::uint8_t {
  kOk,              // a complete response came: `code`, `headers`, `body`
  kNotAllowed,      // the upstream is not one of this function's (or does not exist)
  kCircuitOpen,     // the upstream failed too often lately: the call was not sent
  kTimeout,         // no complete response within the upstream's timeout
  kConnectFailed,   // no connection could be made (refused, unreachable, name not resolved)
  kBadResponse,     // the connection broke before a complete response, or it was not HTTP/1.x
  kTooLarge,        // the response exceeds the upstream's max_response_bytes
  kInvalidRequest,  // not sent: the method, target or a header field is not valid HTTP
  kUnavailable,     // this context cannot fetch now: a call already waits, or it has no loop
};

// A short, stable name for logs and error bodies: "ok", "not allowed", "circuit open", ...
constexpr std::string_view describe(FetchStatus status) {
  switch (status) {
    case FetchStatus::kOk:
      return "ok";
    case FetchStatus::kNotAllowed:
      return "upstream not allowed";
    case FetchStatus::kCircuitOpen:
      return "upstream circuit open";
    case FetchStatus::kTimeout:
      return "upstream timed out";
    case FetchStatus::kConnectFailed:
      return "upstream connection failed";
    case FetchStatus::kBadResponse:
      return "upstream sent a broken response";
    case FetchStatus::kTooLarge:
      return "upstream response too large";
    case FetchStatus::kInvalidRequest:
      return "invalid upstream request";
    case FetchStatus::kUnavailable:
      return "fetch unavailable";
  }
  return "unknown";
}

struct FetchRequest {
  std::string_view method = "GET";
  std::string_view target = "/";  // path and query, origin-form ("/items?page=2")
  std::span<const Header> headers = {};
  std::string_view body = {};
};

struct FetchResult {
  FetchStatus status = FetchStatus::kUnavailable;
  int code = 0;        // the upstream's status code, for kOk
  HeaderList headers;  // lower-case names, in the order received
  std::string_view body;

  bool ok() const { return status == FetchStatus::kOk; }
  static FetchResult of(FetchStatus status) { return {status, 0, {}, {}}; }
};

class Fetcher;

// One call, awaited once. Made by Context::fetch; the backend reads its fields.
class [[nodiscard]] FetchCall {
 public:
  FetchCall(Fetcher& fetcher, std::string_view upstream, const FetchRequest& request)
      : fetcher_(&fetcher), upstream_(upstream), request_(request) {}
  FetchCall(const FetchCall&) = delete;
  FetchCall& operator=(const FetchCall&) = delete;
  ~FetchCall();

  // Starts the call; true when it finished at once (refused before anything was sent).
  bool await_ready();
  void await_suspend(std::coroutine_handle<> waiter) noexcept { waiter_ = waiter; }
  FetchResult await_resume() const noexcept { return result_; }

  std::string_view upstream() const { return upstream_; }
  const FetchRequest& request() const { return request_; }
  bool pending() const { return state_ == State::kPending; }

  // The backend's answer. Called at most once per call; resumes the awaiter when it suspended.
  void finish(const FetchResult& result);

 private:
  enum class State : std::uint8_t { kIdle, kPending, kDone };

  Fetcher* fetcher_;
  std::string_view upstream_;
  FetchRequest request_;
  State state_ = State::kIdle;
  FetchResult result_;
  std::coroutine_handle<> waiter_;
};

class Fetcher {
 protected:
  virtual ~Fetcher() = default;

 private:
  friend class FetchCall;
  virtual void start(FetchCall& call) = 0;
  virtual void cancel(FetchCall& call) noexcept = 0;
};

// The fetcher of a Context that has none (tests, offloaded functions): every call answers
// kUnavailable at once.
class UnavailableFetcher final : public Fetcher {
 public:
  static UnavailableFetcher& instance() {
    static UnavailableFetcher fetcher;  // stateless: safe to share between threads
    return fetcher;
  }

 private:
  void start(FetchCall& call) override { call.finish({}); }
  void cancel(FetchCall&) noexcept override {}
};

inline bool FetchCall::await_ready() {
  state_ = State::kPending;
  fetcher_->start(*this);
  return state_ == State::kDone;
}

inline void FetchCall::finish(const FetchResult& result) {
  result_ = result;
  state_ = State::kDone;
  if (waiter_) std::exchange(waiter_, {}).resume();
}

inline FetchCall::~FetchCall() {
  if (state_ == State::kPending) fetcher_->cancel(*this);
}

}  // namespace edgefn::api
