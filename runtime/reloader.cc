// The reloader thread: waits for SIGHUP or a changed file, builds, publishes or keeps the old.
#include "runtime/reloader.h"

#include <sys/stat.h>

#include "runtime/log.h"
#include "runtime/thread_name.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// [server] keys whose new values only a restart applies.
std::string changed_server_settings(const ServerConfig& running, const ServerConfig& loaded) {
  std::string changed;
  auto note = [&](bool differs, std::string_view key) {
    if (!differs) return;
    if (!changed.empty()) changed += ", ";
    changed += key;
  };
  note(running.listen.to_string() != loaded.listen.to_string(), "listen");
  note(running.admin.to_string() != loaded.admin.to_string(), "admin");
  note(running.workers != loaded.workers, "workers");
  note(running.max_connections != loaded.max_connections, "max_connections");
  note(running.max_header_bytes != loaded.max_header_bytes, "max_header_bytes");
  note(running.max_target_bytes != loaded.max_target_bytes, "max_target_bytes");
  note(running.header_timeout != loaded.header_timeout, "header_timeout");
  note(running.idle_timeout != loaded.idle_timeout, "idle_timeout");
  note(running.drain_timeout != loaded.drain_timeout, "drain_timeout");
  return changed;
}

}  // namespace

std::vector<std::string> source_files(const App& app) {
  const Manifest& manifest = app.manifest();
  std::vector<std::string> files{manifest.path};
  for (const FunctionConfig& function : manifest.functions) {
    if (function.body_schema.empty()) continue;
    files.push_back(function.body_schema.front() == '/'
                        ? function.body_schema
                        : manifest.dir + "/" + function.body_schema);
  }
  return files;
}

Reloader::Reloader(SharedState& shared, ReloadOptions options)
    : shared_(shared), options_(std::move(options)) {}

Reloader::~Reloader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Reloader::start() {
  watched_ = source_files(*shared_.current_app());
  if (options_.watch) seen_ = snapshot();
  thread_ = std::thread([this] {
    name_thread("edgefn-reloader");
    run();
  });
}

void Reloader::request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_one();
}

std::vector<Reloader::FileState> Reloader::snapshot() const {
  std::vector<FileState> states;
  states.reserve(watched_.size());
  for (const std::string& path : watched_) {
    FileState state{.path = path};
    struct stat info {};
    // stat follows symlinks: a swapped link target shows as another inode.
    if (::stat(path.c_str(), &info) == 0) {
      state.exists = true;
      state.mtime_ns =
          static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
      state.size = static_cast<std::int64_t>(info.st_size);
      state.inode = static_cast<std::uint64_t>(info.st_ino);
    }
    states.push_back(std::move(state));
  }
  return states;
}

void Reloader::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    auto woken = [this] { return stopping_ || requested_; };
    if (options_.watch) {
      wake_.wait_for(lock, options_.watch_interval, woken);
    } else {
      wake_.wait(lock, woken);
    }
    if (stopping_) return;
    const bool asked = std::exchange(requested_, false);
    lock.unlock();
    if (!shared_.draining.load()) {
      std::vector<FileState> now;
      if (options_.watch) now = snapshot();
      if (asked) {
        reload("SIGHUP");
      } else if (options_.watch && now != seen_) {
        reload("file changed");
      }
      // Taken before the load: an edit made while loading is seen on the next look.
      if (options_.watch) seen_ = std::move(now);
    }
    lock.lock();
  }
}

void Reloader::reload(std::string_view cause) {
  const auto started = Clock::now();
  std::vector<Diagnostic> errors;
  std::shared_ptr<const App> app = options_.load(errors);
  if (!app) {
    for (const Diagnostic& error : errors) {
      LogLine line(LogLevel::kError, "reload: manifest error");
      line.field("error", error.to_string());
      write_log_line(line);
    }
    shared_.reloads_failed.fetch_add(1, std::memory_order_relaxed);
    LogLine line(LogLevel::kError, "reload failed: the running manifest stays");
    line.field("cause", cause).field("errors", static_cast<std::uint64_t>(errors.size()));
    write_log_line(line);
    return;
  }
  const std::string restart_keys = changed_server_settings(shared_.server, app->server());
  watched_ = source_files(*app);
  const std::size_t function_count = app->functions().size();
  const std::size_t route_count = app->routes().size();
  shared_.publish(std::move(app));
  shared_.reloads_applied.fetch_add(1, std::memory_order_relaxed);
  if (!restart_keys.empty()) {
    LogLine line(LogLevel::kWarn, "reload: [server] changes take effect on restart");
    line.field("keys", restart_keys);
    write_log_line(line);
  }
  LogLine line(LogLevel::kInfo, "reloaded");
  line.field("cause", cause)
      .field("functions", static_cast<std::uint64_t>(function_count))
      .field("routes", static_cast<std::uint64_t>(route_count))
      .field("build_us",
             static_cast<std::int64_t>(
                 std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started)
                     .count()));
  write_log_line(line);
}

}  // namespace edgefn::runtime
