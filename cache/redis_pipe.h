// RedisPipe: one Redis connection's protocol state, with no I/O of its own. Commands are
// formatted (hiredis' redisFormatCommandArgv) into an output buffer the owner sends; bytes the
// owner receives are fed to hiredis' reader, and each complete reply finishes the oldest command
// still waiting — RESP answers strictly in order on a connection, so pipelining is a FIFO.
//
// The owner (the worker's Redis connection on its io_uring) connects, sends pending_output(),
// feeds what arrives, times commands out, and on any failure calls fail_all(), which leaves the
// pipe as new for the next connection. Nothing here blocks, throws or reads a clock.
//
// Memory stays bounded whatever the server sends: one reply may take at most max_reply_bytes on
// the wire (hiredis alone would buffer any bulk length a garbage header announces), the reply
// objects of an unfinished array at most as much again, and a line (status, error, integer or a
// length header) at most kMaxLineBytes, which also keeps hiredis' rescan of an unfinished line
// from going quadratic.
//
// Allocation: formatting a command allocates its RESP bytes once (hiredis), appended to the
// output buffer whose capacity is kept (up to kKeptOutputCapacity once it drains); each reply is
// one hiredis reply object, freed as soon as its callback returns. Not thread-safe: one owner
// thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>

struct redisReader;
struct redisReplyObjectFunctions;

namespace edgefn::cache {

// One reply, as the callback sees it; its views are valid during the callback only.
struct RedisReply {
  enum class Kind : std::uint8_t {
    kNil,      // GET of a missing key
    kString,   // bulk string: `text`
    kInteger,  // `integer` (INCR, DEL)
    kStatus,   // simple string such as OK: `text`
    kError,    // -ERR ...: `text`, without the '-'
    kOther,    // arrays and anything else this client never asks for
  };
  Kind kind = Kind::kNil;
  std::string_view text;
  long long integer = 0;
};

class RedisPipe {
 public:
  // Identifies a command until its reply (or its failure) is delivered: the owner's token.
  using Token = std::uint64_t;

  // Stored values are up to a few MiB; a reply larger than this is taken for garbage.
  static constexpr std::size_t kDefaultMaxReplyBytes = std::size_t{16} << 20;
  // No status, error or length line Redis sends comes near this.
  static constexpr std::size_t kMaxLineBytes = std::size_t{64} << 10;
  // The output buffer keeps at most this much capacity once drained, so one large SET does not
  // pin its size for the connection's life.
  static constexpr std::size_t kKeptOutputCapacity = std::size_t{64} << 10;
  // command() formats from arrays on the stack.
  static constexpr std::size_t kMaxArgs = 16;

  // max_reply_bytes: the most one reply may take on the wire (at least 64 bytes).
  explicit RedisPipe(std::size_t max_reply_bytes = kDefaultMaxReplyBytes);
  ~RedisPipe();
  RedisPipe(const RedisPipe&) = delete;
  RedisPipe& operator=(const RedisPipe&) = delete;

  // Each queues one command; false (nothing queued) when it cannot be formatted (out of memory,
  // or arguments too long for hiredis' int lengths).
  //
  // Any command, its arguments binary-safe: {"HGET", key, field}. At most kMaxArgs arguments.
  bool command(Token token, std::initializer_list<std::string_view> args);
  bool get(Token token, std::string_view key);
  // SET key value PX ttl; a ttl under 1 ms is sent as 1 ms (Redis refuses PX 0).
  bool set(Token token, std::string_view key, std::string_view value,
           std::chrono::milliseconds ttl);
  bool del(Token token, std::string_view key);
  bool incr(Token token, std::string_view key);

  // Bytes to send, oldest first; the owner reports what the socket took with consumed(). The view
  // is valid until the next command is queued, consumed() or fail_all().
  std::string_view pending_output() const { return std::string_view(output_).substr(sent_); }
  // `bytes` at most pending_output().size().
  void consumed(std::size_t bytes);

  // Feeds received bytes. For every reply now complete, calls on_reply(token, reply) in order;
  // on_reply may queue commands and may call fail_all(), but must not feed() or destroy the pipe.
  // Returns false on a protocol error (garbage from the server, a reply nobody asked for, a reply
  // over the size caps, or no memory): the connection must be dropped; commands still waiting
  // are not completed (call fail_all), and every feed() returns false until fail_all().
  template <class OnReply>
  bool feed(std::string_view bytes, OnReply&& on_reply);

  // Every command not yet answered: calls on_failure(token) for each, oldest first, after leaving
  // the pipe empty and ready for a new connection (reader state and output cleared). Commands
  // that on_failure queues are kept, for the next connection.
  template <class OnFailure>
  void fail_all(OnFailure&& on_failure);

  // Commands sent or queued and not yet answered.
  std::size_t waiting() const { return tokens_.size(); }

  // Why the last feed() returned false; empty while none has.
  std::string_view error() const { return error_; }

 private:
  struct Builder;  // hiredis reply-object functions that charge an unfinished array's memory

  bool queue(Token token, int argc, const char** argv, const std::size_t* lengths);
  bool feed_bytes(std::string_view bytes);
  // One reply out of the reader: 1 and `reply` set, 0 when none is complete, -1 on error.
  int next_reply(RedisReply& reply, void*& raw);
  bool unsolicited();  // a reply with no command waiting: always false
  bool fail(const char* why);
  static void free_reply(void* raw);
  void reset();  // reader and output as new; tokens untouched

  std::size_t max_reply_bytes_;
  redisReader* reader_ = nullptr;  // null only when creating one ran out of memory
  const redisReplyObjectFunctions* defaults_ = nullptr;  // hiredis' own, which Builder wraps
  std::size_t partial_bytes_ = 0;    // bytes fed since the last complete reply ended
  std::size_t partial_objects_ = 0;  // memory charged to the unfinished reply's objects
  bool failed_ = false;
  const char* error_ = "";
  std::string output_;
  std::size_t sent_ = 0;  // bytes of output_ already taken by the socket
  std::deque<Token> tokens_;
};

template <class OnReply>
bool RedisPipe::feed(std::string_view bytes, OnReply&& on_reply) {
  if (!feed_bytes(bytes)) return false;
  while (true) {
    RedisReply reply;
    void* raw = nullptr;
    const int got = next_reply(reply, raw);
    if (got < 0) return false;
    if (got == 0) return true;
    if (tokens_.empty()) {  // a reply nobody asked for: the stream is not what we think
      free_reply(raw);
      return unsolicited();
    }
    const Token token = tokens_.front();
    tokens_.pop_front();
    on_reply(token, reply);
    free_reply(raw);  // detached from the reader: still valid if on_reply called fail_all()
  }
}

template <class OnFailure>
void RedisPipe::fail_all(OnFailure&& on_failure) {
  reset();
  if (tokens_.empty()) return;
  // Swapped out first so that what on_failure queues (a retry) stays for the next connection.
  std::deque<Token> failed;
  failed.swap(tokens_);
  for (const Token token : failed)
    on_failure(token);
}

}  // namespace edgefn::cache
