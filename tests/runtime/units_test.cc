// Tests for the manifest's duration and size syntax (runtime/units.h).
#include "runtime/units.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace edgefn::runtime {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ParseDuration, EveryUnit) {
  EXPECT_EQ(parse_duration("7ns"), nanoseconds(7));
  EXPECT_EQ(parse_duration("7us"), microseconds(7));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), seconds(30));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("2h"), hours(2));
}

TEST(ParseDuration, ZeroAndLeadingZeros) {
  EXPECT_EQ(parse_duration("0s"), nanoseconds(0));
  EXPECT_EQ(parse_duration("0ns"), nanoseconds(0));
  EXPECT_EQ(parse_duration("007s"), seconds(7));
}

TEST(ParseDuration, Decimals) {
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("0.25s"), milliseconds(250));
  EXPECT_EQ(parse_duration("1.5m"), seconds(90));
  EXPECT_EQ(parse_duration("0.5h"), minutes(30));
  EXPECT_EQ(parse_duration("2.5ms"), microseconds(2500));
  EXPECT_EQ(parse_duration("1.001us"), nanoseconds(1001));
  EXPECT_EQ(parse_duration("1.000000001s"), nanoseconds(1'000'000'001));
  // Trailing zeros carry no precision, however many there are.
  EXPECT_EQ(parse_duration("3.0ns"), nanoseconds(3));
  EXPECT_EQ(parse_duration("1.50000000000000000000000s"), milliseconds(1500));
  // 5e-12 h is exactly 18 ns, though 1e-12 h (3.6 ns) is not a whole number.
  EXPECT_EQ(parse_duration("0.000000000005h"), nanoseconds(18));
}

TEST(ParseDuration, RejectsFractionsOfANanosecond) {
  EXPECT_EQ(parse_duration("1.5ns"), std::nullopt);
  EXPECT_EQ(parse_duration("0.0000000001s"), std::nullopt);
  EXPECT_EQ(parse_duration("0.0001us"), std::nullopt);
  EXPECT_EQ(parse_duration("0.000000000001h"), std::nullopt);
}

TEST(ParseDuration, RejectsMalformedNumbers) {
  EXPECT_EQ(parse_duration(""), std::nullopt);
  EXPECT_EQ(parse_duration("s"), std::nullopt);
  EXPECT_EQ(parse_duration("-1s"), std::nullopt);
  EXPECT_EQ(parse_duration("+1s"), std::nullopt);
  EXPECT_EQ(parse_duration(".5s"), std::nullopt);
  EXPECT_EQ(parse_duration("1.s"), std::nullopt);
  EXPECT_EQ(parse_duration("1..5s"), std::nullopt);
  EXPECT_EQ(parse_duration("1.5.5s"), std::nullopt);
  EXPECT_EQ(parse_duration("1e3ms"), std::nullopt);
  EXPECT_EQ(parse_duration("0x10s"), std::nullopt);
}

TEST(ParseDuration, RejectsMissingOrUnknownUnits) {
  EXPECT_EQ(parse_duration("30"), std::nullopt);
  EXPECT_EQ(parse_duration("1.5"), std::nullopt);
  EXPECT_EQ(parse_duration("5d"), std::nullopt);
  EXPECT_EQ(parse_duration("5sec"), std::nullopt);
  EXPECT_EQ(parse_duration("5S"), std::nullopt);
  EXPECT_EQ(parse_duration("5MS"), std::nullopt);
  EXPECT_EQ(parse_duration("5µs"), std::nullopt);
  EXPECT_EQ(parse_duration("1m30s"), std::nullopt);
}

TEST(ParseDuration, RejectsSpaces) {
  EXPECT_EQ(parse_duration(" 5s"), std::nullopt);
  EXPECT_EQ(parse_duration("5s "), std::nullopt);
  EXPECT_EQ(parse_duration("5 s"), std::nullopt);
  EXPECT_EQ(parse_duration("5\ts"), std::nullopt);
}

TEST(ParseDuration, RejectsEmbeddedNul) {
  EXPECT_EQ(parse_duration(std::string_view("5s\0", 3)), std::nullopt);
  EXPECT_EQ(parse_duration(std::string_view("5\0s", 3)), std::nullopt);
}

TEST(ParseDuration, OverflowIsRejected) {
  // The largest representable value is INT64_MAX ns (about 292 years).
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(parse_duration(std::to_string(max) + "ns"), nanoseconds(max));
  EXPECT_EQ(parse_duration(std::to_string(max) + "0ns"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775808ns"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036s"), seconds(9223372036));
  EXPECT_EQ(parse_duration("9223372037s"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036.854775807s"), nanoseconds(max));
  EXPECT_EQ(parse_duration("9223372036.854775808s"), std::nullopt);
  EXPECT_EQ(parse_duration("2562047h"), hours(2562047));
  EXPECT_EQ(parse_duration("2562048h"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999999h"), std::nullopt);
}

TEST(ParseSize, EveryUnit) {
  EXPECT_EQ(parse_size("0B"), 0u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
  EXPECT_EQ(parse_size("64MiB"), 64u * 1024 * 1024);
  EXPECT_EQ(parse_size("2GiB"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(parse_size("16kB"), 16'000u);
  EXPECT_EQ(parse_size("64MB"), 64'000'000u);
  EXPECT_EQ(parse_size("2GB"), 2'000'000'000u);
}

TEST(ParseSize, RejectsMissingOrUnknownUnits) {
  EXPECT_EQ(parse_size("4096"), std::nullopt);  // a bare count is a TOML integer, not a string
  EXPECT_EQ(parse_size("16KB"), std::nullopt);  // K is kelvin; kB or KiB
  EXPECT_EQ(parse_size("16kib"), std::nullopt);
  EXPECT_EQ(parse_size("16K"), std::nullopt);
  EXPECT_EQ(parse_size("1TiB"), std::nullopt);
  EXPECT_EQ(parse_size("16 bytes"), std::nullopt);
  EXPECT_EQ(parse_size("16b"), std::nullopt);
  EXPECT_EQ(parse_size("KiB"), std::nullopt);
}

TEST(ParseSize, RejectsMalformedNumbers) {
  EXPECT_EQ(parse_size(""), std::nullopt);
  EXPECT_EQ(parse_size("-1KiB"), std::nullopt);
  EXPECT_EQ(parse_size("+1KiB"), std::nullopt);
  EXPECT_EQ(parse_size("1.5KiB"), std::nullopt);
  EXPECT_EQ(parse_size("1e3B"), std::nullopt);
  EXPECT_EQ(parse_size("1_000B"), std::nullopt);
}

TEST(ParseSize, RejectsSpaces) {
  EXPECT_EQ(parse_size(" 16KiB"), std::nullopt);
  EXPECT_EQ(parse_size("16KiB "), std::nullopt);
  EXPECT_EQ(parse_size("16 KiB"), std::nullopt);
}

TEST(ParseSize, OverflowIsRejected) {
  EXPECT_EQ(parse_size("18446744073709551615B"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_size("18446744073709551616B"), std::nullopt);
  EXPECT_EQ(parse_size("17179869183GiB"), 17179869183ull << 30);
  EXPECT_EQ(parse_size("17179869184GiB"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999999999999999999GB"), std::nullopt);
}

}  // namespace
}  // namespace edgefn::runtime
