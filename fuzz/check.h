// FUZZ_CHECK: an invariant of the code under test that the fuzz targets assert. A violation
// prints the condition with its place and aborts, which libFuzzer reports as a crash and saves
// the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace edgefn::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace edgefn::fuzz

#define FUZZ_CHECK(condition)                                                       \
  do {                                                                              \
    if (!(condition)) ::edgefn::fuzz::check_failed(#condition, __FILE__, __LINE__); \
  } while (0)
