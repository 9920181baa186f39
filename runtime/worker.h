// Worker: one thread, one Io (io_uring, or epoll where io_uring is unavailable), one SO_REUSEPORT
// listener, and the connections it accepted.
// Workers share nothing on the request path: the App is immutable, and the only atomics they
// touch are read when a connection is accepted or a drain starts.
#pragma once

#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/flights.h"
#include "cache/invalidation.h"
#include "cache/l1.h"
#include "cache/l2.h"
#include "cache/purge.h"
#include "runtime/alarm_queue.h"
#include "runtime/app.h"
#include "runtime/connection.h"
#include "runtime/connection_list.h"
#include "runtime/fetch_client.h"
#include "runtime/http_writer.h"
#include "runtime/io.h"
#include "runtime/kv_memory.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/offload_pool.h"
#include "runtime/redis_client.h"
#include "runtime/refresh.h"
#include "runtime/resolver.h"
#include "runtime/timer_list.h"

namespace edgefn::runtime {

class Worker;

// What every worker reads; owned by the Server, outlives the workers.
class SharedState {
 public:
  explicit SharedState(std::shared_ptr<const App> app)
      : server(app->server()),
        cache(app->manifest().cache),
        l2(cache.l2_bytes, cache.max_entry_fraction),
        kv(cache.kv_bytes),
        app_(std::move(app)) {}

  // The [server] and [cache] settings the process started with. A reload keeps them: listeners,
  // threads and cache memory exist already.
  const ServerConfig server;
  const CacheConfig cache;

  // The node-wide cache layer, and the generations that invalidate every layer's entries for a
  // URI. Both outlive reloads: keys are scoped by function name.
  cache::L2Cache l2;
  cache::Invalidations invalidations;
  cache::FlightTable flights;  // misses being answered now: one function run per key
  cache::PurgeList purges;     // POST /purge on the admin listener
  // ctx.kv()'s values when there is no [cache.redis]; outlives reloads like the caches.
  MemoryKv kv;
  // Runs `offload = true` functions; started by the Server once the workers exist (their wake()
  // is how a finished job reaches its worker), stopped after they have joined.
  std::unique_ptr<OffloadPool> offload;
  // One thread, started by the first scrape, that formats GET /metrics (MetricsScrape).
  std::unique_ptr<OffloadPool> admin_pool;
  // Upstream host names; its thread starts with the first name watched, and wakes every worker
  // when addresses change. Stopped by the Server before the workers go.
  std::unique_ptr<Resolver> resolver = std::make_unique<Resolver>([this] { wake_all(); });
  // Starts resolving the host names of `app`'s upstreams and of the Redis layer (start-up,
  // reload).
  void watch_upstreams(const App& app);

  // The App new requests are served with. A reload publishes a new one (any thread) and wakes
  // every worker; a worker takes it when it sees the generation move, and requests already
  // running finish on the App they started with (each connection holds a reference).
  void publish(std::shared_ptr<const App> app);
  std::shared_ptr<const App> current_app() const;
  std::uint64_t app_generation() const { return app_generation_.load(std::memory_order_acquire); }

  std::vector<Worker*> workers;  // to wake them all when a drain starts or an App is published
  void wake_all();
  // The workers' I/O backend: set by the Server before any worker serves, fixed afterwards.
  IoBackend io_backend = IoBackend::kUring;
  std::atomic<bool> draining{false};
  std::atomic<std::uint32_t> connections{0};           // open public connections, all workers
  std::atomic<std::uint64_t> rejected_connections{0};  // closed at once: max_connections
  std::atomic<std::int64_t> startup_nanoseconds{0};    // exec to listening, once known
  std::atomic<std::uint64_t> reloads_applied{0};       // manifests published by a reload
  std::atomic<std::uint64_t> reloads_failed{0};        // refused: the running one stayed
  // Asks for a manifest reload (SIGHUP); set by the Server when it has a reloader.
  std::function<void()> request_reload;

 private:
  mutable std::mutex app_mutex_;  // taken only to publish and, once per publish, by each worker
  std::shared_ptr<const App> app_;
  std::atomic<std::uint64_t> app_generation_{0};
};

class Worker final : private RedisClient::Listener {
 public:
  // `admin_fd` and `signal_fd` are -1 except on the first worker, which serves the admin
  // listener and turns SIGTERM/SIGINT (read from the signalfd) into a drain of every worker.
  Worker(unsigned id, SharedState& shared, int listen_fd, int admin_fd, int signal_fd);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the Io of `backend`; then setup() arms the listeners. Both must run on the thread
  // that then calls run(): an Io takes submissions from the thread that created it only.
  bool open_io(IoBackend backend, IoSetupError& error);
  bool setup(std::string& error);
  // Serves until a drain has finished: no listener, no public connection left. The first
  // worker also returns when the drain outlives drain_timeout; the result says which.
  enum class Exit { kDrained, kDrainTimeout };
  Exit run();
  // Any thread: makes the worker look at SharedState (a drain started). Async-signal-safe.
  void wake();

  unsigned id() const { return id_; }
  IoBackend io_backend() const { return io_->backend(); }

  // For connections.
  Io& io() { return *io_; }
  SharedState& shared() { return shared_; }
  // The App this worker starts new requests on, and the [server] settings (which never change).
  const App& app() const { return *app_; }
  const std::shared_ptr<const App>& app_handle() const { return app_; }
  const ServerConfig& server() const { return shared_.server; }
  // This worker's response cache (no lock: only this thread touches it).
  cache::L1Cache& l1() { return l1_; }
  // Scratch for one stored response's header lines and blob; reused, so storing allocates only
  // while they grow.
  std::string& cache_lines_scratch() { return cache_lines_; }
  std::string& cache_blob_scratch() { return cache_blob_; }
  http::DateClock& date() { return date_; }
  LogBuffer& log() { return log_; }
  std::uint64_t log_dropped() const { return log_.dropped(); }
  TimerList& header_timers() { return header_timers_; }
  TimerList& idle_timers() { return idle_timers_; }
  TimerList& linger_timers() { return linger_timers_; }
  bool draining() const { return draining_; }
  // The connection's last operation finished after close: its slot can be reused.
  void release(Connection& connection);
  // Calls connection.resume() from the loop once the current completions are handled.
  void defer(Connection& connection) { deferred_.push_back(&connection); }
  // Takes a background refresh: the loop starts it after the current completions and destroys it
  // once finished.
  void adopt(std::unique_ptr<Refresh> refresh) { refreshes_.push_back(std::move(refresh)); }
  // The Redis layer, when [cache.redis] is configured (else null). A connection's calls carry
  // redis_token(slot, serial); their replies reach its redis_answered().
  RedisClient* redis() { return redis_ ? &*redis_ : nullptr; }
  static std::uint64_t redis_token(std::uint32_t slot, std::uint32_t serial) {
    return (static_cast<std::uint64_t>(slot) + 1) << 32 | serial;
  }
  // Scratch for a Redis key; reused.
  std::string& redis_key_scratch() { return redis_key_; }
  // ctx.fetch's connections to upstreams.
  FetchClient& fetch() { return *fetch_; }
  // True for a share `share` of the calls (the access log's sampling), from a per-worker
  // xorshift generator: no lock, no syscall.
  bool sampled(double share) {
    if (share >= 1) return true;
    sample_state_ ^= sample_state_ << 13;
    sample_state_ ^= sample_state_ >> 7;
    sample_state_ ^= sample_state_ << 17;
    return static_cast<double>(sample_state_ >> 11) * 0x1.0p-53 < share;
  }
  // A new W3C traceparent, "00-<32 hex trace id>-<16 hex parent id>-00", from the worker's
  // generator (never all zero).
  void new_traceparent(std::array<char, 55>& out);
  // Scratch for one access-log line; reused.
  std::string& access_line_scratch() { return access_line_; }
  // This worker's counters, indexed for app(); the admin scrape reads every worker's.
  WorkerMetrics& metrics() { return metrics_; }
  const WorkerMetrics& metrics() const { return metrics_; }
  // Function timeouts, queue waits and sleeping functions: fired by the loop when due, which
  // arms one Io timeout for the earliest (so they are precise, not rounded to the tick).
  AlarmQueue& alarms() { return alarms_; }

  // Requests waiting for a slot of a function's concurrency limit (see
  // router/concurrency_limit.h): `connection` waits, in arrival order, until a slot is handed to
  // it (Connection::grant) or it leaves (timeout, closed socket).
  void add_waiter(Connection& connection) { waiters_.push_back(connection); }
  void add_follower(Connection& connection) { followers_.push_back(connection); }
  void remove_follower(Connection& connection) { followers_.remove(connection); }
  void remove_waiter(Connection& connection) { waiters_.remove(connection); }
  // A slot of `limit` is free on this worker: the oldest local waiter for it gets it; false when
  // there is none (the slot stays taken either way only if true).
  bool hand_over(router::ConcurrencyLimit& limit);
  // A request of this worker gives its slot back: to a local waiter, else to the limit, waking
  // a worker whose requests wait for it.
  void release_slot(router::ConcurrencyLimit& limit);

 private:
  void dispatch(const Completion& completion);
  void arm_accept(unsigned listener);
  void on_accept(unsigned listener, const Completion& completion);
  void arm_tick();
  void on_tick();
  void arm_wake();
  // Tries to get slots for the waiting requests (another worker freed one).
  void grant_waiters();
  // Lets the followers whose flight has landed look their key up again.
  void release_followers();
  // Hands the offload pool's finished jobs to the connections that submitted them.
  void take_offloaded();
  void fire_alarms();
  void arm_deadline();
  void begin_drain();
  void arm_signal();
  void on_signal(int result);
  void flush_log();
  Connection* allocate(int fd, bool admin);
  bool finished() const;

  static constexpr unsigned kPublic = 0;
  static constexpr unsigned kAdmin = 1;

  // Takes the published App when a reload moved the generation.
  void refresh_app();
  void redis_answered(std::uint64_t token, const cache::RedisReply* reply) override;

  unsigned id_;
  SharedState& shared_;
  std::shared_ptr<const App> app_;
  std::uint64_t app_generation_ = 0;
  int listeners_[2];
  bool accept_armed_[2] = {false, false};
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  int signal_fd_ = -1;
  signalfd_siginfo signal_info_{};
  std::chrono::steady_clock::time_point drain_deadline_{};
  __kernel_timespec tick_{};
  std::chrono::steady_clock::time_point tick_due_{};  // when the armed tick should complete
  http::DateClock date_;
  LogBuffer log_;
  TimerList header_timers_;
  TimerList idle_timers_;
  TimerList linger_timers_;
  AlarmQueue alarms_;  // before slots_: connections cancel their alarms when destroyed
  cache::L1Cache l1_;
  WorkerMetrics metrics_;
  std::uint64_t sample_state_ = 0x9e3779b97f4a7c15u;
  std::string access_line_;
  // Before slots_ and refreshes_: their pending calls are cancelled when they go. Made by
  // setup(), with the Io.
  std::optional<FetchClient> fetch_;
  std::string cache_lines_;
  std::string cache_blob_;
  std::vector<std::unique_ptr<Connection>> slots_;
  std::vector<std::unique_ptr<Refresh>> refreshes_;  // after alarms_: they cancel theirs
  std::optional<RedisClient> redis_;                 // after alarms_, before io_
  std::string redis_key_;
  std::vector<std::uint32_t> free_slots_;
  std::uint32_t public_connections_ = 0;
  bool draining_ = false;
  bool accept_retry_ = false;  // accept failed (EMFILE...): re-arm on the next tick
  std::vector<Connection*> deferred_;
  std::vector<std::shared_ptr<OffloadJob>> offloaded_;  // scratch of take_offloaded; reused
  ConnectionList waiters_;                              // for a concurrency slot
  ConnectionList followers_;                            // of a coalesced cache miss
  __kernel_timespec deadline_{};                        // read when the Io timeout is submitted
  std::chrono::steady_clock::time_point armed_deadline_ =
      std::chrono::steady_clock::time_point::max();
  std::uint32_t deadline_sequence_ = 0;

  int log_fd_ = -1;  // where flush_log writes: Io::log_output()

  // Declared last, so destroyed first: the kernel lets go of every buffer above (log lines,
  // connections' send buffers) before they are freed.
  std::unique_ptr<Io> io_;
};

}  // namespace edgefn::runtime
