// Tests for PurgeList (cache/purge.h): which stored responses a rule matches (path, prefix, host,
// tag), by mark and by wall-clock time, the bound on rules kept, and checks racing additions.
#include "cache/purge.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cache/key.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

std::string key_for(std::string_view host, std::string_view path, std::string_view query = {}) {
  std::string bytes;
  build_key(KeyParts{.method = "GET",
                     .host = host,
                     .path = path,
                     .query = query,
                     .headers = {},
                     .scope = "page"},
            bytes);
  return bytes;
}

PurgeRule rule(PurgeRule::Kind kind, std::string text, std::string host = {}) {
  return {.kind = kind, .text = std::move(text), .host = std::move(host)};
}

TEST(PurgeKey, HostAndPathAreReadFromTheCanonicalKey) {
  std::string_view host;
  std::string_view path;
  const std::string key = key_for("Shop.Example:8080", "/a/b", "x=1");
  ASSERT_TRUE(key_host_and_path(key, host, path));
  EXPECT_EQ(host, "shop.example:8080");
  EXPECT_EQ(path, "/a/b");
  EXPECT_FALSE(key_host_and_path("v1|not a key", host, path));
  EXPECT_FALSE(key_host_and_path("v2|5:page,3:GET,99:short", host, path));
}

TEST(PurgeTags, CacheTagListsAreCommaSeparatedInAnyFieldCase) {
  const std::string lines =
      "Content-Type: text/plain\r\nCACHE-TAG: a, product-42 ,b\r\n"
      "cache-tag: late\r\n";
  EXPECT_TRUE(lists_cache_tag(lines, "product-42"));
  EXPECT_TRUE(lists_cache_tag(lines, "a"));
  EXPECT_TRUE(lists_cache_tag(lines, "late"));
  EXPECT_FALSE(lists_cache_tag(lines, "product"));
  EXPECT_FALSE(lists_cache_tag(lines, "text/plain"));
  EXPECT_FALSE(lists_cache_tag("", "a"));
}

TEST(PurgeList, RulesMatchOnlyResponsesStoredBeforeThem) {
  PurgeList purges;
  const std::string a = key_for("test.local", "/a");
  EXPECT_EQ(purges.latest(), 0u);
  EXPECT_FALSE(purges.purged(0, a, ""));
  const std::uint64_t mark = purges.latest();
  const PurgeRule rules[] = {rule(PurgeRule::Kind::kPath, "/a")};
  EXPECT_EQ(purges.add(rules, 1000), 1u);
  EXPECT_TRUE(purges.purged(mark, a, ""));
  EXPECT_FALSE(purges.purged(purges.latest(), a, ""));  // stored after the purge
  EXPECT_FALSE(purges.purged(mark, key_for("test.local", "/a/b"), ""));
  EXPECT_TRUE(purges.purged(mark, key_for("test.local", "/a", "any=query"), ""));
}

TEST(PurgeList, PrefixesHostsAndTags) {
  PurgeList purges;
  const PurgeRule rules[] = {rule(PurgeRule::Kind::kPrefix, "/img/", "shop.example"),
                             rule(PurgeRule::Kind::kTag, "sale")};
  purges.add(rules, 1000);
  EXPECT_TRUE(purges.purged(0, key_for("shop.example", "/img/1.png"), ""));
  EXPECT_TRUE(purges.purged(0, key_for("Shop.Example:443", "/img/2.png"), ""));  // port ignored
  EXPECT_FALSE(purges.purged(0, key_for("other.example", "/img/1.png"), ""));
  // A function not keyed by host answers every host: a host's purge covers it.
  EXPECT_TRUE(purges.purged(0, key_for("", "/img/1.png"), ""));
  EXPECT_FALSE(purges.purged(0, key_for("shop.example", "/imgs"), ""));
  EXPECT_TRUE(purges.purged(0, key_for("any.example", "/x"), "Cache-Tag: new, sale\r\n"));
  EXPECT_FALSE(purges.purged(0, key_for("any.example", "/x"), "Cache-Tag: new\r\n"));
}

TEST(PurgeList, ResponsesReadBackFromRedisAreJudgedByTheirStoreTime) {
  PurgeList purges;
  const std::string a = key_for("test.local", "/a");
  EXPECT_FALSE(purges.purged_since(500, a, ""));
  const PurgeRule rules[] = {rule(PurgeRule::Kind::kPath, "/a")};
  purges.add(rules, 1000);
  EXPECT_TRUE(purges.purged_since(999, a, ""));
  EXPECT_TRUE(purges.purged_since(1000, a, ""));  // the same millisecond: purged
  EXPECT_FALSE(purges.purged_since(1001, a, ""));
}

TEST(PurgeList, ResponsesOlderThanForgottenRulesCountAsPurged) {
  PurgeList purges;
  const PurgeRule one[] = {rule(PurgeRule::Kind::kPath, "/never")};
  for (std::size_t i = 0; i < PurgeList::kMaxRules + 1; ++i)
    purges.add(one, static_cast<std::int64_t>(i));
  const std::string unrelated = key_for("test.local", "/unrelated");
  EXPECT_TRUE(purges.purged(0, unrelated, ""));  // the first rule is gone: it might have matched
  EXPECT_FALSE(purges.purged(2, unrelated, ""));
  EXPECT_TRUE(purges.purged_since(0, unrelated, ""));
  EXPECT_FALSE(purges.purged_since(5, unrelated, ""));
}

TEST(PurgeList, CheckingAllocatesNothing) {
  PurgeList purges;
  const PurgeRule rules[] = {rule(PurgeRule::Kind::kPrefix, "/p/"),
                             rule(PurgeRule::Kind::kTag, "t")};
  purges.add(rules, 1);
  const std::string key = key_for("test.local", "/q");
  bool purged = true;
  EXPECT_NO_ALLOC(purged = purges.purged(0, key, "Cache-Tag: u\r\n"));
  EXPECT_FALSE(purged);
  EXPECT_NO_ALLOC(purged = purges.purged_since(0, key, ""));
  EXPECT_FALSE(purged);
}

TEST(PurgeList, ChecksRaceAdditionsSafely) {
  PurgeList purges;
  std::atomic<bool> started{false};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!started)
      std::this_thread::yield();  // the checks overlap the additions
    const PurgeRule rules[] = {rule(PurgeRule::Kind::kPath, "/hot")};
    for (int i = 0; i < 2000; ++i)
      purges.add(rules, i);
    stop = true;
  });
  const std::string hot = key_for("test.local", "/hot");
  const std::string cold = key_for("test.local", "/cold");
  std::uint64_t checks = 0;
  started = true;
  while (!stop || checks == 0) {
    const std::uint64_t mark = purges.latest();
    EXPECT_FALSE(purges.purged(mark, cold, ""));
    if (mark > 0) {
      EXPECT_TRUE(purges.purged(mark - 1, hot, ""));
    }
    ++checks;
  }
  writer.join();
  EXPECT_GT(checks, 0u);
}

}  // namespace
}  // namespace edgefn::cache
