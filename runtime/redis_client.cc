// RedisClient: pipelined Redis connections on the worker's Io, with timeouts and backoff.
#include "runtime/redis_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace edgefn::runtime {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kRecvBytes = 16 * 1024;
constexpr milliseconds kFirstBackoff{50};
constexpr milliseconds kMaxBackoff{1000};
constexpr std::string_view kKeyPrefix = "edgefn:";
// A reply's bytes beyond the value it carries: the bulk length line, CRLFs.
constexpr std::size_t kReplyFraming = 1024;

// Skips one netstring ("<len>:<bytes>,") at the front of `text`; false when there is none.
bool skip_netstring(std::string_view& text) {
  std::size_t length = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (ec != std::errc() || end == text.data()) return false;
  const std::size_t digits = static_cast<std::size_t>(end - text.data());
  if (digits + 1 + length + 1 > text.size() || text[digits] != ':' ||
      text[digits + 1 + length] != ',') {
    return false;
  }
  text.remove_prefix(digits + 1 + length + 1);
  return true;
}

}  // namespace

struct RedisClient::Link final : api::Alarm {
  enum class State : std::uint8_t {
    kDown,        // no socket; connects when a command comes
    kConnecting,  // connect in flight; commands queue in the pipe
    kUp,
    kClosing,  // failed: waiting for its operations to come back before closing the socket
    kBackoff,  // closed; commands are refused until the alarm fires
  };

  Link(RedisClient& owner, std::uint32_t link_index, std::size_t max_reply_bytes)
      : client(owner), index(link_index), pipe(max_reply_bytes) {
    received.resize(kRecvBytes);
  }
  void fire() override { client.on_alarm(*this); }
  bool busy() const { return connect_in_flight || send_in_flight || recv_in_flight; }

  RedisClient& client;
  const std::uint32_t index;
  State state = State::kDown;
  int fd = -1;
  SocketAddress address;  // the kernel reads it while the connect is in flight
  cache::RedisPipe pipe;
  std::string sending;  // the kernel's while send_in_flight
  std::size_t sent = 0;
  std::string received;  // the kernel's while recv_in_flight
  bool connect_in_flight = false;
  bool send_in_flight = false;
  bool recv_in_flight = false;
  milliseconds backoff{0};
  Clock::time_point progress{};  // the last answer, or the first command of a waiting run
};

RedisClient::RedisClient(Io& io, AlarmQueue& alarms, const RedisConfig& config, Listener& listener,
                         Resolver& resolver)
    : io_(io), alarms_(alarms), config_(config), listener_(listener), resolver_(resolver) {
  links_.reserve(config_.connections);
  for (unsigned i = 0; i < config_.connections; ++i)
    links_.push_back(std::make_unique<Link>(*this, i, config_.max_value_bytes + kReplyFraming));
}

RedisClient::~RedisClient() {
  // The worker's Io goes after this, and its operations with it; the sockets close here.
  for (auto& link : links_) {
    alarms_.cancel(*link);
    if (link->fd >= 0) ::close(link->fd);
  }
}

std::optional<std::string_view> RedisClient::locate(std::string_view canonical, std::string& key) {
  // "v2|" ns(scope) ns(method) ns(host) ns(path), then the variant's parts (cache/key.h).
  constexpr std::string_view kVersion = "v2|";
  if (!canonical.starts_with(kVersion)) return std::nullopt;
  std::string_view rest = canonical.substr(kVersion.size());
  for (int i = 0; i < 4; ++i) {
    if (!skip_netstring(rest)) return std::nullopt;
  }
  key.assign(kKeyPrefix);
  key.append(canonical.substr(0, canonical.size() - rest.size()));
  return rest;
}

unsigned RedisClient::connected() const {
  return static_cast<unsigned>(std::count_if(links_.begin(), links_.end(), [](const auto& link) {
    return link->state == Link::State::kUp;
  }));
}

RedisClient::Link* RedisClient::pick() {
  for (std::size_t tried = 0; tried < links_.size(); ++tried) {
    Link& link = *links_[next_];
    next_ = (next_ + 1) % links_.size();
    if (link.state == Link::State::kClosing || link.state == Link::State::kBackoff) continue;
    if (link.pipe.waiting() >= kMaxWaiting ||
        link.pipe.pending_output().size() >= kMaxQueuedBytes) {
      continue;
    }
    if (link.state == Link::State::kDown) connect(link);
    if (link.state == Link::State::kBackoff) continue;  // the socket could not even be made
    return &link;
  }
  return nullptr;
}

RedisClient::Link* RedisClient::queue(std::uint64_t token,
                                      std::initializer_list<std::string_view> command) {
  Link* link = pick();
  if (link == nullptr) return nullptr;
  const bool idle = link->pipe.waiting() == 0;
  if (!link->pipe.command(token, command)) return nullptr;
  if (idle) {
    link->progress = Clock::now();
    arm_timeout(*link);
  }
  return link;
}

bool RedisClient::call(std::uint64_t token, std::initializer_list<std::string_view> command) {
  // Token 0 carries no reply back (answer() drops it), as for the writes.
  Link* link = queue(token, command);
  if (link == nullptr) {
    ++stats_.failures;
    return false;
  }
  flush(*link);
  return true;
}

void RedisClient::store(std::string_view key, std::string_view field, std::string_view value,
                        milliseconds ttl) {
  write_with_expiry({"HSET", key, field, value}, key, ttl);
}

void RedisClient::add_member(std::string_view key, std::string_view member, milliseconds ttl) {
  write_with_expiry({"SADD", key, member}, key, ttl);
}

void RedisClient::write_with_expiry(std::initializer_list<std::string_view> command,
                                    std::string_view key, milliseconds ttl) {
  char digits[24];
  const auto end =
      std::to_chars(digits, digits + sizeof digits, std::max<long>(ttl.count(), 1)).ptr;
  const std::string_view ttl_text(digits, static_cast<std::size_t>(end - digits));
  // NX gives a new key its expiry; GT lengthens it for a longer-lived member (a key without
  // one counts as infinite for GT alone). A link takes all three or, when full, not the rest.
  Link* link = queue(0, command);
  if (link == nullptr || !link->pipe.command(0, {"PEXPIRE", key, ttl_text, "NX"}) ||
      !link->pipe.command(0, {"PEXPIRE", key, ttl_text, "GT"})) {
    ++stats_.dropped_writes;
    if (link != nullptr) flush(*link);
    return;
  }
  ++stats_.writes;
  flush(*link);
}

void RedisClient::remove(std::string_view key) {
  Link* link = queue(0, {"DEL", key});
  if (link == nullptr) {
    ++stats_.dropped_writes;
    return;
  }
  ++stats_.writes;
  flush(*link);
}

bool RedisClient::next_address(SocketAddress& address) {
  if (config_.host.empty()) {
    address = config_.address;
    return true;
  }
  if (!name_) name_ = resolver_.watch(config_.host, config_.port);
  if (const std::uint64_t generation = name_->generation(); generation != name_generation_) {
    name_->addresses(addresses_);
    name_generation_ = generation;
  }
  if (addresses_.empty()) return false;
  address = addresses_[next_address_++ % addresses_.size()];
  return true;
}

void RedisClient::connect(Link& link) {
  if (!next_address(link.address)) {
    link.state = Link::State::kClosing;  // not resolved (yet): back off, as for a refusal
    maybe_closed(link);
    return;
  }
  const sockaddr* address = link.address.get();
  link.fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (link.fd < 0) {
    link.state = Link::State::kClosing;
    maybe_closed(link);
    return;
  }
  const int one = 1;
  ::setsockopt(link.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  io_.connect(link.fd, address, link.address.length, make_tag(Op::kRedisConnect, link.index));
  link.connect_in_flight = true;
  link.state = Link::State::kConnecting;
  link.progress = Clock::now();
  arm_timeout(link);
}

void RedisClient::flush(Link& link) {
  if (link.state != Link::State::kUp || link.send_in_flight) return;
  const std::string_view output = link.pipe.pending_output();
  if (output.empty()) return;
  link.sending.assign(output);
  link.pipe.consumed(output.size());
  link.sent = 0;
  io_.send(link.fd, link.sending.data(), link.sending.size(), make_tag(Op::kRedisSend, link.index));
  link.send_in_flight = true;
}

void RedisClient::arm_recv(Link& link) {
  io_.recv(link.fd, link.received.data(), link.received.size(),
           make_tag(Op::kRedisRecv, link.index));
  link.recv_in_flight = true;
}

void RedisClient::arm_timeout(Link& link) {
  link.deadline = link.progress + config_.timeout;
  alarms_.schedule(link);
}

void RedisClient::on_completion(Op op, std::uint32_t index, int result) {
  if (index >= links_.size()) return;
  Link& link = *links_[index];
  switch (op) {
    case Op::kRedisConnect:
      link.connect_in_flight = false;
      on_connect(link, result);
      break;
    case Op::kRedisSend:
      on_send(link, result);
      break;
    case Op::kRedisRecv:
      link.recv_in_flight = false;
      on_recv(link, result);
      break;
    default:
      break;
  }
}

void RedisClient::on_connect(Link& link, int result) {
  if (link.state == Link::State::kClosing) return maybe_closed(link);
  if (result < 0) return fail(link);
  link.state = Link::State::kUp;
  link.backoff = milliseconds{0};
  ++stats_.connects;
  made_progress(link);
  arm_recv(link);
  flush(link);
}

void RedisClient::on_send(Link& link, int result) {
  if (link.state == Link::State::kClosing) {
    link.send_in_flight = false;
    return maybe_closed(link);
  }
  if (result <= 0) {
    link.send_in_flight = false;
    return fail(link);
  }
  link.sent += static_cast<std::size_t>(result);
  if (link.sent < link.sending.size()) {
    io_.send(link.fd, link.sending.data() + link.sent, link.sending.size() - link.sent,
             make_tag(Op::kRedisSend, link.index));
    return;
  }
  link.send_in_flight = false;
  flush(link);
}

void RedisClient::on_recv(Link& link, int result) {
  if (link.state == Link::State::kClosing) return maybe_closed(link);
  if (result <= 0) return fail(link);  // 0: the server closed the connection
  const std::string_view bytes(link.received.data(), static_cast<std::size_t>(result));
  const bool valid =
      link.pipe.feed(bytes, [this](cache::RedisPipe::Token token, const cache::RedisReply& reply) {
        answer(token, &reply);
      });
  if (!valid) return fail(link);  // not RESP, or an answer nobody asked for
  made_progress(link);
  arm_recv(link);
}

void RedisClient::made_progress(Link& link) {
  link.progress = Clock::now();
  if (link.pipe.waiting() != 0) {
    arm_timeout(link);  // the next answer is due within the timeout from now
  } else {
    alarms_.cancel(link);
  }
}

void RedisClient::answer(std::uint64_t token, const cache::RedisReply* reply) {
  if (reply == nullptr) ++stats_.failures;
  if (token != 0) listener_.redis_answered(token, reply);  // 0: a write's acknowledgement
}

void RedisClient::fail(Link& link) {
  if (link.state == Link::State::kUp) ++stats_.disconnects;
  alarms_.cancel(link);
  link.state = Link::State::kClosing;
  link.pipe.fail_all([this](cache::RedisPipe::Token token) { answer(token, nullptr); });
  if (link.busy()) {
    io_.cancel_all(link.fd, make_tag(Op::kCancel, 0));
  }
  maybe_closed(link);
}

void RedisClient::maybe_closed(Link& link) {
  if (link.state != Link::State::kClosing || link.busy()) return;
  if (link.fd >= 0) {
    io_.close(link.fd, make_tag(Op::kClose, 0));
    link.fd = -1;
  }
  link.backoff = std::clamp(link.backoff * 2, kFirstBackoff, kMaxBackoff);
  link.state = Link::State::kBackoff;
  link.deadline = Clock::now() + link.backoff;
  alarms_.schedule(link);
}

void RedisClient::on_alarm(Link& link) {
  switch (link.state) {
    case Link::State::kConnecting:
      fail(link);
      break;
    case Link::State::kUp:
      if (link.pipe.waiting() != 0) fail(link);  // no answer within the timeout
      break;
    case Link::State::kBackoff:
      link.state = Link::State::kDown;  // the next command connects
      break;
    case Link::State::kDown:
    case Link::State::kClosing:
      break;
  }
}

}  // namespace edgefn::runtime
