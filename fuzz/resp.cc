// Fuzz target: bytes from a Redis server through RedisPipe's glue around hiredis' reader (the
// reply-object functions that charge an unfinished array, the wire and line caps, the FIFO of
// waiting commands). Commands are queued first, as a worker's Redis connection pipelines them;
// a reply's callback queues more (as a retry would) and an error reply fails the pipe from
// inside its callback, both of which the contract allows; that ends the connection's input (the
// reset reader drops the rest of the bytes fed with the error). Each input is fed whole and one
// byte at a time; RedisPipe promises that its caps do not depend on the split, so both passes
// must deliver the same replies and fail alike. After a failure, fail_all() must leave a pipe that
// reads a well-formed reply again.
//
// hiredis itself is Debian's static archive, not instrumented: coverage guidance comes from
// the glue and the callbacks hiredis makes into it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis_pipe.h"
#include "fuzz/check.h"

namespace edgefn::fuzz {
namespace {

using cache::RedisPipe;
using cache::RedisReply;

// Small enough for a few KiB of input to exceed it.
constexpr std::size_t kMaxReplyBytes = 512;
constexpr RedisPipe::Token kFirstCommands = 8;
constexpr RedisPipe::Token kMostCommands = 64;

struct Seen {
  RedisPipe::Token token = 0;
  RedisReply::Kind kind = RedisReply::Kind::kNil;
  std::string text;
  long long integer = 0;
  bool operator==(const Seen&) const = default;
};

// One connection's pipe and what it delivered.
class Session {
 public:
  Session() : pipe_(kMaxReplyBytes) {
    while (next_token_ < kFirstCommands)
      queue();
    // As if the socket took everything: replies may now arrive for all of them.
    pipe_.consumed(pipe_.pending_output().size());
  }

  // False once the pipe refused the bytes or an error reply reset it.
  bool feed(std::string_view bytes) {
    const bool ok = pipe_.feed(bytes, [this](RedisPipe::Token token, const RedisReply& reply) {
      FUZZ_CHECK(token < next_token_);
      FUZZ_CHECK(reply.kind != RedisReply::Kind::kNil || reply.text.empty());
      seen_.push_back(Seen{token, reply.kind, std::string(reply.text), reply.integer});
      if (reply.kind == RedisReply::Kind::kError) {
        pipe_.fail_all([this](RedisPipe::Token failed) { failed_.push_back(failed); });
        FUZZ_CHECK(pipe_.waiting() == 0);
        reset_ = true;
      } else if (token % 2 == 0 && next_token_ < kMostCommands) {
        queue();
      }
    });
    if (!ok) {
      FUZZ_CHECK(!pipe_.error().empty());
      refused_ = true;
    }
    return ok && !reset_;
  }

  // After a refusal: the pipe fails what waits and reads the next connection's reply.
  void recover() {
    const std::size_t waiting = pipe_.waiting();
    const std::size_t failed_before = failed_.size();
    pipe_.fail_all([this](RedisPipe::Token failed) { failed_.push_back(failed); });
    FUZZ_CHECK(failed_.size() - failed_before == waiting);
    FUZZ_CHECK(pipe_.waiting() == 0 && pipe_.error().empty());
    FUZZ_CHECK(pipe_.get(next_token_, "key"));
    std::size_t replies = 0;
    FUZZ_CHECK(pipe_.feed("$5\r\nvalue\r\n", [&](RedisPipe::Token, const RedisReply& reply) {
      FUZZ_CHECK(reply.kind == RedisReply::Kind::kString && reply.text == "value");
      ++replies;
    }));
    FUZZ_CHECK(replies == 1);
  }

  bool refused() const { return refused_; }
  const std::vector<Seen>& seen() const { return seen_; }

 private:
  void queue() {
    // A mix of the commands the cache layer and the kv module send.
    const RedisPipe::Token token = next_token_++;
    switch (token % 4) {
      case 0:
        FUZZ_CHECK(pipe_.get(token, "edgefn:k"));
        break;
      case 1:
        FUZZ_CHECK(pipe_.set(token, "edgefn:k", "v", std::chrono::milliseconds(0)));
        break;
      case 2:
        FUZZ_CHECK(pipe_.incr(token, "edgefn:n"));
        break;
      default:
        FUZZ_CHECK(pipe_.del(token, ""));
        break;
    }
  }

  RedisPipe pipe_;
  RedisPipe::Token next_token_ = 0;
  std::vector<Seen> seen_;
  std::vector<RedisPipe::Token> failed_;
  bool refused_ = false;
  bool reset_ = false;
};

}  // namespace
}  // namespace edgefn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using edgefn::fuzz::Session;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Session whole;
  whole.feed(input);

  Session split;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (!split.feed(input.substr(i, 1))) break;
  }

  FUZZ_CHECK(whole.refused() == split.refused());
  FUZZ_CHECK(whole.seen() == split.seen());
  if (whole.refused()) whole.recover();
  return 0;
}
