// The request a module sees: views into the connection's buffers, valid until handle()'s task
// completes. Nothing here owns memory and nothing here allocates.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace edgefn::api {

// One header field. Names are lower-case (the runtime folds them before any module runs).
struct Header {
  std::string_view name;
  std::string_view value;
};

// One route parameter: `:name` or `*rest` of the matched pattern, percent-decoded.
struct Param {
  std::string_view name;
  std::string_view value;
};

// A read-only list of name/value pairs with lookup by exact name. Header lists are searched
// with a lower-case name.
template <class Entry>
class EntryList {
 public:
  constexpr EntryList() = default;
  constexpr explicit EntryList(std::span<const Entry> entries) : entries_(entries) {}

  // The first entry called `name`, or nullopt.
  constexpr std::optional<std::string_view> get(std::string_view name) const {
    for (const Entry& e : entries_) {
      if (e.name == name) return e.value;
    }
    return std::nullopt;
  }
  constexpr auto begin() const { return entries_.begin(); }
  constexpr auto end() const { return entries_.end(); }
  constexpr std::size_t size() const { return entries_.size(); }
  constexpr bool empty() const { return entries_.empty(); }

 private:
  std::span<const Entry> entries_;
};

using HeaderList = EntryList<Header>;
using ParamList = EntryList<Param>;

struct Request {
  std::string_view method;     // "GET", "POST", ... exactly as sent (methods are case-sensitive)
  std::string_view target;     // the request target as sent (origin- or absolute-form)
  std::string_view path;       // percent-decoded once, normalized, always starts with '/'
  std::string_view query;      // raw query string without the '?', empty if none
  std::string_view host;       // Host header or absolute-form authority, lower-case, port kept
  std::string_view client_ip;  // peer address, textual
  // W3C trace context: the client's traceparent when it sent a valid one, else one made at the
  // edge ("00-<trace id>-<parent id>-00"); ctx.fetch passes it on. Empty in a background
  // refresh.
  std::string_view traceparent;
  int http_minor = 1;  // HTTP/1.<minor>
  HeaderList headers;
  ParamList params;
  std::string_view body;  // complete body, de-chunked
};

// The raw (still percent-encoded) value of the first `name` parameter of a query string (without
// '?'): empty for "name" without '=', nullopt when absent. Allocates nothing.
constexpr std::optional<std::string_view> query_value(std::string_view query,
                                                      std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

}  // namespace edgefn::api
