// Server start-up and shutdown: listeners, worker threads, the drain.
#include "runtime/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "runtime/admin.h"

namespace edgefn::runtime {

namespace {

// Start-up hand-shake between the main thread and the workers (not on any request path).
struct StartLatch {
  std::mutex mutex;
  std::condition_variable ready;
  unsigned started = 0;
  std::string error;
};

constexpr int kListenBacklog = 4096;

}  // namespace

Server::Server(std::unique_ptr<const App> app) : app_(std::move(app)) {
  shared_.app = app_.get();
  shared_.functions_json = functions_json(*app_);
}

Server::~Server() {
  if (!threads_.empty()) {
    drain();
    stop_threads();
  }
}

bool Server::bind_listener(const SocketAddress& address, bool reuse_port, int& fd,
                           SocketAddress& bound, std::string& error) {
  fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // Inherited by accepted sockets: each response goes out in one send, so Nagle only delays.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, address.get(), address.length) != 0 || listen(fd, kListenBacklog) != 0) {
    error = "cannot listen on " + address.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
    return false;
  }
  bound = address;
  bound.length = sizeof bound.storage;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);
  return true;
}

bool Server::start(std::string& error) {
  const ServerConfig& config = app_->server();
  unsigned count = config.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());

  // The first socket resolves port 0; the others join its port through SO_REUSEPORT.
  std::vector<int> listeners;
  SocketAddress address = config.listen;
  for (unsigned i = 0; i < count; ++i) {
    int fd;
    if (!bind_listener(address, true, fd, listen_address_, error)) {
      for (int open_fd : listeners)
        ::close(open_fd);
      return false;
    }
    listeners.push_back(fd);
    address = listen_address_;
  }
  int admin_fd;
  if (!bind_listener(config.admin, false, admin_fd, admin_address_, error)) {
    for (int open_fd : listeners)
      ::close(open_fd);
    return false;
  }

  for (unsigned i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, shared_, listeners[i], i == 0 ? admin_fd : -1));
  }
  StartLatch latch;
  for (unsigned i = 0; i < count; ++i) {
    threads_.emplace_back([this, i, &latch] {
      std::string setup_error;
      const bool ok = workers_[i]->setup(setup_error);
      {
        std::lock_guard lock(latch.mutex);
        ++latch.started;
        if (!ok && latch.error.empty()) {
          latch.error = "worker " + std::to_string(i) + ": " + setup_error;
        }
      }
      latch.ready.notify_one();
      // A worker whose setup failed still waits for the drain the main thread then starts.
      if (ok) workers_[i]->run();
      finished_.fetch_add(1);
      finished_.notify_all();
    });
  }
  std::unique_lock lock(latch.mutex);
  latch.ready.wait(lock, [&] { return latch.started == count; });
  if (!latch.error.empty()) {
    error = latch.error;
    lock.unlock();
    drain();
    stop_threads();
    return false;
  }
  return true;
}

void Server::drain() {
  shared_.draining.store(true);
  for (auto& worker : workers_)
    worker->wake();
}

bool Server::wait(std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const unsigned total = static_cast<unsigned>(threads_.size());
  unsigned done = finished_.load();
  while (done < total) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Polled: the main thread has nothing else to do, and atomic wait has no timeout.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    done = finished_.load();
  }
  stop_threads();
  return true;
}

void Server::stop_threads() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace edgefn::runtime
