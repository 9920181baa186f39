// The per-connection HTTP/1.1 state machine: receive, parse, route, run, respond, linger.
#include "runtime/connection.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <charconv>
#include <coroutine>
#include <exception>
#include <initializer_list>
#include <utility>

#include "cache/invalidation.h"
#include "cache/l2.h"
#include "cache/policy.h"
#include "cache/stored.h"
#include "router/path.h"
#include "runtime/admin.h"
#include "runtime/http_writer.h"
#include "runtime/request_driver.h"
#include "runtime/response_store.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// Queued output beyond which a connection stops parsing further pipelined requests until the
// peer reads, and unparsed input beyond which it stops receiving: a client that sends without
// reading cannot make the server buffer without bound.
constexpr std::size_t kMaxPendingOutput = 256 * 1024;
constexpr std::size_t kMaxBacklogInput = 64 * 1024;
// The most one send asks of the kernel. A send completes only when the kernel has taken all it
// was given (io_uring retries a partial send of a stream socket internally), and only a
// completion re-arms the idle timeout: a large response sent whole to a slow but steady reader
// would look idle until it timed out. 256 KiB completes every few milliseconds at any sensible
// reading speed, at the cost of a send per 256 KiB.
constexpr std::size_t kMaxSendBytes = 256 * 1024;
// Buffers that grew past this for one large request are given back once it is done, so idle
// connections stay small.
constexpr std::size_t kRetainedBufferBytes = 64 * 1024;

void trim(std::string& buffer) {
  if (buffer.capacity() > kRetainedBufferBytes && buffer.empty()) std::string().swap(buffer);
}

}  // namespace

Connection::Connection(Worker& worker, std::uint32_t slot)
    : worker_(worker),
      slot_(slot),
      arena_(arena_buffer_.data(), arena_buffer_.size(), std::pmr::get_default_resource()),
      fetch_(worker.fetch()) {
  timer_.owner = this;
}

Connection::~Connection() {
  // The worker is going away with functions still suspended: free what their frames own.
  if (driver_) driver_.destroy();
  if (offload_) offload_->abandon();
  worker_.alarms().cancel(alarm_);
}

Connection& Connection::from_timer(TimerHook& hook) {
  return *static_cast<Connection*>(hook.owner);
}

void Connection::open(int fd, bool admin) {
  const ServerConfig& server = worker_.server();
  fd_ = fd;
  admin_ = admin;
  phase_ = Phase::kReading;
  recv_armed_ = send_in_flight_ = shutdown_in_flight_ = recv_paused_ = false;
  peer_done_ = handling_ = resume_pending_ = head_done_ = start_pending_ = false;
  retry_pending_ = following_ = leading_ = coalesced_ = false;
  redis_pending_ = redis_answered_ = kv_answered_ = false;
  head_request_ = false;
  http_minor_ = 1;
  drain_ = worker_.draining();
  requests_ = 0;
  client_ip_length_ = 0;
  sent_ = 0;
  in_.clear();
  stash_.clear();
  out_pending_.clear();
  out_sending_.clear();
  parser_.emplace(
      http::ParserLimits{server.max_header_bytes, server.max_target_bytes, server.max_body_bytes});
  arm_recv();
  update_timer();
}

void Connection::arm_recv() {
  worker_.io().recv_multishot(fd_, make_tag(Op::kRecv, slot_));
  recv_armed_ = true;
  recv_paused_ = false;
}

void Connection::pause_recv() {
  if (!recv_armed_ || recv_paused_) return;
  recv_paused_ = true;
  worker_.io().cancel(fd_, make_tag(Op::kRecv, slot_), make_tag(Op::kCancel, slot_));
}

void Connection::on_recv(const Completion& completion) {
  recv_armed_ = completion.more();
  const int result = completion.result;
  if (result > 0) {
    Io& io = worker_.io();
    const std::uint16_t id = completion.buffer_id();
    std::span<const char> data = io.buffer(id, static_cast<std::size_t>(result));
    switch (phase_) {
      case Phase::kReading:
        in_.append(data.data(), data.size());
        break;
      case Phase::kHandling:
        // The running function holds views into in_, which must not move.
        stash_.append(data.data(), data.size());
        break;
      default:
        break;  // closing: input is read only to find the peer's end
    }
    io.recycle(id);
  }
  if (phase_ == Phase::kClosed) {
    maybe_release();
    return;
  }
  if (result == 0) {
    on_peer_done();
    return;
  }
  // ENOBUFS: the buffer ring ran dry for a moment; ECANCELED: pause_recv. Both end the
  // multishot recv, which regulate_recv re-arms when input is wanted.
  if (result < 0 && result != -ENOBUFS && result != -ECANCELED) {
    close();  // reset by peer, or another socket error
    return;
  }
  if (phase_ == Phase::kReading) {
    process_input();
  } else {
    regulate_recv();
  }
}

void Connection::on_peer_done() {
  // The peer shut its sending side (or closed). Requests already received are still answered,
  // in order; nothing more can arrive, so a partial request never completes.
  peer_done_ = true;
  switch (phase_) {
    case Phase::kReading:
      process_input();  // answers what is complete, then closes (see process_input)
      break;
    case Phase::kHandling:
      // A client that stops sending while its request waits for a slot or its function is
      // suspended has given up on the answer (as nginx treats a proxied request): cancel and
      // free what the request holds.
      if (waiting_for_ != nullptr || following_ || driver_ || offload_ || scrape_ ||
          start_pending_ || retry_pending_ || redis_pending_ || redis_answered_) {
        close();
      }
      break;  // a function running to completion answers, then the connection closes
    case Phase::kClosing:
      break;  // the response goes out, then the connection closes
    case Phase::kLingering:
    case Phase::kClosed:
      close();
      break;
  }
}

void Connection::regulate_recv() {
  if (phase_ == Phase::kClosed || peer_done_) return;
  std::size_t backlog = 0;
  if (phase_ == Phase::kHandling) {
    backlog = stash_.size();
  } else if (phase_ == Phase::kReading) {
    backlog = in_.size() - parser_->position();
  }
  if (backlog > kMaxBacklogInput) {
    pause_recv();
  } else if (!recv_armed_) {
    arm_recv();
  }
}

void Connection::process_input() {
  if (in_process_input_) return;
  in_process_input_ = true;
  while (phase_ == Phase::kReading) {
    if (out_pending_.size() >= kMaxPendingOutput) break;  // on_send resumes us
    const http::ParseEvent event = parser_->parse({in_.data(), in_.size()});
    if (event == http::ParseEvent::kNeedMore) break;
    if (event == http::ParseEvent::kError) {
      respond_error(parser_->error().status, parser_->error().reason, false);
      break;
    }
    if (event == http::ParseEvent::kHeadComplete) {
      if (!on_head_complete()) break;
      continue;
    }
    on_message_complete();
  }
  in_process_input_ = false;
  if (peer_done_ && phase_ == Phase::kReading && out_pending_.size() < kMaxPendingOutput) {
    // Everything complete has been answered; what is left can never be.
    phase_ = Phase::kClosing;
    in_.clear();
  }
  regulate_recv();
  update_timer();
  flush();
}

bool Connection::on_head_complete() {
  const http::RequestHead head = parser_->head({in_.data(), in_.size()});
  head_done_ = true;
  head_request_ = head.method == "HEAD";
  keep_alive_ = head.keep_alive;
  http_minor_ = head.http_minor;
  route_error_ = 0;
  preflight_ = false;
  request_started_ = Clock::now();
  if (!admin_) take_trace_context(api::HeaderList(head.headers));
  std::uint64_t body_limit = worker_.server().max_body_bytes;
  if (!admin_) {
    // Each request starts on the worker's current App (a reload may have published another);
    // the connection keeps it until the request is answered.
    if (app_ != worker_.app_handle()) app_ = worker_.app_handle();
    path_.resize(head.path.size());
    const router::DecodedPath decoded = router::decode_path(head.path, path_.data());
    if (decoded.error != router::PathError::kNone) {
      route_error_ = 400;
      route_error_message_ = router::describe(decoded.error);
    } else {
      path_.resize(decoded.size);
      preflight_ = is_preflight(head);
      if (preflight_) body_limit = app().functions()[match_.target].max_body_bytes;
      routed_ = preflight_;
    }
    if (!preflight_ && route_error_ == 0) {
      match_ = app().routes().match(head.host, head.method, path_, params_);
      switch (match_.status) {
        case router::Match::Status::kFound:
          body_limit = app().functions()[match_.target].max_body_bytes;
          routed_ = true;
          break;
        case router::Match::Status::kNotFound:
          route_error_ = 404;
          route_error_message_ = "no route matches this path";
          break;
        case router::Match::Status::kMethodNotAllowed:
          route_error_ = 405;
          route_error_message_ = "method not allowed for this path";
          allow_ = match_.allow;
          break;
      }
    }
  }
  if (!parser_->set_body_limit(body_limit)) {
    respond_error(parser_->error().status, parser_->error().reason, false);
    return false;
  }
  const bool body_expected = head.chunked || head.content_length.value_or(0) > 0;
  if (head.expect_continue && body_expected) {
    if (route_error_ != 0) {
      // Answer now instead of asking for a body we would refuse; the unread body forces a close.
      on_message_complete_error(false);
      return false;
    }
    out_pending_.append(http::kContinueResponse);
  }
  return true;
}

bool Connection::is_preflight(const http::RequestHead& head) {
  if (head.method != "OPTIONS") return false;
  const api::HeaderList headers(head.headers);
  const std::optional<std::string_view> requested = headers.get("access-control-request-method");
  if (!requested || !headers.get("origin")) return false;
  router::Match match = app().routes().match(head.host, *requested, path_, params_);
  if (match.status == router::Match::Status::kMethodNotAllowed) {
    // A method the path does not serve: the preflight still belongs to the path's function,
    // whose policy then refuses it. Any method the path accepts finds that function.
    for (std::string_view method : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}) {
      match = app().routes().match(head.host, method, path_, params_);
      if (match.status == router::Match::Status::kFound) break;
    }
  }
  if (match.status != router::Match::Status::kFound) return false;
  if (!app().functions()[match.target].cors) return false;
  match_ = match;
  return true;
}

void Connection::respond_preflight(const http::RequestHead& head) {
  const Function& function = app().functions()[match_.target];
  const api::HeaderList headers(head.headers);
  extra_headers_.clear();
  // A refused preflight is still a 204, only without Access-Control-* lines: the browser then
  // blocks the actual request, and nothing tells the caller which rule it broke.
  function.cors->preflight(
      headers.get("origin").value_or(""), headers.get("access-control-request-method").value_or(""),
      headers.get("access-control-request-headers").value_or(""), extra_headers_);
  extra_headers_.append(function.response_header_lines);
  arena_.release();
  const api::Response response(204, &arena_);
  const bool keep_alive = keep_alive_ && !drain_;
  const std::size_t before = out_pending_.size();
  http::write_response(out_pending_, response, framing(keep_alive), extra_headers_);
  note_answer(204, false, out_pending_.size() - before);
  finish_request(keep_alive);
}

std::string_view Connection::function_headers(const api::HeaderList& headers) {
  const Function& function = app().functions()[match_.target];
  extra_headers_.clear();
  if (function.cors) {
    if (const std::optional<std::string_view> origin = headers.get("origin")) {
      function.cors->actual(*origin, extra_headers_);
    }
  }
  extra_headers_.append(function.response_header_lines);
  extra_headers_.append(rate_limit_lines_);
  return extra_headers_;
}

void Connection::on_message_complete() {
  const http::RequestHead head = parser_->head({in_.data(), in_.size()});
  rate_limit_lines_.clear();
  if (admin_) {
    serve_admin(head);
  } else if (preflight_) {
    respond_preflight(head);
  } else if (route_error_ != 0) {
    on_message_complete_error(keep_alive_);
  } else if (admit(head) && validate(head)) {
    run_function(head);
  }
}

namespace {

void append_header(std::string& out, std::string_view name, std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(name).append(": ").append(digits, end).append("\r\n");
}

}  // namespace

bool Connection::admit(const http::RequestHead& head) {
  rate_limit_lines_.clear();  // a request that ended without function_headers (a 500) left some
  router::RateLimiter* limiter = app().functions()[match_.target].rate_limit.get();
  if (limiter == nullptr) return true;
  // Before validation and the function: a refused request costs one shard lock and nothing
  // else. The limiter is shared by every worker, so the limit holds for the whole node.
  const api::HeaderList headers(head.headers);
  std::optional<std::string_view> value;
  if (!limiter->settings().header.empty()) value = headers.get(limiter->settings().header);
  const router::RateDecision decision =
      limiter->admit(limiter->key_for(value.has_value(), value.value_or(""), client_ip()));
  append_header(rate_limit_lines_, "RateLimit-Limit", decision.limit);
  append_header(rate_limit_lines_, "RateLimit-Remaining", decision.remaining);
  if (decision.allowed) return true;
  append_header(rate_limit_lines_, "RateLimit-Reset", decision.retry_after_seconds);
  append_header(rate_limit_lines_, "Retry-After", decision.retry_after_seconds);
  // The request was read whole: the connection stays usable, as after a 400.
  const bool keep_alive = keep_alive_ && !drain_;
  const std::size_t before = out_pending_.size();
  http::write_error(out_pending_, 429, "rate limit exceeded", framing(keep_alive),
                    function_headers(headers));
  note_answer(429, true, out_pending_.size() - before);
  finish_request(keep_alive);
  return false;
}

bool Connection::validate(const http::RequestHead& head) {
  const router::RequestRules& rules = app().functions()[match_.target].rules;
  if (rules.empty()) return true;
  // Validation runs on this worker's thread to completion: the thread's scratch is free.
  if (router::validate_request(rules, head.method, head.query, api::HeaderList(head.headers),
                               parser_->body(), router::ValidationScratch::for_thread(),
                               rejection_)) {
    return true;
  }
  // An ordinary 400: the request was read whole, so the connection stays usable.
  const bool keep_alive = keep_alive_ && !drain_;
  const std::size_t before = out_pending_.size();
  http::write_error(out_pending_, 400, rejection_.message, framing(keep_alive),
                    function_headers(api::HeaderList(head.headers)), rejection_.members);
  note_answer(400, true, out_pending_.size() - before);
  finish_request(keep_alive);
  return false;
}

void Connection::on_message_complete_error(bool keep_alive) {
  if (route_error_ == 405) {
    allow_line_ = "Allow: ";
    allow_line_ += router::allow_header(allow_);
    allow_line_ += "\r\n";
    respond_error(405, route_error_message_, keep_alive, allow_line_);
  } else {
    respond_error(route_error_, route_error_message_, keep_alive);
  }
}

void Connection::run_function(const http::RequestHead& head) {
  const Function& function = app().functions()[match_.target];
  cache_role_ = CacheRole::kNone;
  if (function.cache && answer_from_cache(head, function)) return;
  run_uncached(head);
}

void Connection::run_uncached(const http::RequestHead& head) {
  const Function& function = app().functions()[match_.target];
  phase_ = Phase::kHandling;
  router::ConcurrencyLimit* limit = function.concurrency.get();
  if (limit == nullptr) {
    start_function();
    return;
  }
  if (limit->try_acquire()) {
    holding_ = limit;
    start_function();
    return;
  }
  if (!limit->enter_queue(worker_.id())) {
    const api::HeaderList headers(head.headers);
    function_headers(headers);
    respond_unavailable("too many requests in progress for this function");
    return;
  }
  waiting_for_ = limit;
  worker_.add_waiter(*this);
  alarm_.deadline = Clock::now() + limit->settings().queue_timeout;
  worker_.alarms().schedule(alarm_);
  // A slot freed between try_acquire and enter_queue woke nobody (see the limit's protocol):
  // take it for the oldest waiter here, which may be this request.
  if (limit->try_acquire()) worker_.hand_over(*limit);
}

namespace {

bool is_unsafe(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// Rounded down: a response 0.1 s past its freshness has ttl=-1, never 0.
std::int64_t whole_seconds(Clock::duration duration) {
  return std::chrono::floor<std::chrono::seconds>(duration).count();
}

}  // namespace

bool Connection::answer_from_cache(const http::RequestHead& head, const Function& function) {
  const CachePolicyDecl& policy = *function.cache;
  const std::string_view host = policy.key_host ? head.host : std::string_view{};
  cache_uri_slot_ = cache::Invalidations::slot_of(cache::uri_hash(function.name, host, path_));
  const bool get = head.method == "GET";
  if (!get && head.method != "HEAD") {
    if (is_unsafe(head.method)) cache_role_ = CacheRole::kInvalidate;
    return false;
  }
  const api::HeaderList headers(head.headers);
  if (headers.get("authorization")) {
    // A personalised answer: neither served from nor stored into a shared cache (a response
    // marked public or s-maxage could be, but the key would not tell users apart).
    cache_role_ = CacheRole::kBypass;
    return false;
  }
  std::string_view query = head.query;
  if (!policy.key_query) {
    cache_query_.clear();
    for (const std::string& name : policy.key_query_params) {
      if (const std::optional<std::string_view> value = api::query_value(head.query, name)) {
        if (!cache_query_.empty()) cache_query_.push_back('&');
        cache_query_.append(name).append("=").append(*value);
      }
    }
    query = cache_query_;
  }
  std::array<cache::KeyHeader, kMaxVaryHeaders> vary{};
  const std::size_t vary_count = std::min(policy.vary.size(), vary.size());
  for (std::size_t i = 0; i < vary_count; ++i)
    vary[i] = {policy.vary[i], headers.get(policy.vary[i])};
  cache_key_ = cache::build_key(
      cache::KeyParts{.method = "GET",
                      .host = host,
                      .path = path_,
                      .query = query,
                      .headers = std::span<const cache::KeyHeader>(vary.data(), vary_count),
                      .scope = function.name},
      cache_key_bytes_);
  // Taken before the function runs: an invalidation while it runs leaves what it returns
  // already outdated in every layer.
  cache_generation_ = worker_.shared().invalidations.generation(cache_uri_slot_);
  cache_purge_mark_ = worker_.shared().purges.latest();
  cache_role_ = get ? CacheRole::kStore : CacheRole::kMiss;

  const auto now = Clock::now();
  cache::CacheStatus hit;
  hit.hit = true;
  stale_.reset();
  if (const cache::L1Cache::Entry* entry = worker_.l1().find(cache_key_, now)) {
    if (entry->tag() == cache_generation_ && !purged(*entry)) {
      if (entry->fresh(now)) {
        hit.detail = "l1";
        if (respond_stored(headers, entry->response(), entry->lifetime(), now, hit)) return true;
      } else if (revalidating(entry->lifetime(), policy, now)) {
        refresh_in_background(head);  // it runs from the loop, after this answer
        hit.fwd = "stale";
        hit.detail = "l1";
        if (respond_stored(headers, entry->response(), entry->lifetime(), now, hit)) return true;
      } else if (policy.stale_if_error.count() != 0) {
        // Kept in case the function fails: L1's entry may be evicted while it runs.
        stale_ = std::make_shared<const cache::L2Value>(cache::L2Value{
            .key = std::string(entry->key()),
            .blob = std::string(entry->response()),
            .lifetime = entry->lifetime(),
            .hash = entry->hash(),
            .tag = entry->tag(),
            .mark = entry->mark(),
        });
      }
    }
  }
  if (cache::L2Ref value = worker_.shared().l2.find(cache_key_, now)) {
    if (value->tag == cache_generation_ && !purged(*value)) {
      if (value->fresh(now)) {
        worker_.l1().insert(cache_key_, value->blob, value->lifetime, value->tag, value->mark);
        hit.detail = "l2";
        if (respond_stored(headers, value->blob, value->lifetime, now, hit)) return true;
      } else if (revalidating(value->lifetime, policy, now)) {
        refresh_in_background(head);
        hit.fwd = "stale";
        hit.detail = "l2";
        if (respond_stored(headers, value->blob, value->lifetime, now, hit)) return true;
      } else if (policy.stale_if_error.count() != 0 && !stale_) {
        stale_ = std::move(value);
      }
    }
  }
  if (get && !coalesced_) {
    // One function run per key on the node at a time: the others wait for it and look again.
    if (!worker_.shared().flights.lead_or_follow(cache_key_, worker_.id())) {
      phase_ = Phase::kHandling;  // input is stashed meanwhile, as while a function runs
      following_ = true;
      worker_.add_follower(*this);
      return true;
    }
    leading_ = true;
  }
  return !coalesced_ && ask_redis();
}

bool Connection::ask_redis() {
  RedisClient* redis = worker_.redis();
  if (redis == nullptr) return false;
  std::string& key = worker_.redis_key_scratch();
  const std::optional<std::string_view> field = RedisClient::locate(cache_key_.bytes(), key);
  if (!field) return false;
  ++redis_serial_;
  if (!redis->call(Worker::redis_token(slot_, redis_serial_), {"HGET", key, *field})) return false;
  phase_ = Phase::kHandling;  // input is stashed meanwhile, as while a function runs
  redis_pending_ = true;
  return true;
}

void Connection::redis_answered(std::uint32_t serial, const cache::RedisReply* reply) {
  if (kv_.waiting_for(serial)) {
    // The function resumes from the loop, not from inside the Redis client's reply handling.
    kv_.answered(reply);
    kv_answered_ = true;
    worker_.defer(*this);
    return;
  }
  if (!redis_pending_ || serial != redis_serial_) return;  // the request is gone
  redis_pending_ = false;
  // A nil is a miss; an error (a key of another type) or a failure counts as one.
  redis_hit_ = reply != nullptr && reply->kind == cache::RedisReply::Kind::kString;
  if (redis_hit_) redis_value_.assign(reply->text);
  redis_answered_ = true;
  worker_.defer(*this);
}

void Connection::on_redis_answer() {
  redis_answered_ = false;
  if (phase_ != Phase::kHandling) return;
  const http::RequestHead head = parser_->head({in_.data(), in_.size()});
  if (redis_hit_ && answer_from_redis(head)) return;
  run_uncached(head);
}

bool Connection::answer_from_redis(const http::RequestHead& head) {
  const std::optional<cache::StoredView> stored = cache::decode_stored(redis_value_);
  if (!stored) return false;  // not a blob this build wrote: a miss
  const auto now = Clock::now();
  const cache::Lifetime lifetime =
      cache::to_lifetime(stored->times, now, std::chrono::system_clock::now());
  // An unsafe method invalidated the URI while Redis answered, or a purge came after it was
  // stored: what Redis holds is outdated too.
  if (now >= lifetime.stale_until ||
      worker_.shared().invalidations.generation(cache_uri_slot_) != cache_generation_ ||
      worker_.shared().purges.purged_since(stored->times.stored_at_unix_ms, cache_key_.bytes(),
                                           stored->header_lines)) {
    return false;
  }
  const CachePolicyDecl& policy = *app().functions()[match_.target].cache;
  const api::HeaderList headers(head.headers);
  cache::CacheStatus hit;
  hit.hit = true;
  hit.detail = "redis";
  if (lifetime.fresh_until > now) {
    worker_.shared().l2.insert(cache_key_, redis_value_, lifetime, cache_generation_,
                               cache_purge_mark_);
    worker_.l1().insert(cache_key_, redis_value_, lifetime, cache_generation_, cache_purge_mark_);
    land_flight();  // the followers find it in L2
    return respond_stored(headers, redis_value_, lifetime, now, hit);
  }
  if (revalidating(lifetime, policy, now)) {
    land_flight();  // the refresh leads the next flight for the key
    refresh_in_background(head);
    hit.fwd = "stale";
    return respond_stored(headers, redis_value_, lifetime, now, hit);
  }
  if (policy.stale_if_error.count() != 0 && !stale_) {
    stale_ = std::make_shared<const cache::L2Value>(cache::L2Value{
        .key = std::string(cache_key_.bytes()),
        .blob = redis_value_,
        .lifetime = lifetime,
        .hash = cache_key_.hash(),
        .tag = cache_generation_,
        .mark = cache_purge_mark_,
    });
  }
  return false;
}

void Connection::invalidate_redis(const Function& function) {
  RedisClient* redis = worker_.redis();
  if (redis == nullptr) return;
  const CachePolicyDecl& policy = *function.cache;
  const cache::CacheKey uri =
      cache::build_key(cache::KeyParts{.method = "GET",
                                       .host = policy.key_host ? std::string_view(request_.host)
                                                               : std::string_view{},
                                       .path = path_,
                                       .query = {},
                                       .headers = {},
                                       .scope = function.name},
                       cache_key_bytes_);
  std::string& key = worker_.redis_key_scratch();
  if (RedisClient::locate(uri.bytes(), key)) redis->remove(key);
}

bool Connection::purged(const cache::L1Cache::Entry& entry) {
  const cache::PurgeList& purges = worker_.shared().purges;
  const std::uint64_t latest = purges.latest();
  if (entry.mark() >= latest) return false;  // the usual case: no purge since it was checked
  const std::optional<cache::StoredView> stored = cache::decode_stored(entry.response());
  if (purges.purged(entry.mark(), entry.key(), stored ? stored->header_lines : "")) {
    worker_.l1().erase(cache_key_);
    return true;
  }
  worker_.l1().set_mark(entry, latest);  // checked against every purge up to `latest`
  return false;
}

bool Connection::purged(const cache::L2Value& value) {
  const cache::PurgeList& purges = worker_.shared().purges;
  if (value.mark >= purges.latest()) return false;
  const std::optional<cache::StoredView> stored = cache::decode_stored(value.blob);
  if (!purges.purged(value.mark, value.key, stored ? stored->header_lines : "")) return false;
  worker_.shared().l2.erase(cache_key_);
  return true;
}

bool Connection::revalidating(const cache::Lifetime& lifetime, const CachePolicyDecl& policy,
                              Clock::time_point now) {
  return policy.stale_while_revalidate.count() != 0 && now < lifetime.stale_until &&
         now < lifetime.fresh_until + policy.stale_while_revalidate;
}

void Connection::refresh_in_background(const http::RequestHead& head) {
  // One refresh per key on the node: when a flight is under way (a refresh, or a miss after an
  // invalidation), it will store the new answer.
  if (!worker_.shared().flights.try_lead(cache_key_)) return;
  Refresh::start(worker_, app_, match_.target, make_request(head), cache_key_, stamp());
}

void Connection::follow_landed() {
  following_ = false;
  coalesced_ = true;  // looks once more; then runs the function itself if it must
  retry_pending_ = true;
  worker_.defer(*this);
}

void Connection::land_flight() {
  if (!leading_) return;
  leading_ = false;
  SharedState& shared = worker_.shared();
  shared.flights.land(cache_key_, [&shared](unsigned worker) {
    if (worker < shared.workers.size()) shared.workers[worker]->wake();
  });
}

bool Connection::serve_stale_on_error(int status) {
  if (!stale_ || status < 500) return false;
  const CachePolicyDecl& policy = *app().functions()[match_.target].cache;
  const auto now = Clock::now();
  const cache::Lifetime& lifetime = stale_->lifetime;
  if (now >= lifetime.stale_until || now >= lifetime.fresh_until + policy.stale_if_error) {
    return false;
  }
  // RFC 5861: the function failed, and a stale answer within stale-if-error beats the error.
  cache::CacheStatus served;
  served.fwd = "stale";
  served.fwd_status = status;
  served.detail = "stale-if-error";
  const cache::L2Ref stale = std::move(stale_);
  return respond_stored(request_.headers, stale->blob, lifetime, now, served);
}

bool Connection::respond_stored(const api::HeaderList& headers, std::string_view blob,
                                const cache::Lifetime& lifetime, Clock::time_point now,
                                cache::CacheStatus status) {
  const std::optional<cache::StoredView> stored = cache::decode_stored(blob);
  if (!stored) return false;  // not a blob this build wrote: a miss
  function_headers(headers);
  append_header(extra_headers_, "Age",
                static_cast<std::uint64_t>(whole_seconds(
                    lifetime.stored_at < now ? now - lifetime.stored_at : Clock::duration{})));
  status.ttl_seconds = whole_seconds(lifetime.fresh_until - now);
  cache::append_cache_status(extra_headers_, status);
  const bool unchanged =
      stored->status == 200 &&
      cache::not_modified(headers.get("if-none-match"), headers.get("if-modified-since"),
                          stored->header("etag"), stored->header("last-modified"));
  const bool keep_alive = keep_alive_ && !drain_ && !peer_done_;
  const std::size_t before = out_pending_.size();
  http::write_stored(out_pending_, unchanged ? 304 : stored->status, stored->header_lines,
                     stored->body, framing(keep_alive), extra_headers_);
  note_answer(unchanged ? 304 : stored->status, false, out_pending_.size() - before);
  answer_cached_ = true;
  const bool stale = status.fwd == "stale";
  if (status.detail == "l1") {
    cache_outcome_ = stale ? CacheOutcome::kL1Stale : CacheOutcome::kL1Hit;
  } else if (status.detail == "l2") {
    cache_outcome_ = stale ? CacheOutcome::kL2Stale : CacheOutcome::kL2Hit;
  } else if (status.detail == "redis") {
    cache_outcome_ = CacheOutcome::kRedisHit;
  } else {
    cache_outcome_ = CacheOutcome::kStaleIfError;
  }
  finish_request(keep_alive);
  return true;
}

void Connection::cache_response(const api::Response& response) {
  cache::CacheStatus status;
  status.fwd = "miss";
  status.fwd_status = response.status;
  switch (cache_role_) {
    case CacheRole::kNone:
      return;
    case CacheRole::kInvalidate:
      // RFC 9111 4.4: a non-error answer to an unsafe method makes the URI's stored responses
      // unusable, in every layer and on every worker.
      if (response.status < 400) {
        worker_.shared().invalidations.invalidate(cache_uri_slot_);
        invalidate_redis(app().functions()[match_.target]);
      }
      return;
    case CacheRole::kBypass:
      status.fwd = "bypass";
      cache::append_cache_status(extra_headers_, status);
      return;
    case CacheRole::kMiss:
      cache::append_cache_status(extra_headers_, status);
      return;
    case CacheRole::kStore:
      break;
  }
  const StoreOutcome outcome = store_response(worker_, *app().functions()[match_.target].cache,
                                              cache_key_, stamp(), response);
  if (outcome.verdict != cache::StoreVerdict::kStore) {
    status.detail = cache::describe(outcome.verdict);
  } else if (outcome.stored) {
    status.stored = true;
  } else {
    status.detail = "too-large";
  }
  cache::append_cache_status(extra_headers_, status);
}

void Connection::grant() {
  holding_ = std::exchange(waiting_for_, nullptr);
  worker_.alarms().cancel(alarm_);
  start_pending_ = true;
  worker_.defer(*this);
}

api::Request Connection::make_request(const http::RequestHead& head) {
  return api::Request{
      .method = head.method,
      .target = head.target,
      .path = path_,
      .query = head.query,
      .host = head.host,
      .client_ip = client_ip(),
      .traceparent = traceparent_,
      .http_minor = head.http_minor,
      .headers = api::HeaderList(head.headers),
      .params = api::ParamList(std::span<const api::Param>(params_.data(), match_.param_count)),
      .body = parser_->body(),
  };
}

void Connection::start_function() {
  function_started_ = true;
  worker_.metrics().inflight.add(1);
  counted_inflight_ = true;
  const Function& function = app().functions()[match_.target];
  request_ = make_request(parser_->head({in_.data(), in_.size()}));
  arena_.release();
  logger_.emplace(worker_.log(), function.name);
  auto deadline = api::Context::Clock::time_point::max();
  if (function.timeout.count() != 0) {
    deadline = Clock::now() + function.timeout;
    alarm_.deadline = deadline;
    worker_.alarms().schedule(alarm_);
  }
  if (function.offload) {
    start_offload(function, deadline);
    return;
  }
  fetch_.bind(app_, function, traceparent_);
  context_.emplace(function.config, *logger_, &arena_, deadline, worker_.alarms(), &kv_, &fetch_);
  handling_ = true;
  const RequestDriver driver = drive(this, function.module.get(), &*context_);
  if (handling_) driver_ = driver.handle;  // suspended; else it completed and is gone
}

void Connection::start_offload(const Function& function, api::Context::Clock::time_point deadline) {
  handling_ = true;
  offload_ =
      std::make_shared<OffloadRequest>(worker_.id(), slot_, app_, function, request_, deadline);
  if (worker_.shared().offload->submit(offload_)) return;  // offload_done answers, or the alarm
  end_function();
  function_headers(request_.headers);
  // Like a full concurrency queue: the pool is a capacity limit a retry soon may get under.
  respond_unavailable("the offload pool is busy");
}

void Connection::offload_done(OffloadJob& job) {
  if (scrape_.get() == &job) {
    const auto scrape = std::static_pointer_cast<MetricsScrape>(std::exchange(scrape_, {}));
    const bool keep_alive = keep_alive_ && !drain_ && !peer_done_;
    scrape->respond(out_pending_, framing(keep_alive));
    finish_request(keep_alive);
    return;
  }
  if (offload_.get() != &job) return;  // a job of an earlier request on this slot
  // Held until the response is written: its strings live in the job's arena.
  const std::shared_ptr<OffloadRequest> finished = std::move(offload_);
  if (const api::Response* response = finished->response()) {
    handler_done(*response);
  } else {
    handler_failed(finished->error());
  }
}

void Connection::end_function() {
  handling_ = false;
  driver_ = {};
  if (std::exchange(counted_inflight_, false)) worker_.metrics().inflight.add(-1);
  // A pool thread may still be running it: the pool drops the result instead of delivering it.
  if (offload_) std::exchange(offload_, {})->abandon();
  worker_.alarms().cancel(alarm_);
  if (holding_ != nullptr) worker_.release_slot(*std::exchange(holding_, nullptr));
}

void Connection::handler_done(const api::Response& response) {
  end_function();
  if (serve_stale_on_error(response.status)) return;
  const bool keep_alive = keep_alive_ && !drain_ && !peer_done_;
  function_headers(request_.headers);
  cache_response(response);
  const std::size_t before = out_pending_.size();
  http::write_response(out_pending_, response, framing(keep_alive), extra_headers_);
  note_answer(response.status, false, out_pending_.size() - before);
  finish_request(keep_alive);
}

void Connection::handler_failed(std::string_view what) {
  end_function();
  if (log_enabled(LogLevel::kError)) {
    LogLine line(LogLevel::kError, "function failed");
    line.field("function", app().functions()[match_.target].name).field("error", what);
    worker_.log().append(line);
  }
  if (serve_stale_on_error(500)) return;
  respond_error(500, "the function failed", keep_alive_ && !peer_done_,
                function_headers(request_.headers));
}

void Connection::on_alarm() {
  if (waiting_for_ != nullptr) {
    on_queue_timeout();
  } else if (handling_) {
    on_function_timeout();
  }
}

void Connection::on_function_timeout() {
  // The function is suspended (this runs from the worker's loop): destroying its driver
  // destroys its coroutines where they wait, and their awaits cancel what they waited for.
  if (driver_) std::exchange(driver_, {}).destroy();
  end_function();  // an offloaded function is abandoned: the pool drops its late result
  const Function& function = app().functions()[match_.target];
  if (log_enabled(LogLevel::kWarn)) {
    LogLine line(LogLevel::kWarn, "function timed out");
    line.field("function", function.name)
        .field("timeout_ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(function.timeout).count());
    worker_.log().append(line);
  }
  if (serve_stale_on_error(504)) return;
  // The request was read whole: the connection stays usable for the next one.
  respond_error(504, "the function did not answer in time", keep_alive_ && !peer_done_,
                function_headers(request_.headers));
}

void Connection::on_queue_timeout() {
  stop_waiting();
  function_headers(api::HeaderList(parser_->head({in_.data(), in_.size()}).headers));
  respond_unavailable("no capacity for this function in time");
}

void Connection::stop_waiting() {
  worker_.remove_waiter(*this);
  std::exchange(waiting_for_, nullptr)->leave_queue(worker_.id());
  worker_.alarms().cancel(alarm_);
}

void Connection::respond_unavailable(std::string_view message) {
  // extra_headers_ holds the function's lines (function_headers); a retry in a second may find
  // a free slot.
  extra_headers_.append("Retry-After: 1\r\n");
  respond_error(503, message, keep_alive_ && !peer_done_, extra_headers_);
}

void Connection::serve_admin(const http::RequestHead& head) {
  const bool keep_alive = keep_alive_ && !drain_;
  if (head.path == "/purge" && head.method == "POST") {
    respond_purge(head.method, head.query, worker_.shared(), worker_.redis(), out_pending_,
                  framing(keep_alive));
  } else if (head.path == "/metrics" && (head.method == "GET" || head.method == "HEAD")) {
    auto scrape = std::make_shared<MetricsScrape>(worker_.id(), slot_, worker_.shared(),
                                                  worker_.app_handle());
    if (worker_.shared().admin_pool->submit(scrape)) {
      scrape_ = std::move(scrape);
      phase_ = Phase::kHandling;  // input is stashed meanwhile, as while a function runs
      return;                     // offload_done answers
    }
    respond_admin(head.method, head.path, worker_.shared(), *worker_.app_handle(), out_pending_,
                  framing(keep_alive));
  } else {
    respond_admin(head.method, head.path, worker_.shared(), *worker_.app_handle(), out_pending_,
                  framing(keep_alive));
  }
  finish_request(keep_alive);
}

void Connection::respond_error(int status, std::string_view message, bool keep_alive,
                               std::string_view extra_headers) {
  keep_alive = keep_alive && !drain_;
  const std::size_t before = out_pending_.size();
  http::write_error(out_pending_, status, message, framing(keep_alive), extra_headers);
  // A function that started (and failed, timed out, or left its answer to an error) did not
  // have its request turned away.
  note_answer(status, !function_started_, out_pending_.size() - before);
  finish_request(keep_alive);
}

void Connection::note_answer(int status, bool rejected, std::size_t bytes) {
  answer_status_ = status;
  answer_rejected_ = rejected;
  answer_bytes_ = bytes;
}

void Connection::record_request() {
  if (admin_ || answer_status_ == 0) return;
  const auto duration = head_done_ ? Clock::now() - request_started_ : Clock::duration{};
  WorkerMetrics& metrics = worker_.metrics();
  if (answer_rejected_) metrics.rejected.add(answer_status_);
  if (routed_) {
    // The worker's table indexes its own App; a request that began before a reload finds its
    // function by name.
    const bool current = app_ == worker_.app_handle();
    const Function& routed = app().functions()[match_.target];
    FunctionMetrics& function =
        current ? metrics.function(match_.target) : metrics.function(routed.name);
    StatusCounters& route = current ? metrics.route(match_.route)
                                    : metrics.route(routed.name, app().route_name(match_.route));
    route.add(answer_status_);
    function.duration.observe(duration);
    if (answer_cached_) {
      metrics.cache[static_cast<std::size_t>(cache_outcome_)].add();
    } else if (cache_role_ == CacheRole::kStore || cache_role_ == CacheRole::kMiss) {
      metrics.cache[static_cast<std::size_t>(CacheOutcome::kMiss)].add();
    }
  }
  // Requests refused before their head was read have no App yet: the worker's says.
  const LogConfig& log = (app_ ? app() : worker_.app()).manifest().log;
  if (log.access && worker_.sampled(log.sample)) {
    write_access_line(duration);
  }
}

void Connection::write_access_line(Clock::duration duration) {
  LogLine line(LogLine::Access{}, worker_.access_line_scratch());
  if (head_done_) {
    const http::RequestHead head = parser_->head({in_.data(), in_.size()});
    line.field("method", head.method).field("target", head.target);
    if (!traceparent_.empty()) line.field("trace_id", traceparent_.substr(3, 32));
  }
  if (routed_) {
    line.field("function", app().functions()[match_.target].name);
    if (!preflight_) line.field("route", app().route_name(match_.route));
  }
  line.field("status", answer_status_)
      .field("bytes", static_cast<std::uint64_t>(answer_bytes_))
      .field("duration_us",
             static_cast<std::int64_t>(
                 std::chrono::duration_cast<std::chrono::microseconds>(duration).count()));
  if (answer_cached_) {
    line.field("cache", "hit");
  } else if (routed_ && (cache_role_ == CacheRole::kStore || cache_role_ == CacheRole::kMiss)) {
    line.field("cache", "miss");
  }
  line.field("client", client_ip());
  worker_.log().append(line);
}

void Connection::take_trace_context(const api::HeaderList& headers) {
  if (const std::optional<std::string_view> given = headers.get("traceparent");
      given && is_traceparent(*given)) {
    traceparent_ = given->substr(0, 55);  // version 00's fields; later versions may add more
    return;
  }
  worker_.new_traceparent(traceparent_buffer_);
  traceparent_ = std::string_view(traceparent_buffer_.data(), traceparent_buffer_.size());
}

bool Connection::is_traceparent(std::string_view text) {
  // W3C Trace Context: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"; a version
  // other than 00 may append fields after the flags.
  if (text.size() < 55) return false;
  const auto hex = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  if (text[2] != '-' || text[35] != '-' || text[52] != '-' || !hex(text.substr(0, 2)) ||
      text.substr(0, 2) == "ff" || !hex(text.substr(3, 32)) || !hex(text.substr(36, 16)) ||
      !hex(text.substr(53, 2)) || (text.substr(0, 2) == "00" && text.size() != 55) ||
      (text.size() > 55 && text[55] != '-')) {
    return false;
  }
  return text.substr(3, 32) != std::string_view("00000000000000000000000000000000") &&
         text.substr(36, 16) != std::string_view("0000000000000000");
}

http::ResponseFraming Connection::framing(bool keep_alive) const {
  return {worker_.date().now(), http_minor_, head_request_, keep_alive};
}

void Connection::finish_request(bool keep_alive) {
  ++requests_;
  record_request();
  answer_status_ = 0;
  routed_ = function_started_ = answer_cached_ = false;
  // After the response was stored (cache_response runs before it is written): followers find it.
  land_flight();
  stale_.reset();
  coalesced_ = false;
  TimerList::disarm(timer_);  // the idle (or header) time starts afresh after each response
  context_.reset();
  logger_.reset();
  fetch_.end_request();
  head_done_ = false;
  // Framing of error responses before the next head (parse errors, 408) must not inherit this
  // request's HEAD-ness or version.
  head_request_ = false;
  http_minor_ = 1;
  if (!keep_alive) {
    phase_ = Phase::kClosing;
    in_.clear();
    stash_.clear();
  } else {
    phase_ = Phase::kReading;
    parser_->next_request();
    const std::size_t used = parser_->position();
    in_.erase(0, used);
    parser_->rebase(used);
    if (!stash_.empty()) {
      in_.append(stash_);
      stash_.clear();
    }
    trim(in_);
  }
  if (in_process_input_) return;  // its loop goes on with the next request
  if (phase_ == Phase::kReading) {
    // A function that completed after suspending ends here, inside its driver coroutine, whose
    // frame lives in the arena the next request would reuse: continue from the worker's loop.
    resume_pending_ = true;
    worker_.defer(*this);
  } else {
    update_timer();
    flush();
  }
  track_state();
}

void Connection::resume() {
  if (kv_answered_) {
    kv_answered_ = false;
    kv_.deliver();  // a no-op when the function was cancelled meanwhile
    return;
  }
  if (redis_answered_) {
    on_redis_answer();
    return;
  }
  if (retry_pending_) {
    retry_pending_ = false;
    if (phase_ == Phase::kHandling) run_function(parser_->head({in_.data(), in_.size()}));
    return;
  }
  if (start_pending_) {
    start_pending_ = false;
    if (phase_ == Phase::kHandling) start_function();
    return;
  }
  if (!resume_pending_) return;  // the socket was closed (and the slot maybe reused) meanwhile
  resume_pending_ = false;
  if (phase_ == Phase::kReading) process_input();
}

void Connection::track_state() {
  ConnectionState now = ConnectionState::kNone;
  if (!admin_ && fd_ >= 0) {
    switch (phase_) {
      case Phase::kReading:
        now = send_in_flight_         ? ConnectionState::kWriting
              : parser_->in_message() ? ConnectionState::kReading
                                      : ConnectionState::kIdle;
        break;
      case Phase::kHandling:
        now = ConnectionState::kActive;
        break;
      case Phase::kClosing:
        now = ConnectionState::kWriting;
        break;
      case Phase::kLingering:
        now = ConnectionState::kClosing;
        break;
      case Phase::kClosed:
        break;
    }
  }
  if (now == state_) return;
  worker_.metrics().move_connection(state_, now);
  state_ = now;
}

void Connection::update_timer() {
  const auto now = Clock::now();
  switch (phase_) {
    case Phase::kReading:
      if (requests_ == 0 && !parser_->in_message()) {
        // A new connection must start its first request within the header timeout.
        if (timer_.list != &worker_.header_timers()) worker_.header_timers().arm(timer_, now);
      } else if (parser_->in_message() && !head_done_) {
        // The head must be complete within the header timeout of its first byte.
        if (timer_.list != &worker_.header_timers()) worker_.header_timers().arm(timer_, now);
      } else if (parser_->in_message()) {
        // Receiving a body: the idle timeout bounds each gap between reads.
        worker_.idle_timers().arm(timer_, now);
      } else if (drain_ && !send_in_flight_ && out_pending_.empty()) {
        close();
      } else if (timer_.list != &worker_.idle_timers()) {
        worker_.idle_timers().arm(timer_, now);
      }
      break;
    case Phase::kHandling:
      TimerList::disarm(timer_);
      break;
    case Phase::kClosing:
      // Bounded by the idle timeout while the last response drains to a slow reader (re-armed
      // by every send that makes progress).
      if (timer_.list != &worker_.idle_timers()) worker_.idle_timers().arm(timer_, now);
      break;
    case Phase::kLingering:
    case Phase::kClosed:
      break;
  }
}

void Connection::on_timer(TimerList& list) {
  if (&list == &worker_.idle_timers() && send_in_flight_ && peer_reading()) {
    list.arm(timer_, Clock::now());
    return;
  }
  TimerList::disarm(timer_);
  if (&list != &worker_.linger_timers() && phase_ == Phase::kReading && parser_->in_message()) {
    respond_error(408, "request not received in time", false);
    return;
  }
  close();
}

bool Connection::peer_reading() {
  // A send completes only when the socket has room for all it was given, and the kernel makes
  // room in large steps (a third of a send buffer of several MiB), so a slow reader that keeps
  // reading can go longer than the idle timeout between two completions. The socket's queue
  // tells: a queue that shrank since the last look is a reader taking bytes. The first look
  // has nothing to compare with and grants one more timeout, so a stalled reader is closed
  // after two.
  int queued = 0;
  if (::ioctl(fd_, SIOCOUTQ, &queued) != 0) return false;
  const bool reading = queued_at_timeout_ < 0 || queued < queued_at_timeout_;
  queued_at_timeout_ = queued;
  return reading;
}

void Connection::begin_drain() {
  drain_ = true;
  if (phase_ == Phase::kReading) update_timer();
}

void Connection::flush() {
  if (phase_ == Phase::kClosed || send_in_flight_) return;
  if (out_pending_.empty()) {
    if (phase_ == Phase::kClosing) {
      // Lingering waits for the peer's end of input; a peer that already sent it is done.
      if (peer_done_) {
        close();
      } else {
        start_linger();
      }
    }
    return;
  }
  out_sending_.swap(out_pending_);
  sent_ = 0;
  send_next();
}

void Connection::send_next() {
  worker_.io().send(fd_, out_sending_.data() + sent_,
                    std::min(out_sending_.size() - sent_, kMaxSendBytes),
                    make_tag(Op::kSend, slot_));
  send_in_flight_ = true;
}

void Connection::on_send(int result) {
  send_in_flight_ = false;
  if (phase_ == Phase::kClosed) {
    maybe_release();
    return;
  }
  if (result < 0) {
    close();  // the peer went away
    return;
  }
  sent_ += static_cast<std::size_t>(result);
  queued_at_timeout_ = -1;
  // A reader that keeps taking bytes is not idle (nginx's send_timeout works the same way).
  if (result > 0 && timer_.list == &worker_.idle_timers()) {
    worker_.idle_timers().arm(timer_, Clock::now());
  }
  if (sent_ < out_sending_.size()) {
    send_next();
    return;
  }
  out_sending_.clear();
  trim(out_sending_);
  if (phase_ == Phase::kReading) {
    process_input();  // resumes parsing held back by queued output; flushes
  } else {
    flush();
  }
}

void Connection::start_linger() {
  // Closing with unread input would make the kernel send RST, which can destroy the response
  // before the peer reads it: shut the write side, then read until the peer closes.
  phase_ = Phase::kLingering;
  in_.clear();
  stash_.clear();
  worker_.io().shutdown_write(fd_, make_tag(Op::kShutdown, slot_));
  shutdown_in_flight_ = true;
  if (!recv_armed_) arm_recv();
  worker_.linger_timers().arm(timer_, Clock::now());
}

void Connection::on_shutdown(int result) {
  shutdown_in_flight_ = false;
  if (result < 0) close();
  maybe_release();
}

void Connection::close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  track_state();  // before the slot can be reused
  TimerList::disarm(timer_);
  // Nobody is left to answer: a waiting request leaves its queue, a suspended function is
  // cancelled, and a granted slot goes back.
  if (waiting_for_ != nullptr) stop_waiting();
  if (following_) {
    worker_.remove_follower(*this);
    following_ = false;
  }
  if (driver_) std::exchange(driver_, {}).destroy();
  if (handling_ || holding_ != nullptr) end_function();
  if (scrape_) std::exchange(scrape_, {})->abandon();
  land_flight();  // its followers look again, and run the function themselves
  stale_.reset();
  start_pending_ = retry_pending_ = false;
  // A late answer finds a new serial, or none; a kv call was cancelled with the driver.
  redis_pending_ = redis_answered_ = kv_answered_ = false;
  context_.reset();
  logger_.reset();
  if (recv_armed_ || send_in_flight_ || shutdown_in_flight_) {
    worker_.io().cancel_all(fd_, make_tag(Op::kCancel, slot_));
  }
  maybe_release();
}

void Connection::maybe_release() {
  // A running function still holds views into this connection's buffers and its arena.
  if (phase_ != Phase::kClosed || recv_armed_ || send_in_flight_ || shutdown_in_flight_ ||
      handling_ || fd_ < 0) {
    return;
  }
  worker_.io().close(fd_, make_tag(Op::kClose, slot_));
  fd_ = -1;
  in_.clear();
  stash_.clear();
  out_pending_.clear();
  out_sending_.clear();
  trim(in_);
  trim(stash_);
  trim(out_pending_);
  trim(out_sending_);
  parser_.reset();
  resume_pending_ = false;
  app_.reset();  // an idle slot must not keep a replaced App alive
  worker_.release(*this);
}

std::string_view Connection::client_ip() {
  if (client_ip_length_ == 0) {
    // Looked up on first use: most requests never ask.
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
      const void* address =
          peer.ss_family == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr)
              : &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr;
      if (inet_ntop(peer.ss_family, address, client_ip_, sizeof client_ip_) != nullptr) {
        client_ip_length_ = std::char_traits<char>::length(client_ip_);
      }
    }
  }
  return {client_ip_, client_ip_length_};
}

}  // namespace edgefn::runtime
