// RedisPipe on hiredis 0.14's formatter and reader. The reader's fields (buf, pos, len, maxbuf,
// privdata, fn) are public in read.h and read here to bound what a reply may buffer; 0.14 itself
// accepts any bulk length that fits a size_t and keeps reading towards it.
#include "cache/redis_pipe.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <climits>

namespace edgefn::cache {
namespace {

// An empty view may hold a null pointer, which hiredis would hand to memcpy.
const char* data_of(std::string_view bytes) {
  return bytes.empty() ? "" : bytes.data();
}

}  // namespace

// Memory that lives until an array reply completes: the array and everything inside it is
// charged against max_reply_bytes, and refusing it (nullptr) makes hiredis fail the reply. A
// top-level scalar is created only once its bytes are all in, and freed right after its
// callback, so the wire cap already bounds it. Each function checks before delegating: hiredis'
// own functions link a new object into its parent, where it must not be freed a second time.
struct RedisPipe::Builder {
  static RedisPipe& pipe(const redisReadTask* task) {
    return *static_cast<RedisPipe*>(task->privdata);
  }

  static bool charge(const redisReadTask* task, std::size_t bytes, bool array) {
    if (task->parent == nullptr && !array) return true;
    RedisPipe& p = pipe(task);
    if (bytes > p.max_reply_bytes_ - p.partial_objects_) {
      p.error_ = "array reply over max_reply_bytes";
      return false;
    }
    p.partial_objects_ += bytes;
    return true;
  }

  static void* string(const redisReadTask* task, char* str, std::size_t len) {
    if (!charge(task, sizeof(redisReply) + len + 1, false)) return nullptr;
    return pipe(task).defaults_->createString(task, str, len);
  }
  static void* array(const redisReadTask* task, int elements) {
    const std::size_t slots = elements > 0 ? static_cast<std::size_t>(elements) : 0;
    if (!charge(task, sizeof(redisReply) + slots * sizeof(redisReply*), true)) return nullptr;
    return pipe(task).defaults_->createArray(task, elements);
  }
  static void* integer(const redisReadTask* task, long long value) {
    if (!charge(task, sizeof(redisReply), false)) return nullptr;
    return pipe(task).defaults_->createInteger(task, value);
  }
  static void* nil(const redisReadTask* task) {
    if (!charge(task, sizeof(redisReply), false)) return nullptr;
    return pipe(task).defaults_->createNil(task);
  }

  static redisReplyObjectFunctions functions;
};

redisReplyObjectFunctions RedisPipe::Builder::functions = {
    &RedisPipe::Builder::string, &RedisPipe::Builder::array, &RedisPipe::Builder::integer,
    &RedisPipe::Builder::nil, &freeReplyObject};

RedisPipe::RedisPipe(std::size_t max_reply_bytes)
    : max_reply_bytes_(std::max<std::size_t>(max_reply_bytes, 64)) {
  reset();
}

RedisPipe::~RedisPipe() {
  redisReaderFree(reader_);
}

bool RedisPipe::command(Token token, std::initializer_list<std::string_view> args) {
  if (args.size() == 0 || args.size() > kMaxArgs) return false;
  const char* argv[kMaxArgs];
  std::size_t lengths[kMaxArgs];
  int argc = 0;
  for (const std::string_view arg : args) {
    argv[argc] = data_of(arg);
    lengths[argc] = arg.size();
    ++argc;
  }
  return queue(token, argc, argv, lengths);
}

bool RedisPipe::get(Token token, std::string_view key) {
  const char* argv[] = {"GET", data_of(key)};
  const std::size_t lengths[] = {3, key.size()};
  return queue(token, 2, argv, lengths);
}

bool RedisPipe::set(Token token, std::string_view key, std::string_view value,
                    std::chrono::milliseconds ttl) {
  char ttl_text[24];
  const auto [end, ec] =
      std::to_chars(ttl_text, ttl_text + sizeof(ttl_text), std::max<long long>(ttl.count(), 1));
  if (ec != std::errc()) return false;
  const char* argv[] = {"SET", data_of(key), data_of(value), "PX", ttl_text};
  const std::size_t lengths[] = {3, key.size(), value.size(), 2,
                                 static_cast<std::size_t>(end - ttl_text)};
  return queue(token, 5, argv, lengths);
}

bool RedisPipe::del(Token token, std::string_view key) {
  const char* argv[] = {"DEL", data_of(key)};
  const std::size_t lengths[] = {3, key.size()};
  return queue(token, 2, argv, lengths);
}

bool RedisPipe::incr(Token token, std::string_view key) {
  const char* argv[] = {"INCR", data_of(key)};
  const std::size_t lengths[] = {4, key.size()};
  return queue(token, 2, argv, lengths);
}

bool RedisPipe::queue(Token token, int argc, const char** argv, const std::size_t* lengths) {
  // hiredis sums the command's length in an int without checking; each argument adds at most
  // 25 bytes of framing ("$", 20 digits, two CRLFs), the array header as much.
  std::size_t total = 25;
  for (int i = 0; i < argc; ++i) {
    if (lengths[i] > static_cast<std::size_t>(INT_MAX) - total - 25) return false;
    total += lengths[i] + 25;
  }
  char* command = nullptr;
  const int length = redisFormatCommandArgv(&command, argc, argv, lengths);
  if (length < 0) return false;
  // Drop what the socket already took once it is at least half the buffer, so each byte is moved
  // at most once on average and the buffer does not grow with a connection that keeps up.
  if (sent_ > 0 && sent_ >= output_.size() - sent_) {
    output_.erase(0, sent_);
    sent_ = 0;
  }
  output_.append(command, static_cast<std::size_t>(length));
  redisFreeCommand(command);
  tokens_.push_back(token);
  return true;
}

void RedisPipe::consumed(std::size_t bytes) {
  assert(bytes <= output_.size() - sent_);
  sent_ += std::min(bytes, output_.size() - sent_);
  if (sent_ < output_.size()) return;
  sent_ = 0;
  if (output_.capacity() > kKeptOutputCapacity) {
    std::string().swap(output_);
  } else {
    output_.clear();
  }
}

bool RedisPipe::feed_bytes(std::string_view bytes) {
  if (failed_) return false;
  if (reader_ == nullptr) return fail("out of memory");
  if (bytes.empty()) return true;
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    return fail(reader_->errstr);
  }
  partial_bytes_ += bytes.size();
  return true;
}

int RedisPipe::next_reply(RedisReply& reply, void*& raw) {
  raw = nullptr;
  if (reader_ == nullptr) {  // on_reply called fail_all(), which ran out of memory
    fail("out of memory");
    return -1;
  }
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    fail(*error_ != '\0' ? error_ : reader_->errstr);  // error_: Builder refused an array
    return -1;
  }
  const std::size_t unparsed = reader_->len - reader_->pos;
  if (raw == nullptr) {
    // Everything fed since the last reply ended belongs to the unfinished one, including what
    // hiredis already consumed into an array's elements.
    if (partial_bytes_ > max_reply_bytes_) {
      fail("reply over max_reply_bytes");
      return -1;
    }
    // In every reader state the unparsed bytes start with a line, or the rest of one: a type
    // byte's line, or a bulk string's length header (hiredis keeps the header unparsed until the
    // whole string is in). hiredis scans that line from its start on every feed.
    if (unparsed > kMaxLineBytes &&
        std::string_view(reader_->buf + reader_->pos, kMaxLineBytes).find("\r\n") ==
            std::string_view::npos) {
      fail("line over kMaxLineBytes");
      return -1;
    }
    return 0;
  }
  // Checked here too so that the cap does not depend on how the bytes were split.
  const std::size_t reply_bytes = partial_bytes_ - unparsed;
  partial_bytes_ = unparsed;
  partial_objects_ = 0;
  if (reply_bytes > max_reply_bytes_) {
    free_reply(raw);
    raw = nullptr;
    fail("reply over max_reply_bytes");
    return -1;
  }

  const auto* r = static_cast<const redisReply*>(raw);
  reply = RedisReply{};
  switch (r->type) {
    case REDIS_REPLY_NIL:
      reply.kind = RedisReply::Kind::kNil;
      break;
    case REDIS_REPLY_STRING:
      reply.kind = RedisReply::Kind::kString;
      reply.text = std::string_view(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.kind = RedisReply::Kind::kInteger;
      reply.integer = r->integer;
      break;
    case REDIS_REPLY_STATUS:
      reply.kind = RedisReply::Kind::kStatus;
      reply.text = std::string_view(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.kind = RedisReply::Kind::kError;
      reply.text = std::string_view(r->str, r->len);
      break;
    default:
      reply.kind = RedisReply::Kind::kOther;
      break;
  }
  return 1;
}

bool RedisPipe::unsolicited() {
  return fail("reply with no command waiting");
}

bool RedisPipe::fail(const char* why) {
  failed_ = true;
  error_ = why;
  return false;
}

void RedisPipe::free_reply(void* raw) {
  freeReplyObject(raw);
}

void RedisPipe::reset() {
  sent_ = 0;
  if (output_.capacity() > kKeptOutputCapacity) {
    std::string().swap(output_);
  } else {
    output_.clear();
  }
  partial_bytes_ = 0;
  partial_objects_ = 0;
  failed_ = false;
  error_ = "";

  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  if (reader_ == nullptr) return;  // feed() fails until a later fail_all() gets one
  defaults_ = reader_->fn;         // hiredis' default reply objects, freed by freeReplyObject
  reader_->fn = &Builder::functions;
  reader_->privdata = this;  // handed to every read task, so Builder finds this pipe
  // hiredis frees an idle buffer whose spare room exceeds maxbuf when more bytes arrive; a large
  // bulk string is still read whole (maxbuf bounds only what is kept once it is consumed).
  reader_->maxbuf = REDIS_READER_MAX_BUF;
}

}  // namespace edgefn::cache
