// The request path of an L1 hit, step by step as Connection::answer_from_cache and
// respond_stored take it — parse the request, decode its path, build its cache key, find the
// entry, check purges, decode the stored blob, write Age and Cache-Status, write the response —
// allocates nothing once the connection's buffers have grown (the cache issue's proof).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>

#include "cache/key.h"
#include "cache/l1.h"
#include "cache/policy.h"
#include "cache/purge.h"
#include "cache/stored.h"
#include "router/path.h"
#include "runtime/http_parser.h"
#include "runtime/http_writer.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::runtime {
namespace {

constexpr std::string_view kRequest =
    "GET /products/8812?page=2 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: application/json\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Cookie: session=4f2a9c1e7b3d; theme=dark\r\n"
    "\r\n";

// What a connection keeps between requests, with the capacity it has grown to.
struct ConnectionBuffers {
  http::RequestParser parser{{}};
  std::string in{kRequest};
  std::string path;
  std::string key_bytes;
  std::string extra_headers;
  std::string out;
};

// One request; returns the bytes written, or 0 when a step failed.
std::size_t serve_from_l1(ConnectionBuffers& c, cache::L1Cache& l1, const cache::PurgeList& purges,
                          cache::TimePoint now) {
  std::span<char> input(c.in.data(), c.in.size());
  if (c.parser.parse(input) != http::ParseEvent::kHeadComplete) return 0;
  const http::RequestHead head = c.parser.head(input);
  c.path.resize(head.path.size());
  const router::DecodedPath decoded = router::decode_path(head.path, c.path.data());
  if (decoded.error != router::PathError::kNone) return 0;
  c.path.resize(decoded.size);
  const api::HeaderList headers(head.headers);
  const std::array<cache::KeyHeader, 1> vary = {
      cache::KeyHeader{"accept-language", headers.get("accept-language")}};
  const cache::CacheKey key = cache::build_key({.method = "GET",
                                                .host = head.host,
                                                .path = c.path,
                                                .query = head.query,
                                                .headers = vary,
                                                .scope = "products"},
                                               c.key_bytes);
  const cache::L1Cache::Entry* entry = l1.find(key, now);
  if (entry == nullptr || !entry->fresh(now)) return 0;
  const std::optional<cache::StoredView> stored = cache::decode_stored(entry->response());
  if (!stored || purges.purged(entry->mark(), entry->key(), stored->header_lines)) return 0;
  c.extra_headers.clear();
  c.extra_headers.append("Age: 0\r\n");
  cache::append_cache_status(c.extra_headers, {.hit = true,
                                               .fwd = {},
                                               .fwd_status = 0,
                                               .stored = false,
                                               .ttl_seconds = 42,
                                               .detail = "l1"});
  c.out.clear();
  http::write_stored(c.out, stored->status, stored->header_lines, stored->body,
                     {"Fri, 04 Dec 2026 19:00:00 GMT", 1, false, true}, c.extra_headers);
  c.parser.next_request();
  c.parser.rebase(c.parser.position());  // as if the request were dropped: the same bytes next
  return c.out.size();
}

TEST(L1HitPath, AllocatesNothing) {
  cache::L1Cache l1(1 << 20);
  cache::PurgeList purges;
  const cache::PurgeRule unrelated[] = {
      {.kind = cache::PurgeRule::Kind::kPrefix, .text = "/elsewhere/", .host = {}}};
  purges.add(unrelated, 1);  // a purge since the entry was stored: the path checks it
  const auto now = cache::Clock::now();

  ConnectionBuffers c;
  std::string lines = "Content-Type: application/json\r\nCache-Control: max-age=60\r\n";
  std::string blob;
  cache::encode_stored(blob, 200, lines, R"({"id":8812,"reviews":[]})",
                       {.stored_at_unix_ms = 1, .fresh_ms = 60'000, .stale_ms = 0});
  // Store under the key the request builds.
  std::string key_bytes;
  const std::array<cache::KeyHeader, 1> vary = {
      cache::KeyHeader{"accept-language", "en-US,en;q=0.5"}};
  const cache::CacheKey key = cache::build_key({.method = "GET",
                                                .host = "shop.example.com",
                                                .path = "/products/8812",
                                                .query = "page=2",
                                                .headers = vary,
                                                .scope = "products"},
                                               key_bytes);
  ASSERT_TRUE(l1.insert(key, blob,
                        {.stored_at = now,
                         .fresh_until = now + std::chrono::minutes(1),
                         .stale_until = now + std::chrono::minutes(1)},
                        0, /*mark=*/0));

  ASSERT_GT(serve_from_l1(c, l1, purges, now), 0u);  // buffers grow on the first request
  std::size_t written = 0;
  EXPECT_NO_ALLOC(written = serve_from_l1(c, l1, purges, now));
  EXPECT_GT(written, 0u);
  EXPECT_NE(c.out.find("Cache-Status: edgefn; hit; ttl=42; detail=l1\r\n"), std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find(R"({"id":8812,"reviews":[]})"), std::string::npos);
}

}  // namespace
}  // namespace edgefn::runtime
