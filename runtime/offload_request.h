// OffloadRequest: one request of an `offload = true` function, packed to run on the offload
// pool. It owns everything its handle() touches — a copy of the request, its own arena for the
// coroutine frames and the Response, a Context, the App that holds the module — so a pool thread
// can keep running it after its connection has answered 504 or closed.
//
// What an offloaded handler may await: Tasks that complete without suspending (plain
// computation, nested Tasks of the same kind). There is no event loop on a pool thread: ctx.kv()
// answers kUnavailable, and a handler that suspends (ctx.sleep, or any awaitable that waits for
// the worker's loop) is destroyed where it waits and the client gets 500.
#pragma once

#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <vector>

#include "functions/api/module.h"
#include "runtime/app.h"
#include "runtime/offload_pool.h"

namespace edgefn::runtime {

class OffloadRequest final : public OffloadJob {
 public:
  // Worker thread: copies `request` (it allocates: offloaded functions are the CPU-bound ones,
  // where a copy is small next to the work). `function` is one of `app`'s.
  OffloadRequest(unsigned owner, std::uint32_t slot, std::shared_ptr<const App> app,
                 const Function& function, const api::Request& request,
                 api::Context::Clock::time_point deadline);
  ~OffloadRequest() override;

  void run() override;

  // After run(), on the owner's thread: the function's response, or (null) its failure.
  const api::Response* response() const { return response_ ? &*response_ : nullptr; }
  const std::string& error() const { return error_; }

 private:
  // Refuses to park a handler: the pool thread has no loop to wake it. schedule() only notes
  // the attempt; run() sees the handler suspended and fails it.
  class NoScheduler final : public api::Scheduler {
   public:
    void schedule(api::Alarm&) override {}
    void cancel(api::Alarm&) noexcept override {}
  };
  // Log lines go straight to stdout: a pool thread may block, unlike a worker.
  class DirectLogger final : public api::Logger {
   public:
    explicit DirectLogger(const std::string& function) : function_(function) {}
    void write(api::LogLevel level, std::string_view message) override;

   private:
    const std::string& function_;
  };

  std::shared_ptr<const App> app_;  // keeps the module alive across a reload
  const Function& function_;
  // The request's bytes, copied; request_'s views point into them.
  std::string bytes_;
  std::vector<api::Header> headers_;
  std::vector<api::Param> params_;
  api::Request request_;
  std::pmr::monotonic_buffer_resource arena_;
  NoScheduler scheduler_;
  DirectLogger logger_;
  api::Context context_;
  std::optional<api::Response> response_;
  std::string error_;
};

}  // namespace edgefn::runtime
