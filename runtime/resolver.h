// Resolver: upstream host names to addresses, with c-ares, on a thread of its own — never on a
// worker, and never through glibc's getaddrinfo (a static binary cannot load the NSS plugins it
// needs). c-ares reads /etc/hosts and /etc/resolv.conf itself, and falls back to its defaults
// where a scratch container has neither.
//
// A watched name is resolved at once in the background, then again every `refresh`. Workers read
// the newest addresses when they open a connection: an atomic generation tells them whether
// their copy is current, so the common case takes no lock. A re-resolution that fails keeps the
// addresses last resolved (and records the error); a name never resolved is kFailed.
//
// The thread starts with the first watched name: a manifest without named upstreams starts none.
// Every lookup is bounded (2 s per try, 2 tries, the second twice as long: 6 s with one dead
// server, per name tried), and the destructor cancels what is in flight instead of waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/address.h"

namespace edgefn::runtime {

class ResolvedName {
 public:
  enum class Status : std::uint8_t { kPending, kResolved, kFailed };

  ResolvedName(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  // Moves on every change of status or addresses; 0 until the first resolution ends. A
  // re-resolution that gives the same addresses, or a failure after a success (which keeps the
  // addresses), leaves it; the first failure moves it (kPending to kFailed).
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Copies the current addresses (each with port()) into `into`, reusing its capacity.
  Status addresses(std::vector<SocketAddress>& into) const;
  // The last failure's message ("Domain name not found"), empty when the last round succeeded.
  std::string error() const;

  // The resolver's side (its thread): a lookup's addresses (status kResolved, error cleared), or
  // its failure (the error recorded; kFailed unless addresses were resolved before).
  void update(std::vector<SocketAddress> addresses);
  void failed(std::string error);

 private:
  const std::string host_;
  const std::uint16_t port_;
  std::atomic<std::uint64_t> generation_{0};
  mutable std::mutex mutex_;  // guards what follows; taken when the generation moved
  Status status_ = Status::kPending;
  std::vector<SocketAddress> addresses_;
  std::string error_;
};

class Resolver {
 public:
  using Clock = std::chrono::steady_clock;

  // `on_change` runs on the resolver's thread, with no lock held, after a step of a round in
  // which any name's status or addresses changed (lookups that end together are reported once;
  // a slow lookup does not hold back the others' news). The server wakes its workers with it.
  // `refresh` (> 0) is the time between the starts of two rounds of re-resolution; a round that
  // takes longer delays the next.
  explicit Resolver(std::function<void()> on_change,
                    Clock::duration refresh = std::chrono::seconds(30));
  ~Resolver();  // stops and joins the thread; pending lookups are cancelled
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The entry for `host`:`port`, created and resolved in the background on first watch; the
  // same name and port watched again (a reload) gets the same entry. Takes a lock briefly; never
  // waits for a lookup. May be called from any thread.
  std::shared_ptr<const ResolvedName> watch(const std::string& host, std::uint16_t port);

 private:
  friend class ResolverPeer;  // tests/runtime/resolver_test.cc: servers_ and try_timeout_

  void run();
  void wake();  // makes the thread look at added_ and stopping_

  const std::function<void()> on_change_;
  const Clock::duration refresh_;
  // For tests, set before the first watch(): DNS servers as c-ares' "ip:port,..." instead of
  // /etc/resolv.conf's, and the first try's timeout.
  std::string servers_;
  std::chrono::milliseconds try_timeout_{2000};
  std::mutex mutex_;  // guards names_, added_ and stopping_
  std::vector<std::shared_ptr<ResolvedName>> names_;
  std::vector<std::shared_ptr<ResolvedName>> added_;  // watched since the thread last looked
  bool stopping_ = false;
  // An eventfd: poll() waits on it beside c-ares' sockets, so a watch() or the destructor wakes
  // the thread mid-lookup. -1 before the thread starts (or if eventfd() failed: the thread then
  // polls every 50 ms).
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace edgefn::runtime
