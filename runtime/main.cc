// edgefn's entry point: parse the command line, say which allocator runs, hand over.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/cli.h"

#if EDGEFN_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace {

// mimalloc replaces malloc only when its override was linked in; ask it rather than assume.
std::string_view detect_allocator() {
#if EDGEFN_WITH_MIMALLOC
  void* probe = std::malloc(16);
  const bool mimalloc = mi_is_in_heap_region(probe);
  std::free(probe);
  if (mimalloc) return "mimalloc";
#endif
  return "glibc";
}

}  // namespace

int main(int argc, char** argv) {
  using edgefn::runtime::CommandLine;
  const auto started = std::chrono::steady_clock::now();
  std::string error;
  const auto command = edgefn::runtime::parse_command_line(argc, argv, error);
  if (!command) {
    std::fprintf(stderr, "edgefn: %s\n", error.c_str());
    edgefn::runtime::print_usage(stderr);
    return 2;
  }
  switch (command->verb) {
    case CommandLine::Verb::kServe:
      return edgefn::runtime::run_serve(*command, {started, detect_allocator()});
    case CommandLine::Verb::kCheck:
      return edgefn::runtime::run_check(*command);
    case CommandLine::Verb::kFunctions:
      return edgefn::runtime::run_functions();
    case CommandLine::Verb::kShowVersion:
      std::printf("edgefn %.*s\n", static_cast<int>(edgefn::runtime::kVersion.size()),
                  edgefn::runtime::kVersion.data());
      return 0;
    case CommandLine::Verb::kHelp:
      edgefn::runtime::print_usage(stdout);
      return 0;
  }
  return 0;
}
