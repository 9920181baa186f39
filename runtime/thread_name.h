// Names the calling thread, as `top -H`, `ps -L` and /proc/<pid>/task/*/comm show it, so an
// operator (or a benchmark pinning threads to CPUs) can tell workers from pool threads. Linux
// keeps at most 15 characters.
#pragma once

#include <pthread.h>

namespace edgefn::runtime {

inline void name_thread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace edgefn::runtime
