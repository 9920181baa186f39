// Tests for cache keys: the canonical form, its normalization, injectivity, hashing, and that a
// warm buffer makes building a key allocation-free.
#include "cache/key.h"
#include "cache/invalidation.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <array>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

std::string canonical(const KeyParts& parts) {
  std::string out;
  build_key(parts, out);
  return out;
}

TEST(BuildKey, MatchesTheDocumentedExample) {
  const std::array<KeyHeader, 2> vary = {{{"accept-language", "en"}, {"x-api-key", std::nullopt}}};
  const KeyParts parts{"GET", "Example.com", "/hello", "x=1", vary, "hello"};
  EXPECT_EQ(canonical(parts),
            "v2|5:hello,3:GET,11:example.com,6:/hello,3:x=1,15:accept-language,2:en,9:x-api-key,-");
}

TEST(BuildKey, EmptyFieldsAreStillDelimited) {
  EXPECT_EQ(canonical(KeyParts{"GET", "", "/", "", {}, ""}), "v2|0:,3:GET,0:,1:/,0:,");
}

TEST(BuildKey, ReturnsAViewOfTheBufferAndItsXxh3Hash) {
  std::string out;
  const CacheKey key = build_key(KeyParts{"GET", "a.example", "/p", "q", {}, ""}, out);
  EXPECT_EQ(key.bytes().data(), out.data());
  EXPECT_EQ(key.bytes(), out);
  EXPECT_EQ(key.hash(), XXH3_64bits(out.data(), out.size()));
  EXPECT_EQ(key.hash(), hash_key_bytes(out));
  EXPECT_EQ(key, CacheKey::of(out));
}

TEST(BuildKey, FoldsHostAndHeaderNamesButNotMethodPathQueryOrValues) {
  const std::array<KeyHeader, 1> upper = {{{"Accept-Language", "EN-us"}}};
  const std::array<KeyHeader, 1> lower = {{{"accept-language", "EN-us"}}};
  EXPECT_EQ(canonical(KeyParts{"GET", "API.Example.COM:8080", "/A", "B=C", upper, ""}),
            canonical(KeyParts{"GET", "api.example.com:8080", "/A", "B=C", lower, ""}));
  EXPECT_EQ(canonical(KeyParts{"GET", "h", "/A", "B=C", upper, ""}),
            "v2|0:,3:GET,1:h,2:/A,3:B=C,15:accept-language,5:EN-us,");
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", {}, ""}),
            canonical(KeyParts{"get", "h", "/", "", {}, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/A", "", {}, ""}),
            canonical(KeyParts{"GET", "h", "/a", "", {}, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "a=1&b=2", {}, ""}),
            canonical(KeyParts{"GET", "h", "/", "b=2&a=1", {}, ""}));
}

TEST(BuildKey, TrimsOptionalWhitespaceAroundHeaderValuesOnly) {
  const std::array<KeyHeader, 1> padded = {{{"x", " \tgzip, br \t"}}};
  const std::array<KeyHeader, 1> bare = {{{"x", "gzip, br"}}};
  EXPECT_EQ(canonical(KeyParts{"GET", "h", "/", "", padded, ""}),
            canonical(KeyParts{"GET", "h", "/", "", bare, ""}));
  EXPECT_EQ(canonical(KeyParts{"GET", "h", "/", "", bare, ""}),
            "v2|0:,3:GET,1:h,1:/,0:,1:x,8:gzip, br,");
  const std::array<KeyHeader, 1> blank = {{{"x", "  "}}};
  EXPECT_EQ(canonical(KeyParts{"GET", "h", "/", "", blank, ""}), "v2|0:,3:GET,1:h,1:/,0:,1:x,0:,");
}

TEST(BuildKey, AbsentHeaderDiffersFromEmptyHeader) {
  const std::array<KeyHeader, 1> absent = {{{"x", std::nullopt}}};
  const std::array<KeyHeader, 1> empty = {{{"x", ""}}};
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", absent, ""}),
            canonical(KeyParts{"GET", "h", "/", "", empty, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", absent, ""}),
            canonical(KeyParts{"GET", "h", "/", "", {}, ""}));
}

TEST(BuildKey, HeaderOrderAndNamesArePartOfTheKey) {
  const std::array<KeyHeader, 2> ab = {{{"a", "1"}, {"b", "2"}}};
  const std::array<KeyHeader, 2> ba = {{{"b", "2"}, {"a", "1"}}};
  const std::array<KeyHeader, 1> a = {{{"a", "1"}}};
  const std::array<KeyHeader, 1> c = {{{"c", "1"}}};
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", ab, ""}),
            canonical(KeyParts{"GET", "h", "/", "", ba, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", a, ""}),
            canonical(KeyParts{"GET", "h", "/", "", c, ""}));
}

// Values that would collide under a naive "join with a separator" scheme: the separators and
// length digits themselves appear inside fields.
TEST(BuildKey, FieldsContainingTheSyntaxCannotForgeOtherKeys) {
  const std::array<KeyHeader, 1> forged = {{{"x", "1,1:y,1:z"}}};
  const std::array<KeyHeader, 2> real = {{{"x", "1"}, {"y", "z"}}};
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", forged, ""}),
            canonical(KeyParts{"GET", "h", "/", "", real, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/a,1:b", "", {}, ""}),
            canonical(KeyParts{"GET", "h", "/a", "b", {}, ""}));
  EXPECT_NE(canonical(KeyParts{"GET", "h,1:/", "", "", {}, ""}),
            canonical(KeyParts{"GET", "h", "/", "", {}, ""}));
}

// Random parts over an alphabet made of the encoding's own syntax: two different parts must
// never give the same key. Inputs are already normalized (lower case, no edge whitespace) so
// that equal keys would mean equal parts.
TEST(BuildKey, IsInjectiveOverRandomParts) {
  std::mt19937 rng(7);
  const std::string_view alphabet = "01:,-|v/a";
  auto random_field = [&](std::size_t max) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, max)(rng), 'x');
    for (char& ch : s)
      ch = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    return s;
  };
  std::map<std::string, std::string> seen;  // key -> a description of the parts
  for (int i = 0; i < 20000; ++i) {
    const std::string method = random_field(2), host = random_field(3), path = random_field(4),
                      query = random_field(3), name = random_field(2), value = random_field(3);
    const int header_count = std::uniform_int_distribution<int>(0, 2)(rng);
    std::vector<KeyHeader> headers;
    std::string description = method + "\n" + host + "\n" + path + "\n" + query;
    for (int h = 0; h < header_count; ++h) {
      const bool absent = (rng() & 1) != 0;
      headers.push_back({name, absent ? std::nullopt : std::optional<std::string_view>(value)});
      description += "\n" + name + (absent ? "<absent>" : "=" + value);
    }
    const std::string key = canonical(KeyParts{method, host, path, query, headers, ""});
    auto [it, inserted] = seen.emplace(key, description);
    if (!inserted) {
      EXPECT_EQ(it->second, description) << "two parts share the key " << key;
    }
  }
}

TEST(BuildKey, SizeIsExactAcrossLengthDigitBoundaries) {
  for (std::size_t n : {0u, 1u, 9u, 10u, 11u, 99u, 100u, 101u, 999u, 1000u, 12345u}) {
    const std::string path(n, 'p');
    const std::array<KeyHeader, 1> vary = {{{"h", std::string_view(path)}}};
    const KeyParts parts{"GET", "h", path, path, vary, "scope"};
    std::string out;
    build_key(parts, out);
    EXPECT_EQ(out.size(), canonical_key_size(parts)) << n;
    const std::string digits = std::to_string(n);
    EXPECT_NE(out.find("," + digits + ":" + path + ","), std::string::npos) << n;
  }
}

TEST(BuildKey, TheScopeSeparatesFunctions) {
  EXPECT_NE(canonical(KeyParts{"GET", "h", "/", "", {}, "a"}),
            canonical(KeyParts{"GET", "h", "/", "", {}, "b"}));
  EXPECT_EQ(canonical(KeyParts{"GET", "h", "/", "", {}, "hello"}), "v2|5:hello,3:GET,1:h,1:/,0:,");
}

TEST(UriHash, IgnoresHostCaseAndSeparatesParts) {
  EXPECT_EQ(uri_hash("f", "Example.COM", "/a"), uri_hash("f", "example.com", "/a"));
  EXPECT_NE(uri_hash("f", "example.com", "/a"), uri_hash("f", "example.com", "/A"));
  EXPECT_NE(uri_hash("f", "example.com", "/a"), uri_hash("g", "example.com", "/a"));
  EXPECT_NE(uri_hash("f", "ab", "/c"), uri_hash("f", "a", "b/c"));
  const std::string long_host(200, 'H');
  EXPECT_EQ(uri_hash("f", long_host, "/"), uri_hash("f", std::string(200, 'h'), "/"));
}

TEST(BuildKey, AShorterKeyLeavesNothingOfTheLongerOne) {
  std::string out;
  build_key(KeyParts{"GET", "long-host.example.com", "/a/very/long/path", "q=1", {}, ""}, out);
  const CacheKey key = build_key(KeyParts{"GET", "h", "/", "", {}, ""}, out);
  EXPECT_EQ(out, "v2|0:,3:GET,1:h,1:/,0:,");
  EXPECT_EQ(key.bytes(), out);
}

TEST(BuildKey, AWarmBufferMakesItAllocationFree) {
  const std::array<KeyHeader, 2> vary = {
      {{"accept-language", "en-US,en;q=0.9"}, {"accept-encoding", "gzip, br"}}};
  const KeyParts parts{"GET", "api.example.com", "/api/v1/users/42/orders", "page=2&limit=50",
                       vary,  "orders"};
  std::string buffer;
  build_key(parts, buffer);  // grows the buffer once
  CacheKey key;
  EXPECT_NO_ALLOC(key = build_key(parts, buffer));
  EXPECT_EQ(key.bytes(), buffer);
  const KeyParts shorter{"GET", "api.example.com", "/", "", {}, ""};
  EXPECT_NO_ALLOC(key = build_key(shorter, buffer));
  EXPECT_EQ(key.bytes(), canonical(shorter));
}

TEST(CacheKey, EqualityNeedsBothHashAndBytes) {
  EXPECT_EQ(CacheKey::of("abc"), CacheKey::of("abc"));
  EXPECT_NE(CacheKey::of("abc"), CacheKey::of("abd"));
  EXPECT_NE(CacheKey::with_hash("abc", 1), CacheKey::with_hash("abc", 2));
  EXPECT_NE(CacheKey::with_hash("abc", 1), CacheKey::with_hash("abd", 1));
  EXPECT_EQ(CacheKey::with_hash("abc", 1), CacheKey::with_hash("abc", 1));
}

}  // namespace
}  // namespace edgefn::cache
