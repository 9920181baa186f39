// MemoryKv: the node-wide key-value store behind ctx.kv() when the manifest has no
// [cache.redis]. One instance per process (SharedState), shared by every worker.
//
// Threads: every member function is thread-safe. Keys are split over kShards shards by hash, each
// with its own mutex, table and recency list and an equal share of the byte budget, so workers
// meet only on the same shard and then only for one table probe and a copy of the value. incr is
// a read-modify-write under the shard's lock: atomic across workers.
//
// Memory: at most `budget_bytes` charged (key + value + kEntryOverhead per entry). A write that
// does not fit evicts the shard's least recently used entries (read or written last longest
// ago); a single entry larger than a shard's share is refused (kTooLarge). The store is a cache
// of the node's memory, like the L2 beside it: a restart or eviction loses values, which is why
// values that must survive belong in Redis.
//
// Expiry is lazy: an expired entry is dropped when it is next touched or when eviction reaches
// it; until then it counts against the budget. Time is passed in (`now`), so tests need no real
// clock.
//
// Allocation: put copies the value outside the lock; a new key's table node and key string are
// allocated under it (one small allocation). get copies the value into the caller's arena under
// the lock (a bump in the request's arena, not a heap allocation, for values that fit its buffer).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <string>
#include <string_view>

#include "functions/api/kv.h"

namespace edgefn::runtime {

class MemoryKv {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  static constexpr std::size_t kShards = 16;
  // Charged per entry beyond its key and value bytes: the table node, the strings' headers, the
  // recency links and allocator rounding (kv_memory.cc checks the parts fit).
  static constexpr std::size_t kEntryOverhead = 160;

  // `budget_bytes` over all shards (each budget_bytes / kShards).
  explicit MemoryKv(std::size_t budget_bytes);
  ~MemoryKv();
  MemoryKv(const MemoryKv&) = delete;
  MemoryKv& operator=(const MemoryKv&) = delete;

  // kOk with a copy of the value allocated from `arena` — or, when `into` is given, assigned to
  // *into (the result views it) — or kNotFound.
  api::KvResult get(std::string_view key, TimePoint now, std::pmr::memory_resource* arena,
                    std::pmr::string* into = nullptr);
  // kOk, or kTooLarge when the entry would be larger than one shard's budget. A ttl above zero
  // expires the key at now + ttl; zero keeps it until it is removed or evicted.
  api::KvStatus put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl,
                    TimePoint now);
  // kOk, or kNotFound when there was no live value.
  api::KvStatus remove(std::string_view key, TimePoint now);
  // kOk with the new value; kTooLarge when the key cannot fit a shard; kNotInteger when the stored
  // value is not a canonical decimal int64 (as Redis' INCRBY reads it: optional '-', no leading
  // zeros or spaces) or the sum overflows. A ttl above zero is given to a counter without an expiry
  // (a new one, typically).
  api::KvResult incr(std::string_view key, std::int64_t by, std::chrono::milliseconds ttl,
                     TimePoint now);

  std::size_t size_bytes() const;  // charged over all shards; never above the budget
  std::size_t entries() const;
  std::size_t budget_bytes() const { return budget_bytes_; }
  // The largest value a put can take for an empty key (one shard's share less the overhead).
  std::size_t max_value_bytes() const;
  std::uint64_t evictions() const;

 private:
  struct Shard;
  Shard& shard_for(std::string_view key);

  std::size_t budget_bytes_;
  std::unique_ptr<Shard[]> shards_;
};

// Parses `text` as Redis reads an integer (see incr); false when it is not one.
bool parse_kv_integer(std::string_view text, std::int64_t& value);

}  // namespace edgefn::runtime
