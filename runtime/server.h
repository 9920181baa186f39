// Server: owns the App, the listeners and the worker threads. main() builds one from a frozen
// manifest; tests can build one in-process on port 0.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/address.h"
#include "runtime/app.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

class Server {
 public:
  explicit Server(std::unique_ptr<const App> app);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners (one SO_REUSEPORT socket per worker on the same port, so port 0 picks
  // one free port for all), starts the workers and returns once every worker accepts. On failure
  // returns false with `error` set and nothing left running.
  bool start(std::string& error);

  // The bound addresses (port 0 resolved).
  const SocketAddress& listen_address() const { return listen_address_; }
  const SocketAddress& admin_address() const { return admin_address_; }
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }

  // Starts the drain: /readyz answers 503, listeners close, in-flight requests finish.
  void drain();
  // Waits for the workers to finish draining; false if `timeout` passed first.
  bool wait(std::chrono::steady_clock::duration timeout);
  // Open public connections over all workers.
  std::uint32_t open_connections() const { return shared_.connections.load(); }

 private:
  bool bind_listener(const SocketAddress& address, bool reuse_port, int& fd, SocketAddress& bound,
                     std::string& error);
  void stop_threads();

  std::unique_ptr<const App> app_;
  SharedState shared_;
  SocketAddress listen_address_;
  SocketAddress admin_address_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<unsigned> finished_{0};
};

}  // namespace edgefn::runtime
