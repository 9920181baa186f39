// Context: what the runtime lends a module for one request — its config, a logger, the deadline,
// the request's arena, timers, the node's key-value store and calls to upstreams. Created by the
// runtime; a module only reads it.
#pragma once

#include <chrono>
#include <memory_resource>
#include <string_view>

#include "functions/api/alarm.h"
#include "functions/api/config.h"
#include "functions/api/fetch.h"
#include "functions/api/kv.h"
#include "functions/api/response.h"

namespace edgefn::api {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Writes one structured log line attributed to the running function. Implementations never
// block the calling worker.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void write(LogLevel level, std::string_view message) = 0;
  void info(std::string_view message) { write(LogLevel::kInfo, message); }
  void warn(std::string_view message) { write(LogLevel::kWarn, message); }
  void error(std::string_view message) { write(LogLevel::kError, message); }
};

class Context {
 public:
  using Clock = std::chrono::steady_clock;

  // `kv` null: a context without a store, whose ctx.kv() answers every call kUnavailable;
  // `fetcher` null: one whose ctx.fetch() does.
  Context(const Config& config, Logger& logger, std::pmr::memory_resource* arena,
          Clock::time_point deadline, Scheduler& scheduler, Kv* kv = nullptr,
          Fetcher* fetcher = nullptr)
      : config_(&config),
        logger_(&logger),
        arena_(arena),
        deadline_(deadline),
        scheduler_(&scheduler),
        kv_(kv != nullptr ? kv : &UnavailableKv::instance()),
        fetcher_(fetcher != nullptr ? fetcher : &UnavailableFetcher::instance()) {}

  const Config& config() const { return *config_; }
  Logger& log() const { return *logger_; }
  // When the function's `timeout` expires: the runtime answers 504 then and destroys the
  // function's coroutine where it is suspended (its destructors run; its result never comes).
  Clock::time_point deadline() const { return deadline_; }
  // `co_await ctx.sleep(10ms)`: suspends the function without holding its worker.
  Sleep sleep(Clock::duration duration) const {
    return Sleep(*scheduler_, Clock::now() + duration);
  }
  // The node's key-value store (see kv.h): `co_await ctx.kv().get(key)`.
  Kv& kv() const { return *kv_; }
  // An HTTP call to one of the manifest's upstreams (see fetch.h):
  // `co_await ctx.fetch("origin", {.target = "/items"})`.
  FetchCall fetch(std::string_view upstream, const FetchRequest& request) const {
    return FetchCall(*fetcher_, upstream, request);
  }
  // Memory released when the request ends: coroutine frames, Response strings, scratch.
  std::pmr::memory_resource* arena() const { return arena_; }
  // A response whose strings live in this request's arena.
  Response response(int status = 200) const { return Response(status, arena_); }
  // A JSON error answer ({"error", "status"}) in this request's arena.
  Response error(int status, std::string_view message) const {
    return error_response(status, message, arena_);
  }

 private:
  const Config* config_;
  Logger* logger_;
  std::pmr::memory_resource* arena_;
  Clock::time_point deadline_;
  Scheduler* scheduler_;
  Kv* kv_;
  Fetcher* fetcher_;
};

}  // namespace edgefn::api
