// Server start-up and shutdown: listeners, worker threads, the drain.
#include "runtime/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "runtime/admin.h"
#include "runtime/log.h"
#include "runtime/thread_name.h"

namespace edgefn::runtime {

namespace {

// Start-up hand-shake between the main thread and the workers (not on any request path).
struct StartLatch {
  std::mutex mutex;
  std::condition_variable ready;
  unsigned started = 0;
  std::string error;
  // The backend is decided by the first worker under --io=auto; the others wait for it.
  std::condition_variable decision;
  bool decided = false;
  bool abandoned = false;  // the first worker has no Io: the others need none either
};

// What the warning says to do; deploy/seccomp.json is the runtime default plus these calls, and
// deploy/seccomp-oci.json the same resolved for containerd, which reads Localhost profiles in
// the OCI format.
constexpr std::string_view kIoUringHint =
    "allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile, as "
    "deploy/seccomp.json does (podman/Docker: --security-opt seccomp=deploy/seccomp.json; "
    "Kubernetes: seccompProfile: {type: Localhost} with deploy/seccomp-oci.json on the node); "
    "on the host, kernel.io_uring_disabled must be 0. --io=epoll selects epoll without this "
    "warning";

constexpr int kListenBacklog = 4096;
// Scrapes waiting for the admin pool's thread; more at once get 503 (Prometheus retries).
constexpr std::size_t kScrapesQueued = 4;

}  // namespace

Server::Server(std::shared_ptr<const App> app, int signal_fd)
    : shared_(std::move(app)), signal_fd_(signal_fd) {}

void Server::enable_reload(ReloadOptions options) {
  reloader_ = std::make_unique<Reloader>(shared_, std::move(options));
  shared_.request_reload = [reloader = reloader_.get()] { reloader->request(); };
}

Server::~Server() {
  reloader_.reset();
  if (running_) {
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

namespace {

unsigned default_worker_count() {
  // One per CPU this process may run on: a cpuset (container limits, taskset) counts, not the
  // machine's total.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    return std::max(1, CPU_COUNT(&allowed));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

bool Server::start(std::string& error) {
  const ServerConfig& config = shared_.server;
  const unsigned count = config.workers == 0 ? default_worker_count() : config.workers;

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
    workers_.push_back(std::make_unique<Worker>(i, shared_, listeners[i], i == 0 ? admin_fd : -1,
                                                i == 0 ? signal_fd_ : -1));
    shared_.workers.push_back(workers_.back().get());
  }
  // The pool's threads wake a worker through its eventfd, so the workers exist first.
  const unsigned offload_threads =
      config.offload_threads == 0 ? default_worker_count() : config.offload_threads;
  shared_.offload = std::make_unique<OffloadPool>(
      offload_threads, config.offload_queue, count,
      [this](unsigned owner) { shared_.workers[owner]->wake(); }, config.offload_priority);
  // Scrapes are scheduled like the workers: a busy node must still tell its monitoring so.
  shared_.admin_pool = std::make_unique<OffloadPool>(
      1, kScrapesQueued, count, [this](unsigned owner) { shared_.workers[owner]->wake(); },
      OffloadPriority::kNormal, "edgefn-admin");
  signal_fd_ = -1;  // the first worker owns it now
  running_ = true;
  StartLatch latch;
  if (io_mode_ != IoMode::kAuto) {
    shared_.io_backend = io_mode_ == IoMode::kEpoll ? IoBackend::kEpoll : IoBackend::kUring;
    latch.decided = true;
  }
  for (unsigned i = 1; i < count; ++i) {
    threads_.emplace_back([this, i, &latch] {
      name_thread("edgefn-worker");
      bool abandoned;
      {
        std::unique_lock lock(latch.mutex);
        latch.decision.wait(lock, [&] { return latch.decided; });
        abandoned = latch.abandoned;
      }
      std::string setup_error;
      IoSetupError io_error;
      bool ok = !abandoned && workers_[i]->open_io(shared_.io_backend, io_error);
      if (!ok) setup_error = io_error.message;
      if (ok) ok = workers_[i]->setup(setup_error);
      {
        // Notified under the lock: once start() sees the count, the latch on its stack is gone.
        std::lock_guard lock(latch.mutex);
        ++latch.started;
        if (!ok && latch.error.empty()) {
          latch.error = "worker " + std::to_string(i) + ": " + setup_error;
        }
        latch.ready.notify_one();
      }
      // A worker whose setup failed ends here; start() then stops the others.
      if (ok) workers_[i]->run();
    });
  }
  std::string first_error;
  const bool first_io = open_first_io(first_error);
  if (io_mode_ == IoMode::kAuto) {
    std::lock_guard lock(latch.mutex);
    latch.decided = true;
    latch.abandoned = !first_io;
  }
  latch.decision.notify_all();
  const bool first_ok = first_io && workers_[0]->setup(first_error);
  std::unique_lock lock(latch.mutex);
  latch.ready.wait(lock, [&] { return latch.started == count - 1; });
  if (!first_ok) latch.error = first_error;
  if (!latch.error.empty()) {
    error = latch.error;
    lock.unlock();
    drain();
    stop_threads();
    return false;
  }
  if (reloader_) reloader_->start();
  // Names are resolved in the background from now: the first call to an upstream finds its
  // addresses ready, and start-up did not wait for DNS.
  shared_.watch_upstreams(*shared_.current_app());
  return true;
}

bool Server::open_first_io(std::string& error) {
  Worker& first = *workers_[0];
  IoSetupError uring;
  if (io_mode_ != IoMode::kAuto) {
    if (first.open_io(shared_.io_backend, uring)) return true;
    error = uring.message;
    return false;
  }
  if (first.open_io(IoBackend::kUring, uring)) {
    shared_.io_backend = IoBackend::kUring;
    return true;
  }
  IoSetupError epoll;
  if (!first.open_io(IoBackend::kEpoll, epoll)) {
    error = uring.message + "; " + epoll.message;
    return false;
  }
  shared_.io_backend = IoBackend::kEpoll;
  LogLine line(LogLevel::kWarn, "io_uring unavailable, serving with epoll");
  line.field("reason", uring.reason).field("hint", kIoUringHint);
  write_log_line(line);
  return true;
}

Worker::Exit Server::run() {
  const Worker::Exit exit = workers_[0]->run();
  if (exit == Worker::Exit::kDrained) reloader_.reset();
  if (exit == Worker::Exit::kDrained) stop_threads();
  return exit;
}

void Server::drain() {
  shared_.draining.store(true);
  for (auto& worker : workers_)
    worker->wake();
}

void Server::stop_threads() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  // No worker is left to take results: queued jobs are dropped, running ones finish first.
  if (shared_.offload) shared_.offload->stop();
  if (shared_.admin_pool) shared_.admin_pool->stop();
  // Its thread wakes workers: it goes before they do.
  shared_.resolver.reset();
  running_ = false;
}

}  // namespace edgefn::runtime
