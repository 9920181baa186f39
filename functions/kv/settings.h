// The `kv` module's config, parsed and checked once in create().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "functions/api/config.h"

namespace edgefn::functions::kv {

struct Settings {
  static constexpr std::uint64_t kDefaultMaxValueBytes = 64 * 1024;
  static constexpr std::uint64_t kMaxMaxValueBytes = std::uint64_t{512} << 20;
  static constexpr std::size_t kMaxPrefixBytes = 256;

  std::uint64_t max_value_bytes = kDefaultMaxValueBytes;  // larger PUT bodies -> 413
  std::string prefix;                                     // prepended to every key
  std::chrono::milliseconds ttl{0};                       // 0: values do not expire
};

// Reads `max_value_bytes` (bytes, or "64KiB"), `prefix` (string) and `ttl` ("30s"); returns
// nullopt and sets `error` ("<key>: <reason>", several joined by "; ") on any unknown key or
// bad value.
std::optional<Settings> parse_settings(const api::Config& config, std::string& error);

// "64KiB", "1MiB", "512B" or "100" (bytes) -> bytes; nullopt when malformed or overflowing.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "250ms", "30s", "5m", "1h", "1d" -> milliseconds; nullopt when malformed, zero or overflowing.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace edgefn::functions::kv
