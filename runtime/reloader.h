// Reloader: rebuilds the App from the manifest — on SIGHUP, and with `serve --watch` when the
// manifest or a schema file it names changes — and publishes it to the workers.
//
// Everything a reload does that could block or take time (reading files, compiling schemas and
// patterns, module init) runs on the reloader's own thread, never on a worker. Publishing swaps
// one pointer (SharedState::publish); requests in flight finish on the App they started with.
// A manifest that does not load changes nothing: each of its errors is logged and the running
// App stays. `[server]` settings are fixed at start (listeners and threads exist); a reload that
// changes them logs which ones wait for a restart.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/app.h"

namespace edgefn::runtime {

class SharedState;

struct ReloadOptions {
  // Loads and builds the App as start-up did (with the command line's overrides); on failure
  // returns null with `errors` filled.
  std::function<std::shared_ptr<const App>(std::vector<Diagnostic>& errors)> load;
  bool watch = false;  // poll the manifest and its schema files for changes
  // Polling, rather than inotify, also sees a file replaced through a symlink swap (the way
  // Kubernetes updates a mounted ConfigMap) and costs a few stat calls per interval.
  std::chrono::milliseconds watch_interval{500};
};

class Reloader {
 public:
  Reloader(SharedState& shared, ReloadOptions options);
  ~Reloader();  // stops and joins the thread
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  void start();
  // Any thread: asks for a reload (coalesced with one not yet started).
  void request();

 private:
  // What the watched files looked like: one entry per file (missing files count too).
  struct FileState {
    std::string path;
    bool exists = false;
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    std::uint64_t inode = 0;
    bool operator==(const FileState&) const = default;
  };

  void run();
  void reload(std::string_view cause);
  std::vector<FileState> snapshot() const;

  SharedState& shared_;
  const ReloadOptions options_;
  std::vector<std::string> watched_;  // reloader thread only: the manifest and its schemas
  std::vector<FileState> seen_;       // reloader thread only

  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;
};

// The files a running App was built from: its manifest and every body_schema it names.
std::vector<std::string> source_files(const App& app);

}  // namespace edgefn::runtime
