// FetchClient: pooled keep-alive HTTP/1.1 connections to upstreams on the worker's Io.
#include "runtime/fetch_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "functions/api/ascii.h"
#include "runtime/upstream.h"

namespace edgefn::runtime {

namespace {

using Clock = std::chrono::steady_clock;
using api::FetchStatus;

constexpr std::size_t kInitialBytes = 16 * 1024;
// A pooled connection's buffer beyond this is given back once a response is handed over.
constexpr std::size_t kIdleKeptBytes = 256 * 1024;
constexpr std::size_t kMaxHeadBytes = 64 * 1024;

// Fields the runtime writes itself, or that would change the framing or the connection.
constexpr std::array<std::string_view, 9> kReservedFields = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive",
    "te",   "upgrade",        "trailer",           "expect"};

using api::ascii::is_token;

bool is_field_value(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Origin-form: starts with '/', and no byte that would end the request line.
bool is_target(std::string_view text) {
  return text.starts_with('/') && std::none_of(text.begin(), text.end(), [](char c) {
           const auto byte = static_cast<unsigned char>(c);
           return byte <= 0x20 || byte == 0x7f;
         });
}

bool is_reserved(std::string_view name) {
  return std::any_of(kReservedFields.begin(), kReservedFields.end(),
                     [&](std::string_view field) { return api::ascii::iequals(name, field); });
}

bool is_valid(const api::FetchRequest& request) {
  if (!is_token(request.method) || !is_target(request.target)) return false;
  return std::all_of(request.headers.begin(), request.headers.end(), [](const api::Header& h) {
    return is_token(h.name) && is_field_value(h.value);
  });
}

bool has_body(const api::FetchRequest& request) {
  return !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
         request.method == "PATCH";
}

void count(std::atomic<std::uint64_t>& counter) {
  counter.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

FetchClient::FetchClient(Io& io, AlarmQueue& alarms, Resolver& resolver)
    : io_(io), alarms_(alarms), resolver_(resolver) {}

FetchClient::~FetchClient() {
  shut_down();
}

void FetchClient::shut_down() {
  shut_down_ = true;
  for (auto& link : links_) {
    if (link->fd >= 0) {
      ::close(link->fd);
      link->fd = -1;
    }
  }
}

UpstreamPool& FetchClient::pool_for(const std::shared_ptr<const App>& app,
                                    const Upstream& upstream) {
  for (auto& pool : pools_) {
    if (pool->upstream == &upstream) return *pool;
  }
  auto pool = std::make_unique<UpstreamPool>();
  pool->app = app;
  pool->upstream = &upstream;
  pools_.push_back(std::move(pool));
  return *pools_.back();
}

void FetchClient::start(RequestFetch& fetch, api::FetchCall& call,
                        const std::shared_ptr<const App>& app, const Upstream& upstream) {
  if (!is_valid(call.request())) {
    call.finish(api::FetchResult::of(FetchStatus::kInvalidRequest));
    return;
  }
  count(upstream.counters->calls);
  if (!upstream.breaker->allow(Clock::now())) {
    count(upstream.counters->rejected);
    call.finish(api::FetchResult::of(FetchStatus::kCircuitOpen));
    return;
  }
  UpstreamPool& pool = pool_for(app, upstream);
  ++pool.calls;
  fetch.call_ = &call;
  fetch.upstream_ = &upstream;
  fetch.pool_ = &pool;
  fetch.attempts_ = 0;
  fetch.stale_retry_ = true;
  attempt(fetch);
}

void FetchClient::attempt(RequestFetch& fetch) {
  ++fetch.attempts_;
  fetch.deadline_.deadline = Clock::now() + fetch.upstream_->config.timeout;
  alarms_.schedule(fetch.deadline_);
  UpstreamPool& pool = *fetch.pool_;
  if (pool.first_waiting == nullptr && !pool.idle.empty()) {
    UpstreamLink& link = *pool.idle.back();
    pool.idle.pop_back();
    begin_exchange(link, fetch);
  } else if (pool.first_waiting == nullptr && pool.open < pool.upstream->config.connections) {
    open_link(pool, fetch);
  } else {
    enqueue(pool, fetch);
  }
}

void FetchClient::enqueue(UpstreamPool& pool, RequestFetch& fetch) {
  fetch.waiting_ = true;
  fetch.next_waiting_ = nullptr;
  fetch.prev_waiting_ = pool.last_waiting;
  (pool.last_waiting ? pool.last_waiting->next_waiting_ : pool.first_waiting) = &fetch;
  pool.last_waiting = &fetch;
}

void FetchClient::dequeue(UpstreamPool& pool, RequestFetch& fetch) {
  if (!fetch.waiting_) return;
  (fetch.prev_waiting_ ? fetch.prev_waiting_->next_waiting_ : pool.first_waiting) =
      fetch.next_waiting_;
  (fetch.next_waiting_ ? fetch.next_waiting_->prev_waiting_ : pool.last_waiting) =
      fetch.prev_waiting_;
  fetch.next_waiting_ = fetch.prev_waiting_ = nullptr;
  fetch.waiting_ = false;
}

void FetchClient::serve_queue(UpstreamPool& pool) {
  while (RequestFetch* fetch = pool.first_waiting) {
    if (!pool.idle.empty()) {
      dequeue(pool, *fetch);
      UpstreamLink& link = *pool.idle.back();
      pool.idle.pop_back();
      begin_exchange(link, *fetch);
      continue;
    }
    if (pool.open >= pool.upstream->config.connections) return;
    if (!refresh_addresses(pool)) {
      if (pool.name_status != ResolvedName::Status::kFailed) return;  // still resolving
      dequeue(pool, *fetch);
      alarms_.cancel(fetch->deadline_);
      attempt_failed(*fetch, FetchStatus::kConnectFailed, false);
      continue;
    }
    dequeue(pool, *fetch);
    open_link(pool, *fetch);
  }
}

bool FetchClient::refresh_addresses(UpstreamPool& pool) {
  const Upstream& upstream = *pool.upstream;
  if (upstream.address) {
    if (pool.addresses.empty()) pool.addresses.push_back(*upstream.address);
    pool.name_status = ResolvedName::Status::kResolved;
    return true;
  }
  if (!pool.name) pool.name = resolver_.watch(upstream.config.host, upstream.config.port);
  const std::uint64_t generation = pool.name->generation();
  if (generation != pool.name_generation) {
    pool.name_status = pool.name->addresses(pool.addresses);
    pool.name_generation = generation;
  }
  return !pool.addresses.empty();
}

void FetchClient::addresses_changed() {
  for (auto& pool : pools_) {
    if (pool->first_waiting != nullptr) serve_queue(*pool);
  }
}

void FetchClient::open_link(UpstreamPool& pool, RequestFetch& fetch) {
  if (!refresh_addresses(pool)) {
    if (pool.name_status == ResolvedName::Status::kFailed) {
      alarms_.cancel(fetch.deadline_);
      attempt_failed(fetch, FetchStatus::kConnectFailed, false);
    } else {
      enqueue(pool, fetch);  // addresses_changed() goes on once the name is resolved
    }
    return;
  }
  const SocketAddress& address = pool.addresses[pool.next_address++ % pool.addresses.size()];
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    alarms_.cancel(fetch.deadline_);
    attempt_failed(fetch, FetchStatus::kConnectFailed, false);
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::uint32_t index;
  if (!free_links_.empty()) {
    index = free_links_.back();
    free_links_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(links_.size());
    links_.push_back(std::make_unique<UpstreamLink>(index));
  }
  UpstreamLink& link = *links_[index];
  link.state = UpstreamLink::State::kConnecting;
  link.fd = fd;
  link.pool = &pool;
  link.address = address;
  link.reused = false;
  ++pool.open;
  ++pool.attached;
  pool.upstream->counters->open.fetch_add(1, std::memory_order_relaxed);
  if (link.in.size() < kInitialBytes) link.in.resize(kInitialBytes);
  begin_exchange(link, fetch);

  io_.connect(fd, link.address.get(), link.address.length, make_tag(Op::kUpstreamConnect, index));
  link.connect_in_flight = true;
}

void FetchClient::begin_exchange(UpstreamLink& link, RequestFetch& fetch) {
  link.fetch = &fetch;
  fetch.link_ = &link;
  const api::FetchCall& call = *fetch.call_;
  compose_request(link, call);
  const std::uint64_t max_response = fetch.upstream_->config.max_response_bytes;
  link.parser.start(call.request().method == "HEAD",
                    static_cast<std::size_t>(std::min<std::uint64_t>(kMaxHeadBytes, max_response)),
                    static_cast<std::size_t>(max_response));
  link.filled = 0;
  if (link.state == UpstreamLink::State::kIdle) {
    // Its receive is armed already, into `in` from offset 0: the response lands there.
    link.state = UpstreamLink::State::kBusy;
    send_more(link);
  }
  // A connecting link sends once connected.
}

void FetchClient::compose_request(UpstreamLink& link, const api::FetchCall& call) {
  const api::FetchRequest& request = call.request();
  const UpstreamConfig& config = link.pool->upstream->config;
  std::string& out = link.out;
  out.clear();
  out.append(request.method).append(" ").append(config.base_path).append(request.target);
  out.append(" HTTP/1.1\r\nHost: ").append(config.host_header).append("\r\n");
  bool has_trace = false;
  for (const api::Header& header : request.headers) {
    if (is_reserved(header.name)) continue;
    has_trace = has_trace || api::ascii::iequals(header.name, "traceparent");
    out.append(header.name).append(": ").append(header.value).append("\r\n");
  }
  const std::string_view trace = link.fetch->traceparent_;
  if (!has_trace && trace.size() == 55) {
    // The same trace, with this call as the parent the upstream sees.
    char parent[16];
    std::uint64_t bits = next_span_id();
    for (int i = 15; i >= 0; --i, bits >>= 4)
      parent[i] = "0123456789abcdef"[bits & 0xf];
    out.append("traceparent: ").append(trace.substr(0, 36)).append(parent, sizeof parent);
    out.append(trace.substr(52)).append("\r\n");
  }
  if (has_body(request)) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, request.body.size()).ptr;
    out.append("Content-Length: ").append(digits, end).append("\r\n");
  }
  out.append("\r\n").append(request.body);
  link.sent = 0;
}

std::uint64_t FetchClient::next_span_id() {
  span_state_ ^= span_state_ << 13;
  span_state_ ^= span_state_ >> 7;
  span_state_ ^= span_state_ << 17;
  return span_state_;
}

void FetchClient::send_more(UpstreamLink& link) {
  io_.send(link.fd, link.out.data() + link.sent, link.out.size() - link.sent,
           make_tag(Op::kUpstreamSend, link.index));
  link.send_in_flight = true;
}

void FetchClient::arm_recv(UpstreamLink& link) {
  io_.recv(link.fd, link.in.data() + link.filled, link.in.size() - link.filled,
           make_tag(Op::kUpstreamRecv, link.index));
  link.recv_in_flight = true;
}

void FetchClient::on_completion(Op op, std::uint32_t index, int result) {
  if (index >= links_.size()) return;
  UpstreamLink& link = *links_[index];
  const bool closing = link.state == UpstreamLink::State::kClosing;
  switch (op) {
    case Op::kUpstreamConnect:
      link.connect_in_flight = false;
      if (!closing) on_connect(link, result);
      break;
    case Op::kUpstreamSend:
      link.send_in_flight = false;
      if (!closing) on_send(link, result);
      break;
    case Op::kUpstreamRecv:
      link.recv_in_flight = false;
      if (closing) break;
      if (link.state == UpstreamLink::State::kIdle) {
        on_idle_recv(link);
      } else {
        on_recv(link, result);
      }
      break;
    default:
      break;
  }
  if (link.state == UpstreamLink::State::kClosing) maybe_release(link);
  drop_retired_pools();
}

void FetchClient::on_connect(UpstreamLink& link, int result) {
  if (result < 0) return fail(link, FetchStatus::kConnectFailed);
  count(link.pool->upstream->counters->connects);
  link.state = UpstreamLink::State::kBusy;
  arm_recv(link);
  send_more(link);
}

void FetchClient::on_send(UpstreamLink& link, int result) {
  if (link.state != UpstreamLink::State::kBusy) return;  // answered already, or idle again
  if (result <= 0) return fail(link, FetchStatus::kBadResponse);
  link.sent += static_cast<std::size_t>(result);
  if (link.sent < link.out.size()) send_more(link);
}

void FetchClient::on_recv(UpstreamLink& link, int result) {
  if (result < 0) return fail(link, FetchStatus::kBadResponse);
  http::ResponseEvent event;
  if (result == 0) {
    event = link.parser.finish({link.in.data(), link.filled});
    if (event == http::ResponseEvent::kComplete) return complete(link, false);
    return fail(link, FetchStatus::kBadResponse);
  }
  link.filled += static_cast<std::size_t>(result);
  event = link.parser.parse({link.in.data(), link.filled});
  switch (event) {
    case http::ResponseEvent::kComplete:
      // An answer that came before the whole request was sent leaves the connection unusable.
      return complete(link, link.parser.keep_alive() && !link.send_in_flight);
    case http::ResponseEvent::kTooLarge:
      return fail(link, FetchStatus::kTooLarge);
    case http::ResponseEvent::kError:
      return fail(link, FetchStatus::kBadResponse);
    case http::ResponseEvent::kNeedMore:
      break;
  }
  if (link.filled == link.in.size()) {
    // Room for the largest head and body the parser admits, and their chunked framing.
    const std::uint64_t max_response = link.pool->upstream->config.max_response_bytes;
    const std::size_t cap = static_cast<std::size_t>(kMaxHeadBytes + 2 * max_response);
    if (link.in.size() >= cap) return fail(link, FetchStatus::kTooLarge);
    link.in.resize(std::min(cap, link.in.size() * 2));
  }
  arm_recv(link);
}

void FetchClient::on_idle_recv(UpstreamLink& link) {
  // The origin closed a pooled connection (or sent what nobody asked for): it leaves the pool.
  close_link(link);
}

void FetchClient::complete(UpstreamLink& link, bool keep_alive) {
  RequestFetch& fetch = *link.fetch;
  link.fetch = nullptr;
  fetch.link_ = nullptr;
  alarms_.cancel(fetch.deadline_);
  UpstreamPool& pool = *link.pool;
  const Upstream& upstream = *pool.upstream;

  // The response changes hands without a copy; the caller's previous buffer becomes the link's.
  fetch.response_.swap(link.in);
  const std::span<const char> bytes(fetch.response_.data(), link.filled);
  const std::span<const api::Header> headers = link.parser.headers(bytes);
  fetch.headers_.assign(headers.begin(), headers.end());
  const int status = link.parser.status();
  const api::FetchResult result{FetchStatus::kOk, status, api::HeaderList(fetch.headers_),
                                link.parser.body(bytes)};

  count(upstream.counters->responses);
  if (status >= 500) {
    upstream.breaker->failed(Clock::now());
  } else {
    upstream.breaker->succeeded();
  }
  link.reused = true;
  if (keep_alive && !pool.retired && !shut_down_) {
    if (link.in.capacity() > kIdleKeptBytes) std::string().swap(link.in);
    link.in.resize(std::max(kInitialBytes, link.in.capacity()));
    link.filled = 0;
    link.state = UpstreamLink::State::kIdle;
    arm_recv(link);
    pool.idle.push_back(&link);
  } else {
    close_link(link);
  }
  finish(fetch, result);
  serve_queue(pool);
}

void FetchClient::fail(UpstreamLink& link, FetchStatus status) {
  // A reused connection that ends before any byte of the answer was closed by the origin while
  // the request was on its way: nothing was processed, the request may go again.
  const bool stale = link.reused && link.filled == 0 && status == FetchStatus::kBadResponse;
  RequestFetch* fetch = std::exchange(link.fetch, nullptr);
  UpstreamPool& pool = *link.pool;
  close_link(link);
  if (fetch != nullptr) {
    fetch->link_ = nullptr;
    alarms_.cancel(fetch->deadline_);
    attempt_failed(*fetch, status, stale);
  }
  serve_queue(pool);
}

void FetchClient::attempt_failed(RequestFetch& fetch, FetchStatus status, bool stale_connection) {
  const Upstream& upstream = *fetch.upstream_;
  if (status == FetchStatus::kTimeout) count(upstream.counters->timeouts);
  const bool repeatable = is_idempotent(fetch.call_->request().method);
  if (repeatable && stale_connection && fetch.stale_retry_) {
    fetch.stale_retry_ = false;
    --fetch.attempts_;  // not the origin's failure: it does not use up a retry
    attempt(fetch);
    return;
  }
  if (repeatable && status != FetchStatus::kTooLarge &&
      fetch.attempts_ <= upstream.config.retries) {
    count(upstream.counters->retries);
    attempt(fetch);
    return;
  }
  count(upstream.counters->failures);
  if (status == FetchStatus::kTooLarge) {
    upstream.breaker->succeeded();  // the origin answered; the answer was too big for us
  } else {
    upstream.breaker->failed(Clock::now());
  }
  finish(fetch, api::FetchResult::of(status));
}

void FetchClient::expire(RequestFetch& fetch) {
  if (fetch.link_ != nullptr) {
    fail(*fetch.link_, FetchStatus::kTimeout);
  } else if (fetch.waiting_) {
    dequeue(*fetch.pool_, fetch);
    attempt_failed(fetch, FetchStatus::kTimeout, false);
  }
}

void FetchClient::finish(RequestFetch& fetch, const api::FetchResult& result) {
  fetch.result_ = result;
  fetch.delivering_ = true;
  finished_.push_back(&fetch);
}

void FetchClient::deliver() {
  // A resumed function may start its next call, which may end up here again: index, not
  // iterators, and the size read each turn.
  for (std::size_t i = 0; i < finished_.size(); ++i) {
    RequestFetch* fetch = finished_[i];
    if (fetch == nullptr) continue;  // cancelled meanwhile
    finished_[i] = nullptr;
    fetch->delivering_ = false;
    --fetch->pool_->calls;
    fetch->pool_ = nullptr;
    fetch->upstream_ = nullptr;
    api::FetchCall* call = std::exchange(fetch->call_, nullptr);
    call->finish(fetch->result_);
  }
  finished_.clear();
  drop_retired_pools();
}

void FetchClient::cancel(RequestFetch& fetch) noexcept {
  if (fetch.call_ == nullptr) return;
  alarms_.cancel(fetch.deadline_);
  UpstreamPool* pool = fetch.pool_;
  if (fetch.link_ != nullptr) {
    UpstreamLink& link = *std::exchange(fetch.link_, nullptr);
    link.fetch = nullptr;
    close_link(link);
  }
  if (pool != nullptr) dequeue(*pool, fetch);
  if (fetch.delivering_) {
    std::replace(finished_.begin(), finished_.end(), &fetch, static_cast<RequestFetch*>(nullptr));
    fetch.delivering_ = false;
  }
  fetch.call_ = nullptr;
  fetch.upstream_ = nullptr;
  fetch.pool_ = nullptr;
  if (pool != nullptr) {
    --pool->calls;
    if (!shut_down_) serve_queue(*pool);  // the closed connection's place is free
  }
}

void FetchClient::close_link(UpstreamLink& link) {
  if (link.state == UpstreamLink::State::kClosing || link.state == UpstreamLink::State::kFree) {
    return;
  }
  UpstreamPool& pool = *link.pool;
  if (link.state == UpstreamLink::State::kIdle) std::erase(pool.idle, &link);
  --pool.open;
  link.fetch = nullptr;
  link.state = UpstreamLink::State::kClosing;
  if (shut_down_) {
    // The Io is going: nothing more reaches the kernel through it.
    if (link.fd >= 0) ::close(link.fd);
    link.fd = -1;
    link.connect_in_flight = link.send_in_flight = link.recv_in_flight = false;
  } else if (link.busy()) {
    io_.cancel_all(link.fd, make_tag(Op::kCancel, 0));
  }
  maybe_release(link);
}

void FetchClient::maybe_release(UpstreamLink& link) {
  if (link.state != UpstreamLink::State::kClosing || link.busy()) return;
  if (link.fd >= 0) {
    io_.close(link.fd, make_tag(Op::kClose, 0));
    link.fd = -1;
  }
  link.pool->upstream->counters->open.fetch_sub(1, std::memory_order_relaxed);
  --link.pool->attached;
  link.pool = nullptr;
  link.state = UpstreamLink::State::kFree;
  if (link.in.capacity() > kIdleKeptBytes) std::string().swap(link.in);
  free_links_.push_back(link.index);
}

void FetchClient::retire_pools(const App& current) {
  for (auto& pool : pools_) {
    if (pool->app.get() == &current || pool->retired) continue;
    pool->retired = true;
    while (!pool->idle.empty())
      close_link(*pool->idle.back());
  }
  drop_retired_pools();
}

void FetchClient::drop_retired_pools() {
  std::erase_if(pools_, [](const std::unique_ptr<UpstreamPool>& pool) {
    return pool->retired && pool->attached == 0 && pool->calls == 0 &&
           pool->first_waiting == nullptr;
  });
}

}  // namespace edgefn::runtime
