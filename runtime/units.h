// Manifest units: durations ("250ms", "30s", "5m") and sizes (4096, "16KiB", "64MiB").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgefn::runtime {

using Duration = std::chrono::nanoseconds;

// "<number><unit>" with unit ns, us, ms, s, m or h; the number is a non-negative integer or
// decimal ("1.5s"). nullopt for anything else, including a missing unit and overflow.
std::optional<Duration> parse_duration(std::string_view text);

// "<integer><unit>" with unit B, KiB, MiB, GiB (powers of 1024) or kB, MB, GB (powers of
// 1000). nullopt for anything else, including overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace edgefn::runtime
