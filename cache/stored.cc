// The stored-response blob: a fixed little-endian prefix written and read byte by byte (no
// alignment or host byte order assumed, since blobs travel between processes through Redis),
// then the header lines and the body copied as they are.
#include "cache/stored.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace edgefn::cache {
namespace {

constexpr char kMagic[4] = {'E', 'F', 'C', '1'};

// Field offsets within the prefix.
constexpr std::size_t kStatusAt = 4;
constexpr std::size_t kReservedAt = 6;
constexpr std::size_t kHeaderBytesAt = 8;
constexpr std::size_t kBodyBytesAt = 12;
constexpr std::size_t kStoredAtAt = 16;
constexpr std::size_t kFreshAt = 24;
constexpr std::size_t kStaleAt = 28;
static_assert(kStaleAt + 4 == kStoredPrefixBytes);

template <typename T>
void put_le(char* at, T value) {
  auto bits = static_cast<std::make_unsigned_t<T>>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    at[i] = static_cast<char>(bits & 0xffu);
    bits = static_cast<std::make_unsigned_t<T>>(bits >> 8);
  }
}

template <typename T>
T get_le(const char* at) {
  std::make_unsigned_t<T> bits = 0;
  for (std::size_t i = sizeof(T); i-- > 0;) {
    bits = static_cast<std::make_unsigned_t<T>>(bits << 8) | static_cast<unsigned char>(at[i]);
  }
  return static_cast<T>(bits);
}

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

// Time arithmetic in nanosecond counts that saturates instead of overflowing: a corrupted or
// hostile stored_at (a Redis value is only as trustworthy as the Redis server) must not become
// undefined behaviour, only a lifetime in the far past or future.
using Nanos = std::int64_t;
constexpr Nanos kNanosMax = std::numeric_limits<Nanos>::max();
constexpr Nanos kNanosMin = std::numeric_limits<Nanos>::min();

Nanos sat_add(Nanos a, Nanos b) {
  Nanos r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? kNanosMax : kNanosMin;
}

Nanos sat_sub(Nanos a, Nanos b) {
  Nanos r;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  return b < 0 ? kNanosMax : kNanosMin;
}

Nanos sat_mul(Nanos a, Nanos b) {
  Nanos r;
  if (!__builtin_mul_overflow(a, b, &r)) return r;
  return (a < 0) != (b < 0) ? kNanosMin : kNanosMax;
}

constexpr Nanos kNanosPerMs = 1'000'000;

// Floor division: a wall time before the epoch still rounds towards the past.
std::int64_t floor_ms(Nanos ns) {
  std::int64_t q = ns / kNanosPerMs;
  if (ns % kNanosPerMs < 0) --q;
  return q;
}

std::uint32_t clamp_u32(std::int64_t v) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(v, 0, std::numeric_limits<std::uint32_t>::max()));
}

Nanos steady_ns(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Nanos wall_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint steady_at(Nanos ns) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

void encode_stored(std::string& out, int status, std::string_view header_lines,
                   std::string_view body, const StoredTimes& times) {
  out.clear();
  constexpr std::size_t kMaxPart = std::numeric_limits<std::uint32_t>::max();
  // The format cannot say these; an empty blob decodes to nullopt, which every layer treats as
  // a miss, rather than a wrapped size that would be misread.
  if (status < 0 || status > 0xffff || header_lines.size() > kMaxPart || body.size() > kMaxPart) {
    return;
  }
  // resize() within the capacity does not allocate; every byte is written below.
  out.resize(kStoredPrefixBytes + header_lines.size() + body.size());
  char* p = out.data();
  std::memcpy(p, kMagic, sizeof kMagic);
  put_le(p + kStatusAt, static_cast<std::uint16_t>(status));
  put_le(p + kReservedAt, std::uint16_t{0});
  put_le(p + kHeaderBytesAt, static_cast<std::uint32_t>(header_lines.size()));
  put_le(p + kBodyBytesAt, static_cast<std::uint32_t>(body.size()));
  put_le(p + kStoredAtAt, times.stored_at_unix_ms);
  put_le(p + kFreshAt, times.fresh_ms);
  put_le(p + kStaleAt, times.stale_ms);
  p += kStoredPrefixBytes;
  if (!header_lines.empty()) std::memcpy(p, header_lines.data(), header_lines.size());
  p += header_lines.size();
  if (!body.empty()) std::memcpy(p, body.data(), body.size());
}

std::optional<StoredView> decode_stored(std::string_view blob) {
  if (blob.size() < kStoredPrefixBytes) return std::nullopt;
  const char* p = blob.data();
  // A non-zero reserved field is a writer this version does not know, as much as another magic.
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0 || get_le<std::uint16_t>(p + kReservedAt) != 0) {
    return std::nullopt;
  }
  // Summed in 64 bits: two 32-bit sizes cannot wrap around to match a short blob.
  const std::uint64_t header_bytes = get_le<std::uint32_t>(p + kHeaderBytesAt);
  const std::uint64_t body_bytes = get_le<std::uint32_t>(p + kBodyBytesAt);
  if (kStoredPrefixBytes + header_bytes + body_bytes != blob.size()) return std::nullopt;

  StoredView view;
  view.status = get_le<std::uint16_t>(p + kStatusAt);
  view.header_lines = blob.substr(kStoredPrefixBytes, header_bytes);
  view.body = blob.substr(kStoredPrefixBytes + header_bytes, body_bytes);
  view.times.stored_at_unix_ms = get_le<std::int64_t>(p + kStoredAtAt);
  view.times.fresh_ms = get_le<std::uint32_t>(p + kFreshAt);
  view.times.stale_ms = get_le<std::uint32_t>(p + kStaleAt);
  return view;
}

std::string_view StoredView::header(std::string_view name) const {
  std::string_view rest = header_lines;
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      return trim_ows(line.substr(colon + 1));
    }
  }
  return {};
}

// Each instant is carried across on its own and floored to the millisecond, so a round trip
// never moves stored_at, fresh_until or stale_until later (an entry is never made to look
// younger or to live longer) and moves each earlier by less than a millisecond. Windows longer
// than the format's 32-bit milliseconds (about 49.7 days) are shortened to fit.
StoredTimes to_stored_times(const Lifetime& lifetime, TimePoint steady_now,
                            std::chrono::system_clock::time_point wall_now) {
  const Nanos steady = steady_ns(steady_now);
  const Nanos wall = wall_ns(wall_now);
  auto wall_ms = [&](TimePoint t) {
    return floor_ms(sat_add(wall, sat_sub(steady_ns(t), steady)));
  };
  const std::int64_t stored_ms = wall_ms(lifetime.stored_at);
  const std::int64_t fresh_ms = wall_ms(lifetime.fresh_until);
  const std::int64_t stale_ms = wall_ms(lifetime.stale_until);
  StoredTimes times;
  times.stored_at_unix_ms = stored_ms;
  times.fresh_ms = clamp_u32(sat_sub(fresh_ms, stored_ms));
  times.stale_ms = clamp_u32(sat_sub(stale_ms, std::max(fresh_ms, stored_ms)));
  return times;
}

Lifetime to_lifetime(const StoredTimes& times, TimePoint steady_now,
                     std::chrono::system_clock::time_point wall_now) {
  const Nanos stored_wall = sat_mul(times.stored_at_unix_ms, kNanosPerMs);
  const Nanos stored = sat_add(steady_ns(steady_now), sat_sub(stored_wall, wall_ns(wall_now)));
  const Nanos fresh = sat_add(stored, std::int64_t{times.fresh_ms} * kNanosPerMs);
  const Nanos stale = sat_add(fresh, std::int64_t{times.stale_ms} * kNanosPerMs);
  return Lifetime{steady_at(stored), steady_at(fresh), steady_at(stale)};
}

}  // namespace edgefn::cache
