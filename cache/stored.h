// The bytes every cache layer keeps for one response: a small fixed prefix, then the response's
// header lines, then its body. L1 keeps them in its entry, L2 in a shared immutable value, Redis
// as the value of the key. A hit is answered by writing a fresh status line, Date, Age,
// Connection and Cache-Status, then the stored header lines and body as they are.
//
// Layout (all integers little-endian, offsets relative to the start of the blob):
//
//   prefix   32 bytes
//     u32 magic "EFC1"   format version: a blob of another version is a miss, never misread
//     u16 status
//     u16 reserved (0)
//     u32 header_bytes   the header lines, each "Name: value\r\n", no final empty line
//     u32 body_bytes
//     i64 stored_at_unix_ms   wall clock when the response was received (Age across processes)
//     u32 fresh_ms           fresh for this long after stored_at
//     u32 stale_ms           then usable stale for this long (the longer of the two windows)
//   header lines
//   body
//
// Lifetimes are wall-clock based so that a blob read back from Redis by another process (or
// after a restart) keeps its age; each layer converts to its own steady-clock Lifetime on
// insert. Validators (ETag, Last-Modified) are found by scanning the header lines, which the
// writer keeps in the function's order.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/l1.h"  // Lifetime, TimePoint

namespace edgefn::cache {

inline constexpr std::size_t kStoredPrefixBytes = 32;

// The wall-clock side of a Lifetime.
struct StoredTimes {
  std::int64_t stored_at_unix_ms = 0;
  std::uint32_t fresh_ms = 0;
  std::uint32_t stale_ms = 0;
};

// Appends a blob to `out` (cleared first): `header_lines` must be complete "Name: value\r\n"
// lines. Leaves `out` empty (which decodes as nothing) when the status does not fit 16 bits or
// the lines or body exceed 4 GiB. Windows longer than the 32-bit millisecond fields (about 49
// days) are shortened to fit. Allocates only when `out` must grow.
void encode_stored(std::string& out, int status, std::string_view header_lines,
                   std::string_view body, const StoredTimes& times);

// A decoded view of a blob; valid while the blob's bytes are.
struct StoredView {
  int status = 0;
  std::string_view header_lines;
  std::string_view body;
  StoredTimes times;

  // The value of the first header line called `name` (case-insensitive), trimmed; empty if none.
  std::string_view header(std::string_view name) const;
};

// nullopt when `blob` is too short, of another version, or its sizes disagree with its length.
std::optional<StoredView> decode_stored(std::string_view blob);

// Converts between wall-clock StoredTimes and a steady-clock Lifetime, given one reading of each
// clock taken together.
StoredTimes to_stored_times(const Lifetime& lifetime, TimePoint steady_now,
                            std::chrono::system_clock::time_point wall_now);
Lifetime to_lifetime(const StoredTimes& times, TimePoint steady_now,
                     std::chrono::system_clock::time_point wall_now);

}  // namespace edgefn::cache
