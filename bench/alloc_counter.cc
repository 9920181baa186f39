// The tests' counting operator new/delete, reused so each benchmark can report allocations per
// iteration (edgefn::testing::allocation_count()).
#include "tests/support/alloc_counter.cc"
