// Tests for decode_path(): percent-decoding once, dot segments, bad escapes, control bytes.
#include "router/path.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tests/support/alloc_counter.h"

namespace edgefn::router {
namespace {

struct Decoded {
  std::string path;
  PathError error;
};

Decoded decode(std::string_view raw) {
  std::string out(raw.size(), '\xAA');
  const DecodedPath d = decode_path(raw, out.data());
  out.resize(d.size);
  return {out, d.error};
}

std::string decoded_ok(std::string_view raw) {
  Decoded d = decode(raw);
  EXPECT_EQ(d.error, PathError::kNone) << raw;
  return d.path;
}

PathError error_of(std::string_view raw) {
  return decode(raw).error;
}

TEST(DecodePath, PlainPathsAreCopied) {
  EXPECT_EQ(decoded_ok("/"), "/");
  EXPECT_EQ(decoded_ok("/hello"), "/hello");
  EXPECT_EQ(decoded_ok("/hello/"), "/hello/");
  EXPECT_EQ(decoded_ok("/a/b/c.txt"), "/a/b/c.txt");
  EXPECT_EQ(decoded_ok("/a//b"), "/a//b");  // empty segments are kept, not merged
}

TEST(DecodePath, DecodesEscapesOfEitherCase) {
  EXPECT_EQ(decoded_ok("/caf%C3%A9"), "/caf\xC3\xA9");
  EXPECT_EQ(decoded_ok("/caf%c3%a9"), "/caf\xC3\xA9");
  EXPECT_EQ(decoded_ok("/a%20b"), "/a b");
  EXPECT_EQ(decoded_ok("/%41%42%43"), "/ABC");
  EXPECT_EQ(decoded_ok("/q%3Fx"), "/q?x");
}

TEST(DecodePath, DecodesOnlyOnce) {
  EXPECT_EQ(decoded_ok("/a%252Fb"), "/a%2Fb");
  EXPECT_EQ(decoded_ok("/%2525"), "/%25");
  EXPECT_EQ(decoded_ok("/%252e%252e"), "/%2e%2e");  // not a dot segment after one decoding
}

TEST(DecodePath, EncodedSlashBecomesASeparator) {
  EXPECT_EQ(decoded_ok("/a%2Fb"), "/a/b");
  EXPECT_EQ(decoded_ok("/a%2fb%2F"), "/a/b/");
}

TEST(DecodePath, DotsInsideSegmentsAreFine) {
  EXPECT_EQ(decoded_ok("/.well-known/x"), "/.well-known/x");
  EXPECT_EQ(decoded_ok("/a/.../b"), "/a/.../b");
  EXPECT_EQ(decoded_ok("/a/..b/c."), "/a/..b/c.");
  EXPECT_EQ(decoded_ok("/file.tar.gz"), "/file.tar.gz");
}

TEST(DecodePath, RejectsRawDotSegments) {
  EXPECT_EQ(error_of("/."), PathError::kDotSegment);
  EXPECT_EQ(error_of("/.."), PathError::kDotSegment);
  EXPECT_EQ(error_of("/./a"), PathError::kDotSegment);
  EXPECT_EQ(error_of("/a/../b"), PathError::kDotSegment);
  EXPECT_EQ(error_of("/a/.."), PathError::kDotSegment);
  EXPECT_EQ(error_of("/a/./"), PathError::kDotSegment);
}

TEST(DecodePath, RejectsDotSegmentsAfterDecoding) {
  EXPECT_EQ(error_of("/%2e%2e/etc"), PathError::kDotSegment);
  EXPECT_EQ(error_of("/%2E"), PathError::kDotSegment);
  EXPECT_EQ(error_of("/.%2e"), PathError::kDotSegment);
  EXPECT_EQ(error_of("/a%2F..%2Fb"), PathError::kDotSegment);  // ".." between decoded slashes
  EXPECT_EQ(error_of("/a%2f%2e"), PathError::kDotSegment);
}

TEST(DecodePath, RejectsInvalidEscapes) {
  EXPECT_EQ(error_of("/%zz"), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/%4"), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/%"), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/a%g1"), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/a%1g/b"), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/a%%41"), PathError::kInvalidEscape);
}

TEST(DecodePath, RejectsControlBytesRawAndDecoded) {
  EXPECT_EQ(error_of("/a%00b"), PathError::kControlByte);
  EXPECT_EQ(error_of("/a%0a"), PathError::kControlByte);
  EXPECT_EQ(error_of("/a%0D%0A"), PathError::kControlByte);
  EXPECT_EQ(error_of("/a%1F"), PathError::kControlByte);
  EXPECT_EQ(error_of("/a%7f"), PathError::kControlByte);
  EXPECT_EQ(error_of(std::string_view("/a\0b", 4)), PathError::kControlByte);
  EXPECT_EQ(error_of("/a\tb"), PathError::kControlByte);
  EXPECT_EQ(error_of("/a\x7f"), PathError::kControlByte);
  EXPECT_EQ(decoded_ok("/a%20%7E%80"), "/a ~\x80");  // space, '~' and high bytes are data
}

TEST(DecodePath, RejectsRelativeTargets) {
  EXPECT_EQ(error_of(""), PathError::kNotAbsolute);
  EXPECT_EQ(error_of("hello"), PathError::kNotAbsolute);
  EXPECT_EQ(error_of("*"), PathError::kNotAbsolute);
  EXPECT_EQ(error_of("%2Fa"), PathError::kNotAbsolute);
}

TEST(DecodePath, FirstErrorWinsAndSizeIsZero) {
  EXPECT_EQ(error_of("/%zz/.."), PathError::kInvalidEscape);
  EXPECT_EQ(error_of("/../%zz"), PathError::kDotSegment);
  std::string out(16, 'x');
  EXPECT_EQ(decode_path("/ok/%0a", out.data()).size, 0u);
}

TEST(DecodePath, WritesNoMoreThanTheInputSize) {
  // A buffer exactly raw.size() long with a guard byte after it.
  const std::string_view raw = "/a%2Fb%20c/%41";
  std::string buffer(raw.size() + 1, '#');
  const DecodedPath d = decode_path(raw, buffer.data());
  ASSERT_EQ(d.error, PathError::kNone);
  EXPECT_EQ(std::string_view(buffer.data(), d.size), "/a/b c/A");
  EXPECT_EQ(buffer.back(), '#');
}

TEST(DecodePath, DecodesInPlace) {
  std::string path = "/x%2Fy%21";
  const DecodedPath d = decode_path(path, path.data());
  ASSERT_EQ(d.error, PathError::kNone);
  EXPECT_EQ(std::string_view(path.data(), d.size), "/x/y!");
}

TEST(DecodePath, AllocatesNothing) {
  const std::string_view raw = "/api/v1/users/caf%C3%A9/orders%2F42";
  char out[64];
  DecodedPath d;
  EXPECT_NO_ALLOC(d = decode_path(raw, out));
  EXPECT_EQ(d.error, PathError::kNone);
  EXPECT_NO_ALLOC(d = decode_path("/%2e%2e", out));
  EXPECT_EQ(d.error, PathError::kDotSegment);
}

TEST(DescribePathError, GivesShortReasons) {
  EXPECT_EQ(describe(PathError::kNone), "valid path");
  EXPECT_EQ(describe(PathError::kNotAbsolute), "path must start with '/'");
  EXPECT_EQ(describe(PathError::kInvalidEscape), "invalid percent-escape in path");
  EXPECT_EQ(describe(PathError::kDotSegment), "'.' or '..' segment in path");
  EXPECT_EQ(describe(PathError::kControlByte), "control character in path");
}

}  // namespace
}  // namespace edgefn::router
