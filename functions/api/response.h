// The response a module builds. Its strings live in the request's arena (Context::arena()), so
// building one costs no heap allocation a connection could reuse.
#pragma once

#include <memory_resource>
#include <string>
#include <string_view>
#include <vector>

namespace edgefn::api {

struct HeaderField {
  std::pmr::string name;
  std::pmr::string value;
};

class Response;

// A JSON error answer: `status`, Content-Type application/json and the body
// {"error":"<message>","status":<status>}, its strings in `arena`.
Response error_response(int status, std::string_view message, std::pmr::memory_resource* arena);

class Response {
 public:
  // The default resource is for tests and for code outside a request; modules pass ctx.arena()
  // or use Context::response().
  explicit Response(std::pmr::memory_resource* arena = std::pmr::get_default_resource())
      : body(arena), headers_(arena) {}
  Response(int status_code, std::pmr::memory_resource* arena) : Response(arena) {
    status = status_code;
  }

  // Replaces every field called `name` (compared case-insensitively) with one field.
  void set_header(std::string_view name, std::string_view value);
  // Appends a field, keeping any earlier one of the same name (e.g. Set-Cookie).
  void add_header(std::string_view name, std::string_view value);
  // The value of the first field called `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
  const std::pmr::vector<HeaderField>& headers() const { return headers_; }

  // The body as the runtime sends and stores it: the one set_body_view() gave, else `body`.
  std::string_view content() const { return has_view_ ? view_ : std::string_view(body); }
  // Sends `bytes` as the body without a copy into the arena; `body` is then ignored. The bytes
  // must stay valid until the runtime has written the response: memory the module keeps for
  // its lifetime, or a ctx.fetch result (valid until the request's next fetch), as a proxy
  // passes its origin's body on.
  void set_body_view(std::string_view bytes) {
    view_ = bytes;
    has_view_ = true;
  }

  int status = 200;
  std::pmr::string body;

 private:
  std::pmr::vector<HeaderField> headers_;
  std::string_view view_;
  bool has_view_ = false;
};

}  // namespace edgefn::api
