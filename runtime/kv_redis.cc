// ctx.kv() operations as Redis commands, and Redis replies as KvResults.
#include "runtime/kv_redis.h"

#include <charconv>
#include <cstring>

#include "runtime/redis_client.h"

namespace edgefn::runtime {

namespace {

// INCRBY and the window in one atomic step; PEXPIRE NX (Redis 7) leaves an existing expiry.
constexpr std::string_view kIncrWithTtl =
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX') "
    "return v";

struct Digits {
  char text[24];
  std::size_t size = 0;
  explicit Digits(std::int64_t value) {
    size = static_cast<std::size_t>(std::to_chars(text, text + sizeof text, value).ptr - text);
  }
  std::string_view view() const { return {text, size}; }
};

std::string_view copy_to(std::pmr::memory_resource* arena, std::string_view bytes) {
  if (bytes.empty()) return {};
  char* copy = static_cast<char*>(arena->allocate(bytes.size(), 1));
  std::memcpy(copy, bytes.data(), bytes.size());
  return {copy, bytes.size()};
}

}  // namespace

bool send_kv_command(RedisClient& redis, std::uint64_t token, const api::KvCall& call,
                     std::string& key_scratch) {
  key_scratch.assign(kKvRedisPrefix).append(call.key());
  const std::string_view key = key_scratch;
  switch (call.op()) {
    case api::KvCall::Op::kGet:
      return redis.call(token, {"GET", key});
    case api::KvCall::Op::kPut:
      if (call.ttl().count() > 0) {
        const Digits ttl(call.ttl().count());
        return redis.call(token, {"SET", key, call.value(), "PX", ttl.view()});
      }
      return redis.call(token, {"SET", key, call.value()});
    case api::KvCall::Op::kRemove:
      return redis.call(token, {"DEL", key});
    case api::KvCall::Op::kIncr: {
      const Digits by(call.by());
      if (call.ttl().count() > 0) {
        const Digits ttl(call.ttl().count());
        return redis.call(token, {"EVAL", kIncrWithTtl, "1", key, by.view(), ttl.view()});
      }
      return redis.call(token, {"INCRBY", key, by.view()});
    }
  }
  return false;
}

api::KvResult kv_result(api::KvCall::Op op, const cache::RedisReply* reply,
                        std::pmr::memory_resource* arena, std::pmr::string* into) {
  using Kind = cache::RedisReply::Kind;
  api::KvResult result;  // kUnavailable
  if (reply == nullptr) return result;
  switch (op) {
    case api::KvCall::Op::kGet:
      if (reply->kind == Kind::kString) {
        result.status = api::KvStatus::kOk;
        if (into != nullptr) {
          into->assign(reply->text);
          result.value = *into;
        } else {
          result.value = copy_to(arena, reply->text);
        }
      } else if (reply->kind == Kind::kNil) {
        result.status = api::KvStatus::kNotFound;
      }
      break;
    case api::KvCall::Op::kPut:
      if (reply->kind == Kind::kStatus) result.status = api::KvStatus::kOk;
      break;
    case api::KvCall::Op::kRemove:
      if (reply->kind == Kind::kInteger) {
        result.status = reply->integer > 0 ? api::KvStatus::kOk : api::KvStatus::kNotFound;
      }
      break;
    case api::KvCall::Op::kIncr:
      if (reply->kind == Kind::kInteger) {
        result.status = api::KvStatus::kOk;
        result.integer = reply->integer;
      } else if (reply->kind == Kind::kError &&
                 (reply->text.find("not an integer") != std::string_view::npos ||
                  reply->text.find("overflow") != std::string_view::npos)) {
        // INCRBY's own words ("value is not an integer or out of range", "increment or
        // decrement would overflow"), also inside an EVAL's error.
        result.status = api::KvStatus::kNotInteger;
      }
      break;
  }
  return result;
}

}  // namespace edgefn::runtime
