// RedisPipe: exact RESP bytes of each command, replies delivered in order however the bytes are
// split, protocol errors and unsolicited replies, fail_all, and the caps that bound memory.
#include "cache/redis_pipe.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace edgefn::cache {
namespace {

using namespace std::string_literals;
using namespace std::chrono_literals;
using Kind = RedisReply::Kind;

// A delivered reply, copied out of the callback (whose views die with it).
struct Got {
  RedisPipe::Token token = 0;
  Kind kind = Kind::kNil;
  std::string text;
  long long integer = 0;
  bool operator==(const Got&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Got& got) {
  return out << "{token " << got.token << " kind " << static_cast<int>(got.kind) << " text \""
             << got.text << "\" integer " << got.integer << "}";
}

// Feeds `bytes` in one call; false if feed() refused them.
bool feed(RedisPipe& pipe, std::string_view bytes, std::vector<Got>& out) {
  return pipe.feed(bytes, [&](RedisPipe::Token token, const RedisReply& reply) {
    out.push_back({token, reply.kind, std::string(reply.text), reply.integer});
  });
}

// Feeds `bytes` one byte at a time; false at the first refusal.
bool feed_bytewise(RedisPipe& pipe, std::string_view bytes, std::vector<Got>& out) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (!feed(pipe, bytes.substr(i, 1), out)) return false;
  }
  return true;
}

std::string take_output(RedisPipe& pipe) {
  std::string out(pipe.pending_output());
  pipe.consumed(out.size());
  return out;
}

std::vector<RedisPipe::Token> fail_all(RedisPipe& pipe) {
  std::vector<RedisPipe::Token> failed;
  pipe.fail_all([&](RedisPipe::Token token) { failed.push_back(token); });
  return failed;
}

TEST(RedisPipe, FormatsGetSetDelIncrAsRespArrays) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "k"));
  EXPECT_EQ(take_output(pipe), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  ASSERT_TRUE(pipe.set(2, "key", "value", 1500ms));
  EXPECT_EQ(take_output(pipe),
            "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$2\r\nPX\r\n$4\r\n1500\r\n");
  ASSERT_TRUE(pipe.del(3, "gone"));
  EXPECT_EQ(take_output(pipe), "*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n");
  ASSERT_TRUE(pipe.incr(4, "n"));
  EXPECT_EQ(take_output(pipe), "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
  EXPECT_EQ(pipe.waiting(), 4u);
  EXPECT_TRUE(pipe.pending_output().empty());
}

TEST(RedisPipe, AnyCommandFormatsItsArgumentsBinarySafe) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.command(1, {"HGET", "k\0"s, "f\r\n"}));
  EXPECT_EQ(take_output(pipe), "*3\r\n$4\r\nHGET\r\n$2\r\nk\0\r\n$3\r\nf\r\n\r\n"s);
  ASSERT_TRUE(pipe.command(0, {"PEXPIRE", "k", "1500", "NX"}));
  EXPECT_EQ(take_output(pipe), "*4\r\n$7\r\nPEXPIRE\r\n$1\r\nk\r\n$4\r\n1500\r\n$2\r\nNX\r\n");
  EXPECT_EQ(pipe.waiting(), 2u);
  // Nothing queued for an empty command or one with too many arguments.
  EXPECT_FALSE(pipe.command(2, {}));
  EXPECT_FALSE(pipe.command(3, {"A", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
                                "13", "14", "15", "16"}));
  EXPECT_EQ(pipe.waiting(), 2u);
  EXPECT_TRUE(pipe.pending_output().empty());
  ASSERT_TRUE(pipe.command(4, {"A", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
                               "13", "14", "15"}));  // exactly kMaxArgs
  EXPECT_EQ(pipe.waiting(), 3u);
}

TEST(RedisPipe, PipelinedCommandsQueueInOrder) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  ASSERT_TRUE(pipe.incr(2, "b"));
  ASSERT_TRUE(pipe.del(3, "c"));
  EXPECT_EQ(pipe.pending_output(),
            "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n"
            "*2\r\n$3\r\nDEL\r\n$1\r\nc\r\n");
  EXPECT_EQ(pipe.waiting(), 3u);
}

TEST(RedisPipe, KeysAndValuesAreBinarySafe) {
  RedisPipe pipe;
  const std::string key = "k\0ey\r\n"s;                 // 6 bytes
  const std::string value = "\r\n\0$3\r\n*1\r\n\xff"s;  // 12 bytes, RESP-looking
  ASSERT_TRUE(pipe.set(1, key, value, 60000ms));
  EXPECT_EQ(take_output(pipe), "*5\r\n$3\r\nSET\r\n$6\r\n"s + key + "\r\n$12\r\n"s + value +
                                   "\r\n$2\r\nPX\r\n$5\r\n60000\r\n"s);
  ASSERT_TRUE(pipe.get(2, key));
  EXPECT_EQ(take_output(pipe), "*2\r\n$3\r\nGET\r\n$6\r\n"s + key + "\r\n"s);
  ASSERT_TRUE(pipe.get(3, ""));
  EXPECT_EQ(take_output(pipe), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
  ASSERT_TRUE(pipe.set(4, "k", "", 1ms));
  EXPECT_EQ(take_output(pipe), "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$2\r\nPX\r\n$1\r\n1\r\n");
}

TEST(RedisPipe, TtlUnderOneMillisecondIsSentAsOne) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.set(1, "k", "v", 0ms));
  ASSERT_TRUE(pipe.set(2, "k", "v", -5ms));
  const std::string one = "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$1\r\n1\r\n";
  EXPECT_EQ(take_output(pipe), one + one);
}

TEST(RedisPipe, PartialOutputConsumption) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  const std::string first(pipe.pending_output());
  pipe.consumed(3);
  EXPECT_EQ(pipe.pending_output(), first.substr(3));
  pipe.consumed(0);
  EXPECT_EQ(pipe.pending_output(), first.substr(3));
  // A command queued while the socket is mid-way through the first goes after its rest.
  ASSERT_TRUE(pipe.get(2, "b"));
  const std::string second = "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n";
  EXPECT_EQ(pipe.pending_output(), first.substr(3) + second);
  pipe.consumed(first.size() - 3 + 5);
  EXPECT_EQ(pipe.pending_output(), second.substr(5));
  pipe.consumed(second.size() - 5);
  EXPECT_TRUE(pipe.pending_output().empty());
  EXPECT_EQ(pipe.waiting(), 2u);  // sent is not answered
}

TEST(RedisPipe, RandomPartialConsumptionSendsEveryByteOnceInOrder) {
  std::mt19937 rng(7);
  RedisPipe pipe;
  std::string expected;
  std::string sent;
  for (int i = 0; i < 2000; ++i) {
    const std::string key(rng() % 40, static_cast<char>('a' + i % 26));
    if (rng() % 2 == 0) {
      ASSERT_TRUE(pipe.get(static_cast<RedisPipe::Token>(i), key));
      expected += "*2\r\n$3\r\nGET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    } else {
      ASSERT_TRUE(pipe.del(static_cast<RedisPipe::Token>(i), key));
      expected += "*2\r\n$3\r\nDEL\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    }
    const std::string_view pending = pipe.pending_output();
    const std::size_t take = pending.empty() ? 0 : rng() % (pending.size() + 1);
    sent.append(pending.substr(0, take));
    pipe.consumed(take);
  }
  sent += take_output(pipe);
  EXPECT_EQ(sent, expected);
}

// GET (missing), GET (hit), INCR, SET, DEL against a wrong type: one reply of each kind.
const std::string kFiveReplies = "$-1\r\n$5\r\nhello\r\n:42\r\n+OK\r\n-WRONGTYPE not a string\r\n";
const std::vector<Got> kFiveGot = {
    {10, Kind::kNil, "", 0},
    {11, Kind::kString, "hello", 0},
    {12, Kind::kInteger, "", 42},
    {13, Kind::kStatus, "OK", 0},
    {14, Kind::kError, "WRONGTYPE not a string", 0},
};

void queue_five(RedisPipe& pipe) {
  ASSERT_TRUE(pipe.get(10, "missing"));
  ASSERT_TRUE(pipe.get(11, "hit"));
  ASSERT_TRUE(pipe.incr(12, "n"));
  ASSERT_TRUE(pipe.set(13, "k", "v", 1000ms));
  ASSERT_TRUE(pipe.del(14, "list"));
}

TEST(RedisPipe, PipelinedRepliesFedAllAtOnceArriveInOrder) {
  RedisPipe pipe;
  queue_five(pipe);
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, kFiveReplies, got));
  EXPECT_EQ(got, kFiveGot);
  EXPECT_EQ(pipe.waiting(), 0u);
  EXPECT_TRUE(pipe.error().empty());
}

TEST(RedisPipe, PipelinedRepliesFedByteByByteArriveInOrder) {
  RedisPipe pipe;
  queue_five(pipe);
  // Where each reply's last byte is: it must be delivered exactly then.
  const std::vector<std::size_t> ends = {5, 16, 21, 26, kFiveReplies.size()};
  std::vector<Got> got;
  std::size_t done = 0;
  for (std::size_t i = 0; i < kFiveReplies.size(); ++i) {
    ASSERT_TRUE(feed(pipe, std::string_view(kFiveReplies).substr(i, 1), got));
    if (i + 1 == ends[done]) ++done;
    EXPECT_EQ(got.size(), done) << "after byte " << i;
  }
  EXPECT_EQ(got, kFiveGot);
}

TEST(RedisPipe, BulkStringsKeepCrlfNulAndEmptiness) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  ASSERT_TRUE(pipe.get(2, "b"));
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, "$7\r\na\r\n\0b\r\n\r\n$0\r\n\r\n"s, got));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (Got{1, Kind::kString, "a\r\n\0b\r\n"s, 0}));
  EXPECT_EQ(got[1], (Got{2, Kind::kString, "", 0}));  // empty, not nil
}

TEST(RedisPipe, IntegersKeepSignAndRange) {
  RedisPipe pipe;
  for (RedisPipe::Token t = 1; t <= 3; ++t)
    ASSERT_TRUE(pipe.incr(t, "n"));
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, ":0\r\n:-7\r\n:9223372036854775807\r\n", got));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].integer, 0);
  EXPECT_EQ(got[1].integer, -7);
  EXPECT_EQ(got[2].integer, 9223372036854775807LL);
}

TEST(RedisPipe, ArraysAreOther) {
  RedisPipe pipe;
  for (RedisPipe::Token t = 1; t <= 3; ++t)
    ASSERT_TRUE(pipe.get(t, "k"));
  std::vector<Got> got;
  ASSERT_TRUE(feed_bytewise(pipe, "*2\r\n$1\r\na\r\n:1\r\n*0\r\n*-1\r\n", got));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, Kind::kOther);
  EXPECT_EQ(got[1].kind, Kind::kOther);
  EXPECT_EQ(got[2].kind, Kind::kNil);  // hiredis makes a null array a nil
}

TEST(RedisPipe, StatusWithoutCrlfIsIncompleteNotAnError) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.set(1, "k", "v", 1000ms));
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, "+OK", got));
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(feed(pipe, "\r", got));
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(feed(pipe, "\n", got));
  EXPECT_EQ(got, (std::vector<Got>{{1, Kind::kStatus, "OK", 0}}));
}

TEST(RedisPipe, GarbageIsAProtocolErrorUntilFailAll) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "k"));
  std::vector<Got> got;
  EXPECT_FALSE(feed(pipe, "?garbage\r\n", got));
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE(pipe.error().empty());
  // The connection is done for: later bytes, even well-formed ones, are refused too.
  EXPECT_FALSE(feed(pipe, "$-1\r\n", got));
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(pipe.waiting(), 1u);
  EXPECT_EQ(fail_all(pipe), (std::vector<RedisPipe::Token>{1}));
  EXPECT_TRUE(pipe.error().empty());
}

TEST(RedisPipe, GarbageAfterGoodRepliesDeliversThoseFirst) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "k"));
  ASSERT_TRUE(pipe.get(2, "k"));
  std::vector<Got> got;
  EXPECT_FALSE(feed(pipe, "$-1\r\nHTTP/1.1 400 Bad Request\r\n", got));
  EXPECT_EQ(got, (std::vector<Got>{{1, Kind::kNil, "", 0}}));
  EXPECT_EQ(pipe.waiting(), 1u);
}

TEST(RedisPipe, MalformedNumbersAreProtocolErrors) {
  for (const char* bad : {":12a\r\n", "$x\r\n", "$-2\r\n", "*y\r\n", ":\r\n"}) {
    RedisPipe pipe;
    ASSERT_TRUE(pipe.get(1, "k"));
    std::vector<Got> got;
    EXPECT_FALSE(feed(pipe, bad, got)) << bad;
    EXPECT_TRUE(got.empty()) << bad;
  }
}

TEST(RedisPipe, UnsolicitedReplyIsAnError) {
  {
    RedisPipe pipe;
    std::vector<Got> got;
    EXPECT_FALSE(feed(pipe, "+OK\r\n", got));
    EXPECT_EQ(pipe.error(), "reply with no command waiting");
  }
  {
    RedisPipe pipe;
    ASSERT_TRUE(pipe.get(1, "k"));
    std::vector<Got> got;
    EXPECT_FALSE(feed(pipe, "$-1\r\n:1\r\n", got));
    EXPECT_EQ(got, (std::vector<Got>{{1, Kind::kNil, "", 0}}));
    EXPECT_FALSE(feed(pipe, "", got));  // still refused
  }
}

TEST(RedisPipe, FailAllDeliversWaitingTokensOldestFirstAndStartsOver) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  ASSERT_TRUE(pipe.get(2, "b"));
  ASSERT_TRUE(pipe.get(3, "c"));
  pipe.consumed(7);  // part of the output sent
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, "$-1\r\n$5\r\nhel", got));  // one reply and part of the next
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(fail_all(pipe), (std::vector<RedisPipe::Token>{2, 3}));
  EXPECT_EQ(pipe.waiting(), 0u);
  EXPECT_TRUE(pipe.pending_output().empty());
  EXPECT_TRUE(fail_all(pipe).empty());

  // A new connection: the old half reply is gone, and commands format from the start.
  got.clear();
  ASSERT_TRUE(pipe.get(4, "d"));
  EXPECT_EQ(take_output(pipe), "*2\r\n$3\r\nGET\r\n$1\r\nd\r\n");
  ASSERT_TRUE(feed(pipe, "$2\r\nhi\r\n", got));
  EXPECT_EQ(got, (std::vector<Got>{{4, Kind::kString, "hi", 0}}));
}

TEST(RedisPipe, CommandsQueuedByOnFailureWaitForTheNextConnection) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  ASSERT_TRUE(pipe.get(2, "b"));
  std::vector<RedisPipe::Token> failed;
  pipe.fail_all([&](RedisPipe::Token token) {
    failed.push_back(token);
    ASSERT_TRUE(pipe.get(token + 100, "retry"));  // retried on the next connection
  });
  EXPECT_EQ(failed, (std::vector<RedisPipe::Token>{1, 2}));
  EXPECT_EQ(pipe.waiting(), 2u);
  const std::string retry = "*2\r\n$3\r\nGET\r\n$5\r\nretry\r\n";
  EXPECT_EQ(take_output(pipe), retry + retry);
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, "$-1\r\n$-1\r\n", got));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].token, 101u);
  EXPECT_EQ(got[1].token, 102u);
}

TEST(RedisPipe, OnReplyMayQueueCommandsAndFailAll) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "a"));
  ASSERT_TRUE(pipe.get(2, "b"));
  std::vector<RedisPipe::Token> replied;
  std::vector<RedisPipe::Token> failed;
  EXPECT_TRUE(pipe.feed("$-1\r\n$-1\r\n", [&](RedisPipe::Token token, const RedisReply&) {
    replied.push_back(token);
    if (token == 1) {
      ASSERT_TRUE(pipe.get(3, "c"));
      pipe.fail_all([&](RedisPipe::Token t) { failed.push_back(t); });
    }
  }));
  // fail_all dropped the connection's remaining bytes: reply 2 was never read.
  EXPECT_EQ(replied, (std::vector<RedisPipe::Token>{1}));
  EXPECT_EQ(failed, (std::vector<RedisPipe::Token>{2, 3}));
  EXPECT_EQ(pipe.waiting(), 0u);
}

// A reply of exactly the cap passes, one byte more does not, however the bytes arrive.
TEST(RedisPipe, ReplyCapCountsWireBytesWhateverTheSplit) {
  constexpr std::size_t kCap = 1000;
  const std::string fits = "$992\r\n" + std::string(992, 'x') + "\r\n";  // 6 + 992 + 2
  const std::string over = "$993\r\n" + std::string(993, 'x') + "\r\n";
  ASSERT_EQ(fits.size(), kCap);
  for (const bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "byte by byte" : "all at once");
    RedisPipe pipe(kCap);
    ASSERT_TRUE(pipe.get(1, "k"));
    ASSERT_TRUE(pipe.get(2, "k"));
    ASSERT_TRUE(pipe.get(3, "k"));
    std::vector<Got> got;
    const std::string stream = fits + fits;
    ASSERT_TRUE(bytewise ? feed_bytewise(pipe, stream, got) : feed(pipe, stream, got));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_FALSE(bytewise ? feed_bytewise(pipe, over, got) : feed(pipe, over, got));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(pipe.error(), "reply over max_reply_bytes");
  }
}

TEST(RedisPipe, HugeBulkLengthFromAGarbageServerStopsAtTheCap) {
  RedisPipe pipe(64 << 10);
  ASSERT_TRUE(pipe.get(1, "k"));
  std::vector<Got> got;
  ASSERT_TRUE(feed(pipe, "$536870912\r\n", got));  // 512 MiB announced
  const std::string chunk(4096, 'z');
  std::size_t fed = 12;
  while (feed(pipe, chunk, got)) {
    fed += chunk.size();
    ASSERT_LE(fed, std::size_t{64 << 10}) << "buffered past the cap";
  }
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(pipe.error(), "reply over max_reply_bytes");
  EXPECT_EQ(fail_all(pipe), (std::vector<RedisPipe::Token>{1}));
}

TEST(RedisPipe, BulkStringsLargerThanTheReaderMaxbufAreParsed) {
  std::mt19937 rng(3);
  std::string value(5 << 20, '\0');  // 5 MiB, well past hiredis' 16 KiB maxbuf
  for (char& c : value)
    c = static_cast<char>(rng());
  const std::string reply = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  for (const std::size_t chunk : {reply.size(), std::size_t{65536}, std::size_t{1000}}) {
    SCOPED_TRACE(chunk);
    RedisPipe pipe;
    ASSERT_TRUE(pipe.get(1, "big"));
    ASSERT_TRUE(pipe.get(2, "small"));
    std::vector<Got> got;
    for (std::size_t at = 0; at < reply.size(); at += chunk) {
      ASSERT_TRUE(feed(pipe, std::string_view(reply).substr(at, chunk), got));
    }
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Kind::kString);
    EXPECT_TRUE(got[0].text == value);
    ASSERT_TRUE(feed(pipe, "$2\r\nok\r\n", got));  // the reader goes on after the big one
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1], (Got{2, Kind::kString, "ok", 0}));
  }
}

TEST(RedisPipe, LargeSetValueFormatsWhole) {
  RedisPipe pipe;
  const std::string value(3 << 20, 'v');
  ASSERT_TRUE(pipe.set(1, "big", value, 1000ms));
  const std::string out = take_output(pipe);
  EXPECT_EQ(out.size(), 4u + 9 + 9 + 10 + value.size() + 2 + 8 + 10);
  EXPECT_NE(out.find("$3145728\r\n" + value + "\r\n"), std::string::npos);
}

TEST(RedisPipe, OverlongLineIsAnError) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "k"));
  ASSERT_TRUE(pipe.get(2, "k"));
  std::vector<Got> got;
  // A long but bounded error line is fine.
  ASSERT_TRUE(feed(pipe, "-ERR " + std::string(8000, 'e') + "\r\n", got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text.size(), 8004u);
  // A status line that never ends is refused once past kMaxLineBytes, far below the reply cap.
  ASSERT_TRUE(feed(pipe, "+", got));
  const std::string chunk(4096, 's');
  std::size_t fed = 1;
  while (feed(pipe, chunk, got)) {
    fed += chunk.size();
    ASSERT_LE(fed, RedisPipe::kMaxLineBytes + chunk.size());
  }
  EXPECT_EQ(pipe.error(), "line over kMaxLineBytes");
  EXPECT_EQ(got.size(), 1u);
}

TEST(RedisPipe, OverlongBulkLengthHeaderIsAnError) {
  RedisPipe pipe;
  ASSERT_TRUE(pipe.get(1, "k"));
  std::vector<Got> got;
  EXPECT_FALSE(feed(pipe, "$" + std::string(RedisPipe::kMaxLineBytes + 10, '1'), got));
  EXPECT_EQ(pipe.error(), "line over kMaxLineBytes");
}

TEST(RedisPipe, ArrayReplyObjectsAreChargedToTheCap) {
  {
    // 100000 announced elements would be 800 kB of slots from a 10-byte header.
    RedisPipe pipe(4096);
    ASSERT_TRUE(pipe.get(1, "k"));
    std::vector<Got> got;
    EXPECT_FALSE(feed(pipe, "*100000\r\n", got));
    EXPECT_EQ(pipe.error(), "array reply over max_reply_bytes");
  }
  {
    // Few wire bytes per element, many more in reply objects: refused before the wire cap.
    RedisPipe pipe(4096);
    ASSERT_TRUE(pipe.get(1, "k"));
    std::vector<Got> got;
    std::string stream = "*300\r\n";
    for (int i = 0; i < 300; ++i)
      stream += ":1\r\n";
    ASSERT_LT(stream.size(), 4096u);
    EXPECT_FALSE(feed(pipe, stream, got));
    EXPECT_EQ(pipe.error(), "array reply over max_reply_bytes");
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(fail_all(pipe), (std::vector<RedisPipe::Token>{1}));
  }
  {
    // The charge is per reply: many small arrays in a row pass.
    RedisPipe pipe(4096);
    std::vector<Got> got;
    std::string stream;
    for (RedisPipe::Token t = 0; t < 200; ++t) {
      ASSERT_TRUE(pipe.get(t, "k"));
      stream += "*3\r\n:1\r\n$1\r\na\r\n*1\r\n+OK\r\n";
    }
    ASSERT_TRUE(feed(pipe, stream, got));
    EXPECT_EQ(got.size(), 200u);
  }
}

// A random stream of replies of every kind, split at random points, gives the same replies.
TEST(RedisPipe, RandomSplitsOfAPipelinedStreamGiveTheSameReplies) {
  std::mt19937 rng(2024);
  const auto random_bytes = [&](std::size_t n) {
    static constexpr char kAlphabet[] = {'a', 'Z', '\r', '\n', '\0', '$', '*', ':', '+', '-'};
    std::string s(n, '\0');
    for (char& c : s)
      c = kAlphabet[rng() % sizeof(kAlphabet)];
    return s;
  };
  std::string stream;
  std::vector<Got> expected;
  for (RedisPipe::Token token = 0; token < 500; ++token) {
    Got got;
    got.token = token;
    switch (rng() % 5) {
      case 0:
        got.kind = Kind::kNil;
        stream += "$-1\r\n";
        break;
      case 1: {
        got.kind = Kind::kString;
        got.text = random_bytes(rng() % 3 == 0 ? rng() % 3000 : rng() % 20);
        stream += "$" + std::to_string(got.text.size()) + "\r\n" + got.text + "\r\n";
        break;
      }
      case 2:
        got.kind = Kind::kInteger;
        got.integer = static_cast<long long>(rng()) - (1LL << 31);
        stream += ":" + std::to_string(got.integer) + "\r\n";
        break;
      case 3:
        got.kind = Kind::kStatus;
        got.text = rng() % 2 ? "OK" : "QUEUED";
        stream += "+" + got.text + "\r\n";
        break;
      default:
        got.kind = Kind::kError;
        got.text = "ERR " + std::to_string(rng());
        stream += "-" + got.text + "\r\n";
        break;
    }
    expected.push_back(got);
  }

  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    RedisPipe pipe;
    for (const Got& e : expected)
      ASSERT_TRUE(pipe.get(e.token, "k"));
    std::vector<Got> got;
    std::size_t at = 0;
    while (at < stream.size()) {
      // Mostly small pieces, now and then a large one spanning many replies.
      const std::size_t piece = rng() % 8 == 0 ? rng() % 20000 : rng() % 64 + 1;
      ASSERT_TRUE(feed(pipe, std::string_view(stream).substr(at, piece), got));
      at += piece;
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(pipe.waiting(), 0u);
  }
}

}  // namespace
}  // namespace edgefn::cache
