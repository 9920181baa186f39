// Admin pages. Liveness is the process answering; readiness ends when a drain starts.
#include "runtime/admin.h"

#include "functions/api/json.h"
#include "functions/api/response.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

void respond_json(std::string& out, int status, std::string_view body,
                  const http::ResponseFraming& framing) {
  api::Response response;
  response.status = status;
  response.set_header("Content-Type", "application/json");
  response.set_header("Cache-Control", "no-store");
  response.body = body;
  http::write_response(out, response, framing);
}

}  // namespace

void respond_admin(std::string_view method, std::string_view path, const SharedState& shared,
                   const App& app, std::string& out, const http::ResponseFraming& framing) {
  const bool known = path == "/healthz" || path == "/readyz" || path == "/functions";
  if (!known) {
    http::write_error(out, 404, "no such admin page", framing);
    return;
  }
  if (method != "GET" && method != "HEAD") {
    http::write_error(out, 405, "method not allowed for this path", framing,
                      "Allow: GET, HEAD\r\n");
    return;
  }
  if (path == "/healthz") {
    respond_json(out, 200, "{\"status\":\"ok\"}\n", framing);
  } else if (path == "/readyz") {
    if (shared.draining.load(std::memory_order_relaxed)) {
      respond_json(out, 503, "{\"status\":\"draining\"}\n", framing);
    } else {
      respond_json(out, 200, "{\"status\":\"ready\"}\n", framing);
    }
  } else {
    respond_json(out, 200, functions_json(app), framing);
  }
}

std::string functions_json(const App& app) {
  std::string out = "{\"functions\":[";
  bool first = true;
  for (const Function& function : app.functions()) {
    out += first ? "" : ",";
    first = false;
    out += "{\"name\":";
    api::json::append_string(out, function.name);
    out += ",\"module\":";
    api::json::append_string(out, function.module_name);
    out += ",\"host\":";
    if (function.host.empty()) {
      out += "null";
    } else {
      api::json::append_string(out, function.host);
    }
    out += ",\"max_body_bytes\":";
    out += std::to_string(function.max_body_bytes);
    out += ",\"routes\":[";
    for (std::size_t i = 0; i < function.routes.size(); ++i) {
      if (i > 0) out += ',';
      api::json::append_string(out, function.routes[i]);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace edgefn::runtime
