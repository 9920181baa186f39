// Server: owns the App, the listeners and the workers. main() builds one from a frozen manifest
// and runs the first worker on its own thread (one thread fewer to start); the other workers get
// threads of their own. Tests can build one in-process on port 0.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/address.h"
#include "runtime/app.h"
#include "runtime/io.h"
#include "runtime/reloader.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

class Server {
 public:
  // `signal_fd`: a signalfd for SIGTERM, SIGINT and SIGHUP (blocked in every thread) that the
  // first worker reads; -1 when the owner stops the server with drain() instead.
  explicit Server(std::shared_ptr<const App> app, int signal_fd = -1);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners (one SO_REUSEPORT socket per worker on the same port, so port 0 picks
  // one free port for all), sets the first worker up on the calling thread, starts the others
  // and returns once every worker accepts. On failure returns false with `error` set and nothing
  // left running.
  bool start(std::string& error);

  // Before start(): reload the manifest on SIGHUP (and on file changes with options.watch).
  void enable_reload(ReloadOptions options);
  // Before start(): which I/O backend the workers use (default kAuto: io_uring, else epoll
  // with one warning line saying why and how to allow io_uring).
  void set_io_mode(IoMode mode) { io_mode_ = mode; }

  // Runs the first worker on the calling thread (the one that called start) until every worker
  // has drained, then joins the others. kDrainTimeout: drain_timeout passed first; the other
  // threads are still running and the caller should end the process.
  Worker::Exit run();

  // The bound addresses (port 0 resolved).
  const SocketAddress& listen_address() const { return listen_address_; }
  const SocketAddress& admin_address() const { return admin_address_; }
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }
  // After start(): the backend every worker serves with.
  IoBackend io_backend() const { return shared_.io_backend; }
  // How long start-up took, from exec to listening (edgefn_startup_seconds).
  void note_startup(std::chrono::nanoseconds startup) {
    shared_.startup_nanoseconds.store(startup.count(), std::memory_order_relaxed);
  }

  // Any thread: starts the drain (/readyz answers 503, listeners close, in-flight requests
  // finish); run() returns when it is done.
  void drain();
  // Open public connections over all workers.
  std::uint32_t open_connections() const { return shared_.connections.load(); }

 private:
  bool bind_listener(const SocketAddress& address, bool reuse_port, int& fd, SocketAddress& bound,
                     std::string& error);
  void stop_threads();
  // kAuto: opens worker 0's Io, on io_uring if it can, else on epoll with the warning; false
  // with `error` set when neither works.
  bool open_first_io(std::string& error);

  SharedState shared_;
  std::unique_ptr<Reloader> reloader_;
  SocketAddress listen_address_;
  SocketAddress admin_address_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;  // workers 1..N-1
  int signal_fd_;
  IoMode io_mode_ = IoMode::kAuto;
  bool running_ = false;
};

}  // namespace edgefn::runtime
