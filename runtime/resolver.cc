// Resolver: c-ares driven by poll() on a thread of its own; ResolvedName: what workers read.
//
// The thread's loop: take the names to look up (the newly watched ones at once, every name when
// a round is due), start their lookups, report changes through on_change, then poll() c-ares'
// sockets and the wakeup eventfd until c-ares' next timeout or the next round, and let c-ares
// process what is ready. All c-ares state lives on this thread; the mutex only guards the list
// of names and the stop flag.
#include "runtime/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/thread_name.h"

namespace edgefn::runtime {
namespace {

// c-ares waits try_timeout_ for the first try and doubles it for each pass over the servers: with
// 2 tries and one dead server a lookup ends after 2 + 4 = 6 s (measured: 6.006 s against a UDP
// socket that never answers). A live server answers in milliseconds, so this only bounds the
// bad case; a shorter first try would fail names behind a slow (not dead) resolver.
constexpr int kTries = 2;

// Without the eventfd, the thread looks at the stop flag this often.
constexpr std::chrono::milliseconds kFallbackPoll{50};

// Defensive bound on one poll() while lookups are in flight, should c-ares report no timeout.
constexpr int kMaxInFlightPollMs = 1000;

bool same_address(const SocketAddress& a, const SocketAddress& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

bool same_addresses(const std::vector<SocketAddress>& a, const std::vector<SocketAddress>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same_address);
}

// The addresses of a c-ares answer, each with `port`, in c-ares' order (RFC 6724, which c-ares
// applies unless told ARES_AI_NOSORT: unreachable families go last), duplicates dropped (a name
// listed twice in /etc/hosts, or a DNS answer repeating a record).
std::vector<SocketAddress> to_addresses(const ares_addrinfo* info, std::uint16_t port) {
  std::vector<SocketAddress> out;
  for (const ares_addrinfo_node* node = info->nodes; node != nullptr; node = node->ai_next) {
    SocketAddress address;
    if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(sockaddr_in)) {
      sockaddr_in in;
      std::memcpy(&in, node->ai_addr, sizeof in);
      in.sin_port = htons(port);
      std::memcpy(&address.storage, &in, sizeof in);
      address.length = sizeof in;
    } else if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(sockaddr_in6)) {
      sockaddr_in6 in6;
      std::memcpy(&in6, node->ai_addr, sizeof in6);
      in6.sin6_port = htons(port);
      std::memcpy(&address.storage, &in6, sizeof in6);
      address.length = sizeof in6;
    } else {
      continue;
    }
    const auto same = [&address](const SocketAddress& known) {
      return same_address(known, address);
    };
    if (std::none_of(out.begin(), out.end(), same)) out.push_back(address);
  }
  return out;
}

// ares_library_init is not thread-safe and does nothing on Linux but count: once per process,
// never cleaned up (a second Resolver, in tests, must not race with the first's cleanup).
int library_status() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  return status;
}

int milliseconds_until(Resolver::Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Resolver::Clock::now());
  // A wait longer than an hour is cut short and begins again: poll() takes an int.
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 3'600'000));
}

// The thread's c-ares channel and its lookups in flight.
class Lookups {
 public:
  Lookups(std::string servers, std::chrono::milliseconds try_timeout)
      : servers_(std::move(servers)), try_timeout_(try_timeout) {}
  ~Lookups() { close(); }
  Lookups(const Lookups&) = delete;
  Lookups& operator=(const Lookups&) = delete;

  // Starts looking `name` up; it may end before this returns (a number, /etc/hosts, an error).
  void start(std::shared_ptr<ResolvedName> name) {
    if (channel_ == nullptr) {
      const int status = open();
      if (status != ARES_SUCCESS) {
        record(*name, status, nullptr);
        return;
      }
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // one node per address, not one per socket type
    const std::string& host = name->host();
    ++in_flight_;
    ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &Lookups::done,
                     new Lookup{this, std::move(name)});
  }

  // Drops the channel when nothing is in flight, so that the next lookup reads /etc/resolv.conf
  // again (c-ares 1.18 reads it only when a channel is made): a container's DNS may move.
  void reopen() {
    if (in_flight_ == 0) close();
  }

  // Ends every lookup in flight without recording anything (the resolver is stopping).
  void cancel() {
    if (channel_ != nullptr) ares_cancel(channel_);
  }

  int in_flight() const { return in_flight_; }
  ares_channel channel() const { return channel_; }

  // Whether a name's status or addresses changed since the last call.
  bool take_changed() { return std::exchange(changed_, false); }

 private:
  struct Lookup {
    Lookups* lookups;
    std::shared_ptr<ResolvedName> name;
  };

  int open() {
    int status = library_status();
    if (status != ARES_SUCCESS) return status;
    ares_options options{};
    options.timeout = static_cast<int>(try_timeout_.count());
    options.tries = kTries;
    status = ares_init_options(&channel_, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (status != ARES_SUCCESS) {
      channel_ = nullptr;
      return status;
    }
    if (!servers_.empty()) {
      status = ares_set_servers_ports_csv(channel_, servers_.c_str());
      if (status != ARES_SUCCESS) close();
    }
    return status;
  }

  void close() {
    // Callbacks still due (none when called from reopen()) run with ARES_EDESTRUCTION here.
    if (channel_ != nullptr) ares_destroy(channel_);
    channel_ = nullptr;
  }

  static void done(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
    std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
    Lookups& self = *lookup->lookups;
    --self.in_flight_;
    // Cancelled or destroyed: the resolver is stopping, and this is no answer about the name.
    if (status != ARES_ECANCELLED && status != ARES_EDESTRUCTION) {
      self.record(*lookup->name, status, info);
    }
    if (info != nullptr) ares_freeaddrinfo(info);
  }

  void record(ResolvedName& name, int status, const ares_addrinfo* info) {
    const std::uint64_t before = name.generation();
    if (status == ARES_SUCCESS) {
      std::vector<SocketAddress> addresses = to_addresses(info, name.port());
      if (addresses.empty()) {
        name.failed(ares_strerror(ARES_ENODATA));
      } else {
        name.update(std::move(addresses));
      }
    } else {
      name.failed(ares_strerror(status));
    }
    if (name.generation() != before) changed_ = true;
  }

  const std::string servers_;
  const std::chrono::milliseconds try_timeout_;
  ares_channel channel_ = nullptr;
  int in_flight_ = 0;
  bool changed_ = false;
};

}  // namespace

ResolvedName::Status ResolvedName::addresses(std::vector<SocketAddress>& into) const {
  std::lock_guard lock(mutex_);
  into.assign(addresses_.begin(), addresses_.end());
  return status_;
}

std::string ResolvedName::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void ResolvedName::update(std::vector<SocketAddress> addresses) {
  std::lock_guard lock(mutex_);
  error_.clear();
  if (status_ == Status::kResolved && same_addresses(addresses_, addresses)) return;
  status_ = Status::kResolved;
  addresses_ = std::move(addresses);
  generation_.fetch_add(1, std::memory_order_release);
}

void ResolvedName::failed(std::string error) {
  std::lock_guard lock(mutex_);
  error_ = std::move(error);
  // Resolved before: the old addresses are the best guess, and stay. Failed before: no change.
  if (status_ != Status::kPending) return;
  status_ = Status::kFailed;
  generation_.fetch_add(1, std::memory_order_release);
}

Resolver::Resolver(std::function<void()> on_change, Clock::duration refresh)
    : on_change_(std::move(on_change)), refresh_(refresh) {}

Resolver::~Resolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    wake();
    thread_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::shared_ptr<const ResolvedName> Resolver::watch(const std::string& host, std::uint16_t port) {
  std::shared_ptr<ResolvedName> name;
  {
    std::lock_guard lock(mutex_);
    for (const std::shared_ptr<ResolvedName>& known : names_) {
      if (known->port() == port && known->host() == host) return known;
    }
    name = std::make_shared<ResolvedName>(host, port);
    names_.push_back(name);
    added_.push_back(name);
    if (!thread_.joinable()) {
      wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      // The new thread looks at added_ before it first waits: no wakeup needed.
      thread_ = std::thread([this] {
        name_thread("edgefn-resolver");
        run();
      });
      return name;
    }
  }
  wake();
  return name;
}

void Resolver::wake() {
  if (wake_fd_ < 0) return;  // the thread polls with a short bound instead
  const std::uint64_t one = 1;
  // Fails only with EAGAIN, when the counter is saturated: a wakeup is pending then anyway.
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

void Resolver::run() {
  Lookups lookups(servers_, try_timeout_);
  std::vector<std::shared_ptr<ResolvedName>> batch;
  // The first names are looked up at once, from added_; the first full round is a refresh later.
  Clock::time_point next_round = Clock::now() + refresh_;
  // Slot 0 is the eventfd (or nothing, fd -1, which poll() ignores); then c-ares' sockets.
  std::array<pollfd, 1 + ARES_GETSOCK_MAXNUM> fds{};
  std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};

  for (;;) {
    bool round = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      batch.swap(added_);
      // A round starts only when the previous one has ended: a name is never looked up twice
      // at the same time, and a round slower than `refresh` delays the next.
      if (lookups.in_flight() == 0 && Clock::now() >= next_round) {
        added_.clear();
        batch = names_;
        round = true;
      }
    }
    if (round) {
      next_round = Clock::now() + refresh_;
      lookups.reopen();
    }
    for (std::shared_ptr<ResolvedName>& name : batch)
      lookups.start(std::move(name));
    batch.clear();
    if (lookups.take_changed() && on_change_) on_change_();

    // Wait for c-ares' sockets, its next timeout, a wakeup, or the next round.
    int timeout_ms = 0;
    nfds_t count = 1;
    fds[0] = pollfd{wake_fd_, POLLIN, 0};
    if (lookups.in_flight() > 0) {
      const int bits = ares_getsock(lookups.channel(), sockets.data(), ARES_GETSOCK_MAXNUM);
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events == 0) break;
        fds[count++] = pollfd{sockets[static_cast<std::size_t>(i)], events, 0};
      }
      timeval bound{};
      timeval tv{};
      bound.tv_sec = kMaxInFlightPollMs / 1000;
      const timeval* left = ares_timeout(lookups.channel(), &bound, &tv);
      timeout_ms = static_cast<int>(left->tv_sec * 1000 + (left->tv_usec + 999) / 1000);
    } else {
      timeout_ms = milliseconds_until(next_round);
    }
    if (wake_fd_ < 0) timeout_ms = std::min(timeout_ms, static_cast<int>(kFallbackPoll.count()));

    const int ready = poll(fds.data(), count, timeout_ms);
    if (ready < 0) continue;  // EINTR: look again
    if (wake_fd_ >= 0 && (fds[0].revents & POLLIN) != 0) {
      std::uint64_t value = 0;
      [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &value, sizeof value);
    }
    if (lookups.in_flight() == 0) continue;
    bool processed = false;
    for (nfds_t i = 1; i < count; ++i) {
      const short revents = fds[i].revents;
      if (revents == 0) continue;
      const bool readable = (revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
      ares_process_fd(lookups.channel(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
      processed = true;
    }
    // Nothing to read or write: let c-ares retry or fail what has timed out.
    if (!processed) ares_process_fd(lookups.channel(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }

  // Stopping: lookups in flight end now, with ARES_ECANCELLED, and record nothing.
  lookups.cancel();
}

}  // namespace edgefn::runtime
