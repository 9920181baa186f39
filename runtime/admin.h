// The admin listener's pages: /healthz, /readyz, /functions. Served by one worker on the admin
// socket with the same HTTP codec as public traffic.
#pragma once

#include <string>
#include <string_view>

#include "runtime/app.h"
#include "runtime/http_writer.h"

namespace edgefn::runtime {

class SharedState;

// Appends the response to an admin request for `path` (raw, query ignored) to `out`; `app` is
// the one the worker serves new requests with.
void respond_admin(std::string_view method, std::string_view path, const SharedState& shared,
                   const App& app, std::string& out, const http::ResponseFraming& framing);

// The /functions document: {"functions":[{"name","module","host","routes":[...]}...]}.
std::string functions_json(const App& app);

}  // namespace edgefn::runtime
