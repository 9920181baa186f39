// What each Redis reply means for each ctx.kv() operation, and that values leave the reply.
#include "runtime/kv_redis.h"

#include <gtest/gtest.h>

#include <memory_resource>
#include <string>

namespace edgefn::runtime {
namespace {

using Kind = cache::RedisReply::Kind;
using Op = api::KvCall::Op;
using Status = api::KvStatus;

cache::RedisReply reply(Kind kind, std::string_view text = {}, long long integer = 0) {
  cache::RedisReply r;
  r.kind = kind;
  r.text = text;
  r.integer = integer;
  return r;
}

class KvResultTest : public ::testing::Test {
 protected:
  api::KvResult result(Op op, const cache::RedisReply& r) { return kv_result(op, &r, &arena); }
  std::pmr::monotonic_buffer_resource arena;
};

TEST_F(KvResultTest, NoReplyIsUnavailableForEveryOperation) {
  for (Op op : {Op::kGet, Op::kPut, Op::kRemove, Op::kIncr})
    EXPECT_EQ(kv_result(op, nullptr, &arena).status, Status::kUnavailable);
}

TEST_F(KvResultTest, GetCopiesTheValueOutOfTheReply) {
  std::string wire = "value";
  const api::KvResult got = result(Op::kGet, reply(Kind::kString, wire));
  wire.assign("XXXXX");  // the reply's buffer is reused once its callback returns
  EXPECT_EQ(got.status, Status::kOk);
  EXPECT_EQ(got.value, "value");
  EXPECT_EQ(result(Op::kGet, reply(Kind::kString, "")).status, Status::kOk);
  std::pmr::string body(&arena);
  const cache::RedisReply bulk = reply(Kind::kString, "into the body");
  const api::KvResult into = kv_result(Op::kGet, &bulk, &arena, &body);
  EXPECT_EQ(std::string_view(body), "into the body");
  EXPECT_EQ(into.value.data(), body.data());
  EXPECT_EQ(result(Op::kGet, reply(Kind::kNil)).status, Status::kNotFound);
  EXPECT_EQ(result(Op::kGet, reply(Kind::kError, "WRONGTYPE Operation against a key")).status,
            Status::kUnavailable);
}

TEST_F(KvResultTest, PutRemoveAndIncr) {
  EXPECT_EQ(result(Op::kPut, reply(Kind::kStatus, "OK")).status, Status::kOk);
  EXPECT_EQ(result(Op::kPut, reply(Kind::kError, "OOM command not allowed")).status,
            Status::kUnavailable);
  EXPECT_EQ(result(Op::kRemove, reply(Kind::kInteger, {}, 1)).status, Status::kOk);
  EXPECT_EQ(result(Op::kRemove, reply(Kind::kInteger, {}, 0)).status, Status::kNotFound);
  const api::KvResult counted = result(Op::kIncr, reply(Kind::kInteger, {}, -42));
  EXPECT_EQ(counted.status, Status::kOk);
  EXPECT_EQ(counted.integer, -42);
  EXPECT_EQ(
      result(Op::kIncr, reply(Kind::kError, "ERR value is not an integer or out of range")).status,
      Status::kNotInteger);
  EXPECT_EQ(
      result(Op::kIncr, reply(Kind::kError, "ERR increment or decrement would overflow")).status,
      Status::kNotInteger);
  EXPECT_EQ(result(Op::kIncr, reply(Kind::kError,
                                    "ERR Error running script (call to f_1): @user_script:1: "
                                    "ERR value is not an integer or out of range"))
                .status,
            Status::kNotInteger);
  EXPECT_EQ(result(Op::kIncr, reply(Kind::kError, "LOADING Redis is loading")).status,
            Status::kUnavailable);
  EXPECT_EQ(result(Op::kIncr, reply(Kind::kString, "5")).status, Status::kUnavailable);
}

}  // namespace
}  // namespace edgefn::runtime
