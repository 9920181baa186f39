// Request validation at the edge: a function's JSON Schema (draft 7) for the body and its rules
// for query parameters and headers, compiled once when the App is built and checked on every
// routed request before the function runs. A failed check is an ordinary 400 whose JSON body
// names what failed (Rejection).
//
// Threads: RequestRules and BodySchema are immutable after compilation and shared read-only by
// every worker. The mutable per-call state (the parsed document, its memory pools, valijson's
// regex cache and results, decode buffers) lives in a ValidationScratch, one per thread.
#pragma once

#include <cstddef>
#include <memory>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "functions/api/request.h"
#include "router/pattern.h"

namespace edgefn::router {

// JSON text nested deeper than this (arrays and objects) is refused before it is parsed: the
// DOM, valijson's visitors and value comparisons all recurse on depth.
inline constexpr std::size_t kMaxJsonDepth = 128;

// A compiled JSON Schema (draft 7). Immutable; safe to validate against from many threads.
class BodySchema {
 public:
  // Parses and compiles `text`. On failure returns nullptr and sets `error` to a one-line reason
  // ("not JSON: ... at offset N", "not a valid JSON Schema: ..."). Allocates; may be slow: call
  // it at build time only.
  static std::unique_ptr<const BodySchema> compile(std::string_view text, std::string& error);

  ~BodySchema();
  BodySchema(const BodySchema&) = delete;
  BodySchema& operator=(const BodySchema&) = delete;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit BodySchema(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One rule on a query parameter or header: the name must be present (`required`), and every
// value it has must fully match `pattern` (when `has_pattern`).
struct ParamRule {
  std::string name;  // query: as written (compared after percent-decoding); header: lower-case
  bool required = false;
  bool has_pattern = false;
  std::string pattern_text;  // as written in the manifest, for messages
  Pattern pattern;           // ECMAScript, matched against the whole value
};

// Compiles an ECMAScript regular expression. Returns false and sets `error` (std::regex's
// reason) when it is invalid. Build time only.
bool compile_pattern(std::string_view text, Pattern& out, std::string& error);

// Everything checked for one function. Default-constructed: checks nothing.
struct RequestRules {
  std::unique_ptr<const BodySchema> body;  // null: the body is not validated
  std::vector<ParamRule> query;
  std::vector<ParamRule> headers;

  bool empty() const { return !body && query.empty() && headers.empty(); }
};

// Why a request was refused: the error message and the extra JSON members of the 400 body,
// preformatted without a leading comma (`"pointer":"/a/0","keyword":"minimum"`). Its strings
// keep their capacity when reused.
struct Rejection {
  std::string message;
  std::string members;
};

// Per-thread mutable state of validation. Not thread-safe; keep one per thread (for_thread()).
class ValidationScratch {
 public:
  ValidationScratch();
  ~ValidationScratch();
  ValidationScratch(const ValidationScratch&) = delete;
  ValidationScratch& operator=(const ValidationScratch&) = delete;

  // The calling thread's scratch, created on its first use and kept until the thread exits.
  static ValidationScratch& for_thread();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Checks the query string (raw, without '?'): names and values are percent-decoded, '+' as a
// space (application/x-www-form-urlencoded; an invalid escape stays as written). A parameter
// given more than once must match on every occurrence. Returns false and fills `rejection`
// on the first rule that fails, in rule order.
bool validate_query(std::span<const ParamRule> rules, std::string_view query,
                    ValidationScratch& scratch, Rejection& rejection);

// Checks headers (names lower-case, as the parser delivers them); every occurrence of a header
// must match its pattern.
bool validate_headers(std::span<const ParamRule> rules, const api::HeaderList& headers,
                      Rejection& rejection);

// Parses `body` as one JSON value (any type; invalid UTF-8 is invalid JSON) and validates it.
// On failure `rejection` says why: an empty body, invalid JSON (rapidjson's message and the
// byte offset), or the first schema failure with its JSON Pointer (RFC 6901) and keyword.
//
// Allocation: the document is parsed into the scratch's pools, whose fixed buffers cover a body
// of several KiB without touching the heap (larger bodies take chunks that are freed before the
// next call). The decision (detail::CheckVisitor) reads the values in place and allocates only
// inside std::regex, a few times per `pattern` checked; a pattern is compiled on this thread's
// first use of it. A failing body is validated a second time by valijson's own visitor, which
// collects results to name the failure and allocates about 22 times per object it visits.
// `format` is an annotation, never asserted: compile() removes it, because valijson 1.0
// compiles a std::regex for every string it checks against one (about 0.5 ms each).
bool validate_body(const BodySchema& schema, std::string_view body, ValidationScratch& scratch,
                   Rejection& rejection);

// All of a function's checks for one request, in order: query, headers, then the body unless
// the method has no body semantics (GET, HEAD). True when the request may run.
bool validate_request(const RequestRules& rules, std::string_view method, std::string_view query,
                      const api::HeaderList& headers, std::string_view body,
                      ValidationScratch& scratch, Rejection& rejection);

// Appends the RFC 6901 form of one reference token ('~' -> "~0", '/' -> "~1") after a '/'.
void append_pointer_token(std::string& pointer, std::string_view token);

}  // namespace edgefn::router
