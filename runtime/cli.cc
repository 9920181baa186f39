// The commands behind the command line.
#include "runtime/cli.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "functions/registry.h"
#include "runtime/io.h"
#include "runtime/log.h"
#include "runtime/server.h"

namespace edgefn::runtime {

namespace {

void print_diagnostics(const std::vector<Diagnostic>& errors) {
  for (const Diagnostic& error : errors)
    std::fprintf(stderr, "%s\n", error.to_string().c_str());
}

// Loads the manifest, applies the command line's overrides and builds the app; null with
// `errors` filled (or, for a bad override, a message on stderr) if anything is wrong.
std::unique_ptr<const App> load_app(const CommandLine& command, std::vector<Diagnostic>& errors) {
  std::optional<Manifest> manifest = load_manifest(command.manifest, errors);
  if (!manifest) return nullptr;
  bool overrides_ok = true;
  auto override_address = [&](const std::optional<std::string>& text, SocketAddress& target,
                              const char* flag) {
    if (!text) return;
    if (auto address = parse_socket_address(*text)) {
      target = *address;
    } else {
      std::fprintf(stderr, "edgefn: %s: invalid address \"%s\" (expected host:port)\n", flag,
                   text->c_str());
      overrides_ok = false;
    }
  };
  override_address(command.listen, manifest->server.listen, "--listen");
  override_address(command.admin, manifest->server.admin, "--admin");
  if (command.workers) manifest->server.workers = *command.workers;
  if (!overrides_ok) return nullptr;
  return build_app(std::move(*manifest), errors);
}

// As above, printing every problem to stderr.
std::unique_ptr<const App> load_app(const CommandLine& command) {
  std::vector<Diagnostic> errors;
  std::unique_ptr<const App> app = load_app(command, errors);
  print_diagnostics(errors);
  return app;
}

void log_message(LogLevel level, std::string_view message) {
  LogLine line(level, message);
  write_log_line(line);
}

}  // namespace

std::optional<CommandLine> parse_command_line(int argc, char** argv, std::string& error) {
  CommandLine command;
  if (argc < 2) return command;  // help
  const std::string_view verb = argv[1];
  if (verb == "--version" || verb == "version") {
    command.verb = CommandLine::Verb::kShowVersion;
    return command;
  }
  if (verb == "--help" || verb == "-h" || verb == "help") return command;
  if (verb == "functions") {
    command.verb = CommandLine::Verb::kFunctions;
    if (argc > 2) {
      error = "functions takes no arguments";
      return std::nullopt;
    }
    return command;
  }
  if (verb != "serve" && verb != "check") {
    error = "unknown command \"" + std::string(verb) + "\"";
    return std::nullopt;
  }
  command.verb = verb == "serve" ? CommandLine::Verb::kServe : CommandLine::Verb::kCheck;
  bool have_manifest = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--")) {
      if (command.verb != CommandLine::Verb::kServe) {
        error = "check takes only a manifest path";
        return std::nullopt;
      }
      if (arg == "--watch") {
        command.watch = true;
        continue;
      }
      // Both "--flag value" and "--flag=value".
      std::string_view name = arg;
      std::string value;
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        error = std::string(arg) + " needs a value";
        return std::nullopt;
      }
      if (name == "--listen") {
        command.listen = value;
      } else if (name == "--admin") {
        command.admin = value;
      } else if (name == "--log-level") {
        command.log_level = value;
      } else if (name == "--io") {
        if (IoMode mode; !parse_io_mode(value, mode)) {
          error = "--io expects auto, uring or epoll";
          return std::nullopt;
        }
        command.io = value;
      } else if (name == "--workers") {
        unsigned workers = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), workers);
        if (ec != std::errc() || end != value.data() + value.size() || workers > 1024) {
          error = "--workers expects a number from 0 to 1024";
          return std::nullopt;
        }
        command.workers = workers;
      } else {
        error = "unknown option " + std::string(name);
        return std::nullopt;
      }
    } else if (!have_manifest) {
      command.manifest = arg;
      have_manifest = true;
    } else {
      error = "unexpected argument \"" + std::string(arg) + "\"";
      return std::nullopt;
    }
  }
  if (command.verb == CommandLine::Verb::kCheck && !have_manifest) {
    error = "check needs a manifest path";
    return std::nullopt;
  }
  return command;
}

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgefn serve [MANIFEST] [--listen ADDR] [--admin ADDR] [--workers N]\n"
               "                    [--log-level debug|info|warn|error] [--watch]\n"
               "                    [--io auto|uring|epoll]\n"
               "       edgefn check MANIFEST\n"
               "       edgefn functions\n"
               "       edgefn --version\n"
               "MANIFEST defaults to ./edgefn.toml. SIGHUP reloads it; --watch also reloads it\n"
               "when it or a body_schema file changes. --io picks the I/O backend: auto (the\n"
               "default) serves with io_uring, or with epoll and a warning where io_uring is\n"
               "forbidden (container seccomp profiles); uring fails instead; epoll forces it.\n");
}

int run_check(const CommandLine& command) {
  std::unique_ptr<const App> app = load_app(command);
  if (!app) return 1;
  std::printf("%s: ok (%zu functions, %zu routes)\n", command.manifest.c_str(),
              app->functions().size(), app->routes().size());
  return 0;
}

int run_functions() {
  for (const api::ModuleSpec& spec : functions::Registry::instance().all()) {
    std::printf("%-10.*s %.*s\n", static_cast<int>(spec.name.size()), spec.name.data(),
                static_cast<int>(spec.summary.size()), spec.summary.data());
  }
  return 0;
}

namespace {

// The manifest's [log] level, unless --log-level chose one.
void apply_log_level(const CommandLine& command, const App& app) {
  if (!command.log_level) set_log_level(app.manifest().log.level);
}

}  // namespace

int run_serve(const CommandLine& command, const ProcessInfo& process) {
  if (command.log_level) {
    LogLevel level;
    if (!parse_log_level(*command.log_level, level)) {
      std::fprintf(stderr, "edgefn: --log-level: expected debug, info, warn or error\n");
      return 2;
    }
    set_log_level(level);
  }
  std::unique_ptr<const App> app = load_app(command);
  if (!app) return 1;
  apply_log_level(command, *app);
  const Duration drain_timeout = app->server().drain_timeout;

  // Every thread inherits this mask; the signals arrive through a signalfd that the first
  // worker reads on its ring, and a peer that resets a connection never raises SIGPIPE.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP, SIGPIPE})
    sigaddset(&signals, signal_number);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  sigdelset(&signals, SIGPIPE);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::fprintf(stderr, "edgefn: signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  // Every connection is a descriptor: take the hard limit rather than the shell's soft one
  // (often 1024), as nginx's worker_rlimit_nofile and Go's runtime do.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  Server server(std::move(app), signal_fd);
  IoMode io_mode = IoMode::kAuto;
  parse_io_mode(command.io, io_mode);  // checked by parse_command_line
  server.set_io_mode(io_mode);
  server.enable_reload(ReloadOptions{
      .load = [&command](std::vector<Diagnostic>& errors) -> std::shared_ptr<const App> {
        std::shared_ptr<const App> loaded = load_app(command, errors);
        if (loaded) apply_log_level(command, *loaded);  // a valid manifest is applied
        return loaded;
      },
      .watch = command.watch,
  });
  std::string error;
  if (!server.start(error)) {
    std::fprintf(stderr, "edgefn: %s\n", error.c_str());
    LogLine line(LogLevel::kError, "start failed");
    line.field("error", error);
    write_log_line(line);
    return 1;
  }
  const auto startup = std::chrono::steady_clock::now() - process.started;
  server.note_startup(std::chrono::duration_cast<std::chrono::nanoseconds>(startup));
  {
    LogLine line(LogLevel::kInfo, "ready");
    line.field("listen", server.listen_address().to_string())
        .field("admin", server.admin_address().to_string())
        .field("workers", server.workers())
        .field("startup_us",
               static_cast<std::int64_t>(
                   std::chrono::duration_cast<std::chrono::microseconds>(startup).count()))
        .field("allocator", process.allocator)
        .field("io", io_backend_name(server.io_backend()))
        .field("version", kVersion);
    write_log_line(line);
  }

  if (server.run() == Worker::Exit::kDrainTimeout) {
    LogLine line(LogLevel::kWarn, "drain timeout: closing remaining connections");
    line.field("connections", server.open_connections());
    write_log_line(line);
    std::_Exit(0);  // the other workers' threads are still serving their last connections
  }
  log_message(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace edgefn::runtime
