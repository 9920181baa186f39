// MemoryKv: kShards hash tables behind their own mutexes, each with an intrusive recency list
// through its entries (table nodes never move, so the links stay valid across rehashing).
#include "runtime/kv_memory.h"

#include <charconv>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace edgefn::runtime {

namespace {

// Heterogeneous lookup: a string_view finds a std::string key without building one.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>{}(key);
  }
};

}  // namespace

struct MemoryKv::Shard {
  struct Entry {
    std::string value;
    TimePoint expires = TimePoint::max();  // max: no expiry
    std::size_t charge = 0;
    const std::string* key = nullptr;  // the table node's key
    Entry* newer = nullptr;            // towards the most recently used
    Entry* older = nullptr;
  };
  using Table = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;

  std::mutex mutex;
  Table table;
  Entry* newest = nullptr;
  Entry* oldest = nullptr;
  std::size_t bytes = 0;
  std::size_t budget = 0;
  std::uint64_t evictions = 0;

  void unlink(Entry& entry) {
    (entry.newer ? entry.newer->older : newest) = entry.older;
    (entry.older ? entry.older->newer : oldest) = entry.newer;
    entry.newer = entry.older = nullptr;
  }
  void link_newest(Entry& entry) {
    entry.older = newest;
    entry.newer = nullptr;
    (newest ? newest->newer : oldest) = &entry;
    newest = &entry;
  }
  void touch(Entry& entry) {
    if (newest == &entry) return;
    unlink(entry);
    link_newest(entry);
  }
  void erase(Table::iterator it) {
    unlink(it->second);
    bytes -= it->second.charge;
    table.erase(it);
  }
  // Drops least recently used entries until the shard is within its budget; `keep` (the entry
  // just written, which fits on its own) is never one of them.
  void evict(const Entry& keep) {
    while (bytes > budget && oldest != nullptr && oldest != &keep) {
      erase(table.find(*oldest->key));
      ++evictions;
    }
  }
  // The live entry for `key`, dropping it when it has expired; end() when none.
  Table::iterator live(std::string_view key, TimePoint now) {
    auto it = table.find(key);
    if (it != table.end() && now >= it->second.expires) {
      erase(it);
      return table.end();
    }
    return it;
  }
  Entry& insert(std::string_view key) {
    auto [it, inserted] = table.try_emplace(std::string(key));
    Entry& entry = it->second;
    entry.key = &it->first;
    link_newest(entry);
    return entry;
  }
};

namespace {

// An entry's node holds the key and the Entry; the table adds its bucket pointer (at a load
// factor of 1) and the allocator its header (glibc's 16 bytes; mimalloc's rounding is less).
constexpr std::size_t kAllocatorOverhead = 16;
constexpr std::size_t kNodeParts =
    sizeof(void*) /* next */ + sizeof(std::size_t) /* hash */ + sizeof(void*) /* bucket */;

std::size_t charge_of(std::string_view key, std::size_t value_bytes) {
  return MemoryKv::kEntryOverhead + key.size() + value_bytes;
}

// Room for any int64 in decimal: 19 digits and a sign.
constexpr std::size_t kMaxIntegerText = 20;

}  // namespace

bool parse_kv_integer(std::string_view text, std::int64_t& value) {
  // Redis' string2ll: "0", or an optional '-' then a non-zero digit and digits; nothing else.
  if (text.empty() || text.size() > kMaxIntegerText) return false;
  if (text == "0") {
    value = 0;
    return true;
  }
  const std::size_t first = text.front() == '-' ? 1 : 0;
  if (first >= text.size() || text[first] < '1' || text[first] > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

MemoryKv::MemoryKv(std::size_t budget_bytes)
    : budget_bytes_(budget_bytes), shards_(std::make_unique<Shard[]>(kShards)) {
  static_assert(sizeof(std::pair<const std::string, Shard::Entry>) + kNodeParts +
                    kAllocatorOverhead <=
                kEntryOverhead);
  for (std::size_t i = 0; i < kShards; ++i)
    shards_[i].budget = budget_bytes / kShards;
}

MemoryKv::~MemoryKv() = default;

MemoryKv::Shard& MemoryKv::shard_for(std::string_view key) {
  // The top bits pick the shard; the table buckets by the low ones, so the two are independent.
  const std::size_t hash = KeyHash{}(key);
  return shards_[(hash >> 32) % kShards];
}

api::KvResult MemoryKv::get(std::string_view key, TimePoint now, std::pmr::memory_resource* arena,
                            std::pmr::string* into) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.live(key, now);
  if (it == shard.table.end()) return api::KvResult::of(api::KvStatus::kNotFound);
  Shard::Entry& entry = it->second;
  shard.touch(entry);
  api::KvResult result = api::KvResult::of(api::KvStatus::kOk);
  if (into != nullptr) {
    into->assign(entry.value);  // under the lock, for the same reason
    result.value = *into;
  } else if (!entry.value.empty()) {
    // Copied under the lock: the value may be replaced the moment the lock is gone.
    char* copy = static_cast<char*>(arena->allocate(entry.value.size(), 1));
    std::memcpy(copy, entry.value.data(), entry.value.size());
    result.value = std::string_view(copy, entry.value.size());
  }
  return result;
}

api::KvStatus MemoryKv::put(std::string_view key, std::string_view value,
                            std::chrono::milliseconds ttl, TimePoint now) {
  Shard& shard = shard_for(key);
  const std::size_t charge = charge_of(key, value.size());
  if (charge > shard.budget) return api::KvStatus::kTooLarge;
  std::string copy(value);  // outside the lock
  std::string replaced;     // freed after the lock is gone
  std::lock_guard lock(shard.mutex);
  auto it = shard.table.find(key);
  Shard::Entry& entry = it != shard.table.end() ? it->second : shard.insert(key);
  replaced.swap(entry.value);
  entry.value.swap(copy);
  shard.bytes = shard.bytes - entry.charge + charge;
  entry.charge = charge;
  entry.expires = ttl.count() > 0 ? now + ttl : TimePoint::max();
  shard.touch(entry);
  shard.evict(entry);
  return api::KvStatus::kOk;
}

api::KvStatus MemoryKv::remove(std::string_view key, TimePoint now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.live(key, now);
  if (it == shard.table.end()) return api::KvStatus::kNotFound;
  shard.erase(it);
  return api::KvStatus::kOk;
}

api::KvResult MemoryKv::incr(std::string_view key, std::int64_t by, std::chrono::milliseconds ttl,
                             TimePoint now) {
  Shard& shard = shard_for(key);
  if (charge_of(key, kMaxIntegerText) > shard.budget)
    return api::KvResult::of(api::KvStatus::kTooLarge);
  std::lock_guard lock(shard.mutex);
  auto it = shard.live(key, now);
  std::int64_t current = 0;
  if (it != shard.table.end() && !parse_kv_integer(it->second.value, current)) {
    return api::KvResult::of(api::KvStatus::kNotInteger);
  }
  std::int64_t next = 0;
  if (__builtin_add_overflow(current, by, &next))
    return api::KvResult::of(api::KvStatus::kNotInteger);
  Shard::Entry& entry = it != shard.table.end() ? it->second : shard.insert(key);
  char digits[kMaxIntegerText];
  const auto end = std::to_chars(digits, digits + sizeof digits, next).ptr;
  // 20 bytes fit the string's inline buffer only up to 15: a long counter allocates once, under
  // the lock, and keeps that capacity.
  entry.value.assign(digits, end);
  const std::size_t charge = charge_of(key, entry.value.size());
  shard.bytes = shard.bytes - entry.charge + charge;
  entry.charge = charge;
  if (ttl.count() > 0 && entry.expires == TimePoint::max()) entry.expires = now + ttl;
  shard.touch(entry);
  shard.evict(entry);
  return api::KvResult::counted(next);
}

std::size_t MemoryKv::size_bytes() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].bytes;
  }
  return total;
}

std::size_t MemoryKv::entries() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].table.size();
  }
  return total;
}

std::size_t MemoryKv::max_value_bytes() const {
  const std::size_t share = budget_bytes_ / kShards;
  return share > kEntryOverhead ? share - kEntryOverhead : 0;
}

std::uint64_t MemoryKv::evictions() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].evictions;
  }
  return total;
}

}  // namespace edgefn::runtime
