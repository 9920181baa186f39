// Fuzz target: request bytes through the path a connection takes before any function runs —
// llhttp and its glue (RequestParser), path decoding, the route table, the body limit of the
// matched route (413) and the parser's own limits (431, 414) — for every request pipelined in
// the input. Each input is parsed twice: in one piece and one byte at a time, appended to a
// growing buffer as bytes arrive from a socket (so the buffer moves under the parser's offsets).
// Requests both passes complete must come out the same: splitting must not change a request.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "functions/api/request.h"
#include "fuzz/check.h"
#include "router/path.h"
#include "router/route_table.h"
#include "runtime/http_parser.h"

namespace edgefn::fuzz {
namespace {

namespace http = runtime::http;

// Small limits, so that inputs of a few KiB reach every one of them.
constexpr http::ParserLimits kLimits{
    .max_header_bytes = 2048, .max_target_bytes = 512, .max_body_bytes = 1024};

// Routes of every kind the table distinguishes (literal, parameter, wildcard, host-bound), each
// with its own body limit, as the manifest's functions would have.
struct FuzzRoute {
  const char* host;
  const char* method;
  const char* pattern;
  std::uint64_t max_body_bytes;
};
constexpr std::array<FuzzRoute, 8> kRoutes = {{
    {"", "GET", "/hello", 1024},
    {"", "GET", "/hello/:name", 1024},
    {"", "POST", "/orders", 64},
    {"", "PUT", "/kv/:key", 256},
    {"", "DELETE", "/kv/:key", 0},
    {"", "GET", "/static/*rest", 1024},
    {"api.example.com", "POST", "/orders", 16},
    {"api.example.com", "PATCH", "/users/:id/items/:item", 128},
}};

const router::RouteTable& route_table() {
  static const router::RouteTable table = [] {
    std::vector<router::RouteSpec> specs;
    for (std::size_t i = 0; i < kRoutes.size(); ++i) {
      specs.push_back(
          {kRoutes[i].host, kRoutes[i].method, kRoutes[i].pattern, static_cast<std::uint32_t>(i)});
    }
    std::vector<router::RouteError> errors;
    router::RouteTable built = router::RouteTable::build(specs, errors);
    FUZZ_CHECK(errors.empty());
    return built;
  }();
  return table;
}

constexpr bool is_error_status(int status) {
  switch (status) {
    case 400:
    case 413:
    case 414:
    case 417:
    case 431:
    case 501:
    case 505:
      return true;
    default:
      return false;
  }
}

bool within(std::string_view view, const std::string& buffer) {
  if (view.empty()) return true;
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

// What one request came to: its head as routed, and its body; or the error that ended the input.
struct Outcome {
  int error_status = 0;  // 0: a complete request
  std::string method, target, host, path, query, decoded_path, body;
  std::vector<std::pair<std::string, std::string>> headers;
  router::Match::Status match = router::Match::Status::kNotFound;
  std::uint32_t route = 0;
  bool keep_alive = false;
  bool expect_continue = false;

  bool operator==(const Outcome&) const = default;
};

// The connection's side of one input: its buffer, and the state of the request being read.
class Connection {
 public:
  Connection() : parser_(kLimits) {}

  // Appends bytes as a recv completion would, then parses all that is complete. False once the
  // parser has failed (the connection would answer and close).
  bool receive(std::string_view bytes) {
    in_.append(bytes);
    while (true) {
      const http::ParseEvent event = parser_.parse({in_.data(), in_.size()});
      FUZZ_CHECK(parser_.position() <= in_.size());
      switch (event) {
        case http::ParseEvent::kNeedMore:
          FUZZ_CHECK(parser_.position() == in_.size());
          return true;
        case http::ParseEvent::kError:
          FUZZ_CHECK(is_error_status(parser_.error().status));
          FUZZ_CHECK(!parser_.error().reason.empty());
          outcomes_.push_back(Outcome{.error_status = parser_.error().status});
          return false;
        case http::ParseEvent::kHeadComplete:
          if (!on_head()) {
            FUZZ_CHECK(parser_.error().status == 413);
            outcomes_.push_back(Outcome{.error_status = 413});
            return false;
          }
          break;
        case http::ParseEvent::kMessageComplete:
          on_message();
          break;
      }
    }
  }

  const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  // Routes the head and sets the route's body limit, as Connection::on_head_complete does.
  bool on_head() {
    const http::RequestHead head = parser_.head({in_.data(), in_.size()});
    for (std::string_view view : {head.method, head.target, head.host, head.query}) {
      FUZZ_CHECK(within(view, in_));
    }
    FUZZ_CHECK(head.path == "/" || within(head.path, in_));
    FUZZ_CHECK(head.http_major == 1 && head.http_minor <= 1);
    FUZZ_CHECK(!(head.chunked && head.content_length.has_value()));
    for (char c : head.host)
      FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    current_ = Outcome{};
    current_.method = head.method;
    current_.target = head.target;
    current_.host = head.host;
    current_.path = head.path;
    current_.query = head.query;
    current_.keep_alive = head.keep_alive;
    current_.expect_continue = head.expect_continue;
    for (const api::Header& h : head.headers) {
      FUZZ_CHECK(within(h.name, in_) && within(h.value, in_) && !h.name.empty());
      for (char c : h.name)
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
      current_.headers.emplace_back(h.name, h.value);
    }

    std::uint64_t body_limit = kLimits.max_body_bytes;
    path_.resize(head.path.size());
    const router::DecodedPath decoded = router::decode_path(head.path, path_.data());
    if (decoded.error == router::PathError::kNone) {
      FUZZ_CHECK(decoded.size <= head.path.size());
      path_.resize(decoded.size);
      current_.decoded_path = path_;
      std::array<api::Param, router::kMaxParams> params;
      const router::Match match = route_table().match(head.host, head.method, path_, params);
      current_.match = match.status;
      if (match.status == router::Match::Status::kFound) {
        FUZZ_CHECK(match.target < kRoutes.size() && match.param_count <= params.size());
        for (std::size_t i = 0; i < match.param_count; ++i) {
          FUZZ_CHECK(params[i].value.empty() || (params[i].value.data() >= path_.data() &&
                                                 params[i].value.data() + params[i].value.size() <=
                                                     path_.data() + path_.size()));
        }
        current_.route = match.target;
        body_limit = kRoutes[match.target].max_body_bytes;
      } else if (match.status == router::Match::Status::kMethodNotAllowed) {
        FUZZ_CHECK(match.allow != 0);
        FUZZ_CHECK(!router::allow_header(match.allow).empty());
      }
    } else {
      FUZZ_CHECK(!router::describe(decoded.error).empty());
    }
    body_limit_ = body_limit;
    return parser_.set_body_limit(body_limit);
  }

  // Takes the request and drops its bytes, as Connection::finish_request does on keep-alive.
  void on_message() {
    FUZZ_CHECK(parser_.body().size() <= body_limit_);
    current_.body = parser_.body();
    outcomes_.push_back(std::move(current_));
    parser_.next_request();
    FUZZ_CHECK(!parser_.in_message());
    const std::size_t used = parser_.position();
    in_.erase(0, used);
    parser_.rebase(used);
  }

  http::RequestParser parser_;
  std::string in_;
  std::string path_;
  std::uint64_t body_limit_ = 0;
  Outcome current_;
  std::vector<Outcome> outcomes_;
};

}  // namespace
}  // namespace edgefn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using edgefn::fuzz::Connection;
  using edgefn::fuzz::Outcome;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Connection whole;
  whole.receive(input);

  Connection split;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (!split.receive(input.substr(i, 1))) break;
  }

  // A request that both passes complete is the same request. (Where one pass fails and the
  // other does not, the cause may be legitimate: a limit on bytes buffered without progress is
  // checked between feeds, so it can stop the split pass on bytes the whole pass parses past.)
  const std::vector<Outcome>& a = whole.outcomes();
  const std::vector<Outcome>& b = split.outcomes();
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].error_status != 0 || b[i].error_status != 0) break;
    FUZZ_CHECK(a[i] == b[i]);
  }
  return 0;
}
