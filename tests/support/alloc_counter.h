// Counts heap allocations made by the current thread, to prove a code path allocates nothing.
// Linking tests/support replaces global operator new/delete for the whole test binary.
#pragma once

#include <cstddef>

namespace edgefn::testing {

// Allocations (operator new calls) by this thread since the process started.
std::size_t allocation_count();

// Counts allocations made while it lives.
class AllocationScope {
 public:
  AllocationScope() : start_(allocation_count()) {}
  std::size_t count() const { return allocation_count() - start_; }

 private:
  std::size_t start_;
};

}  // namespace edgefn::testing

// EXPECT_NO_ALLOC(statement): the statement runs and makes no heap allocation on this thread.
#define EXPECT_NO_ALLOC(statement)                                   \
  do {                                                               \
    ::edgefn::testing::AllocationScope edgefn_alloc_scope_;          \
    statement;                                                       \
    EXPECT_EQ(edgefn_alloc_scope_.count(), 0u) << "in: " #statement; \
  } while (0)
