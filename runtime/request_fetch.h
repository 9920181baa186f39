// RequestFetch: ctx.fetch() for the requests of one connection (or one background refresh) — the
// api::Fetcher that checks the running function's allow-list and hands the call to its worker's
// FetchClient, and the memory its results live in.
//
// A result's headers and body view `response_`, a buffer swapped with the connection that
// received them (no copy), kept with its capacity for the owner's next call: valid until the
// next fetch starts or the owner's next request. One call at a time.
//
// One thread: the worker's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "functions/api/alarm.h"
#include "functions/api/fetch.h"

namespace edgefn::runtime {

class App;
class FetchClient;
struct Function;
struct Upstream;
struct UpstreamLink;
struct UpstreamPool;

class RequestFetch final : public api::Fetcher {
 public:
  explicit RequestFetch(FetchClient& client) : client_(client) {}
  ~RequestFetch() override;
  RequestFetch(const RequestFetch&) = delete;
  RequestFetch& operator=(const RequestFetch&) = delete;

  // Before the owner runs a function: the App it runs on and the function whose `upstreams` it
  // may reach (both outlive the request).
  // `traceparent` (the request's trace context, empty: none) goes on every call that does not
  // carry its own, with a parent id of this hop's.
  void bind(const std::shared_ptr<const App>& app, const Function& function,
            std::string_view traceparent = {}) {
    app_ = &app;
    function_ = &function;
    traceparent_ = traceparent;
  }
  // The owner's request ended: a result buffer grown by a large response is let go of, so an
  // idle connection keeps at most kKeptBytes.
  void end_request();

  static constexpr std::size_t kKeptBytes = 64 * 1024;

 private:
  friend class FetchClient;

  void start(api::FetchCall& call) override;
  void cancel(api::FetchCall& call) noexcept override;

  // The current attempt's deadline.
  class Deadline final : public api::Alarm {
   public:
    explicit Deadline(RequestFetch& fetch) : fetch_(fetch) {}
    void fire() override;

   private:
    RequestFetch& fetch_;
  };

  FetchClient& client_;
  const std::shared_ptr<const App>* app_ = nullptr;
  const Function* function_ = nullptr;
  std::string_view traceparent_;

  // The call in progress, and what the FetchClient keeps of it.
  api::FetchCall* call_ = nullptr;
  const Upstream* upstream_ = nullptr;
  UpstreamPool* pool_ = nullptr;
  UpstreamLink* link_ = nullptr;  // the connection carrying the attempt; null while it waits
  unsigned attempts_ = 0;
  bool stale_retry_ = true;  // one free retry after a reused connection turned out closed
  Deadline deadline_{*this};
  RequestFetch* next_waiting_ = nullptr;  // in the pool's queue for a connection
  RequestFetch* prev_waiting_ = nullptr;
  bool waiting_ = false;
  bool delivering_ = false;  // finished; the result goes to the call from the worker's loop
  api::FetchResult result_;

  std::string response_;  // the last response's bytes: result_'s views point into it
  std::vector<api::Header> headers_;
};

}  // namespace edgefn::runtime
