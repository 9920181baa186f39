// Tests the JSON output helpers: strict UTF-8 validation, string escaping and base64.
#include "functions/api/json.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <random>
#include <string>

#include "tests/support/alloc_counter.h"

namespace edgefn::api::json {
namespace {

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

std::string as_json(std::string_view text) {
  std::string out;
  append_string(out, text);
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

// An independent reference: decode by arithmetic, then apply the three rules (shortest form,
// no surrogates, at most U+10FFFF). Returns false on any structural error.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += n;
  }
  return true;
}

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii, longer than one eight-byte word"));
  EXPECT_TRUE(is_valid_utf8(std::string_view("nul\0inside", 10)));
  EXPECT_TRUE(is_valid_utf8("\x7F"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080, smallest two-byte
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));       // é
  EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));      // U+0800, smallest three-byte
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));      // €
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000, smallest four-byte
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));  // 😀
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
}

TEST(Utf8Test, RejectsOverlongForms) {
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));  // U+0000 in two bytes
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));  // '/' in two bytes
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));  // U+07FF in three bytes
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in four bytes
}

TEST(Utf8Test, RejectsSurrogates) {
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));              // U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xAF\xBF"));              // U+DBFF
  EXPECT_FALSE(is_valid_utf8("\xED\xB0\x80"));              // U+DC00
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));              // U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // a CESU-8 surrogate pair
}

TEST(Utf8Test, RejectsCodePointsAboveTheLast) {
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF7\xBF\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));  // old five-byte form
  EXPECT_FALSE(is_valid_utf8("\xFE"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

TEST(Utf8Test, RejectsTruncatedAndStraySequences) {
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(
      is_valid_utf8("\xE2\x82"
                    "A"));                      // cut short by an ASCII byte
  EXPECT_FALSE(is_valid_utf8("\x80"));          // a lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xC3\xA9\xA9"));  // one continuation too many
}

TEST(Utf8Test, FindsTheBadByteAtEveryOffsetOfTheAsciiFastPath) {
  for (std::size_t at = 0; at < 40; ++at) {
    std::string text(40, 'a');
    text[at] = '\xFF';
    EXPECT_FALSE(is_valid_utf8(text)) << "bad byte at " << at;
    text[at] = 'b';
    EXPECT_TRUE(is_valid_utf8(text));
  }
  // A valid multi-byte character straddling an eight-byte boundary.
  for (std::size_t at = 0; at < 12; ++at) {
    std::string text(at, 'a');
    text += "\xF0\x9F\x98\x80";
    text += std::string(12, 'z');
    EXPECT_TRUE(is_valid_utf8(text)) << "emoji at " << at;
  }
}

TEST(Utf8Test, AgreesWithAReferenceDecoderOnEveryShortSequence) {
  // Millions of cases: compare without a gtest assertion per case, and report the first few.
  int mismatches = 0;
  const auto check = [&](std::string_view s) {
    if (is_valid_utf8(s) == reference_valid(s) || ++mismatches > 5) return;
    std::string hex;
    for (char c : s)
      hex += std::to_string(static_cast<unsigned char>(c)) + " ";
    ADD_FAILURE() << "disagreement on bytes " << hex;
  };
  std::string s(2, '\0');
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      s[0] = static_cast<char>(a);
      s[1] = static_cast<char>(b);
      check(s);
    }
  }
  s.resize(3);
  for (int a = 0xC0; a < 256; ++a) {  // every byte that could lead a multi-byte sequence
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        s[0] = static_cast<char>(a);
        s[1] = static_cast<char>(b);
        s[2] = static_cast<char>(c);
        check(s);
      }
    }
  }
  s.resize(4);
  for (int a = 0xF0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : {0x00, 0x7F, 0x80, 0xBF, 0xC0}) {
        for (int d : {0x41, 0x80, 0x9F, 0xBF, 0xC2}) {
          s[0] = static_cast<char>(a);
          s[1] = static_cast<char>(b);
          s[2] = static_cast<char>(c);
          s[3] = static_cast<char>(d);
          check(s);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(AppendStringTest, QuotesAndEscapes) {
  EXPECT_EQ(as_json(""), R"("")");
  EXPECT_EQ(as_json("plain"), R"("plain")");
  EXPECT_EQ(as_json(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(as_json(R"(C:\dir)"), R"("C:\\dir")");
  EXPECT_EQ(as_json("/slash/ stays"), R"("/slash/ stays")");
  EXPECT_EQ(as_json("\x7F"), "\"\x7F\"");  // DEL needs no escape in JSON
}

TEST(AppendStringTest, ControlBytes) {
  EXPECT_EQ(as_json("a\nb\rc\td\be\ff"), R"("a\nb\rc\td\be\ff")");
  EXPECT_EQ(as_json(std::string_view("\0", 1)), R"("\u0000")");
  EXPECT_EQ(as_json("\x01\x1A\x1B\x1F"), R"("\u0001\u001a\u001b\u001f")");
  EXPECT_EQ(as_json("\x0B"), R"("\u000b")");  // vertical tab has no short form
  EXPECT_EQ(as_json(" "), R"(" ")");
}

TEST(AppendStringTest, ValidUtf8PassesThroughRaw) {
  EXPECT_EQ(as_json("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(AppendStringTest, InvalidBytesBecomeReplacementCharacters) {
  // The expected JSON: `before`, then `n` replacement characters, then `after`, in quotes.
  const auto replaced = [](std::string_view before, int n, std::string_view after) {
    std::string out = "\"";
    out.append(before);
    for (int i = 0; i < n; ++i)
      out.append(kFffd);
    out.append(after);
    out.append("\"");
    return out;
  };
  EXPECT_EQ(as_json("\xFF"), replaced("", 1, ""));
  EXPECT_EQ(as_json("a\x80"
                    "b"),
            replaced("a", 1, "b"));
  // One U+FFFD per maximal subpart: a truncated but otherwise valid prefix is one.
  EXPECT_EQ(as_json("\xE2\x82"
                    "A"),
            replaced("", 1, "A"));
  EXPECT_EQ(as_json("\xF0\x9F\x98"), replaced("", 1, ""));
  EXPECT_EQ(as_json("\xF0\x9F\x98\xF0\x9F\x98\x80"), replaced("", 1, "\xF0\x9F\x98\x80"));
  // Overlongs, surrogates and too-large code points never start a valid prefix beyond the lead.
  EXPECT_EQ(as_json("\xC0\x80"), replaced("", 2, ""));
  EXPECT_EQ(as_json("\xE0\x80\x80"), replaced("", 3, ""));
  EXPECT_EQ(as_json("\xED\xA0\x80"), replaced("", 3, ""));
  EXPECT_EQ(as_json("\xF4\x90\x80\x80"), replaced("", 4, ""));
  EXPECT_EQ(as_json("\xF5\x80"), replaced("", 2, ""));
  // Escaping still applies right after a replacement.
  EXPECT_EQ(as_json("\xFF\"\n"), replaced("", 1, "\\\"\\n"));
}

TEST(AppendStringTest, OutputIsAlwaysValidUtf8) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string input(static_cast<std::size_t>(round % 64), '\0');
    for (char& c : input)
      c = static_cast<char>(byte(rng));
    const std::string out = as_json(input);
    ASSERT_TRUE(is_valid_utf8(out)) << "round " << round;
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out.front(), '"');
    EXPECT_EQ(out.back(), '"');
    for (std::size_t i = 1; i + 1 < out.size(); ++i) {
      ASSERT_GE(static_cast<unsigned char>(out[i]), 0x20) << "raw control byte, round " << round;
    }
    if (is_valid_utf8(input) && input.find_first_of("\"\\") == std::string::npos) {
      bool has_control = false;
      for (char c : input)
        has_control |= static_cast<unsigned char>(c) < 0x20;
      if (!has_control) {
        EXPECT_EQ(out, "\"" + input + "\"");
      }
    }
  }
}

TEST(AppendStringTest, AppendsToExistingContent) {
  std::string out = "{\"k\":";
  append_string(out, "v");
  out += '}';
  EXPECT_EQ(out, R"({"k":"v"})");
}

TEST(AppendStringTest, WorksOnAnArenaStringWithoutTheHeap) {
  alignas(std::max_align_t) std::byte buffer[1024];
  std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer,
                                            std::pmr::null_memory_resource());
  std::pmr::string out(&arena);
  EXPECT_NO_ALLOC(append_string(out, "an arena string \"escaped\"\n and \xFF replaced"));
  EXPECT_EQ(out, "\"an arena string \\\"escaped\\\"\\n and \xEF\xBF\xBD replaced\"");
  out.clear();
  EXPECT_NO_ALLOC(append_base64(out, "arena bytes, base64-encoded"));
  EXPECT_EQ(out, "YXJlbmEgYnl0ZXMsIGJhc2U2NC1lbmNvZGVk");
}

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, BinaryBytesUseTheStandardAlphabet) {
  EXPECT_EQ(base64(std::string_view("\0\0\0", 3)), "AAAA");
  EXPECT_EQ(base64("\xFF\xFF\xFF"), "////");
  EXPECT_EQ(base64("\xFB\xEF\xBE"), "++++");
  EXPECT_EQ(base64("\xFF\xFE"), "//4=");
  EXPECT_EQ(base64("\x80"), "gA==");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  const std::string encoded = base64(all);
  EXPECT_EQ(encoded.size(), 344u);  // ceil(256 / 3) * 4
  EXPECT_EQ(encoded.substr(0, 12), "AAECAwQFBgcI");
  EXPECT_EQ(encoded.substr(encoded.size() - 8), "/P3+/w==");
}

TEST(Base64Test, AppendsToExistingContent) {
  std::string out = "data:";
  append_base64(out, "hi");
  EXPECT_EQ(out, "data:aGk=");
}

}  // namespace
}  // namespace edgefn::api::json
