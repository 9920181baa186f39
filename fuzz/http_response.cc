// Fuzz target: an upstream's bytes through the response parser behind ctx.fetch — llhttp in
// response mode, interim responses, in-place de-chunking, the head and body limits, and the end
// of a close-delimited body (finish()). Each input is parsed in one piece and one byte at a
// time into a growing buffer, as for a GET, and in one piece as the answer to a HEAD. A response
// both passes complete must come out the same, except keep_alive, which a byte after the
// response clears and which the byte-wise pass cannot see.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/check.h"
#include "runtime/http_response_parser.h"

namespace edgefn::fuzz {
namespace {

namespace http = runtime::http;

// Small limits, so that inputs of a few KiB reach both.
constexpr std::size_t kMaxHeadBytes = 1024;
constexpr std::size_t kMaxBodyBytes = 2048;

bool within(std::string_view view, const std::string& buffer) {
  if (view.empty()) return true;
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

struct Outcome {
  http::ResponseEvent event = http::ResponseEvent::kNeedMore;
  int status = 0;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The upstream connection's side: one receive buffer that bytes are appended to.
class Upstream {
 public:
  explicit Upstream(bool head_request) {
    parser_.start(head_request, kMaxHeadBytes, kMaxBodyBytes);
  }

  // False once the parser has an answer (complete, too large or an error).
  bool receive(std::string_view bytes) {
    in_.append(bytes);
    return settle(parser_.parse({in_.data(), in_.size()}));
  }

  // The connection closed.
  void finish() {
    if (outcome_.event != http::ResponseEvent::kNeedMore) return;
    settle(parser_.finish({in_.data(), in_.size()}));
    FUZZ_CHECK(outcome_.event != http::ResponseEvent::kNeedMore);
  }

  const Outcome& outcome() const { return outcome_; }

 private:
  bool settle(http::ResponseEvent event) {
    FUZZ_CHECK(parser_.position() <= in_.size());
    outcome_.event = event;
    switch (event) {
      case http::ResponseEvent::kNeedMore:
        return true;
      case http::ResponseEvent::kComplete:
        break;
      case http::ResponseEvent::kTooLarge:
      case http::ResponseEvent::kError:
        FUZZ_CHECK(!parser_.error().empty());
        return false;
    }
    const std::span<const char> buffer(in_.data(), in_.size());
    outcome_.status = parser_.status();
    FUZZ_CHECK(outcome_.status >= 200 && outcome_.status <= 999);
    outcome_.keep_alive = parser_.keep_alive();
    for (const api::Header& h : parser_.headers(buffer)) {
      FUZZ_CHECK(within(h.name, in_) && within(h.value, in_));
      for (char c : h.name)
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
      outcome_.headers.emplace_back(h.name, h.value);
    }
    const std::string_view body = parser_.body(buffer);
    FUZZ_CHECK(within(body, in_) && body.size() <= kMaxBodyBytes);
    outcome_.body = body;
    // The answer stays as it is whatever follows.
    FUZZ_CHECK(parser_.parse({in_.data(), in_.size()}) == http::ResponseEvent::kComplete);
    return false;
  }

  http::ResponseParser parser_;
  std::string in_;
  Outcome outcome_;
};

}  // namespace
}  // namespace edgefn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using edgefn::fuzz::Upstream;
  namespace http = edgefn::runtime::http;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Upstream whole(/*head_request=*/false);
  whole.receive(input);
  whole.finish();

  Upstream split(/*head_request=*/false);
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (!split.receive(input.substr(i, 1))) break;
  }
  split.finish();

  Upstream head(/*head_request=*/true);
  head.receive(input);
  head.finish();
  if (head.outcome().event == http::ResponseEvent::kComplete) {
    FUZZ_CHECK(head.outcome().body.empty());
  }

  const auto& a = whole.outcome();
  const auto& b = split.outcome();
  if (a.event == http::ResponseEvent::kComplete && b.event == http::ResponseEvent::kComplete) {
    FUZZ_CHECK(a.status == b.status && a.headers == b.headers && a.body == b.body);
  }
  return 0;
}
