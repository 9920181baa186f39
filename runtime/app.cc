// Building an App: modules from the registry, their init, and the route table.
#include "runtime/app.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "functions/registry.h"
#include "runtime/file_text.h"

namespace edgefn::runtime {
namespace {

// Where a route error points: the function and the route's index within it.
struct RouteOrigin {
  std::size_t function = 0;
  std::size_t route = 0;
};

std::string function_key(const FunctionConfig& function) {
  return "functions." + function.name;
}

std::string route_key(const FunctionConfig& function, std::size_t route) {
  return function_key(function) + ".routes[" + std::to_string(route) + "]";
}

// The router names the other side of a conflict by its index among all specs, a number that
// means nothing to the manifest's author; name it by its manifest key and line instead.
std::string describe_route_error(const router::RouteError& error,
                                 const std::vector<RouteOrigin>& origins,
                                 const Manifest& manifest) {
  if (!error.conflicts_with || *error.conflicts_with >= origins.size()) return error.message;
  const RouteOrigin& origin = origins[*error.conflicts_with];
  const FunctionConfig& function = manifest.functions[origin.function];
  const RouteDecl& route = function.routes[origin.route];
  return "conflicts with " + route_key(function, origin.route) + " \"" + route.method + " " +
         route.pattern + "\" (line " + std::to_string(route.position.line) + ")";
}

// A JSON Schema larger than this is a mistake, not a schema.
constexpr std::size_t kMaxSchemaBytes = 1 << 20;

// A schema file's text, or nullopt with `error` set. Read at build time, off the data plane.
std::optional<std::string> read_schema(const std::string& path, std::string& error) {
  std::string text;
  int error_number = 0;
  switch (read_file_text(path, kMaxSchemaBytes, text, error_number)) {
    case FileTextStatus::kRead:
      return text;
    case FileTextStatus::kCannotOpen:
      error = "cannot open \"" + path + "\": " + std::strerror(error_number);
      break;
    case FileTextStatus::kCannotRead:
      error = "cannot read \"" + path + "\": " + std::strerror(error_number);
      break;
    case FileTextStatus::kTooLarge:
      error = "\"" + path + "\" is larger than 1MiB";
      break;
  }
  return std::nullopt;
}

// Compiles the declared query or header rules; a bad pattern is reported at its position.
std::vector<router::ParamRule> compile_rules(
    const std::vector<ParamDecl>& declared,
    const std::function<void(const ParamDecl&, std::string)>& report) {
  std::vector<router::ParamRule> rules;
  for (const ParamDecl& decl : declared) {
    router::ParamRule rule;
    rule.name = decl.name;
    rule.required = decl.required;
    rule.has_pattern = decl.has_pattern;
    rule.pattern_text = decl.pattern;
    std::string error;
    if (decl.has_pattern && !router::compile_pattern(decl.pattern, rule.pattern, error)) {
      report(decl, std::move(error));
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

// The policy of a `cors` table; without `methods`, the methods of the function's routes.
router::CorsPolicy make_cors(const CorsDecl& declared, const std::vector<RouteDecl>& routes) {
  router::CorsSettings settings;
  settings.origins = declared.origins;
  settings.methods = declared.methods;
  if (settings.methods.empty()) {
    for (const RouteDecl& route : routes) {
      if (std::find(settings.methods.begin(), settings.methods.end(), route.method) ==
          settings.methods.end()) {
        settings.methods.push_back(route.method);
      }
    }
  }
  settings.headers = declared.headers;
  settings.expose = declared.expose;
  settings.max_age_seconds = declared.max_age_seconds;
  settings.credentials = declared.credentials;
  return router::CorsPolicy::make(std::move(settings));
}

}  // namespace

std::unique_ptr<const App> build_app(Manifest manifest, std::vector<Diagnostic>& errors) {
  const std::size_t first_error = errors.size();
  const functions::Registry& registry = functions::Registry::instance();
  auto report = [&](SourcePosition position, std::string key, std::string message) {
    errors.push_back(Diagnostic{manifest.path, position, std::move(key), std::move(message)});
  };

  auto compile_request_rules = [&](const FunctionConfig& declared, Function& function) {
    if (!declared.body_schema.empty()) {
      const std::string file = declared.body_schema.starts_with('/')
                                   ? declared.body_schema
                                   : manifest.dir + "/" + declared.body_schema;
      std::string error;
      if (std::optional<std::string> text = read_schema(file, error)) {
        function.rules.body = router::BodySchema::compile(*text, error);
        if (!function.rules.body) error = file + ": " + error;
      }
      if (!function.rules.body) {
        report(declared.body_schema_position, function_key(declared) + ".body_schema",
               std::move(error));
      }
    }
    const auto bad_pattern = [&](const ParamDecl& decl, std::string message) {
      report(decl.position, decl.key, std::move(message));
    };
    function.rules.query = compile_rules(declared.query, bad_pattern);
    function.rules.headers = compile_rules(declared.headers, bad_pattern);
  };

  // Every module is created even after an earlier failure, so one run reports every bad config.
  std::vector<Function> functions;
  functions.reserve(manifest.functions.size());
  for (const FunctionConfig& declared : manifest.functions) {
    Function function;
    function.name = declared.name;
    function.module_name = declared.module;
    function.config = declared.config;
    function.host = declared.host;
    function.max_body_bytes = declared.max_body_bytes.value_or(manifest.server.max_body_bytes);
    for (const RouteDecl& route : declared.routes) {
      function.routes.push_back(route.method + " " + route.pattern);
    }

    if (const api::ModuleSpec* spec = registry.find(declared.module)) {
      std::string error;
      // The manifest's copy of the config moves into the App with its vector's buffer, so it
      // outlives the module even if a module keeps a reference to it.
      function.module = spec->create(declared.config, error);
      if (!function.module) {
        // A config problem points at the config table; a module that needs a config the
        // author did not write points at the function.
        const bool has_config = declared.config_position.line != 0;
        if (error.empty()) error = "module \"" + declared.module + "\" failed to initialize";
        report(has_config ? declared.config_position : declared.position,
               has_config ? function_key(declared) + ".config" : function_key(declared),
               std::move(error));
      }
    } else {
      report(declared.module_position, function_key(declared) + ".module",
             "unknown module \"" + declared.module + "\"; this binary has: " + registry.names());
    }
    compile_request_rules(declared, function);
    if (declared.cors) function.cors = make_cors(*declared.cors, declared.routes);
    if (declared.rate_limit) {
      function.rate_limit = std::make_unique<router::RateLimiter>(router::RateLimitSettings{
          .per_second = declared.rate_limit->per_second,
          .burst = declared.rate_limit->burst,
          .header = declared.rate_limit->header,
      });
    }
    if (declared.concurrency) {
      function.concurrency = std::make_unique<router::ConcurrencyLimit>(router::ConcurrencySettings{
          .max = declared.concurrency->max,
          .queue = declared.concurrency->queue,
          .queue_timeout = declared.concurrency->queue_timeout,
      });
    }
    function.timeout = declared.timeout.value_or(Duration{});
    function.offload = declared.offload;
    for (const std::string& name : declared.upstreams) {
      for (std::size_t u = 0; u < manifest.upstreams.size(); ++u) {
        if (manifest.upstreams[u].name == name) {
          function.upstreams.push_back(static_cast<std::uint32_t>(u));
        }
      }
    }
    function.cache = declared.cache;
    for (const ResponseHeaderDecl& header : declared.response_headers) {
      function.response_header_lines += header.name + ": " + header.value + "\r\n";
    }
    functions.push_back(std::move(function));
  }

  std::vector<router::RouteSpec> specs;
  std::vector<RouteOrigin> origins;
  for (std::size_t f = 0; f < manifest.functions.size(); ++f) {
    const FunctionConfig& declared = manifest.functions[f];
    for (std::size_t r = 0; r < declared.routes.size(); ++r) {
      specs.push_back(router::RouteSpec{declared.host, declared.routes[r].method,
                                        declared.routes[r].pattern, static_cast<std::uint32_t>(f)});
      origins.push_back(RouteOrigin{f, r});
    }
  }
  std::vector<router::RouteError> route_errors;
  router::RouteTable table = router::RouteTable::build(specs, route_errors);
  for (const router::RouteError& route_error : route_errors) {
    if (route_error.spec >= origins.size()) {
      // The router's contract is that `spec` indexes what it was given; anything else is a bug
      // there, still worth reporting rather than dropping.
      report(SourcePosition{}, "", route_error.message);
      continue;
    }
    const RouteOrigin& origin = origins[route_error.spec];
    const FunctionConfig& declared = manifest.functions[origin.function];
    report(declared.routes[origin.route].position, route_key(declared, origin.route),
           describe_route_error(route_error, origins, manifest));
  }

  // Module failures come in function order, route errors in router order: report in file order.
  std::stable_sort(errors.begin() + static_cast<std::ptrdiff_t>(first_error), errors.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.position.line != b.position.line
                                ? a.position.line < b.position.line
                                : a.position.column < b.position.column;
                   });
  if (errors.size() != first_error) return nullptr;
  return std::make_unique<const App>(std::move(manifest), std::move(functions), std::move(table));
}

}  // namespace edgefn::runtime
