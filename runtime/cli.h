// The command line: `edgefn serve|check|functions|--version`. main() parses; these run.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgefn::runtime {

inline constexpr std::string_view kVersion = "0.1.0";

struct CommandLine {
  enum class Verb { kServe, kCheck, kFunctions, kShowVersion, kHelp };
  Verb verb = Verb::kHelp;
  std::string manifest = "edgefn.toml";
  // serve's overrides of [server]
  std::optional<std::string> listen;
  std::optional<std::string> admin;
  std::optional<unsigned> workers;
  std::optional<std::string> log_level;
  bool watch = false;  // serve --watch: reload when the manifest or a schema file changes
  // serve --io: auto (io_uring, else epoll with a warning), uring (io_uring or exit 1), epoll
  std::string io = "auto";
};

// Parses argv; on a usage error returns nullopt and sets `error`.
std::optional<CommandLine> parse_command_line(int argc, char** argv, std::string& error);

// What the process knows before the manifest: when main() started, which malloc is in use.
struct ProcessInfo {
  std::chrono::steady_clock::time_point started;
  std::string_view allocator;  // "mimalloc" or "glibc"
};

// Each returns the process exit code.
int run_serve(const CommandLine& command, const ProcessInfo& process);
int run_check(const CommandLine& command);
int run_functions();
void print_usage(std::FILE* out);

}  // namespace edgefn::runtime
