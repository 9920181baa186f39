// Connection: one accepted socket on a worker — its input and output buffers, its HTTP parser,
// its request arena and timers — and the HTTP/1.1 state machine that turns received bytes into
// function calls and responses, in order, one request at a time (pipelined requests wait).
//
// A Connection object lives in its worker's slot table and is reused for later sockets, keeping
// its buffers' capacity: a steady stream of requests allocates nothing on the heap.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>

#include "cache/key.h"
#include "cache/l1.h"
#include "cache/l2.h"
#include "cache/policy.h"
#include "cache/redis_pipe.h"
#include "functions/api/module.h"
#include "router/concurrency_limit.h"
#include "router/route_table.h"
#include "router/validation.h"
#include "runtime/app.h"
#include "runtime/http_parser.h"
#include "runtime/http_writer.h"
#include "runtime/io.h"
#include "runtime/kv_store.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/offload_request.h"
#include "runtime/request_fetch.h"
#include "runtime/response_store.h"
#include "runtime/timer_list.h"

namespace edgefn::runtime {

class Worker;

class Connection {
 public:
  Connection(Worker& worker, std::uint32_t slot);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Takes a freshly accepted socket and starts receiving.
  void open(int fd, bool admin);

  // Completions routed here by the worker.
  void on_recv(const Completion& completion);
  void on_send(int result);
  void on_shutdown(int result);

  // A timer of this connection fired (the worker found it due in one of its lists).
  void on_timer(TimerList& list);

  // The worker started draining: idle connections close now, busy ones after their response.
  void begin_drain();

  // Continues parsing after a function that had suspended completed (see finish_request);
  // the worker calls it from its loop, outside any coroutine of this connection.
  void resume();

  // Brings the worker's connections-by-state gauges up to date with this connection; the worker
  // calls it after each event it hands to the connection.
  void track_state();

  bool is_admin() const { return admin_; }
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  std::uint32_t slot() const { return slot_; }
  TimerHook& timer() { return timer_; }
  static Connection& from_timer(TimerHook& hook);

  // Used by the request driver coroutine.
  std::pmr::memory_resource* arena() { return &arena_; }
  const api::Request& request() const { return request_; }
  void handler_done(const api::Response& response);
  void handler_failed(std::string_view what);

  // The concurrency limit this connection's request waits for a slot of (null: none); the
  // worker keeps waiting connections in a list and calls grant() when the slot is theirs.
  router::ConcurrencyLimit* waiting_for() const { return waiting_for_; }
  // The request now holds a slot of the limit it waited for; its function starts from the loop.
  void grant();

  // Coalesced cache misses: the key this request follows a flight for, and the worker's call
  // once that flight has landed (the request then looks the key up again, from the loop).
  bool following() const { return following_; }
  const cache::CacheKey& cache_key() const { return cache_key_; }
  void follow_landed();

  // The Redis layer replied to the call numbered `serial` (null: it failed): the cache lookup's
  // or the running function's ctx.kv() call's. What the request needs of it is copied; the
  // request continues from the loop.
  void redis_answered(std::uint32_t serial, const cache::RedisReply* reply);

  // The offload pool finished `job` (the worker's loop calls this): answered with its result
  // when it is the job this connection's request waits for, else ignored.
  void offload_done(OffloadJob& job);

 private:
  enum class Phase : std::uint8_t {
    kReading,    // parsing requests
    kHandling,   // a function is running for the current request
    kClosing,    // last response queued: send it, then linger
    kLingering,  // write side shut: discard input until EOF or the linger timer
    kClosed,     // waiting for in-flight operations before the slot is released
  };

  void arm_recv();
  void pause_recv();
  void on_peer_done();
  void regulate_recv();
  void process_input();
  bool on_head_complete();
  void on_message_complete();
  void on_message_complete_error(bool keep_alive);
  // Takes a token from the function's rate limiter, if it has one, and sets rate_limit_lines_;
  // false when it answered 429 instead (the connection stays usable).
  bool admit(const http::RequestHead& head);
  // Checks the function's request rules; false when it answered 400 instead.
  bool validate(const http::RequestHead& head);
  // Runs the routed function now, or queues the request for a slot of the function's
  // concurrency limit (answering 503 when the queue is full).
  void run_function(const http::RequestHead& head);
  void start_function();
  // start_function for an `offload = true` function: the request goes to the pool, or is
  // answered 503 when the pool's queue is full.
  void start_offload(const Function& function, api::Context::Clock::time_point deadline);
  api::Request make_request(const http::RequestHead& head);
  // Whether a stored response was purged since its request began (cache/purge.h); a purged one
  // is removed from its layer. An L1 entry that was not is marked checked.
  bool purged(const cache::L1Cache::Entry& entry);
  bool purged(const cache::L2Value& value);
  StoreStamp stamp() const { return {cache_generation_, cache_purge_mark_}; }
  // Within the policy's stale_while_revalidate window: serve, and refresh in the background.
  static bool revalidating(const cache::Lifetime& lifetime, const CachePolicyDecl& policy,
                           cache::TimePoint now);
  void refresh_in_background(const http::RequestHead& head);
  // For a function with a cache policy: answers a GET or HEAD from L1 or L2 (true), else keys
  // the request so handler_done can store the response (false).
  bool answer_from_cache(const http::RequestHead& head, const Function& function);
  // Answers with a stored blob (304 when the client's copy is current), with Age and `status`
  // as Cache-Status (its ttl filled in); false when the blob does not decode (nothing written).
  bool respond_stored(const api::HeaderList& headers, std::string_view blob,
                      const cache::Lifetime& lifetime, cache::TimePoint now,
                      cache::CacheStatus status);
  // The function failed with `status` (>= 500: its answer, a 500 or a 504): answers with the
  // stale response kept by answer_from_cache when stale_if_error allows, and returns true.
  bool serve_stale_on_error(int status);
  // After L1 and L2 missed: asks the Redis layer, when there is one (true: the request waits
  // for its answer).
  bool ask_redis();
  // Continues the request once Redis answered: from the value when it is usable, else by
  // running the function.
  void on_redis_answer();
  bool answer_from_redis(const http::RequestHead& head);
  // The function runs for the request (now, or once a concurrency slot is free).
  void run_uncached(const http::RequestHead& head);
  // Deletes the URI's variants from the Redis layer after a successful unsafe method.
  void invalidate_redis(const Function& function);
  // Ends this request's coalescing flight, if it leads one: the followers' workers are woken.
  void land_flight();
  // Stores the function's response when its policy allows, and appends Cache-Status to
  // extra_headers_; or, after an unsafe method, invalidates the URI in every layer.
  void cache_response(const api::Response& response);
  // The function's timeout or the request's queue wait ran out (whichever alarm_ was for).
  void on_alarm();
  void on_function_timeout();
  void on_queue_timeout();
  void stop_waiting();
  // The function ended (or was cancelled): its alarm and its concurrency slot are given back.
  void end_function();
  void respond_unavailable(std::string_view message);
  // Answers a CORS preflight for the function match_ names: 204, with Access-Control-* lines
  // only when its policy allows the origin, method and headers asked for.
  void respond_preflight(const http::RequestHead& head);
  // An OPTIONS request with Origin and Access-Control-Request-Method whose path, routed with
  // the requested method, reaches a function with a CORS policy: sets match_ and returns true.
  // The router has no OPTIONS route for it, so this runs before a 405 could be decided.
  bool is_preflight(const http::RequestHead& head);
  // Fills extra_headers_ with the function's CORS lines for `headers`' Origin (when allowed),
  // its response_headers lines and the current request's RateLimit-* lines, and returns it.
  std::string_view function_headers(const api::HeaderList& headers);
  void serve_admin(const http::RequestHead& head);
  void respond_error(int status, std::string_view message, bool keep_alive,
                     std::string_view extra_headers = {});
  http::ResponseFraming framing(bool keep_alive) const;
  // What the response being written was, for the metrics: its status, and whether the edge
  // turned the request away without running (or asking the cache for) its function.
  void note_answer(int status, bool rejected, std::size_t bytes);
  // Counts the answered request and writes its access-log line ([log] access, sample).
  void record_request();
  void write_access_line(std::chrono::steady_clock::duration duration);
  // Sets traceparent_: the request's valid traceparent, or a new one.
  void take_trace_context(const api::HeaderList& headers);
  static bool is_traceparent(std::string_view text);
  void finish_request(bool keep_alive);
  void update_timer();
  void flush();
  // Whether the peer has taken bytes since the idle timeout last looked, while a send waits
  // for room in the socket (see on_timer).
  bool peer_reading();
  // Sends the next part of out_sending_, from sent_ (at most kMaxSendBytes).
  void send_next();
  void start_linger();
  void close();
  void maybe_release();
  std::string_view client_ip();

  Worker& worker_;
  const std::uint32_t slot_;
  int fd_ = -1;
  bool admin_ = false;
  Phase phase_ = Phase::kReading;
  ConnectionState state_ = ConnectionState::kNone;  // as last counted (see track_state)
  bool recv_armed_ = false;
  bool send_in_flight_ = false;
  bool shutdown_in_flight_ = false;
  bool in_process_input_ = false;
  bool drain_ = false;
  bool peer_done_ = false;       // the peer shut its sending side: answer, then close
  bool handling_ = false;        // a function is running (possibly suspended) for this socket
  bool start_pending_ = false;   // granted a concurrency slot: start the function from the loop
  bool resume_pending_ = false;  // queued on the worker to continue parsing
  bool head_done_ = false;       // the current request's head is complete; its body may follow

  std::string in_;           // received, not yet consumed bytes
  std::string stash_;        // bytes received while a function runs (in_ must not move then)
  std::string out_sending_;  // owned by the kernel until its send completes
  std::size_t sent_ = 0;
  std::string out_pending_;  // responses queued behind the in-flight send
  // Unsent bytes in the socket (SIOCOUTQ) when the idle timeout last found a send in flight;
  // -1: not looked at since the last send completed.
  int queued_at_timeout_ = -1;

  std::optional<http::RequestParser> parser_;  // fresh for every socket
  std::uint64_t requests_ = 0;                 // completed on this socket
  bool recv_paused_ = false;                   // input backlog: stopped receiving

  // The App the current request was routed with (see on_head_complete).
  const App& app() const { return *app_; }
  std::shared_ptr<const App> app_;

  // The current request, as routed at head time.
  std::string path_;  // percent-decoded
  router::Match match_;
  std::array<api::Param, router::kMaxParams> params_{};
  int route_error_ = 0;  // status to answer instead of running a function (404, 405, 400)
  std::string_view route_error_message_;
  router::MethodMask allow_ = 0;
  std::string allow_line_;  // "Allow: GET, HEAD\r\n" for a 405
  bool head_request_ = false;
  bool preflight_ = false;     // a CORS preflight answered at the edge (match_ names the function)
  std::string extra_headers_;  // CORS and response_headers lines of one response; capacity kept
  std::string rate_limit_lines_;  // RateLimit-* (and Retry-After) of the current request
  bool keep_alive_ = true;
  int http_minor_ = 1;
  // For the metrics (see note_answer).
  bool routed_ = false;            // the request reached a function's route (or its preflight)
  bool function_started_ = false;  // its function ran (or was queued for the offload pool)
  int answer_status_ = 0;
  bool answer_rejected_ = false;
  bool answer_cached_ = false;                         // answered from a cache layer...
  CacheOutcome cache_outcome_ = CacheOutcome::kL1Hit;  // ...this one
  bool counted_inflight_ = false;              // in the worker's inflight gauge until end_function
  std::size_t answer_bytes_ = 0;               // of the response on the wire, head and body
  std::string_view traceparent_;               // the request's trace context (api::Request)
  std::array<char, 55> traceparent_buffer_{};  // a generated one
  std::chrono::steady_clock::time_point request_started_{};  // its head was complete
  router::Rejection rejection_;  // why validation refused the request; capacity kept

  // The current request's cache key (views cache_key_bytes_) and what storing needs.
  enum class CacheRole : std::uint8_t {
    kNone,        // no cache policy, or a method it does not concern
    kStore,       // a GET that missed: store what the function answers
    kMiss,        // a HEAD that missed: answered by the function, not stored
    kInvalidate,  // an unsafe method: a success invalidates the URI
    kBypass,      // a request with Authorization: the cache stays out of it
  };
  CacheRole cache_role_ = CacheRole::kNone;
  std::string cache_key_bytes_;
  std::string cache_query_;  // the keyed query parameters, when the policy names some
  cache::CacheKey cache_key_;
  std::size_t cache_uri_slot_ = 0;
  std::uint64_t cache_generation_ = 0;  // of the URI when the request started
  std::uint64_t cache_purge_mark_ = 0;  // the newest purge then
  bool leading_ = false;                // leads the flight for cache_key_: must land it
  bool following_ = false;              // waits for another request's flight for cache_key_
  bool coalesced_ = false;              // followed once already: no second wait
  bool retry_pending_ = false;          // the flight it followed landed: route again from the loop
  cache::L2Ref stale_;                  // a stale stored answer, for stale-if-error
  bool redis_pending_ = false;          // waits for the Redis layer's answer
  bool redis_answered_ = false;         // it came: continue from the loop
  bool redis_hit_ = false;              // ...with redis_value_
  std::uint32_t redis_serial_ = 0;      // numbers lookups, so a late answer is recognised
  std::string redis_value_;             // capacity kept

  // The running offloaded function's job, shared with the pool; abandoned (and let go of) when
  // the request ends without its result: timeout, closed socket.
  std::shared_ptr<OffloadRequest> offload_;
  // The admin request's scrape being formatted on the admin pool (MetricsScrape).
  std::shared_ptr<OffloadJob> scrape_;
  // The suspended driver of the running function, destroyed to cancel it (timeout, close).
  std::coroutine_handle<> driver_;
  // Due at the function's timeout while it runs, or at the end of its queue wait.
  class RequestAlarm final : public api::Alarm {
   public:
    explicit RequestAlarm(Connection& connection) : connection_(connection) {}
    void fire() override { connection_.on_alarm(); }

   private:
    Connection& connection_;
  };
  RequestAlarm alarm_{*this};
  router::ConcurrencyLimit* waiting_for_ = nullptr;  // queued for a slot of this limit
  router::ConcurrencyLimit* holding_ = nullptr;      // holds a slot of this limit
  // Links of the worker's list this connection waits in (see ConnectionList).
  friend class ConnectionList;
  struct WaitHook {
    Connection* prev = nullptr;
    Connection* next = nullptr;
  };
  WaitHook wait_hook_;

  // What a running function sees; stable until handler_done/handler_failed.
  api::Request request_;
  std::optional<api::Context> context_;
  std::optional<FunctionLogger> logger_;

  // Coroutine frames and response strings of one request; reset before the next.
  alignas(std::max_align_t) std::array<std::byte, 2048> arena_buffer_;
  std::pmr::monotonic_buffer_resource arena_;

  // ctx.kv() of the running function; its Redis calls share redis_serial_ with the lookups.
  RequestKv kv_{worker_, slot_, redis_serial_, &arena_};
  bool kv_answered_ = false;  // a kv call's reply came: resume the function from the loop
  // ctx.fetch() of the running function.
  RequestFetch fetch_;

  char client_ip_[INET6_ADDRSTRLEN + 1] = {};
  std::size_t client_ip_length_ = 0;

  TimerHook timer_;
};

}  // namespace edgefn::runtime
