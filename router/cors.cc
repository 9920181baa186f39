// CORS policy: origin matching and the preformatted Access-Control-* lines.
#include "router/cors.h"

#include <algorithm>

#include "functions/api/ascii.h"

namespace edgefn::router {
namespace {

constexpr std::string_view kCrlf = "\r\n";

using api::ascii::iequals;

using api::ascii::trim_ows;

std::string line(std::string_view name, std::span<const std::string> values) {
  std::string text(name);
  text += ": ";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) text += ", ";
    text += values[i];
  }
  text += kCrlf;
  return text;
}

}  // namespace

CorsPolicy CorsPolicy::make(CorsSettings settings) {
  CorsPolicy policy;
  policy.any_origin_ =
      std::find(settings.origins.begin(), settings.origins.end(), "*") != settings.origins.end();
  policy.methods_line_ = line("Access-Control-Allow-Methods", settings.methods);
  if (!settings.headers.empty()) {
    policy.headers_line_ = line("Access-Control-Allow-Headers", settings.headers);
  }
  if (settings.max_age_seconds) {
    policy.max_age_line_ =
        "Access-Control-Max-Age: " + std::to_string(*settings.max_age_seconds) + "\r\n";
  }
  if (settings.credentials) policy.credentials_line_ = "Access-Control-Allow-Credentials: true\r\n";
  if (!settings.expose.empty()) {
    policy.expose_line_ = line("Access-Control-Expose-Headers", settings.expose);
  }
  policy.settings_ = std::move(settings);
  return policy;
}

bool CorsPolicy::origin_allowed(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_origin_) return true;
  // Browsers serialize origins in lower case; the manifest's are folded the same way.
  return std::any_of(settings_.origins.begin(), settings_.origins.end(),
                     [&](const std::string& allowed) { return allowed == origin; });
}

void CorsPolicy::append_origin(std::string_view origin, std::string& out) const {
  out.append("Access-Control-Allow-Origin: ");
  // "*" only when any origin may call and no credentials are involved; otherwise the origin is
  // echoed and caches must key on it.
  if (any_origin_ && !settings_.credentials) {
    out.append("*");
    out.append(kCrlf);
    return;
  }
  out.append(origin);
  out.append(kCrlf);
  out.append("Vary: Origin\r\n");
}

bool CorsPolicy::preflight(std::string_view origin, std::string_view method,
                           std::string_view request_headers, std::string& out) const {
  if (!origin_allowed(origin)) return false;
  // Browsers let the CORS-safelisted methods through whatever Allow-Methods says (Fetch's
  // CORS-preflight fetch checks only the others), so refusing them here would only block
  // requests a browser would have made.
  const bool safelisted = method == "GET" || method == "HEAD" || method == "POST";
  if (!safelisted && std::find(settings_.methods.begin(), settings_.methods.end(), method) ==
                         settings_.methods.end()) {
    return false;
  }
  while (!request_headers.empty()) {
    const std::size_t comma = request_headers.find(',');
    const std::string_view name = trim_ows(request_headers.substr(0, comma));
    request_headers =
        comma == std::string_view::npos ? std::string_view{} : request_headers.substr(comma + 1);
    if (name.empty()) continue;
    if (std::none_of(settings_.headers.begin(), settings_.headers.end(),
                     [&](const std::string& allowed) { return iequals(allowed, name); })) {
      return false;
    }
  }
  append_origin(origin, out);
  out.append(methods_line_);
  out.append(headers_line_);
  out.append(max_age_line_);
  out.append(credentials_line_);
  return true;
}

bool CorsPolicy::actual(std::string_view origin, std::string& out) const {
  if (!origin_allowed(origin)) return false;
  append_origin(origin, out);
  out.append(credentials_line_);
  out.append(expose_line_);
  return true;
}

}  // namespace edgefn::router
