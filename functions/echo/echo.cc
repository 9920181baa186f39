// The `echo` module: serializes the request as JSON into the arena response.
#include "functions/echo/echo.h"

#include <charconv>
#include <cstddef>
#include <memory_resource>
#include <span>
#include <string_view>

#include "functions/api/ascii.h"
#include "functions/api/json.h"

namespace edgefn::functions {

namespace {

void append_key(std::pmr::string& out, std::string_view key) {
  api::json::append_string(out, key);
  out.push_back(':');
}

void append_headers(std::pmr::string& out, const api::HeaderList& headers,
                    std::pmr::memory_resource* arena) {
  const std::span<const api::Header> all(headers.begin(), headers.end());
  std::pmr::string scratch(arena);  // folded name or joined values; reused across fields
  out.push_back('{');
  bool first_member = true;
  // Quadratic in the field count, but that count is bounded by the runtime's header limit and
  // this needs no map, so nothing leaves the arena.
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j)
      seen = api::ascii::iequals(all[j].name, all[i].name);
    if (seen) continue;
    if (!first_member) out.push_back(',');
    first_member = false;

    scratch.assign(all[i].name);
    for (char& c : scratch)
      c = api::ascii::to_lower(c);
    append_key(out, scratch);

    std::size_t repeats = 0;
    for (std::size_t j = i + 1; j < all.size(); ++j)
      repeats += api::ascii::iequals(all[j].name, all[i].name);
    if (repeats == 0) {
      api::json::append_string(out, all[i].value);
      continue;
    }
    scratch.assign(all[i].value);
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (api::ascii::iequals(all[j].name, all[i].name)) scratch.append(", ").append(all[j].value);
    }
    api::json::append_string(out, scratch);
  }
  out.push_back('}');
}

// An upper bound for typical requests, so the body is usually one arena allocation: escaping
// rarely grows text by much, base64 grows it by 4/3, and a monotonic arena cannot reuse the
// buffer a growing string leaves behind.
std::size_t estimate_size(const api::Request& request) {
  std::size_t n = 160 + request.method.size() + request.path.size() + request.query.size();
  for (const api::Param& p : request.params)
    n += p.name.size() + p.value.size() + 6;
  for (const api::Header& h : request.headers)
    n += h.name.size() + h.value.size() + 8;
  return n + request.body.size() / 3 * 4 + 4;
}

}  // namespace

std::unique_ptr<api::Module> EchoModule::create(const api::Config& config, std::string& error) {
  std::string problems;
  std::chrono::milliseconds delay{0};
  for (const auto& [key, value] : config.values()) {
    if (key == "delay_ms") {
      const std::optional<std::int64_t> ms = config.integer(key);
      if (ms && *ms >= 0 && *ms <= kMaxDelayMs) {
        delay = std::chrono::milliseconds(*ms);
        continue;
      }
      if (!problems.empty()) problems += "; ";
      problems.append("delay_ms: expected milliseconds from 0 to ")
          .append(std::to_string(kMaxDelayMs));
      continue;
    }
    if (!problems.empty()) problems += "; ";
    problems.append(key).append(": unknown key (echo accepts: delay_ms)");
  }
  if (!problems.empty()) {
    error = std::move(problems);
    return nullptr;
  }
  return std::make_unique<EchoModule>(delay);
}

api::Task<api::Response> EchoModule::handle(const api::Request& request, api::Context& ctx) const {
  if (delay_.count() != 0) co_await ctx.sleep(delay_);
  api::Response response = ctx.response(200);
  response.set_header("Content-Type", "application/json");
  std::pmr::string& out = response.body;
  out.reserve(estimate_size(request));

  out.push_back('{');
  append_key(out, "method");
  api::json::append_string(out, request.method);
  out.push_back(',');
  append_key(out, "path");
  api::json::append_string(out, request.path);
  out.push_back(',');
  append_key(out, "query");
  api::json::append_string(out, request.query);
  out.push_back(',');

  append_key(out, "params");
  out.push_back('{');
  bool first_param = true;
  for (const api::Param& p : request.params) {
    if (!first_param) out.push_back(',');
    first_param = false;
    append_key(out, p.name);
    api::json::append_string(out, p.value);
  }
  out.append("},");

  append_key(out, "headers");
  append_headers(out, request.headers, ctx.arena());
  out.push_back(',');

  append_key(out, "body_bytes");
  char digits[24];
  // 24 digits hold any 64-bit size, so to_chars cannot fail here.
  const std::to_chars_result printed =
      std::to_chars(digits, digits + sizeof digits, request.body.size());
  out.append(digits, static_cast<std::size_t>(printed.ptr - digits));
  out.push_back(',');

  append_key(out, "body");
  const bool text = api::json::is_valid_utf8(request.body);
  if (text) {
    api::json::append_string(out, request.body);
  } else {
    out.push_back('"');
    api::json::append_base64(out, request.body);
    out.push_back('"');
  }
  out.push_back(',');
  append_key(out, "body_encoding");
  out.append(text ? "\"utf-8\"" : "\"base64\"");
  out.push_back('}');
  co_return response;
}

}  // namespace edgefn::functions
