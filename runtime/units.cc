// Parsing of the manifest's duration and size strings.
#include "runtime/units.h"

#include <array>
#include <cstdint>
#include <limits>
#include <numeric>

namespace edgefn::runtime {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 6> kDurationUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

constexpr std::array<Unit, 7> kSizeUnits{{
    {"B", 1},
    {"KiB", std::uint64_t{1} << 10},
    {"MiB", std::uint64_t{1} << 20},
    {"GiB", std::uint64_t{1} << 30},
    {"kB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
}};

template <std::size_t N>
std::optional<std::uint64_t> find_unit(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& unit : units) {
    if (unit.name == name) return unit.factor;
  }
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Length of the run of ASCII digits at the start of `text`.
std::size_t digit_run(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && is_digit(text[n]))
    ++n;
  return n;
}

// A run of digits as an integer; nullopt on overflow. No sign is accepted: the callers reject
// negative values by grammar, not by range.
std::optional<std::uint64_t> parse_digits(std::string_view digits) {
  std::uint64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, static_cast<unsigned>(c - '0'), &value)) {
      return std::nullopt;
    }
  }
  return value;
}

std::uint64_t pow10(std::size_t exponent) {
  std::uint64_t value = 1;
  for (std::size_t i = 0; i < exponent; ++i)
    value *= 10;
  return value;
}

// The nanoseconds of `0.<fraction>` units of `factor` ns, or nullopt when that is not a whole
// number of nanoseconds ("1.5ns"): rounding silently would make "0.4ns" mean zero.
std::optional<std::uint64_t> fraction_nanos(std::string_view fraction, std::uint64_t factor) {
  while (!fraction.empty() && fraction.back() == '0')
    fraction.remove_suffix(1);
  if (fraction.empty()) return 0;
  // A fraction with more than 18 significant digits cannot land on a whole nanosecond for any
  // unit (the largest factor, 3.6e12 ns, has fewer than 18 factors of 2 or of 5), and 18
  // digits still fit in 64 bits.
  if (fraction.size() > 18) return std::nullopt;
  const std::uint64_t numerator = *parse_digits(fraction);
  const std::uint64_t denominator = pow10(fraction.size());
  // numerator/denominator * factor is whole iff, after cancelling their common factor, what is
  // left of the denominator divides the numerator. The product stays below `factor`, so it
  // cannot overflow.
  const std::uint64_t common = std::gcd(factor, denominator);
  const std::uint64_t rest = denominator / common;
  if (numerator % rest != 0) return std::nullopt;
  return numerator / rest * (factor / common);
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  const std::size_t whole_digits = digit_run(text);
  if (whole_digits == 0) return std::nullopt;
  const std::string_view whole = text.substr(0, whole_digits);
  std::string_view rest = text.substr(whole_digits);

  std::string_view fraction;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    const std::size_t fraction_digits = digit_run(rest);
    if (fraction_digits == 0) return std::nullopt;  // "1.s"
    fraction = rest.substr(0, fraction_digits);
    rest.remove_prefix(fraction_digits);
  }

  const std::optional<std::uint64_t> factor = find_unit(kDurationUnits, rest);
  if (!factor) return std::nullopt;
  const std::optional<std::uint64_t> count = parse_digits(whole);
  if (!count) return std::nullopt;
  const std::optional<std::uint64_t> extra = fraction_nanos(fraction, *factor);
  if (!extra) return std::nullopt;

  std::uint64_t nanos = 0;
  if (__builtin_mul_overflow(*count, *factor, &nanos) ||
      __builtin_add_overflow(nanos, *extra, &nanos) ||
      nanos > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    return std::nullopt;
  }
  return Duration(static_cast<Duration::rep>(nanos));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const std::size_t digits = digit_run(text);
  if (digits == 0) return std::nullopt;
  const std::optional<std::uint64_t> factor = find_unit(kSizeUnits, text.substr(digits));
  if (!factor) return std::nullopt;
  const std::optional<std::uint64_t> count = parse_digits(text.substr(0, digits));
  if (!count) return std::nullopt;
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(*count, *factor, &bytes)) return std::nullopt;
  return bytes;
}

}  // namespace edgefn::runtime
