// Refresh: a stale-while-revalidate refresh (RFC 5861). A stored answer past its freshness but
// within the policy's stale_while_revalidate window is served at once, and one Refresh runs the
// function again with no client waiting: the request's head is copied, the function runs on the
// worker like any other (its timeout applies), and what it answers is stored as a miss's answer
// would be. The refresh leads the key's flight, so one refresh per key runs on the node, and
// misses for the key meanwhile wait for it.
//
// Owned by its worker from start() until it has finished; the worker destroys finished ones
// from its loop (never from inside the function's coroutine, whose frame is in the arena here).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/key.h"
#include "functions/api/module.h"
#include "runtime/app.h"
#include "runtime/kv_store.h"
#include "runtime/log.h"
#include "runtime/request_fetch.h"
#include "runtime/response_store.h"

namespace edgefn::runtime {

class Worker;

class Refresh {
 public:
  // Copies `request` and `key`, takes the key's flight (the caller checked it could lead it:
  // FlightTable::lead_or_follow returned true) and hands the refresh to the worker, whose loop
  // starts the function (run()) once the current completions are handled.
  static void start(Worker& worker, std::shared_ptr<const App> app, std::uint32_t function,
                    const api::Request& request, const cache::CacheKey& key,
                    const StoreStamp& stamp);

  ~Refresh();
  Refresh(const Refresh&) = delete;
  Refresh& operator=(const Refresh&) = delete;

  bool finished() const { return finished_; }
  bool started() const { return started_; }
  // Starts the function; called once, by the worker's loop.
  void run();

  // For the request driver.
  std::pmr::memory_resource* arena() { return &arena_; }
  const api::Request& request() const { return request_; }
  void handler_done(const api::Response& response);
  void handler_failed(std::string_view what);

 private:
  Refresh(Worker& worker, std::shared_ptr<const App> app, std::uint32_t function,
          const api::Request& request, const cache::CacheKey& key, const StoreStamp& stamp);
  void finish();

  class Timeout final : public api::Alarm {
   public:
    explicit Timeout(Refresh& refresh) : refresh_(refresh) {}
    void fire() override;

   private:
    Refresh& refresh_;
  };

  Worker& worker_;
  std::shared_ptr<const App> app_;
  const Function& function_;
  std::string bytes_;  // every string the copied request views
  std::vector<api::Header> headers_;
  std::vector<api::Param> params_;
  api::Request request_;
  std::string key_bytes_;
  cache::CacheKey key_;
  StoreStamp stamp_;
  std::pmr::monotonic_buffer_resource arena_;
  // A refresh has no connection slot to receive Redis replies on: with [cache.redis], its
  // ctx.kv() calls answer kUnavailable (and a failing refresh leaves the stale answer in use).
  std::uint32_t kv_serial_ = 0;
  RequestKv kv_;
  RequestFetch fetch_;  // a caching proxy's refresh fetches like its requests do
  FunctionLogger logger_;
  std::optional<api::Context> context_;
  std::coroutine_handle<> driver_;
  Timeout timeout_{*this};
  bool started_ = false;
  bool running_ = false;
  bool finished_ = false;
};

}  // namespace edgefn::runtime
