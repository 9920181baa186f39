// Tests for the stored-response blob: its pinned byte layout, round trips, rejection of truncated,
// foreign and inconsistent blobs, header lookup, wall/steady time conversion on pinned clocks,
// and that encoding into a warm buffer and decoding allocate nothing.
#include "cache/stored.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using WallTime = std::chrono::system_clock::time_point;

const TimePoint steady0 = TimePoint{} + std::chrono::hours(1000);
const WallTime wall0 = WallTime{} + seconds(1'700'000'000);

constexpr std::string_view kHeaders =
    "Content-Type: text/plain\r\nETag: \"v1\"\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 "
    "GMT\r\n";

std::string encode(int status, std::string_view headers, std::string_view body,
                   const StoredTimes& times) {
  std::string out;
  encode_stored(out, status, headers, body, times);
  return out;
}

// Overwrites `bytes.size()` bytes of `blob` at `at`.
std::string patched(std::string blob, std::size_t at, std::string_view bytes) {
  blob.replace(at, bytes.size(), bytes);
  return blob;
}

// ---- layout and round trips -------------------------------------------------------------------

TEST(EncodeStored, ThePrefixLayoutIsPinned) {
  const StoredTimes times{0x0102030405060708, 0x11223344u, 0xaabbccddu};
  const std::string blob = encode(200, "ETag: \"x\"\r\n", "hi", times);
  const std::string expected_prefix(
      "EFC1"
      "\xc8\x00"
      "\x00\x00"
      "\x0b\x00\x00\x00"
      "\x02\x00\x00\x00"
      "\x08\x07\x06\x05\x04\x03\x02\x01"
      "\x44\x33\x22\x11"
      "\xdd\xcc\xbb\xaa",
      kStoredPrefixBytes);
  ASSERT_EQ(blob.size(), kStoredPrefixBytes + 11 + 2);
  EXPECT_EQ(blob.substr(0, kStoredPrefixBytes), expected_prefix);
  EXPECT_EQ(blob.substr(kStoredPrefixBytes), "ETag: \"x\"\r\nhi");
}

TEST(EncodeStored, NegativeTimesAreTwosComplement) {
  const std::string blob = encode(404, "", "", StoredTimes{-1, 0, 0});
  EXPECT_EQ(blob.substr(4, 2), std::string_view("\x94\x01", 2));
  EXPECT_EQ(blob.substr(16, 8), std::string(8, '\xff'));
}

TEST(EncodeStored, ReplacesWhatTheBufferHeld) {
  std::string out = "left over from a much longer previous response that must not survive";
  encode_stored(out, 204, "", "", StoredTimes{});
  EXPECT_EQ(out.size(), kStoredPrefixBytes);
  EXPECT_EQ(out.substr(0, 4), "EFC1");
}

TEST(EncodeStored, WhatTheFormatCannotSayLeavesTheBufferEmpty) {
  std::string out = "junk";
  encode_stored(out, 65536, kHeaders, "body", StoredTimes{});
  EXPECT_TRUE(out.empty());
  out = "junk";
  encode_stored(out, -1, kHeaders, "body", StoredTimes{});
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(decode_stored(out), std::nullopt);
  encode_stored(out, 65535, "", "", StoredTimes{});
  ASSERT_TRUE(decode_stored(out));
  EXPECT_EQ(decode_stored(out)->status, 65535);
}

TEST(DecodeStored, RoundTrip) {
  const StoredTimes times{1'700'000'000'123, 60'000, 300'000};
  const std::string blob = encode(200, kHeaders, "hello, world", times);
  const std::optional<StoredView> view = decode_stored(blob);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status, 200);
  EXPECT_EQ(view->header_lines, kHeaders);
  EXPECT_EQ(view->body, "hello, world");
  EXPECT_EQ(view->times.stored_at_unix_ms, times.stored_at_unix_ms);
  EXPECT_EQ(view->times.fresh_ms, times.fresh_ms);
  EXPECT_EQ(view->times.stale_ms, times.stale_ms);
}

TEST(DecodeStored, ViewsPointIntoTheBlob) {
  const std::string blob = encode(200, kHeaders, "body", StoredTimes{});
  const std::optional<StoredView> view = decode_stored(blob);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header_lines.data(), blob.data() + kStoredPrefixBytes);
  EXPECT_EQ(view->body.data(), blob.data() + kStoredPrefixBytes + kHeaders.size());
}

TEST(DecodeStored, EmptyHeadersAndBody) {
  const std::string blob = encode(204, "", "", StoredTimes{5, 6, 7});
  ASSERT_EQ(blob.size(), kStoredPrefixBytes);
  const std::optional<StoredView> view = decode_stored(blob);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status, 204);
  EXPECT_TRUE(view->header_lines.empty());
  EXPECT_TRUE(view->body.empty());
  EXPECT_EQ(view->times.stored_at_unix_ms, 5);
  EXPECT_EQ(view->times.fresh_ms, 6u);
  EXPECT_EQ(view->times.stale_ms, 7u);
}

TEST(DecodeStored, BinaryBodiesAndExtremeTimesSurvive) {
  const std::string body("\0\r\n\xff\x80 EFC1\0", 11);
  for (const StoredTimes& times :
       {StoredTimes{std::numeric_limits<std::int64_t>::min(), 0, 0},
        StoredTimes{std::numeric_limits<std::int64_t>::max(), 0xffffffffu, 0xffffffffu},
        StoredTimes{-1'000, 1, 0x80000000u}}) {
    const std::string blob = encode(200, "", body, times);
    const std::optional<StoredView> view = decode_stored(blob);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->body, body);
    EXPECT_EQ(view->times.stored_at_unix_ms, times.stored_at_unix_ms);
    EXPECT_EQ(view->times.fresh_ms, times.fresh_ms);
    EXPECT_EQ(view->times.stale_ms, times.stale_ms);
  }
}

TEST(DecodeStored, RandomizedRoundTrips) {
  std::mt19937_64 rng(20240229);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 300);
  std::string out;
  for (int i = 0; i < 500; ++i) {
    std::string headers(length(rng), '\0');
    std::string body(length(rng), '\0');
    for (char& c : headers)
      c = static_cast<char>(byte(rng));
    for (char& c : body)
      c = static_cast<char>(byte(rng));
    const int status = static_cast<int>(rng() % 65536);
    const StoredTimes times{static_cast<std::int64_t>(rng()), static_cast<std::uint32_t>(rng()),
                            static_cast<std::uint32_t>(rng())};
    encode_stored(out, status, headers, body, times);
    const std::optional<StoredView> view = decode_stored(out);
    ASSERT_TRUE(view) << i;
    EXPECT_EQ(view->status, status);
    EXPECT_EQ(view->header_lines, headers);
    EXPECT_EQ(view->body, body);
    EXPECT_EQ(view->times.stored_at_unix_ms, times.stored_at_unix_ms);
    EXPECT_EQ(view->times.fresh_ms, times.fresh_ms);
    EXPECT_EQ(view->times.stale_ms, times.stale_ms);
  }
}

// ---- rejection --------------------------------------------------------------------------------

TEST(DecodeStored, EveryTruncationIsRejected) {
  const std::string blob = encode(200, kHeaders, "body bytes", StoredTimes{1, 2, 3});
  for (std::size_t n = 0; n < blob.size(); ++n) {
    EXPECT_EQ(decode_stored(std::string_view(blob).substr(0, n)), std::nullopt) << n;
  }
  ASSERT_TRUE(decode_stored(blob));
}

TEST(DecodeStored, TrailingBytesAreRejected) {
  const std::string blob = encode(200, kHeaders, "body", StoredTimes{});
  EXPECT_EQ(decode_stored(blob + "x"), std::nullopt);
  EXPECT_EQ(decode_stored(blob + std::string(1, '\0')), std::nullopt);
}

TEST(DecodeStored, AnotherMagicOrVersionIsRejected) {
  const std::string blob = encode(200, kHeaders, "body", StoredTimes{});
  EXPECT_EQ(decode_stored(patched(blob, 0, "EFC2")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 0, "EFC0")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 0, "efc1")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 0, "1CFE")), std::nullopt);
  for (std::size_t i = 0; i < 4; ++i) {
    std::string corrupt = blob;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x01);
    EXPECT_EQ(decode_stored(corrupt), std::nullopt) << i;
  }
}

TEST(DecodeStored, ANonZeroReservedFieldIsRejected) {
  const std::string blob = encode(200, kHeaders, "body", StoredTimes{});
  EXPECT_EQ(decode_stored(patched(blob, 6, std::string_view("\x01\x00", 2))), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 6, std::string_view("\x00\x80", 2))), std::nullopt);
}

TEST(DecodeStored, SizesThatDisagreeWithTheLengthAreRejected) {
  const std::string blob = encode(200, "A: b\r\n", "body", StoredTimes{});
  ASSERT_TRUE(decode_stored(blob));
  // header_bytes 6 -> 7 or 5; body_bytes 4 -> 5 or 3.
  EXPECT_EQ(decode_stored(patched(blob, 8, "\x07")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 8, "\x05")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 12, "\x05")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 12, "\x03")), std::nullopt);
  // A high byte set: a size far beyond the blob.
  EXPECT_EQ(decode_stored(patched(blob, 11, "\x01")), std::nullopt);
  EXPECT_EQ(decode_stored(patched(blob, 15, "\x80")), std::nullopt);
  // Moving bytes from headers to body keeps the total: the blob still decodes, split elsewhere.
  const std::string resplit = patched(patched(blob, 8, "\x04"), 12, "\x06");
  const std::optional<StoredView> moved = decode_stored(resplit);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->header_lines, "A: b");
  EXPECT_EQ(moved->body, "\r\nbody");
}

TEST(DecodeStored, SizesWhose32BitSumWrapsAreRejected) {
  // header_bytes + body_bytes == 2^32 + 10 would read as 10 in 32-bit arithmetic.
  std::string blob = encode(200, "0123456789", "", StoredTimes{});
  blob = patched(blob, 8, std::string_view("\xfb\xff\xff\xff", 4));   // 2^32 - 5
  blob = patched(blob, 12, std::string_view("\x0f\x00\x00\x00", 4));  // 15
  EXPECT_EQ(decode_stored(blob), std::nullopt);
  blob = patched(blob, 8, std::string_view("\xff\xff\xff\xff", 4));
  blob = patched(blob, 12, std::string_view("\xff\xff\xff\xff", 4));
  EXPECT_EQ(decode_stored(blob), std::nullopt);
}

TEST(DecodeStored, RandomBytesNeverDecodeWithoutTheRightShape) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 100);
  for (int i = 0; i < 2000; ++i) {
    std::string blob(length(rng), '\0');
    for (char& c : blob)
      c = static_cast<char>(byte(rng));
    if (i % 2 == 0 && blob.size() >= 4) blob.replace(0, 4, "EFC1");
    const std::optional<StoredView> view = decode_stored(blob);
    if (!view) continue;
    // Whatever decodes is consistent with its own prefix and stays inside the blob.
    EXPECT_EQ(kStoredPrefixBytes + view->header_lines.size() + view->body.size(), blob.size());
    EXPECT_EQ(view->header_lines.data(), blob.data() + kStoredPrefixBytes);
  }
}

// ---- header lookup ----------------------------------------------------------------------------

StoredView view_of(std::string_view header_lines) {
  StoredView v;
  v.status = 200;
  v.header_lines = header_lines;
  return v;
}

TEST(StoredViewHeader, FindsByCaseInsensitiveNameAndTrimsTheValue) {
  const StoredView v = view_of(kHeaders);
  EXPECT_EQ(v.header("ETag"), "\"v1\"");
  EXPECT_EQ(v.header("etag"), "\"v1\"");
  EXPECT_EQ(v.header("ETAG"), "\"v1\"");
  EXPECT_EQ(v.header("content-type"), "text/plain");
  EXPECT_EQ(v.header("Last-Modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(StoredViewHeader, MissingOrPartialNamesFindNothing) {
  const StoredView v = view_of(kHeaders);
  EXPECT_EQ(v.header("Age"), "");
  EXPECT_EQ(v.header("ETa"), "");
  EXPECT_EQ(v.header("ETags"), "");
  EXPECT_EQ(v.header("Type"), "");
  EXPECT_EQ(v.header("Content-Type: text/plain"), "");
  EXPECT_EQ(v.header(""), "");
  EXPECT_EQ(view_of("").header("ETag"), "");
}

TEST(StoredViewHeader, TheFirstLineWins) {
  const StoredView v = view_of("X-A: one\r\nx-a: two\r\nX-B: three\r\n");
  EXPECT_EQ(v.header("x-a"), "one");
  EXPECT_EQ(v.header("X-B"), "three");
}

TEST(StoredViewHeader, ValuesKeepColonsAndInnerSpacesButNotOuterWhitespace) {
  const StoredView v = view_of(
      "Location: http://example.com:8080/a b\r\nX-Pad:  \t padded \t \r\nX-Empty:\r\n"
      "X-Blank:   \r\nX-Tight:tight\r\n");
  EXPECT_EQ(v.header("location"), "http://example.com:8080/a b");
  EXPECT_EQ(v.header("x-pad"), "padded");
  EXPECT_EQ(v.header("x-empty"), "");
  EXPECT_EQ(v.header("x-blank"), "");
  EXPECT_EQ(v.header("x-tight"), "tight");
}

TEST(StoredViewHeader, LinesWithoutAColonAreSkipped) {
  const StoredView v = view_of("garbage line\r\nETag\r\nETag: \"ok\"\r\n");
  EXPECT_EQ(v.header("etag"), "\"ok\"");
  EXPECT_EQ(v.header("garbage line"), "");
}

TEST(StoredViewHeader, AFinalLineWithoutCrlfIsStillALine) {
  EXPECT_EQ(view_of("A: 1\r\nB: 2").header("b"), "2");
}

TEST(StoredViewHeader, TheBodyIsNotSearched) {
  const std::string blob = encode(200, "A: 1\r\n", "ETag: \"in-body\"\r\n", StoredTimes{});
  const std::optional<StoredView> view = decode_stored(blob);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header("etag"), "");
  EXPECT_EQ(view->header("a"), "1");
}

// ---- time conversion --------------------------------------------------------------------------

TEST(StoredTimesConversion, ToStoredTimesOnPinnedClocks) {
  const Lifetime lifetime{steady0 - seconds(5), steady0 + seconds(55), steady0 + seconds(85)};
  const StoredTimes t = to_stored_times(lifetime, steady0, wall0);
  EXPECT_EQ(t.stored_at_unix_ms, 1'699'999'995'000);
  EXPECT_EQ(t.fresh_ms, 60'000u);
  EXPECT_EQ(t.stale_ms, 30'000u);
}

TEST(StoredTimesConversion, ToLifetimeOnPinnedClocks) {
  const StoredTimes t{1'699'999'995'000, 60'000, 30'000};
  const Lifetime l = to_lifetime(t, steady0, wall0);
  EXPECT_EQ(l.stored_at, steady0 - seconds(5));
  EXPECT_EQ(l.fresh_until, steady0 + seconds(55));
  EXPECT_EQ(l.stale_until, steady0 + seconds(85));
}

TEST(StoredTimesConversion, WholeMillisecondLifetimesRoundTripExactly) {
  const Lifetime lifetime{steady0 - milliseconds(1234), steady0 + milliseconds(5678),
                          steady0 + milliseconds(9999)};
  const StoredTimes t = to_stored_times(lifetime, steady0, wall0);
  const Lifetime back = to_lifetime(t, steady0, wall0);
  EXPECT_EQ(back.stored_at, lifetime.stored_at);
  EXPECT_EQ(back.fresh_until, lifetime.fresh_until);
  EXPECT_EQ(back.stale_until, lifetime.stale_until);
  // Read back later by the same process: both clocks moved by the same amount.
  const Lifetime later = to_lifetime(t, steady0 + seconds(7), wall0 + seconds(7));
  EXPECT_EQ(later.stored_at, lifetime.stored_at);
  EXPECT_EQ(later.fresh_until, lifetime.fresh_until);
  EXPECT_EQ(later.stale_until, lifetime.stale_until);
}

TEST(StoredTimesConversion, AnotherProcessKeepsTheAge) {
  const Lifetime lifetime{steady0 - seconds(5), steady0 + seconds(55), steady0 + seconds(85)};
  const StoredTimes t = to_stored_times(lifetime, steady0, wall0);
  // Another process (its own steady origin) reads the blob 2 s of wall time later.
  const TimePoint other_steady = TimePoint{} + seconds(42);
  const Lifetime there = to_lifetime(t, other_steady, wall0 + seconds(2));
  EXPECT_EQ(other_steady - there.stored_at, seconds(7));
  EXPECT_EQ(there.fresh_until - other_steady, seconds(53));
  EXPECT_EQ(there.stale_until - other_steady, seconds(83));
}

TEST(StoredTimesConversion, SubMillisecondInstantsMoveEarlierByLessThanAMillisecond) {
  std::mt19937_64 rng(99);
  std::uniform_int_distribution<std::int64_t> offset(-10'000'000'000, 10'000'000'000);
  std::uniform_int_distribution<std::int64_t> window(0, 100'000'000'000);
  for (int i = 0; i < 1000; ++i) {
    const TimePoint steady_now = steady0 + nanoseconds(offset(rng));
    const WallTime wall_now = wall0 + nanoseconds(offset(rng));
    const TimePoint stored = steady_now - nanoseconds(window(rng) / 10);
    const TimePoint fresh = stored + nanoseconds(window(rng));
    const TimePoint stale = fresh + nanoseconds(window(rng));
    const Lifetime original{stored, fresh, stale};
    const Lifetime back =
        to_lifetime(to_stored_times(original, steady_now, wall_now), steady_now, wall_now);
    for (auto [was, is] : {std::pair{original.stored_at, back.stored_at},
                           std::pair{original.fresh_until, back.fresh_until},
                           std::pair{original.stale_until, back.stale_until}}) {
      EXPECT_LE(is, was) << i;
      EXPECT_LT(was - is, milliseconds(1)) << i;
    }
  }
}

TEST(StoredTimesConversion, InvertedWindowsBecomeEmpty) {
  const Lifetime fresh_before_stored{steady0, steady0 - seconds(1), steady0 + seconds(10)};
  const StoredTimes a = to_stored_times(fresh_before_stored, steady0, wall0);
  EXPECT_EQ(a.fresh_ms, 0u);
  EXPECT_EQ(a.stale_ms, 10'000u);
  const Lifetime stale_before_fresh{steady0, steady0 + seconds(10), steady0 + seconds(5)};
  const StoredTimes b = to_stored_times(stale_before_fresh, steady0, wall0);
  EXPECT_EQ(b.fresh_ms, 10'000u);
  EXPECT_EQ(b.stale_ms, 0u);
}

TEST(StoredTimesConversion, WindowsBeyond32BitMillisecondsAreShortened) {
  const auto days60 = std::chrono::hours(24 * 60);
  const Lifetime lifetime{steady0, steady0 + days60, steady0 + days60 + days60};
  const StoredTimes t = to_stored_times(lifetime, steady0, wall0);
  EXPECT_EQ(t.fresh_ms, 0xffffffffu);
  EXPECT_EQ(t.stale_ms, 0xffffffffu);
}

TEST(StoredTimesConversion, WallTimesBeforeTheEpochFloorTowardsThePast) {
  const WallTime wall_now = WallTime{} + milliseconds(1);
  const Lifetime lifetime{steady0 - microseconds(1500), steady0 + seconds(1), steady0 + seconds(2)};
  const StoredTimes t = to_stored_times(lifetime, steady0, wall_now);
  EXPECT_EQ(t.stored_at_unix_ms, -1);  // -0.5 ms floors to -1 ms
  EXPECT_EQ(t.fresh_ms, 1'002u);
  EXPECT_EQ(t.stale_ms, 1'000u);
}

TEST(StoredTimesConversion, HostileStoredTimesSaturateInsteadOfOverflowing) {
  for (std::int64_t at : {std::numeric_limits<std::int64_t>::min(),
                          std::numeric_limits<std::int64_t>::max(), std::int64_t{-1}}) {
    const Lifetime l = to_lifetime(StoredTimes{at, 0xffffffffu, 0xffffffffu}, steady0, wall0);
    EXPECT_LE(l.stored_at, l.fresh_until) << at;
    EXPECT_LE(l.fresh_until, l.stale_until) << at;
    if (at > 0) {
      EXPECT_GT(l.stored_at, steady0 + std::chrono::hours(24 * 365 * 100)) << at;
    } else {
      EXPECT_LT(l.stale_until, steady0) << at;
    }
  }
  // A lifetime from the beginning of steady time, read on a wall clock set before the epoch.
  const StoredTimes ancient = to_stored_times(Lifetime{TimePoint::min(), steady0, steady0}, steady0,
                                              WallTime{} - seconds(1));
  EXPECT_LT(ancient.stored_at_unix_ms, -9'000'000'000'000);
  EXPECT_EQ(ancient.fresh_ms, 0xffffffffu);
  EXPECT_EQ(ancient.stale_ms, 0u);
  const Lifetime forever{steady0, TimePoint::max(), TimePoint::max()};
  const StoredTimes t = to_stored_times(forever, steady0, wall0);
  EXPECT_EQ(t.fresh_ms, 0xffffffffu);
  EXPECT_EQ(t.stale_ms, 0u);
}

// ---- allocation -------------------------------------------------------------------------------

TEST(StoredAllocation, EncodeIntoAWarmBufferAndDecodeAllocateNothing) {
  const std::string body(4096, 'b');
  std::string out;
  out.reserve(kStoredPrefixBytes + kHeaders.size() + body.size());
  const StoredTimes times{1'700'000'000'000, 1'000, 2'000};
  EXPECT_NO_ALLOC(encode_stored(out, 200, kHeaders, body, times));
  std::optional<StoredView> view;
  EXPECT_NO_ALLOC(view = decode_stored(out));
  ASSERT_TRUE(view);
  std::string_view etag;
  EXPECT_NO_ALLOC(etag = view->header("etag"));
  EXPECT_EQ(etag, "\"v1\"");
  // A smaller response into the same buffer: still no allocation.
  EXPECT_NO_ALLOC(encode_stored(out, 304, "", "", times));
  EXPECT_EQ(out.size(), kStoredPrefixBytes);
  StoredTimes converted;
  EXPECT_NO_ALLOC(converted =
                      to_stored_times(Lifetime{steady0, steady0 + seconds(1), steady0 + seconds(2)},
                                      steady0, wall0));
  Lifetime lifetime;
  EXPECT_NO_ALLOC(lifetime = to_lifetime(converted, steady0, wall0));
  EXPECT_EQ(lifetime.fresh_until, steady0 + seconds(1));
}

}  // namespace
}  // namespace edgefn::cache
