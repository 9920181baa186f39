// JSON log lines: formatting, the main thread's direct writes, the workers' buffers.
#include "runtime/log.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>

#include "functions/api/json.h"

namespace edgefn::runtime {

namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

// "2026-11-22T18:10:00.123Z". Formatted by hand: strftime would consult the time zone
// database (a file read on the first call) for a UTC stamp that never needs it.
void append_time(std::string& out) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[24];
  auto put = [&text](int at, int value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      text[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, utc.tm_year + 1900, 4);
  text[4] = '-';
  put(5, utc.tm_mon + 1, 2);
  text[7] = '-';
  put(8, utc.tm_mday, 2);
  text[10] = 'T';
  put(11, utc.tm_hour, 2);
  text[13] = ':';
  put(14, utc.tm_min, 2);
  text[16] = ':';
  put(17, utc.tm_sec, 2);
  text[19] = '.';
  put(20, static_cast<int>(now.tv_nsec / 1000000), 3);
  text[23] = 'Z';
  out.append(text, sizeof text);
}

template <class Int>
void append_int(std::string& out, Int value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

}  // namespace

void set_log_level(LogLevel level) {
  g_min_level.store(static_cast<int>(level));
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

LogLine::LogLine(LogLevel level, std::string_view message, std::string& scratch)
    : level_(level), text_(scratch) {
  text_.clear();
  text_.reserve(160);
  text_ += "{\"time\":\"";
  append_time(text_);
  text_ += "\",\"level\":\"";
  text_ += log_level_name(level);
  text_ += "\",\"msg\":";
  api::json::append_string(text_, message);
}

void LogLine::key(std::string_view name) {
  text_ += ',';
  api::json::append_string(text_, name);
  text_ += ':';
}

LogLine& LogLine::field(std::string_view name, std::string_view value) {
  key(name);
  api::json::append_string(text_, value);
  return *this;
}

LogLine& LogLine::field(std::string_view name, std::int64_t value) {
  key(name);
  append_int(text_, value);
  return *this;
}

LogLine& LogLine::field(std::string_view name, std::uint64_t value) {
  key(name);
  append_int(text_, value);
  return *this;
}

LogLine& LogLine::field(std::string_view name, bool value) {
  key(name);
  text_ += value ? "true" : "false";
  return *this;
}

const std::string& LogLine::text() {
  if (!finished_) {
    text_ += "}\n";
    finished_ = true;
  }
  return text_;
}

void write_log_line(LogLine& line) {
  if (!line.wanted()) return;
  std::string_view rest = line.text();
  while (!rest.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout is gone: logs are best effort
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void LogBuffer::append(std::string_view line) {
  if (pending_.size() + line.size() > kMaxBytes) {
    count_drop();
    return;
  }
  pending_.append(line);
}

std::string_view LogBuffer::start_write() {
  writing_.swap(pending_);
  pending_.clear();
  written_ = 0;
  return writing_;
}

std::string_view LogBuffer::finish_write(int written) {
  if (written <= 0) {
    // stdout refused the bytes (closed pipe, error): drop them rather than retry forever.
    count_drop();
    writing_.clear();
    return {};
  }
  written_ += static_cast<std::size_t>(written);
  if (written_ >= writing_.size()) {
    writing_.clear();
    return {};
  }
  return std::string_view(writing_).substr(written_);
}

void FunctionLogger::write(api::LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  LogLine line(level, message);
  line.field("function", function_);
  buffer_->append(line);
}

}  // namespace edgefn::runtime
