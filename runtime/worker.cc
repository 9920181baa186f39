// The worker loop: one thread draining one Io's completions and dispatching them by tag.
#include "runtime/worker.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace edgefn::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// For the last log lines of a stopping worker, when blocking no longer matters.
void write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Ring size (io_uring): Ring::sqe() submits when the queue is full, so the submission queue only
// needs to cover a typical loop turn; completions get four times the room (IORING_SETUP_CQSIZE),
// and a burst beyond that waits in the kernel (IORING_FEAT_NODROP) rather than being lost. Provided
// buffers for multishot recv: copied out and recycled at once, so a few hundred cover thousands of
// connections. 8 KiB holds a typical request in one completion.
constexpr IoOptions kIoOptions{.entries = 256, .buffer_count = 256, .buffer_bytes = 8 * 1024};
// How long a stopping worker waits for each log write still in flight.
constexpr auto kLastLogWait = std::chrono::milliseconds(50);
// Timers are checked and the Date header refreshed this often.
constexpr long kTickNanoseconds = 100'000'000;
// How long a closing connection waits for its peer's end after our final response.
constexpr auto kLingerTimeout = std::chrono::seconds(2);

}  // namespace

void SharedState::publish(std::shared_ptr<const App> app) {
  watch_upstreams(*app);
  {
    std::lock_guard lock(app_mutex_);
    app_.swap(app);
    app_generation_.fetch_add(1, std::memory_order_release);
  }
  wake_all();
  // `app` now holds the previous App: released here unless requests still run on it.
}

void SharedState::wake_all() {
  for (Worker* worker : workers)
    worker->wake();
}

void SharedState::watch_upstreams(const App& app) {
  for (const Upstream& upstream : app.upstreams()) {
    if (!upstream.address) resolver->watch(upstream.config.host, upstream.config.port);
  }
  if (cache.redis && !cache.redis->host.empty())
    resolver->watch(cache.redis->host, cache.redis->port);
}

std::shared_ptr<const App> SharedState::current_app() const {
  std::lock_guard lock(app_mutex_);
  return app_;
}

Worker::Worker(unsigned id, SharedState& shared, int listen_fd, int admin_fd, int signal_fd)
    : id_(id),
      shared_(shared),
      app_(shared.current_app()),
      app_generation_(shared.app_generation()),
      listeners_{listen_fd, admin_fd},
      signal_fd_(signal_fd),
      l1_(shared.cache.l1_bytes, shared.cache.max_entry_fraction) {
  const ServerConfig& server = shared.server;
  metrics_.index(*app_);
  sample_state_ ^= (static_cast<std::uint64_t>(id) + 1) * 0xbf58476d1ce4e5b9u;  // per worker
  header_timers_.set_timeout(server.header_timeout);
  idle_timers_.set_timeout(server.idle_timeout);
  linger_timers_.set_timeout(kLingerTimeout);
}

Worker::~Worker() {
  // The Io is destroyed first among the members: nothing may be submitted from here on.
  if (fetch_) fetch_->shut_down();
  for (int& fd : listeners_) {
    if (fd >= 0) ::close(fd);
  }
  for (auto& slot : slots_) {
    if (slot && slot->is_open()) ::close(slot->fd());
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

bool Worker::open_io(IoBackend backend, IoSetupError& error) {
  io_ = make_io(backend, kIoOptions, error);
  return io_ != nullptr;
}

bool Worker::setup(std::string& error) {
  fetch_.emplace(*io_, alarms_, *shared_.resolver);
  log_fd_ = io_->log_output();
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    error = std::string("eventfd failed: ") + std::strerror(errno);
    return false;
  }
  for (unsigned listener : {kPublic, kAdmin}) {
    if (listeners_[listener] >= 0) arm_accept(listener);
  }
  if (shared_.cache.redis) {
    redis_.emplace(*io_, alarms_, *shared_.cache.redis, static_cast<RedisClient::Listener&>(*this),
                   *shared_.resolver);
  }
  arm_tick();
  arm_wake();
  if (signal_fd_ >= 0) arm_signal();
  io_->submit();
  return true;
}

void Worker::new_traceparent(std::array<char, 55>& out) {
  constexpr std::string_view kHex = "0123456789abcdef";
  const auto next = [this] {
    sample_state_ ^= sample_state_ << 13;
    sample_state_ ^= sample_state_ >> 7;
    sample_state_ ^= sample_state_ << 17;
    return sample_state_;  // xorshift64 never yields 0 from a non-zero state
  };
  const auto put = [&out, kHex](std::size_t at, std::uint64_t bits, std::size_t digits) {
    for (std::size_t i = 0; i < digits; ++i, bits >>= 4)
      out[at + digits - 1 - i] = kHex[bits & 0xf];
  };
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  put(3, next(), 16);
  put(19, next(), 16);
  out[35] = '-';
  put(36, next(), 16);
  out[52] = '-';
  out[53] = '0';
  out[54] = '0';
}

void Worker::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

Worker::Exit Worker::run() {
  Exit exit = Exit::kDrained;
  while (!finished()) {
    if (signal_fd_ >= 0 && draining_ && Clock::now() >= drain_deadline_) {
      exit = Exit::kDrainTimeout;
      break;
    }
    std::span<const Completion> completions;
    if (!io_->wait(std::nullopt, completions)) break;
    for (const Completion& completion : completions)
      dispatch(completion);
    fire_alarms();
    fetch_->deliver();
    for (std::size_t i = 0; i < deferred_.size(); ++i) {
      deferred_[i]->resume();
      deferred_[i]->track_state();
    }
    deferred_.clear();
    if (!refreshes_.empty()) {
      for (std::size_t i = 0; i < refreshes_.size(); ++i) {
        if (!refreshes_[i]->started()) refreshes_[i]->run();
      }
      std::erase_if(refreshes_, [](const std::unique_ptr<Refresh>& r) { return r->finished(); });
    }
    flush_log();
    arm_deadline();
  }
  // The last turn may have queued closes of drained connections: they must reach the kernel,
  // or those sockets would stay open until the process exits.
  io_->submit();
  // Log lines still queued go out before the thread ends: wait (briefly: stdout may be a pipe
  // nobody reads) for the write in flight, then write the rest directly.
  for (int attempt = 0; attempt < 10 && log_.writing(); ++attempt) {
    std::span<const Completion> completions;
    if (!io_->wait(kLastLogWait, completions)) break;
    for (const Completion& completion : completions) {
      if (tag_op(completion.tag) != Op::kLogWrite) continue;
      std::string_view rest = log_.finish_write(completion.result);
      if (!rest.empty()) write_all(rest);
      log_.finish_write(static_cast<int>(rest.size()));
    }
  }
  if (!log_.writing() && log_.has_pending()) write_all(log_.start_write());
  return exit;
}

bool Worker::finished() const {
  if (!draining_ || accept_armed_[kPublic] || public_connections_ != 0) return false;
  // The admin listener's worker stays until every worker has drained, so /readyz keeps
  // answering 503 meanwhile (its tick notices when the last connection is gone).
  return listeners_[kAdmin] < 0 || shared_.connections.load(std::memory_order_relaxed) == 0;
}

void Worker::dispatch(const Completion& completion) {
  const std::uint64_t tag = completion.tag;
  const std::uint32_t index = tag_index(tag);
  switch (tag_op(tag)) {
    case Op::kAccept:
      on_accept(index, completion);
      break;
    case Op::kRecv:
      slots_[index]->on_recv(completion);
      slots_[index]->track_state();
      break;
    case Op::kSend:
      slots_[index]->on_send(completion.result);
      slots_[index]->track_state();
      break;
    case Op::kShutdown:
      slots_[index]->on_shutdown(completion.result);
      slots_[index]->track_state();
      break;
    case Op::kTick:
      on_tick();
      break;
    case Op::kWake:
      arm_wake();
      if (shared_.draining.load() && !draining_) begin_drain();
      refresh_app();
      grant_waiters();
      release_followers();
      take_offloaded();
      fetch_->addresses_changed();
      break;
    case Op::kDeadline:
      if (index == deadline_sequence_) armed_deadline_ = Clock::time_point::max();
      break;
    case Op::kLogWrite: {
      std::string_view rest = log_.finish_write(completion.result);
      if (!rest.empty()) io_->write(log_fd_, rest.data(), rest.size(), make_tag(Op::kLogWrite, 0));
      break;
    }
    case Op::kSignal:
      on_signal(completion.result);
      break;
    case Op::kRedisConnect:
    case Op::kRedisSend:
    case Op::kRedisRecv:
      if (redis_) redis_->on_completion(tag_op(tag), index, completion.result);
      break;
    case Op::kUpstreamConnect:
    case Op::kUpstreamSend:
    case Op::kUpstreamRecv:
      fetch_->on_completion(tag_op(tag), index, completion.result);
      break;
    case Op::kCancel:
    case Op::kClose:
      break;
  }
}

void Worker::redis_answered(std::uint64_t token, const cache::RedisReply* reply) {
  const std::uint64_t slot = (token >> 32) - 1;
  if (slot < slots_.size()) slots_[slot]->redis_answered(static_cast<std::uint32_t>(token), reply);
}

void Worker::arm_accept(unsigned listener) {
  io_->accept_multishot(listeners_[listener], make_tag(Op::kAccept, listener));
  accept_armed_[listener] = true;
}

void Worker::on_accept(unsigned listener, const Completion& completion) {
  const bool more = completion.more();
  const int fd = completion.result;
  if (!more) {
    accept_armed_[listener] = false;
    // The kernel also ends a multishot accept when the completion queue overflows (with a
    // last socket, or -ECANCELED): re-arm at once. After EMFILE and friends, wait for the next
    // tick rather than spin. A drain cancels on purpose and stays unarmed.
    const bool public_closed = listener == kPublic && draining_;
    if (!public_closed) {
      if (fd >= 0 || fd == -ECANCELED) {
        arm_accept(listener);
      } else {
        accept_retry_ = true;
      }
    }
  }
  if (fd < 0) {
    if (fd != -ECANCELED && fd != -EAGAIN && log_enabled(LogLevel::kWarn)) {
      LogLine line(LogLevel::kWarn, "accept failed");
      line.field("error", std::string_view(strerrordesc_np(-fd))).field("worker", id_);
      log_.append(line);
    }
    return;
  }
  const bool admin = listener == kAdmin;
  const std::uint32_t limit = server().max_connections;
  if (!admin &&
      (draining_ || shared_.connections.fetch_add(1, std::memory_order_relaxed) >= limit)) {
    if (!draining_) shared_.connections.fetch_sub(1, std::memory_order_relaxed);
    shared_.rejected_connections.fetch_add(1, std::memory_order_relaxed);
    io_->close(fd, make_tag(Op::kClose, 0));
    return;
  }
  allocate(fd, admin);
}

Connection* Worker::allocate(int fd, bool admin) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<Connection>(*this, slot));
  }
  if (!admin) ++public_connections_;
  Connection* connection = slots_[slot].get();
  connection->open(fd, admin);
  connection->track_state();
  return connection;
}

void Worker::release(Connection& connection) {
  if (!connection.is_admin()) {
    --public_connections_;
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }
  free_slots_.push_back(connection.slot());
}

void Worker::arm_tick() {
  tick_.tv_sec = 0;
  tick_.tv_nsec = kTickNanoseconds;
  tick_due_ = Clock::now() + std::chrono::nanoseconds(kTickNanoseconds);
  io_->timeout(tick_, false, make_tag(Op::kTick, 0));
}

void Worker::on_tick() {
  const auto now = Clock::now();
  // How late the loop got to a timer: what every request on this worker waited extra.
  metrics_.loop_lag.observe(now > tick_due_ ? now - tick_due_ : Clock::duration{});
  arm_tick();
  date_.tick();
  metrics_.l1_bytes.set(static_cast<std::int64_t>(l1_.size_bytes()));
  metrics_.l1_entries.set(static_cast<std::int64_t>(l1_.entries()));
  for (TimerList* list : {&header_timers_, &idle_timers_, &linger_timers_}) {
    while (TimerHook* hook = list->due(now)) {
      Connection& connection = Connection::from_timer(*hook);
      connection.on_timer(*list);
      connection.track_state();
    }
  }
  if (accept_retry_ && !draining_) {
    accept_retry_ = false;
    if (!accept_armed_[kPublic] && listeners_[kPublic] >= 0) arm_accept(kPublic);
    if (!accept_armed_[kAdmin] && listeners_[kAdmin] >= 0) arm_accept(kAdmin);
  }
}

void Worker::refresh_app() {
  const std::uint64_t generation = shared_.app_generation();
  if (generation == app_generation_) return;
  app_generation_ = generation;
  app_ = shared_.current_app();
  metrics_.index(*app_);
  fetch_->retire_pools(*app_);
}

void Worker::fire_alarms() {
  if (alarms_.empty()) return;
  // One `now` for the whole pass: an alarm that schedules another already due (a retry, a
  // zero sleep) is fired on the next turn instead of looping here.
  const auto now = Clock::now();
  while (api::Alarm* alarm = alarms_.pop_due(now))
    alarm->fire();
}

void Worker::arm_deadline() {
  if (alarms_.empty() || alarms_.earliest() >= armed_deadline_) return;
  // An absolute CLOCK_MONOTONIC timeout (steady_clock's clock) for the earliest alarm. One in
  // flight is enough: when an earlier alarm comes, another is armed and the later one only
  // causes a spare wake-up.
  armed_deadline_ = alarms_.earliest();
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(armed_deadline_.time_since_epoch());
  deadline_.tv_sec = since_epoch.count() / 1'000'000'000;
  deadline_.tv_nsec = since_epoch.count() % 1'000'000'000;
  io_->timeout(deadline_, true, make_tag(Op::kDeadline, ++deadline_sequence_));
}

bool Worker::hand_over(router::ConcurrencyLimit& limit) {
  for (Connection* waiter = waiters_.front(); waiter != nullptr;
       waiter = ConnectionList::next(*waiter)) {
    if (waiter->waiting_for() != &limit) continue;
    remove_waiter(*waiter);
    limit.leave_queue(id_);
    waiter->grant();
    return true;
  }
  return false;
}

void Worker::release_slot(router::ConcurrencyLimit& limit) {
  if (hand_over(limit)) return;
  if (const std::optional<unsigned> other = limit.release(id_)) {
    if (*other < shared_.workers.size()) shared_.workers[*other]->wake();
  }
}

void Worker::release_followers() {
  Connection* follower = followers_.front();
  while (follower != nullptr) {
    Connection* next = ConnectionList::next(*follower);
    if (!shared_.flights.in_flight(follower->cache_key())) {
      followers_.remove(*follower);
      follower->follow_landed();
    }
    follower = next;
  }
}

void Worker::grant_waiters() {
  Connection* waiter = waiters_.front();
  while (waiter != nullptr) {
    Connection* next = ConnectionList::next(*waiter);
    router::ConcurrencyLimit* limit = waiter->waiting_for();
    if (limit->try_acquire()) {
      remove_waiter(*waiter);
      limit->leave_queue(id_);
      waiter->grant();
    }
    waiter = next;
  }
}

void Worker::take_offloaded() {
  for (OffloadPool* pool : {shared_.offload.get(), shared_.admin_pool.get()}) {
    if (pool == nullptr) continue;
    pool->take_finished(id_, offloaded_);
    for (auto& job : offloaded_) {
      // The connection checks that the job is still the one it waits for: the slot may have
      // been reused since, or the request abandoned it after the pool delivered it.
      slots_[job->slot()]->offload_done(*job);
      slots_[job->slot()]->track_state();
    }
    offloaded_.clear();  // the last references, mostly: jobs are freed where they were made
  }
}

void Worker::arm_wake() {
  io_->read(wake_fd_, &wake_value_, sizeof wake_value_, make_tag(Op::kWake, 0));
}

void Worker::arm_signal() {
  io_->read(signal_fd_, &signal_info_, sizeof signal_info_, make_tag(Op::kSignal, 0));
}

void Worker::on_signal(int result) {
  arm_signal();
  if (result != static_cast<int>(sizeof signal_info_)) return;
  const auto signal_number = static_cast<int>(signal_info_.ssi_signo);
  if (signal_number == SIGHUP) {
    // The reload itself (file reads, schema compiles, module init) runs on the reloader's
    // thread; this worker only passes the request on.
    if (shared_.request_reload) shared_.request_reload();
    return;
  }
  if (signal_number != SIGTERM && signal_number != SIGINT) return;
  if (shared_.draining.exchange(true)) return;  // a second signal changes nothing
  LogLine line(LogLevel::kInfo, "draining");
  line.field("signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
      .field("connections", shared_.connections.load(std::memory_order_relaxed));
  log_.append(line);
  for (Worker* worker : shared_.workers) {
    if (worker != this) worker->wake();
  }
  begin_drain();
}

void Worker::begin_drain() {
  draining_ = true;
  drain_deadline_ = Clock::now() + server().drain_timeout;
  // Stop taking new public connections: cancel the accept and close the listener, so the
  // kernel refuses connections instead of queueing them. The admin listener stays for /readyz.
  if (accept_armed_[kPublic]) {
    io_->cancel(listeners_[kPublic], make_tag(Op::kAccept, kPublic), make_tag(Op::kCancel, 0));
  }
  if (listeners_[kPublic] >= 0) {
    ::close(listeners_[kPublic]);
    listeners_[kPublic] = -1;
  }
  for (auto& slot : slots_) {
    if (slot->is_open()) slot->begin_drain();
  }
}

void Worker::flush_log() {
  if (log_.writing() || !log_.has_pending()) return;
  std::string_view bytes = log_.start_write();
  io_->write(log_fd_, bytes.data(), bytes.size(), make_tag(Op::kLogWrite, 0));
}

}  // namespace edgefn::runtime
