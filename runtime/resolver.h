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
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  // Moves on every change of status or addresses; 0 until the first resolution ends.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Copies the current addresses (each with port()) into `into`, reusing its capacity.
  Status addresses(std::vector<SocketAddress>& into) const;
  // The last failure's message ("Domain name not found"), empty when the last round succeeded.
  std::string error() const;

  // The resolver's side.
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

  // `on_change` runs on the resolver's thread after a round changed any name's status or
  // addresses (the server wakes its workers with it).
  explicit Resolver(std::function<void()> on_change,
                    Clock::duration refresh = std::chrono::seconds(30));
  ~Resolver();  // stops and joins the thread; pending lookups are cancelled
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The entry for `host`:`port`, created and resolved in the background on first watch; the
  // same name and port watched again (a reload) gets the same entry.
  std::shared_ptr<const ResolvedName> watch(const std::string& host, std::uint16_t port);

 private:
  void run();

  const std::function<void()> on_change_;
  const Clock::duration refresh_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::vector<std::shared_ptr<ResolvedName>> names_;
  bool added_ = false;  // a name was watched since the thread last looked
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edgefn::runtime
