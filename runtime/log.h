// Structured logs: one JSON object per line on stdout. The main thread writes lines directly;
// worker threads queue them in a per-worker LogBuffer that the worker flushes through its ring,
// so a slow stdout never blocks a worker (past a bound, lines are dropped and counted).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/log_level.h"

namespace edgefn::runtime {

// The process-wide minimum level; lines below it are not formatted at all.
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// Builds one line: {"time":"<RFC 3339 UTC>","level":"info","msg":"..." [, fields] }\n
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view message) : LogLine(level, message, own_) {}
  // Builds the line in `scratch` (cleared first) instead: a caller that logs on every request
  // keeps one string and its capacity, so the line costs no allocation.
  LogLine(LogLevel level, std::string_view message, std::string& scratch);
  // An access-log line ("info", "access"): [log] access decides about those, not the level.
  struct Access {};
  LogLine(Access, std::string& scratch) : LogLine(LogLevel::kInfo, "access", scratch) {
    access_ = true;
  }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  LogLine& field(std::string_view key, std::string_view value);
  LogLine& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  LogLine& field(std::string_view key, std::int64_t value);
  LogLine& field(std::string_view key, std::uint64_t value);
  LogLine& field(std::string_view key, int value) { return field(key, std::int64_t{value}); }
  LogLine& field(std::string_view key, unsigned value) { return field(key, std::uint64_t{value}); }
  LogLine& field(std::string_view key, bool value);
  // The finished line, newline included.
  const std::string& text();
  // Whether the line is to be written: an access line, or one at the process's level or above.
  // The writers below check; a caller may check log_enabled() first to skip building it.
  bool wanted() const { return access_ || log_enabled(level_); }

 private:
  void key(std::string_view name);
  LogLevel level_;
  bool access_ = false;
  std::string own_;
  std::string& text_;
  bool finished_ = false;
};

// Writes a wanted line to stdout with write(2), retrying short writes. For the main thread
// only (start-up, signals, shutdown): it may block.
void write_log_line(LogLine& line);

// A worker's queue of log lines. append() never blocks: past kMaxBytes pending, the line is
// dropped and counted. The worker moves pending bytes to `writing` and submits one write at a
// time.
class LogBuffer {
 public:
  static constexpr std::size_t kMaxBytes = 256 * 1024;

  // Queues the line if it is wanted.
  void append(LogLine& line) {
    if (line.wanted()) append(line.text());
  }
  void append(std::string_view line);
  bool has_pending() const { return !pending_.empty(); }
  // Swaps pending lines into the in-flight buffer; returns the bytes to write.
  std::string_view start_write();
  // The write completed with `written` bytes (or an error <= 0): returns what is left.
  std::string_view finish_write(int written);
  bool writing() const { return !writing_.empty(); }
  // Lines dropped so far; any thread may read it (the metrics scrape), only the worker counts.
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::string pending_;
  std::string writing_;
  std::size_t written_ = 0;
  std::atomic<std::uint64_t> dropped_{0};
  void count_drop() {
    dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

// The api::Logger a module sees: lines attributed to its function, queued on the worker.
class FunctionLogger final : public api::Logger {
 public:
  FunctionLogger(LogBuffer& buffer, std::string_view function)
      : buffer_(&buffer), function_(function) {}
  void write(api::LogLevel level, std::string_view message) override;

 private:
  LogBuffer* buffer_;
  std::string_view function_;
};

}  // namespace edgefn::runtime
