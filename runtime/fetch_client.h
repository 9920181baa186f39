// FetchClient: a worker's HTTP/1.1 connections to the manifest's upstreams, driven by the
// worker's own io_uring — no thread, no blocking call. Each upstream gets a pool of at most
// `connections` keep-alive connections on this worker; a call takes an idle one (the most
// recently used first), else opens one, else waits in the pool's queue for one to come free.
//
// One call runs in attempts. An attempt has the upstream's `timeout` to connect, send and read
// a whole response (parsed by http::ResponseParser, in place). An attempt that fails — no
// connection, a broken one, no complete response in time — is repeated for an idempotent method
// while `retries` allow, and once more for free when a reused keep-alive connection turned out
// to be closed by the origin before it answered (the race every HTTP client has). POST and PATCH
// are never repeated. The upstream's circuit breaker hears of every call's outcome: a transport
// failure or a 5xx answer counts against it.
//
// Idle pooled connections keep a receive armed, so an origin closing one is noticed at once and
// the connection leaves the pool rather than failing the next call.
//
// Results reach the waiting function from the worker's loop (deliver()), never from inside a
// completion. A call whose coroutine is destroyed (timeout, client gone) is dropped; the
// connection carrying it is closed, since what it would read next is unknown.
//
// Allocation: none per call once buffers have grown to their working size — request bytes are
// composed in the connection's buffer, the response is swapped into the caller's buffer.
// One thread only: the worker's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/address.h"
#include "runtime/alarm_queue.h"
#include "runtime/app.h"
#include "runtime/http_response_parser.h"
#include "runtime/io.h"
#include "runtime/request_fetch.h"
#include "runtime/resolver.h"

namespace edgefn::runtime {

// One outbound connection.
struct UpstreamLink {
  enum class State : std::uint8_t {
    kConnecting,  // connect in flight, for the attempt of `fetch`
    kBusy,        // carrying the attempt of `fetch`
    kIdle,        // pooled; a receive armed to notice the origin closing it
    kClosing,     // failed or retired: waiting for its operations before the fd closes
    kFree,        // the slot holds no connection
  };

  explicit UpstreamLink(std::uint32_t slot_index) : index(slot_index) {}
  bool busy() const { return connect_in_flight || send_in_flight || recv_in_flight; }

  const std::uint32_t index;  // in the FetchClient's table: the completion's tag index
  State state = State::kFree;
  UpstreamPool* pool = nullptr;
  RequestFetch* fetch = nullptr;  // kConnecting, kBusy
  int fd = -1;
  SocketAddress address;  // the kernel reads it while the connect is in flight
  std::string out;        // the request being sent
  std::size_t sent = 0;
  std::string in;  // received bytes of the response; the kernel's while recv_in_flight
  std::size_t filled = 0;
  http::ResponseParser parser;
  bool reused = false;  // carried a response before: a close before any byte is the race
  bool connect_in_flight = false;
  bool send_in_flight = false;
  bool recv_in_flight = false;
};

// One upstream's connections on this worker.
struct UpstreamPool {
  std::shared_ptr<const App> app;  // keeps `upstream` alive across a reload
  const Upstream* upstream = nullptr;
  std::vector<UpstreamLink*> idle;  // most recently used last
  unsigned open = 0;                // connections counted against `connections`
  unsigned attached = 0;            // links that name this pool, closing ones included
  unsigned calls = 0;               // calls in progress that name this pool
  RequestFetch* first_waiting = nullptr;
  RequestFetch* last_waiting = nullptr;
  bool retired = false;  // of an older App: no new connections, idle ones closed
  // Where connections go: the numeric address, or the resolver's current ones.
  std::shared_ptr<const ResolvedName> name;
  std::vector<SocketAddress> addresses;
  std::uint64_t name_generation = ~std::uint64_t{0};
  ResolvedName::Status name_status = ResolvedName::Status::kPending;
  std::size_t next_address = 0;
};

class FetchClient {
 public:
  // `resolver` resolves upstreams whose host is a name.
  FetchClient(Io& io, AlarmQueue& alarms, Resolver& resolver);
  ~FetchClient();
  FetchClient(const FetchClient&) = delete;
  FetchClient& operator=(const FetchClient&) = delete;

  // From RequestFetch::start: sends `call` to `upstream` of `app` for `fetch`, or finishes it at
  // once (circuit open).
  void start(RequestFetch& fetch, api::FetchCall& call, const std::shared_ptr<const App>& app,
             const Upstream& upstream);
  // The call of `fetch` is being destroyed: forget it (see above).
  void cancel(RequestFetch& fetch) noexcept;
  // The attempt of `fetch` ran out of time.
  void expire(RequestFetch& fetch);

  // Completions the worker routes here (Op::kUpstreamConnect, kUpstreamSend, kUpstreamRecv;
  // index: the connection's slot).
  void on_completion(Op op, std::uint32_t index, int result);
  // The resolver has news: queues waiting for an address go on.
  void addresses_changed();
  // The worker took a new App: pools of others stop taking calls and close idle connections;
  // each goes when its last connection has.
  void retire_pools(const App& current);
  // Hands finished calls their results; the worker's loop calls it after the completions.
  void deliver();
  // The worker is going away and the Io with it: no more submissions; fds are closed
  // directly.
  void shut_down();

 private:
  UpstreamPool& pool_for(const std::shared_ptr<const App>& app, const Upstream& upstream);
  void attempt(RequestFetch& fetch);
  // Gives idle or new connections to the calls waiting in `pool`, oldest first.
  void serve_queue(UpstreamPool& pool);
  void enqueue(UpstreamPool& pool, RequestFetch& fetch);
  void dequeue(UpstreamPool& pool, RequestFetch& fetch);
  // Brings pool.addresses up to date; false while there is none to connect to.
  bool refresh_addresses(UpstreamPool& pool);
  void open_link(UpstreamPool& pool, RequestFetch& fetch);
  void begin_exchange(UpstreamLink& link, RequestFetch& fetch);
  void compose_request(UpstreamLink& link, const api::FetchCall& call);
  std::uint64_t next_span_id();  // xorshift64: non-zero, no lock, no syscall
  void send_more(UpstreamLink& link);
  void arm_recv(UpstreamLink& link);
  void on_connect(UpstreamLink& link, int result);
  void on_send(UpstreamLink& link, int result);
  void on_recv(UpstreamLink& link, int result);
  void on_idle_recv(UpstreamLink& link);
  // The response on `link` is whole: the call gets it, the connection goes back to the pool or
  // closes.
  void complete(UpstreamLink& link, bool keep_alive);
  // The attempt on `link` failed with `status`: the connection closes, the call retries or ends.
  void fail(UpstreamLink& link, api::FetchStatus status);
  void attempt_failed(RequestFetch& fetch, api::FetchStatus status, bool stale_connection);
  void finish(RequestFetch& fetch, const api::FetchResult& result);
  // Closes a connection: cancels its operations and, once they are back, its fd; the pool may
  // open another at once.
  void close_link(UpstreamLink& link);
  void maybe_release(UpstreamLink& link);
  void drop_retired_pools();

  Io& io_;
  AlarmQueue& alarms_;
  Resolver& resolver_;
  std::vector<std::unique_ptr<UpstreamPool>> pools_;
  std::vector<std::unique_ptr<UpstreamLink>> links_;
  std::vector<std::uint32_t> free_links_;
  std::vector<RequestFetch*> finished_;  // results waiting for deliver()
  bool shut_down_ = false;
  std::uint64_t span_state_ = 0x2545f4914f6cdd1du;
};

}  // namespace edgefn::runtime
