// Response header fields: case-insensitive look-up and replacement, strings kept in the arena.
#include "functions/api/response.h"

#include "functions/api/ascii.h"
#include "functions/api/json.h"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace edgefn::api {

void Response::set_header(std::string_view name, std::string_view value) {
  auto first = std::find_if(headers_.begin(), headers_.end(),
                            [&](const HeaderField& f) { return ascii::iequals(f.name, name); });
  if (first == headers_.end()) {
    add_header(name, value);
    return;
  }
  // The replacement keeps the position of the first field, so a module that rewrites a header
  // does not reorder the others; assign() reuses the arena strings' capacity.
  first->name.assign(name);
  first->value.assign(value);
  auto rest = std::remove_if(first + 1, headers_.end(),
                             [&](const HeaderField& f) { return ascii::iequals(f.name, name); });
  headers_.erase(rest, headers_.end());
}

void Response::add_header(std::string_view name, std::string_view value) {
  // HeaderField is an aggregate, so the vector's allocator does not reach its strings by itself:
  // build them on the vector's resource explicitly, or they would land on the global heap.
  std::pmr::memory_resource* arena = headers_.get_allocator().resource();
  headers_.push_back(HeaderField{std::pmr::string(name, arena), std::pmr::string(value, arena)});
}

std::string_view Response::header(std::string_view name) const {
  for (const HeaderField& f : headers_) {
    if (ascii::iequals(f.name, name)) return f.value;
  }
  return {};
}

Response error_response(int status, std::string_view message, std::pmr::memory_resource* arena) {
  Response response(status, arena);
  response.set_header("Content-Type", "application/json");
  response.body.reserve(message.size() + 32);
  response.body.append("{\"error\":");
  json::append_string(response.body, message);
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
  response.body.append(",\"status\":").append(digits, end).push_back('}');
  return response;
}

}  // namespace edgefn::api
