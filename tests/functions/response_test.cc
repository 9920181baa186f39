// Tests api::Response header handling and that its strings live in the arena it was given.
#include "functions/api/response.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory_resource>

#include "tests/functions/module_harness.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::api {
namespace {

using functions::testing::CountingResource;

// The fields as "name: value" lines, for whole-list comparisons.
std::string dump(const Response& r) {
  std::string out;
  for (const HeaderField& f : r.headers()) {
    out.append(f.name).append(": ").append(f.value).append("\n");
  }
  return out;
}

TEST(ResponseTest, StartsAsAnEmpty200) {
  Response r;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.headers().empty());
  EXPECT_EQ(Response(404, std::pmr::get_default_resource()).status, 404);
}

TEST(ResponseTest, AddHeaderKeepsEveryFieldInOrder) {
  Response r;
  r.add_header("Set-Cookie", "a=1");
  r.add_header("X-Other", "x");
  r.add_header("set-cookie", "b=2");
  EXPECT_EQ(dump(r), "Set-Cookie: a=1\nX-Other: x\nset-cookie: b=2\n");
}

TEST(ResponseTest, SetHeaderAppendsWhenAbsent) {
  Response r;
  r.set_header("Content-Type", "text/plain");
  r.set_header("Cache-Control", "no-store");
  EXPECT_EQ(dump(r), "Content-Type: text/plain\nCache-Control: no-store\n");
}

TEST(ResponseTest, SetHeaderReplacesEverySameNamedFieldAtTheFirstPosition) {
  Response r;
  r.add_header("A", "1");
  r.add_header("vary", "accept");
  r.add_header("B", "2");
  r.add_header("VARY", "cookie");
  r.add_header("C", "3");
  r.add_header("Vary", "origin");
  r.set_header("Vary", "accept-language");
  EXPECT_EQ(dump(r), "A: 1\nVary: accept-language\nB: 2\nC: 3\n");
}

TEST(ResponseTest, HeaderLookupIgnoresCase) {
  Response r;
  r.add_header("X-Request-Id", "first");
  r.add_header("x-request-id", "second");
  EXPECT_EQ(r.header("x-request-id"), "first");
  EXPECT_EQ(r.header("X-REQUEST-ID"), "first");
  EXPECT_EQ(r.header("x-request"), "");
  EXPECT_EQ(r.header("absent"), "");
}

TEST(ResponseTest, CaseFoldingIsAsciiLettersOnly) {
  // '[' and '{' (like '@' and '`') differ by 0x20 exactly as 'A' and 'a' do, but are not letters.
  Response r;
  r.add_header("x[", "bracket");
  r.add_header("x@", "at");
  EXPECT_EQ(r.header("x{"), "");
  EXPECT_EQ(r.header("x`"), "");
  EXPECT_EQ(r.header("X["), "bracket");
  r.set_header("x{", "brace");
  EXPECT_EQ(dump(r), "x[: bracket\nx@: at\nx{: brace\n");
}

TEST(ResponseTest, StringsLiveInTheArena) {
  alignas(std::max_align_t) std::byte buffer[2048];
  std::pmr::monotonic_buffer_resource backing(buffer, sizeof buffer,
                                              std::pmr::null_memory_resource());
  CountingResource arena(&backing);
  Response r(&arena);
  EXPECT_NO_ALLOC({
    r.add_header("X-A-Header-Name-Longer-Than-SSO", "a value that is longer than the SSO");
    r.add_header("X-Another-Long-Header-Name", "another value longer than the SSO");
    r.set_header("x-a-header-name-longer-than-sso", "a replacement value, also long");
    r.body.assign("a body that is longer than the small string buffer");
  });
  EXPECT_GT(arena.allocations, 0u);
  ASSERT_EQ(r.headers().size(), 2u);
  for (const HeaderField& f : r.headers()) {
    EXPECT_EQ(f.name.get_allocator().resource(), &arena);
    EXPECT_EQ(f.value.get_allocator().resource(), &arena);
  }
  EXPECT_EQ(r.header("X-A-HEADER-NAME-LONGER-THAN-SSO"), "a replacement value, also long");
}

}  // namespace
}  // namespace edgefn::api
