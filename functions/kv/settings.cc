// Config parsing for the `kv` module: sizes and durations written as the manifest writes them.
#include "functions/kv/settings.h"

#include <charconv>
#include <utility>

namespace edgefn::functions::kv {

namespace {

// Splits "<digits><unit>" into a positive number and its unit; false when it is not that.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return false;
  unit = text.substr(static_cast<std::size_t>(end - text.data()));
  return true;
}

std::optional<std::uint64_t> scaled(std::uint64_t number, std::uint64_t unit) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(number, unit, &out)) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return std::nullopt;
  if (unit.empty() || unit == "B") return number;
  if (unit == "KiB") return scaled(number, std::uint64_t{1} << 10);
  if (unit == "MiB") return scaled(number, std::uint64_t{1} << 20);
  if (unit == "GiB") return scaled(number, std::uint64_t{1} << 30);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit) || number == 0) return std::nullopt;
  std::uint64_t per = 0;
  if (unit == "ms") {
    per = 1;
  } else if (unit == "s") {
    per = 1000;
  } else if (unit == "m") {
    per = 60'000;
  } else if (unit == "h") {
    per = 3'600'000;
  } else if (unit == "d") {
    per = 86'400'000;
  } else {
    return std::nullopt;
  }
  const std::optional<std::uint64_t> ms = scaled(number, per);
  // Redis takes PX up to 2^63 ms; a year is far beyond any window a user means.
  constexpr std::uint64_t kMaxMs = 366ull * 86'400'000;
  if (!ms || *ms > kMaxMs) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::optional<Settings> parse_settings(const api::Config& config, std::string& error) {
  Settings settings;
  std::string problems;
  const auto report = [&](std::string_view key, std::string_view reason) {
    if (!problems.empty()) problems += "; ";
    problems.append(key).append(": ").append(reason);
  };
  for (const auto& [key, value] : config.values()) {
    if (key == "max_value_bytes") {
      std::optional<std::uint64_t> bytes;
      if (const std::optional<std::int64_t> n = config.integer(key); n && *n > 0) {
        bytes = static_cast<std::uint64_t>(*n);
      } else if (const std::optional<std::string_view> s = config.string(key)) {
        bytes = parse_size(*s);
      }
      if (!bytes || *bytes == 0 || *bytes > Settings::kMaxMaxValueBytes) {
        report(key, "expected a size from 1 byte to 512MiB (bytes, or a string like \"64KiB\")");
      } else {
        settings.max_value_bytes = *bytes;
      }
    } else if (key == "prefix") {
      const std::optional<std::string_view> prefix = config.string(key);
      if (!prefix || prefix->size() > Settings::kMaxPrefixBytes) {
        report(key, "expected a string of at most 256 bytes");
      } else {
        settings.prefix.assign(*prefix);
      }
    } else if (key == "ttl") {
      const std::optional<std::string_view> text = config.string(key);
      const std::optional<std::chrono::milliseconds> ttl =
          text ? parse_duration(*text) : std::nullopt;
      if (!ttl) {
        report(key,
               "expected a duration like \"30s\" (ms, s, m, h or d; more than 0, at most 366d)");
      } else {
        settings.ttl = *ttl;
      }
    } else {
      report(key, "unknown key (kv accepts: max_value_bytes, prefix, ttl)");
    }
  }
  if (!problems.empty()) {
    error = std::move(problems);
    return std::nullopt;
  }
  return settings;
}

}  // namespace edgefn::functions::kv
