// Manifest loading: toml++ into ServerConfig/FunctionConfig, collecting every error it finds.

// toml++ 3.3.0 asserts on some malformed input instead of reporting it: a table header whose key
// starts with a character that cannot start a key ("[&", "[(") trips an assertion in
// parser::parse_key() (upstream issue marzer/tomlplusplus#294, still open). With NDEBUG those
// assertions compile to nothing and the same input yields an ordinary parse error, so a debug
// build would abort where the shipped build reports. Disabling the assertions here makes debug
// and release run the same parser code, the configuration the loader was fuzzed in
// (libFuzzer + ASan/UBSan). The remaining known hazards are guarded before parsing: see
// kMaxManifestBytes, check_encoding() and check_parser_hazards().
#define TOML_ASSERT(expr) static_cast<void>(0)
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>

#include "functions/api/ascii.h"
#include "runtime/file_text.h"
#include "runtime/manifest.h"

namespace edgefn::runtime {
namespace {

// A manifest is a few kilobytes. The bound keeps a hostile or mistaken file (a log, a binary)
// from costing toml++ unbounded memory and time before the first diagnostic.
constexpr std::size_t kMaxManifestBytes = std::size_t{1} << 20;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;

constexpr std::uint64_t kMinHeaderBytes = 1 * kKiB;
constexpr std::uint64_t kMaxHeaderBytes = 1 * kMiB;
constexpr std::uint64_t kMinTargetBytes = 256;
constexpr std::uint64_t kMaxBodyBytes = 1 * kGiB;
constexpr Duration kMaxTimeout = std::chrono::hours(1);
constexpr std::int64_t kMaxConcurrency = 1'000'000;
constexpr std::uint64_t kMinCacheBytes = 64 * 1024;
constexpr std::uint64_t kMaxCacheBytes = 1ull << 40;
// Redis keeps a string value up to 512 MiB; a cached answer in L3 is far smaller in practice.
constexpr std::uint64_t kMaxRedisValueBytes = 512ull * 1024 * 1024;
constexpr std::uint64_t kMaxResponseBytes = 1024ull * 1024 * 1024;

constexpr std::string_view kSizeExpected = R"(expected a size such as 16384 or "16KiB")";
constexpr std::string_view kSizeUnits = "units: B, KiB, MiB, GiB, kB, MB, GB";
constexpr std::string_view kDurationExpected = R"(expected a duration such as "250ms" or "30s")";
constexpr std::string_view kDurationUnits = "units: ns, us, ms, s, m, h";
constexpr std::string_view kAddressExpected =
    R"(expected an address such as "0.0.0.0:8080" or "[::1]:8080")";
constexpr std::string_view kRedisAddressExpected =
    R"(expected an address such as "127.0.0.1:6379" or "redis.cache.svc:6379")";
constexpr std::string_view kRouteExpected = R"(expected "METHOD /pattern", such as "GET /hello")";
constexpr std::string_view kHostExpected = R"(expected a host name such as "api.example.com")";

constexpr std::string_view kMethods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                         "DELETE", "PATCH", "OPTIONS"};

SourcePosition position_of(const toml::source_region& region) {
  return SourcePosition{region.begin.line, region.begin.column};
}

bool before(const SourcePosition& a, const SourcePosition& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// One segment of a diagnostic's key path: bare keys as written, anything else quoted the way
// TOML would need it, so `functions."my fn"` can be pasted back into the file.
std::string key_segment(std::string_view key) {
  if (is_bare_key(key)) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string join(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key_segment(key);
  return path;
}

std::string indexed(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string list(std::initializer_list<std::string_view> names) {
  std::string text;
  for (std::string_view name : names) {
    if (!text.empty()) text += ", ";
    text += name;
  }
  return text;
}

// A limit for messages: "16KiB" when it is a whole number of binary units, else "300 bytes".
std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  if (bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes) + " bytes";
}

// The value as the author wrote it, for "; got ..." in range errors.
std::string literal(const toml::node& node) {
  if (const auto* text = node.as_string()) return "\"" + text->get() + "\"";
  if (const auto* number = node.as_integer()) return std::to_string(number->get());
  if (const auto* number = node.as_floating_point()) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", number->get());
    return text;
  }
  return std::string(type_name(node));
}

// Finds what toml++ must not see: NUL bytes and invalid UTF-8. toml++ reports both inside
// strings, but its reader is the code fuzzing found fragile, and checking up front gives one
// precise message whatever the context (comment, key, string). Returns the position of the
// first offending byte, counted the way toml++ counts (1-based lines, columns in code points).
std::optional<std::pair<SourcePosition, std::string_view>> check_encoding(std::string_view text) {
  SourcePosition at{1, 1};
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = bytes[i];
    std::size_t length = 0;
    unsigned char low = 0x80;  // bounds of the second byte (they differ for E0, ED, F0, F4)
    unsigned char high = 0xBF;
    if (lead == 0) {
      return std::pair{at, std::string_view("the manifest contains a NUL byte")};
    } else if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const unsigned char next = bytes[i + k];
      valid = k == 1 ? (next >= low && next <= high) : (next >= 0x80 && next <= 0xBF);
    }
    if (!valid) return std::pair{at, std::string_view("the manifest is not valid UTF-8")};
    if (lead == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
    i += length;
  }
  return std::nullopt;
}

// Walks valid UTF-8 one code point at a time, keeping line:column the way toml++ counts them.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return index_ >= text_.size(); }
  // The byte `ahead` bytes on, or NUL past the end; callers compare it with ASCII only.
  char peek(std::size_t ahead = 0) const {
    return index_ + ahead < text_.size() ? text_[index_ + ahead] : '\0';
  }
  bool ascii() const { return static_cast<unsigned char>(text_[index_]) < 0x80; }
  SourcePosition position() const { return at_; }

  // The code point at the cursor (text is valid UTF-8: check_encoding ran first).
  char32_t code_point() const {
    const auto lead = static_cast<unsigned char>(text_[index_]);
    const std::size_t length = sequence_length(lead);
    char32_t value = length == 1 ? lead : lead & (0x7Fu >> length);
    for (std::size_t k = 1; k < length; ++k) {
      value = (value << 6) | (static_cast<unsigned char>(text_[index_ + k]) & 0x3Fu);
    }
    return value;
  }

  void advance(std::size_t code_points = 1) {
    for (std::size_t n = 0; n < code_points && !done(); ++n) {
      if (text_[index_] == '\n') {
        ++at_.line;
        at_.column = 1;
      } else {
        ++at_.column;
      }
      index_ += sequence_length(static_cast<unsigned char>(text_[index_]));
    }
  }

  std::size_t run_of(char c) const {
    std::size_t n = 0;
    while (peek(n) == c)
      ++n;
    return n;
  }

 private:
  static std::size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    return 4;
  }

  std::string_view text_;
  std::size_t index_ = 0;
  SourcePosition at_{1, 1};
};

std::string escape_for(char32_t code_point) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, code_point > 0xFFFF ? "\\U%08X" : "\\u%04X",
                static_cast<unsigned>(code_point));
  return buffer;
}

// Finds non-ASCII characters where toml++ 3.3.0 would test them with
// impl::is_non_ascii_horizontal_whitespace(), whose generated lookup reaches
// TOML_UNREACHABLE (undefined behaviour; UBSan reports it) for most code points between U+00A1
// and U+FEFE, "é" included. Fuzzing the loader (libFuzzer + UBSan) found these places:
//  - anywhere outside strings and comments, including inside a bare value such as `0"é"`
//    (TOML 1.0 allows no non-ASCII character there, so rejecting it loses nothing: toml++
//    would report an error too, after running into the undefined behaviour);
//  - right after a backslash in a basic string (an invalid escape in any case);
//  - the first character after a line-ending backslash in a multi-line basic string, which is
//    valid TOML: that one is refused with the escape to write instead.
// This lexer knows just enough TOML to tell strings and comments apart. Where toml++ would stop
// at an earlier syntax error the two may disagree about what follows, but toml++ never reads
// past its first error, so only text before it matters.
std::optional<std::pair<SourcePosition, std::string>> check_parser_hazards(std::string_view text) {
  enum class State { kBare, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };
  State state = State::kBare;
  // Enough of TOML's grammar to know whether a quote starts a string. After '=' (and inside
  // arrays) a value is expected; a value that starts with anything but a quote is a bare token
  // (number, boolean, date) that toml++ scans to its end, testing each character, before it
  // reports anything: a quote inside such a token ("0\"x") starts no string, so the token's
  // characters are checked as bare text up to the first character that ends a value.
  std::vector<char> nesting;  // '[' array, '{' inline table, 'h' table header
  bool value_expected = false;
  bool in_bare_value = false;
  const auto ends_value = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ']' || c == '}' || c == ',' ||
           c == '#';
  };
  Cursor at(text);
  auto hazard = [&](std::string message) { return std::pair{at.position(), std::move(message)}; };
  while (!at.done()) {
    const char c = at.peek();
    switch (state) {
      case State::kBare:
        if (!at.ascii()) {
          return hazard("a non-ASCII character may appear only inside a string or a comment");
        }
        if (in_bare_value && !ends_value(c)) {
          at.advance();
          break;
        }
        in_bare_value = false;
        if (c == '#') {
          state = State::kComment;
        } else if (c == '"' || c == '\'') {
          const bool multi_line = at.peek(1) == c && at.peek(2) == c;
          if (c == '"') {
            state = multi_line ? State::kMultiBasic : State::kBasic;
          } else {
            state = multi_line ? State::kMultiLiteral : State::kLiteral;
          }
          at.advance(multi_line ? 3 : 1);
          continue;
        } else if (c == '\n') {
          if (nesting.empty()) value_expected = false;  // the next line starts with a key
        } else if (c == '=') {
          // A second '=' where a value belongs is no key separator: scan it as a bare value.
          in_bare_value = value_expected;
          value_expected = true;
        } else if (c == '[') {
          nesting.push_back(value_expected ? '[' : 'h');
        } else if (c == '{') {
          nesting.push_back('{');
          value_expected = false;
        } else if (c == ']' || c == '}') {
          if (!nesting.empty()) nesting.pop_back();
          // Closing a header leaves key context; closing a value leaves the enclosing value.
          value_expected = !nesting.empty() ? nesting.back() == '[' : c == '}' || value_expected;
        } else if (c == ',') {
          value_expected = nesting.empty() || nesting.back() != '{';
        } else if (c != ' ' && c != '\t' && c != '\r' && value_expected) {
          in_bare_value = true;
        }
        at.advance();
        break;

      case State::kComment:
        if (c == '\n') {
          state = State::kBare;
          if (nesting.empty()) value_expected = false;
        }
        at.advance();
        break;

      case State::kBasic:
      case State::kLiteral:
        // A line break ends a single-line string too: toml++ reports it, and the lexer
        // resynchronises on the next line.
        if (c == '\n' || c == (state == State::kBasic ? '"' : '\'')) {
          state = State::kBare;
          at.advance();
          break;
        }
        if (state == State::kBasic && c == '\\') {
          at.advance();
          if (at.done()) break;
          if (!at.ascii()) return hazard("invalid escape: '\\' followed by a non-ASCII character");
          if (at.peek() != '\n') at.advance();
          break;
        }
        at.advance();
        break;

      case State::kMultiBasic:
      case State::kMultiLiteral: {
        const char quote = state == State::kMultiBasic ? '"' : '\'';
        if (c == quote) {
          // Three quotes close the string; up to two more before them are content.
          const std::size_t quotes = at.run_of(quote);
          at.advance(std::min<std::size_t>(quotes, 5));
          if (quotes >= 3) {
            state = State::kBare;
          }
          break;
        }
        if (state == State::kMultiBasic && c == '\\') {
          at.advance();
          if (at.done()) break;
          if (!at.ascii()) return hazard("invalid escape: '\\' followed by a non-ASCII character");
          const char next = at.peek();
          if (next == ' ' || next == '\t' || next == '\r' || next == '\n') {
            // A line-ending backslash: toml++ skips the whitespace and line breaks that follow
            // and tests the first other character.
            while (!at.done() && (at.peek() == ' ' || at.peek() == '\t' || at.peek() == '\r' ||
                                  at.peek() == '\n')) {
              at.advance();
            }
            if (!at.done() && !at.ascii()) {
              return hazard(
                  "a non-ASCII character cannot start the text after a line-ending "
                  "backslash; write it as " +
                  escape_for(at.code_point()));
            }
            break;
          }
          at.advance();
          break;
        }
        at.advance();
        break;
      }
    }
  }
  return std::nullopt;
}

std::string directory_of(std::string_view path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

// Walks the parsed document into a Manifest. Every check appends to `errors` and carries on, so
// one run reports everything wrong with the file.
class Loader {
 public:
  Loader(std::string_view path, std::vector<Diagnostic>& errors) : path_(path), errors_(errors) {}

  void root(const toml::table& table, Manifest& manifest) {
    const toml::node* server = nullptr;
    const toml::node* cache = nullptr;
    const toml::node* upstreams = nullptr;
    const toml::node* functions = nullptr;
    const toml::node* log = nullptr;
    for (auto&& [key, node] : table) {
      if (key.str() == "server") {
        server = &node;
      } else if (key.str() == "cache") {
        cache = &node;
      } else if (key.str() == "upstreams") {
        upstreams = &node;
      } else if (key.str() == "log") {
        log = &node;
      } else if (key.str() == "functions") {
        functions = &node;
      } else {
        unknown_key(key, "", {"server", "cache", "log", "upstreams", "functions"});
      }
    }
    if (server) {
      if (const toml::table* server_table = as_table(*server, "server")) {
        this->server(*server_table, manifest.server);
      }
    }
    if (cache) {
      if (const toml::table* cache_table = as_table(*cache, "cache")) {
        this->cache(*cache_table, manifest.cache);
      }
    }
    if (log) {
      if (const toml::table* log_table = as_table(*log, "log")) this->log(*log_table, manifest.log);
    }
    if (upstreams) {
      if (const toml::table* upstreams_table = as_table(*upstreams, "upstreams")) {
        for (const auto& [key, value] : in_file_order(*upstreams_table))
          upstream(*key, *value, manifest);
      }
    }
    this->functions(functions, manifest);
    check_upstream_names(manifest);
  }

 private:
  // toml++ keeps keys sorted; the manifest promises file order (it is the order of
  // `edgefn functions` output and of route-conflict reports).
  static std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(
      const toml::table& table) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [key, value] : table)
      entries.emplace_back(&key, &value);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return before(position_of(a.second->source()), position_of(b.second->source()));
    });
    return entries;
  }

  void error(SourcePosition position, std::string key, std::string message) {
    errors_.push_back(Diagnostic{path_, position, std::move(key), std::move(message)});
  }
  void error(const toml::node& node, std::string key, std::string message) {
    error(position_of(node.source()), std::move(key), std::move(message));
  }
  void type_error(const toml::node& node, std::string key, std::string_view expected) {
    error(node, std::move(key), std::string(expected) + ", got " + std::string(type_name(node)));
  }

  void unknown_key(const toml::key& key, std::string_view parent,
                   std::initializer_list<std::string_view> known) {
    error(position_of(key.source()), join(parent, key.str()),
          "unknown key; expected one of: " + list(known));
  }

  const toml::table* as_table(const toml::node& node, const std::string& key) {
    const toml::table* table = node.as_table();
    if (!table) type_error(node, key, "expected a table");
    return table;
  }

  std::optional<std::string> string(const toml::node& node, const std::string& key) {
    const auto* text = node.as_string();
    if (!text) {
      type_error(node, key, "expected a string");
      return std::nullopt;
    }
    return text->get();
  }

  std::optional<std::int64_t> integer(const toml::node& node, const std::string& key,
                                      std::int64_t min, std::int64_t max) {
    const auto* number = node.as_integer();
    if (!number) {
      type_error(node, key, "expected an integer");
      return std::nullopt;
    }
    const std::int64_t value = number->get();
    if (value < min || value > max) {
      error(node, key,
            "must be between " + std::to_string(min) + " and " + std::to_string(max) + "; got " +
                std::to_string(value));
      return std::nullopt;
    }
    return value;
  }

  // An integer of bytes or a string with a unit, within [min, max]. `max_text` names the upper
  // bound when it is another key's value ("max_header_bytes (16KiB)").
  std::optional<std::uint64_t> size(const toml::node& node, const std::string& key,
                                    std::uint64_t min, std::uint64_t max,
                                    const std::string& max_text) {
    auto out_of_range = [&] {
      error(node, key,
            "must be between " + format_size(min) + " and " + max_text + "; got " + literal(node));
      return std::nullopt;
    };
    std::uint64_t bytes = 0;
    if (const auto* number = node.as_integer()) {
      // A negative count is a range error, not a type error: the author did write a number.
      if (number->get() < 0) return out_of_range();
      bytes = static_cast<std::uint64_t>(number->get());
    } else if (const auto* text = node.as_string()) {
      const std::optional<std::uint64_t> parsed = parse_size(text->get());
      if (!parsed) {
        error(node, key, std::string(kSizeExpected) + " (" + std::string(kSizeUnits) + ")");
        return std::nullopt;
      }
      bytes = *parsed;
    } else {
      type_error(node, key, kSizeExpected);
      return std::nullopt;
    }
    if (bytes < min || bytes > max) return out_of_range();
    return bytes;
  }

  std::optional<std::uint64_t> size(const toml::node& node, const std::string& key,
                                    std::uint64_t min, std::uint64_t max) {
    return size(node, key, min, max, format_size(max));
  }

  // A number more than 0 and at most 1 (an integer 1 included); `expected` completes the type
  // error.
  std::optional<double> share(const toml::node& node, const std::string& key,
                              std::string_view expected) {
    std::optional<double> value;
    if (const auto* integer = node.as_integer()) {
      value = static_cast<double>(integer->get());
    } else if (const auto* floating = node.as_floating_point()) {
      value = floating->get();
    } else {
      type_error(node, key, expected);
      return std::nullopt;
    }
    if (!(*value > 0) || *value > 1 || !std::isfinite(*value)) {
      error(node, key, "must be more than 0 and at most 1; got " + literal(node));
      return std::nullopt;
    }
    return value;
  }

  // A timeout: more than zero, at most kMaxTimeout.
  std::optional<Duration> timeout(const toml::node& node, const std::string& key) {
    const auto* text = node.as_string();
    if (!text) {
      type_error(node, key, kDurationExpected);
      return std::nullopt;
    }
    const std::optional<Duration> value = parse_duration(text->get());
    if (!value) {
      error(node, key, std::string(kDurationExpected) + " (" + std::string(kDurationUnits) + ")");
      return std::nullopt;
    }
    if (value->count() == 0 || *value > kMaxTimeout) {
      error(node, key, "must be more than 0 and at most 1h; got " + literal(node));
      return std::nullopt;
    }
    return value;
  }

  std::optional<SocketAddress> address(const toml::node& node, const std::string& key) {
    const auto* text = node.as_string();
    if (!text) {
      type_error(node, key, kAddressExpected);
      return std::nullopt;
    }
    std::optional<SocketAddress> value = parse_socket_address(text->get());
    if (!value) error(node, key, std::string(kAddressExpected));
    return value;
  }

  void server(const toml::table& table, ServerConfig& server) {
    const toml::node* target = nullptr;
    const toml::node* listen = nullptr;
    const toml::node* admin = nullptr;
    bool header_valid = true;
    for (auto&& [key, node] : table) {
      const std::string_view name = key.str();
      const std::string path = join("server", name);
      if (name == "listen") {
        listen = &node;
        if (auto value = address(node, path)) server.listen = *value;
      } else if (name == "admin") {
        admin = &node;
        if (auto value = address(node, path)) server.admin = *value;
      } else if (name == "workers") {
        if (auto value = integer(node, path, 0, 1024))
          server.workers = static_cast<unsigned>(*value);
      } else if (name == "max_connections") {
        if (auto value = integer(node, path, 1, 1'000'000)) {
          server.max_connections = static_cast<std::uint32_t>(*value);
        }
      } else if (name == "max_header_bytes") {
        auto value = size(node, path, kMinHeaderBytes, kMaxHeaderBytes);
        header_valid = value.has_value();
        if (value) server.max_header_bytes = *value;
      } else if (name == "max_target_bytes") {
        target = &node;  // checked below against max_header_bytes, wherever that appears
      } else if (name == "max_body_bytes") {
        if (auto value = size(node, path, 0, kMaxBodyBytes)) server.max_body_bytes = *value;
      } else if (name == "header_timeout") {
        if (auto value = timeout(node, path)) server.header_timeout = *value;
      } else if (name == "idle_timeout") {
        if (auto value = timeout(node, path)) server.idle_timeout = *value;
      } else if (name == "drain_timeout") {
        if (auto value = timeout(node, path)) server.drain_timeout = *value;
      } else if (name == "offload_threads") {
        if (auto value = integer(node, path, 0, 1024))
          server.offload_threads = static_cast<unsigned>(*value);
      } else if (name == "offload_queue") {
        if (auto value = integer(node, path, 1, 1'000'000))
          server.offload_queue = static_cast<std::uint32_t>(*value);
      } else if (name == "offload_priority") {
        if (auto text = string(node, path)) {
          if (*text == "idle") {
            server.offload_priority = OffloadPriority::kIdle;
          } else if (*text == "low") {
            server.offload_priority = OffloadPriority::kLow;
          } else if (*text == "normal") {
            server.offload_priority = OffloadPriority::kNormal;
          } else {
            error(node, path, R"(expected "idle", "low" or "normal"; got )" + literal(node));
          }
        }
      } else {
        unknown_key(key, "server",
                    {"listen", "admin", "workers", "max_connections", "max_header_bytes",
                     "max_target_bytes", "max_body_bytes", "header_timeout", "idle_timeout",
                     "drain_timeout", "offload_threads", "offload_queue", "offload_priority"});
      }
    }

    // The request target is part of the head, so it can never be longer than the head limit.
    // When max_header_bytes is itself invalid, check the target against the widest head so
    // its own mistakes still show.
    const std::uint64_t header = header_valid ? server.max_header_bytes : kMaxHeaderBytes;
    if (target) {
      const std::string max_text = "max_header_bytes (" + format_size(header) + ")";
      if (auto value =
              size(*target, "server.max_target_bytes", kMinTargetBytes, header, max_text)) {
        server.max_target_bytes = *value;
      }
    } else {
      // Unset: the default, but never more than a smaller head limit the author chose.
      server.max_target_bytes = std::min(server.max_target_bytes, header);
    }

    // The public listener binds with SO_REUSEPORT (one socket per worker); an admin listener
    // on an overlapping address may then bind without error and take public traffic, or fail
    // later with a bare EADDRINUSE. Either way it is a manifest mistake: report it here.
    if (server.listen.port() != 0 && server.listen.port() == server.admin.port() &&
        overlaps(server.listen, server.admin)) {
      const toml::node* at = admin ? admin : listen;
      if (at) {
        error(*at, admin ? "server.admin" : "server.listen",
              admin ? "overlaps server.listen (" + server.listen.to_string() + ")"
                    : "overlaps server.admin (" + server.admin.to_string() + ")");
      }
    }
  }

  void cache(const toml::table& table, CacheConfig& cache) {
    for (auto&& [key, node] : table) {
      const std::string_view name = key.str();
      const std::string path = join("cache", name);
      if (name == "l1_bytes") {
        if (auto value = size(node, path, kMinCacheBytes, kMaxCacheBytes)) cache.l1_bytes = *value;
      } else if (name == "l2_bytes") {
        if (auto value = size(node, path, kMinCacheBytes, kMaxCacheBytes)) cache.l2_bytes = *value;
      } else if (name == "max_entry_fraction") {
        if (auto fraction = share(node, path, "expected a share of the budget such as 0.125")) {
          cache.max_entry_fraction = *fraction;
        }
      } else if (name == "kv_bytes") {
        if (auto value = size(node, path, kMinCacheBytes, kMaxCacheBytes)) cache.kv_bytes = *value;
      } else if (name == "redis") {
        if (const toml::table* redis_table = as_table(node, path)) redis(*redis_table, cache);
      } else {
        unknown_key(key, "cache",
                    {"l1_bytes", "l2_bytes", "max_entry_fraction", "kv_bytes", "redis"});
      }
    }
  }

  void redis(const toml::table& table, CacheConfig& cache) {
    RedisConfig& redis = cache.redis.emplace();
    bool has_address = false;
    for (auto&& [key, node] : table) {
      const std::string_view name = key.str();
      const std::string path = join("cache.redis", name);
      if (name == "address") {
        has_address = true;
        redis_address(node, path, redis);
      } else if (name == "timeout") {
        if (auto value = timeout(node, path)) redis.timeout = *value;
      } else if (name == "connections") {
        if (auto value = integer(node, path, 1, 64))
          redis.connections = static_cast<unsigned>(*value);
      } else if (name == "max_value_bytes") {
        if (auto value = size(node, path, 1024, kMaxRedisValueBytes))
          redis.max_value_bytes = *value;
      } else {
        unknown_key(key, "cache.redis", {"address", "timeout", "connections", "max_value_bytes"});
      }
    }
    if (!has_address) error(table, "cache.redis", "missing required key \"address\"");
  }

  // A numeric address with its port, or "name:port" for the resolver (a Kubernetes service).
  void redis_address(const toml::node& node, const std::string& path, RedisConfig& redis) {
    const auto* text = node.as_string();
    if (!text) {
      type_error(node, path, kRedisAddressExpected);
      return;
    }
    const std::string_view value = text->get();
    if (std::optional<SocketAddress> numeric = parse_socket_address(value)) {
      if (numeric->port() == 0) {
        error(node, path, "needs the server's port; got " + literal(node));
      } else {
        redis.address = *numeric;
      }
      return;
    }
    const std::size_t colon = value.rfind(':');
    const std::string_view host = value.substr(0, colon);
    std::uint32_t port = 0;
    const std::string_view digits =
        colon == std::string_view::npos ? std::string_view{} : value.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    const bool port_ok = !digits.empty() && ec == std::errc() &&
                         end == digits.data() + digits.size() && port >= 1 && port <= 65535;
    if (colon == std::string_view::npos || !is_dns_name(host) ||
        host.find_first_not_of("0123456789.") == std::string_view::npos) {
      error(node, path, std::string(kRedisAddressExpected));
    } else if (!port_ok) {
      error(node, path, "needs the server's port (1 to 65535); got " + literal(node));
    } else {
      redis.host = lower_case(std::string(host));
      redis.port = static_cast<std::uint16_t>(port);
    }
  }

  static bool is_wildcard(const SocketAddress& address) {
    const std::string text = address.to_string();
    return text.starts_with("0.0.0.0:") || text.starts_with("[::]:");
  }

  // Same port is checked by the caller; this says whether the hosts could collide.
  static bool overlaps(const SocketAddress& a, const SocketAddress& b) {
    return is_wildcard(a) || is_wildcard(b) || a.to_string() == b.to_string();
  }

  void functions(const toml::node* node, Manifest& manifest) {
    if (!node) {
      error(SourcePosition{}, "", "no functions defined; add a [functions.<name>] table");
      return;
    }
    const toml::table* table = as_table(*node, "functions");
    if (!table) return;
    if (table->empty()) {
      error(*node, "functions", "no functions defined; add a [functions.<name>] table");
      return;
    }
    for (const auto& [key, value] : in_file_order(*table))
      function(*key, *value, manifest);
  }

  // [log]: `access` (a boolean), `sample` (a share of requests, more than 0, at most 1) and
  // `level` (a level's name).
  void log(const toml::table& table, LogConfig& log) {
    for (auto&& [key, node] : table) {
      const std::string_view name = key.str();
      const std::string path = join("log", name);
      if (name == "access") {
        if (const auto* flag = node.as_boolean()) {
          log.access = flag->get();
        } else {
          type_error(node, path, "expected true or false");
        }
      } else if (name == "sample") {
        if (auto fraction = share(node, path, "expected a share of requests such as 0.1")) {
          log.sample = *fraction;
        }
      } else if (name == "level") {
        if (auto text = string(node, path); text && !parse_log_level(*text, log.level)) {
          error(node, path, R"(expected "debug", "info", "warn" or "error"; got )" + literal(node));
        }
      } else {
        unknown_key(key, "log", {"access", "sample", "level"});
      }
    }
  }

  // [upstreams.<name>]: `url` is required; the rest have defaults (manifest.h).
  void upstream(const toml::key& key, const toml::node& node, Manifest& manifest) {
    UpstreamConfig upstream;
    upstream.name = std::string(key.str());
    upstream.position = position_of(node.source());
    const std::string path = join("upstreams", key.str());
    if (!is_bare_key(key.str())) {
      error(position_of(key.source()), path,
            "an upstream name may contain only letters, digits, '_' and '-'");
    }
    const toml::table* table = as_table(node, path);
    if (!table) return;
    bool has_url = false;
    for (auto&& [field, value] : *table) {
      const std::string_view name = field.str();
      const std::string field_path = join(path, name);
      if (name == "url") {
        has_url = true;
        if (auto text = string(value, field_path)) upstream_url(value, field_path, *text, upstream);
      } else if (name == "timeout") {
        if (auto wait = timeout(value, field_path)) upstream.timeout = *wait;
      } else if (name == "retries") {
        if (auto count = integer(value, field_path, 0, 10))
          upstream.retries = static_cast<unsigned>(*count);
      } else if (name == "connections") {
        if (auto count = integer(value, field_path, 1, 4096))
          upstream.connections = static_cast<unsigned>(*count);
      } else if (name == "circuit_failures") {
        if (auto count = integer(value, field_path, 0, 1000000))
          upstream.circuit_failures = static_cast<std::uint32_t>(*count);
      } else if (name == "circuit_reset") {
        if (auto wait = timeout(value, field_path)) upstream.circuit_reset = *wait;
      } else if (name == "max_response_bytes") {
        if (auto bytes = size(value, field_path, 1024, kMaxResponseBytes))
          upstream.max_response_bytes = *bytes;
      } else {
        unknown_key(field, path,
                    {"url", "timeout", "retries", "connections", "circuit_failures",
                     "circuit_reset", "max_response_bytes"});
      }
    }
    if (!has_url) error(node, path, "missing required key \"url\"");
    manifest.upstreams.push_back(std::move(upstream));
  }

  // What a host name to resolve may be: letters, digits, '-' and '.', at most 253 of them.
  static bool is_dns_name(std::string_view host) {
    return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '.';
    });
  }

  // "http://host[:port][/base]": host a name or a numeric address ("[::1]" for IPv6). No
  // query, fragment or user info; https is not spoken (put a TLS-terminating sidecar in front).
  void upstream_url(const toml::node& node, const std::string& path, std::string_view url,
                    UpstreamConfig& upstream) {
    upstream.url = std::string(url);
    constexpr std::string_view kScheme = "http://";
    if (url.starts_with("https://")) {
      error(node, path, "https is not supported; use an http:// origin");
      return;
    }
    if (!url.starts_with(kScheme)) {
      error(node, path, R"(expected an http URL such as "http://127.0.0.1:9000")");
      return;
    }
    std::string_view rest = url.substr(kScheme.size());
    const std::size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    const std::string_view base = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (base.find_first_of("?#") != std::string_view::npos ||
        authority.find('@') != std::string_view::npos) {
      error(node, path, "an upstream URL takes no query, fragment or user info");
      return;
    }
    std::string_view host = authority;
    std::uint32_t port = 80;
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
      host = authority.substr(0, colon);
      const std::string_view digits = authority.substr(colon + 1);
      port = 0;
      for (char c : digits) {
        port = (c >= '0' && c <= '9' && port <= 65535) ? port * 10 + static_cast<unsigned>(c - '0')
                                                       : 70000;
      }
      if (digits.empty() || port == 0 || port > 65535) {
        error(node, path, "the port must be between 1 and 65535");
        return;
      }
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
      if (!parse_socket_address("[" + std::string(host) + "]:1")) {
        error(node, path, "expected an IPv6 address between the brackets");
        return;
      }
    } else {
      if (!is_dns_name(host)) {
        error(node, path, "expected a host name or address after http://");
        return;
      }
    }
    upstream.host = lower_case(std::string(host));
    upstream.port = static_cast<std::uint16_t>(port);
    upstream.host_header = lower_case(std::string(authority));
    std::string_view trimmed = base;
    while (trimmed.ends_with('/'))
      trimmed.remove_suffix(1);
    upstream.base_path = std::string(trimmed);
  }

  // Every name in a function's `upstreams` is an [upstreams.*] entry, listed once; a
  // `config.upstream` (the proxy module's) is one of them.
  void check_upstream_names(const Manifest& manifest) {
    auto known = [&](std::string_view name) {
      return std::any_of(manifest.upstreams.begin(), manifest.upstreams.end(),
                         [&](const UpstreamConfig& u) { return u.name == name; });
    };
    for (const FunctionConfig& function : manifest.functions) {
      const std::string path = join(join("functions", function.name), "upstreams");
      for (std::size_t i = 0; i < function.upstreams.size(); ++i) {
        const std::string& name = function.upstreams[i];
        if (!known(name)) {
          error(
              function.upstreams_position, indexed(path, i),
              "no upstream \"" + name + "\"; declare it as [upstreams." + key_segment(name) + "]");
        } else if (std::find(function.upstreams.begin(),
                             function.upstreams.begin() + static_cast<std::ptrdiff_t>(i),
                             name) != function.upstreams.begin() + static_cast<std::ptrdiff_t>(i)) {
          error(function.upstreams_position, indexed(path, i), "listed twice");
        }
      }
      const std::optional<std::string_view> wanted = function.config.string("upstream");
      if (wanted && std::find(function.upstreams.begin(), function.upstreams.end(), *wanted) ==
                        function.upstreams.end()) {
        error(function.config_upstream_position,
              join(join(join("functions", function.name), "config"), "upstream"),
              "\"" + std::string(*wanted) + "\" is not in this function's upstreams; add " +
                  "upstreams = [\"" + std::string(*wanted) + "\"]");
      }
    }
  }

  void function(const toml::key& key, const toml::node& node, Manifest& manifest) {
    FunctionConfig function;
    function.name = std::string(key.str());
    function.position = position_of(node.source());
    function.config = api::Config({}, manifest.dir);
    const std::string path = join("functions", key.str());
    if (!is_bare_key(key.str())) {
      error(position_of(key.source()), path,
            "a function name may contain only letters, digits, '_' and '-'");
    }
    const toml::table* table = as_table(node, path);
    if (!table) return;

    bool has_module = false;
    bool has_routes = false;
    bool has_concurrency = false;
    bool max_concurrency_given = false;  // even when its value was refused
    ConcurrencyDecl concurrency;
    const toml::node* queue_node = nullptr;  // queue or queue_timeout, to report without a max
    std::string queue_key;
    for (auto&& [field, value] : *table) {
      const std::string_view name = field.str();
      const std::string field_path = join(path, name);
      if (name == "module") {
        has_module = true;
        function.module_position = position_of(value.source());
        if (auto text = string(value, field_path)) function.module = std::move(*text);
      } else if (name == "routes") {
        has_routes = true;
        routes(value, field_path, function);
      } else if (name == "host") {
        if (auto text = string(value, field_path)) host(value, field_path, *text, function);
      } else if (name == "config") {
        config(value, field_path, manifest.dir, function);
      } else if (name == "max_body_bytes") {
        if (auto bytes = size(value, field_path, 0, kMaxBodyBytes)) function.max_body_bytes = bytes;
      } else if (name == "body_schema") {
        function.body_schema_position = position_of(value.source());
        if (auto text = string(value, field_path)) {
          if (text->empty()) {
            error(value, field_path, R"(expected a file name such as "schemas/order.json")");
          } else {
            function.body_schema = std::move(*text);
          }
        }
      } else if (name == "query") {
        param_rules(value, field_path, false, function.query);
      } else if (name == "headers") {
        param_rules(value, field_path, true, function.headers);
      } else if (name == "cors") {
        cors(value, field_path, function);
      } else if (name == "response_headers") {
        response_headers(value, field_path, function);
      } else if (name == "rate_limit") {
        rate_limit(value, field_path, function);
      } else if (name == "cache") {
        cache_policy(value, field_path, function);
      } else if (name == "timeout") {
        function.timeout = timeout(value, field_path);
      } else if (name == "max_concurrency") {
        max_concurrency_given = true;
        if (auto count = integer(value, field_path, 1, kMaxConcurrency)) {
          concurrency.max = static_cast<std::uint32_t>(*count);
          concurrency.position = position_of(value.source());
          has_concurrency = true;
        }
      } else if (name == "queue") {
        queue_node = &value;
        queue_key = field_path;
        if (auto count = integer(value, field_path, 0, kMaxConcurrency)) {
          concurrency.queue = static_cast<std::uint32_t>(*count);
        }
      } else if (name == "queue_timeout") {
        queue_node = &value;
        queue_key = field_path;
        if (auto wait = timeout(value, field_path)) concurrency.queue_timeout = *wait;
      } else if (name == "offload") {
        if (const auto* flag = value.as_boolean()) {
          function.offload = flag->get();
        } else {
          type_error(value, field_path, "expected true or false");
        }
      } else if (name == "upstreams") {
        function.upstreams_position = position_of(value.source());
        string_array(value, field_path, R"(upstream names such as ["origin"])", function.upstreams,
                     [](std::string_view text, const toml::node&, const std::string&) {
                       return std::optional<std::string>(text);
                     });
      } else {
        unknown_key(field, path,
                    {"module", "routes", "host", "config", "max_body_bytes", "body_schema", "query",
                     "headers", "cors", "response_headers", "rate_limit", "cache", "timeout",
                     "max_concurrency", "queue", "queue_timeout", "offload", "upstreams"});
      }
    }
    if (has_concurrency) {
      function.concurrency = concurrency;
    } else if (queue_node != nullptr && !max_concurrency_given) {
      error(*queue_node, queue_key,
            "needs max_concurrency: a queue holds requests over that limit");
    }
    if (!has_module) error(node, path, "missing required key \"module\"");
    if (!has_routes) error(node, path, "missing required key \"routes\"");
    manifest.functions.push_back(std::move(function));
  }

  // RFC 9110 token characters: what a header name may be made of.
  static bool is_token(std::string_view name) { return api::ascii::is_token(name); }

  static std::string lower_case(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return text;
  }

  // "scheme://host[:port]": what a browser sends in Origin. No path, query, fragment or
  // user info; the port, when given, is 1 to 65535.
  static bool is_origin(std::string_view text) {
    const std::size_t separator = text.find("://");
    if (separator == std::string_view::npos || separator == 0) return false;
    const std::string_view scheme = text.substr(0, separator);
    if (!(scheme[0] >= 'a' && scheme[0] <= 'z') && !(scheme[0] >= 'A' && scheme[0] <= 'Z')) {
      return false;
    }
    for (char c : scheme) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '+' || c == '-' || c == '.';
      if (!ok) return false;
    }
    std::string_view authority = text.substr(separator + 3);
    std::string_view host = authority;
    if (const std::size_t colon = authority.rfind(':');
        colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
      host = authority.substr(0, colon);
      const std::string_view port = authority.substr(colon + 1);
      if (port.empty() || port.size() > 5) return false;
      unsigned value = 0;
      for (char c : port) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
      if (value == 0 || value > 65535) return false;
    }
    if (host.empty()) return false;
    const bool bracketed = host.front() == '[' && host.back() == ']';
    return std::none_of(host.begin(), host.end(), [&](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte <= 0x20 || byte == 0x7f || c == '/' || c == '?' || c == '#' || c == '@' ||
             c == '\\' || (c == ':' && !bracketed);
    });
  }

  // An array of strings, each checked by `check` (which reports and returns nullopt on a bad
  // one). `example` completes the type error: "expected an array of <example>".
  template <class Check>
  bool string_array(const toml::node& node, const std::string& path, std::string_view example,
                    std::vector<std::string>& out, Check check) {
    const toml::array* array = node.as_array();
    if (!array) {
      type_error(node, path, "expected an array of " + std::string(example));
      return false;
    }
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string element_path = indexed(path, i);
      const auto* text = element.as_string();
      if (!text) {
        type_error(element, element_path, "expected a string");
        ok = false;
        continue;
      }
      if (std::optional<std::string> value = check(text->get(), element, element_path)) {
        out.push_back(std::move(*value));
      } else {
        ok = false;
      }
    }
    return ok;
  }

  // `cors = { origins = [...], methods = [...], headers = [...], expose = [...],
  //           max_age = "10m", credentials = false }`
  void cors(const toml::node& node, const std::string& path, FunctionConfig& function) {
    const toml::table* table = as_table(node, path);
    if (!table) return;
    CorsDecl decl;
    decl.position = position_of(node.source());
    const toml::node* origins = nullptr;
    const toml::node* credentials = nullptr;
    bool valid = true;
    auto header_name = [&](const std::string& text, const toml::node& at,
                           const std::string& key) -> std::optional<std::string> {
      if (!is_token(text)) {
        error(at, key, "not a valid header name");
        return std::nullopt;
      }
      return lower_case(text);
    };
    for (auto&& [key, value] : *table) {
      const std::string_view name = key.str();
      const std::string key_path = join(path, name);
      if (name == "origins") {
        origins = &value;
        valid &= string_array(value, key_path, R"(origins such as ["https://app.example.com"])",
                              decl.origins,
                              [&](const std::string& text, const toml::node& at,
                                  const std::string& element_path) -> std::optional<std::string> {
                                if (text == "*") return text;
                                if (!is_origin(text)) {
                                  error(at, element_path,
                                        R"(expected an origin such as "https://app.example.com" )"
                                        R"((scheme://host[:port], no path) or "*")");
                                  return std::nullopt;
                                }
                                return lower_case(text);
                              });
        if (const toml::array* array = value.as_array(); array && array->empty()) {
          error(value, key_path,
                R"(expected at least one origin such as "https://app.example.com")");
          valid = false;
        }
      } else if (name == "methods") {
        valid &= string_array(
            value, key_path, R"(methods such as ["GET", "POST"])", decl.methods,
            [&](const std::string& text, const toml::node& at,
                const std::string& element_path) -> std::optional<std::string> {
              if (std::find(std::begin(kMethods), std::end(kMethods), text) == std::end(kMethods)) {
                error(at, element_path,
                      "unknown method \"" + text + "\"; expected one of: " +
                          list({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}));
                return std::nullopt;
              }
              return text;
            });
        if (const toml::array* array = value.as_array(); array && array->empty()) {
          error(value, key_path,
                "expected at least one method; leave methods out for the routes' methods");
          valid = false;
        }
      } else if (name == "headers") {
        valid &= string_array(value, key_path, R"(header names such as ["content-type"])",
                              decl.headers, header_name);
      } else if (name == "expose") {
        valid &= string_array(value, key_path, R"(header names such as ["x-request-id"])",
                              decl.expose, header_name);
      } else if (name == "max_age") {
        const auto* text = value.as_string();
        std::optional<Duration> duration;
        if (!text) {
          type_error(value, key_path, kDurationExpected);
        } else if (!(duration = parse_duration(text->get()))) {
          error(value, key_path,
                std::string(kDurationExpected) + " (" + std::string(kDurationUnits) + ")");
        } else if (duration->count() % std::chrono::nanoseconds(std::chrono::seconds(1)).count() !=
                       0 ||
                   *duration > std::chrono::hours(24)) {
          error(value, key_path, "must be whole seconds, at most 24h; got " + literal(value));
          duration.reset();
        }
        if (duration) {
          decl.max_age_seconds = static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::seconds>(*duration).count());
        } else {
          valid = false;
        }
      } else if (name == "credentials") {
        credentials = &value;
        if (const auto* flag = value.as_boolean()) {
          decl.credentials = flag->get();
        } else {
          type_error(value, key_path, "expected true or false");
          valid = false;
        }
      } else {
        unknown_key(key, path,
                    {"origins", "methods", "headers", "expose", "max_age", "credentials"});
        valid = false;
      }
    }
    if (!origins) {
      error(node, path, "missing required key \"origins\"");
      valid = false;
    }
    if (decl.credentials &&
        std::find(decl.origins.begin(), decl.origins.end(), "*") != decl.origins.end()) {
      error(*credentials, join(path, "credentials"),
            "cannot be true when origins has \"*\" (browsers refuse credentials with any origin); "
            "list the origins instead");
      valid = false;
    }
    if (valid) function.cors = std::move(decl);
  }

  // `rate_limit = { per_second = 100, burst = 200, key = "client_ip" }`; key may also be
  // "header:<name>". Without burst the bucket holds one second of tokens (at least 1).
  void rate_limit(const toml::node& node, const std::string& path, FunctionConfig& function) {
    const toml::table* table = as_table(node, path);
    if (!table) return;
    RateLimitDecl decl;
    decl.position = position_of(node.source());
    bool valid = true;
    bool has_rate = false;
    bool has_burst = false;
    for (auto&& [key, value] : *table) {
      const std::string_view name = key.str();
      const std::string key_path = join(path, name);
      if (name == "per_second") {
        has_rate = true;
        std::optional<double> rate;
        if (const auto* integer = value.as_integer()) {
          rate = static_cast<double>(integer->get());
        } else if (const auto* floating = value.as_floating_point()) {
          rate = floating->get();
        } else {
          type_error(value, key_path,
                     "expected a number of requests per second such as 100 or 0.5");
          valid = false;
          continue;
        }
        if (!(*rate > 0) || !std::isfinite(*rate)) {
          error(value, key_path, "must be a number greater than 0; got " + literal(value));
          valid = false;
        } else {
          decl.per_second = *rate;
        }
      } else if (name == "burst") {
        has_burst = true;
        const auto* integer = value.as_integer();
        if (!integer) {
          type_error(value, key_path, "expected a whole number of requests such as 200");
          valid = false;
        } else if (integer->get() < 1) {
          error(value, key_path, "must be at least 1; got " + literal(value));
          valid = false;
        } else {
          decl.burst = static_cast<std::uint64_t>(integer->get());
        }
      } else if (name == "key") {
        const auto* text = value.as_string();
        constexpr std::string_view kKeyExpected =
            R"(expected "client_ip" or "header:<name>" such as "header:x-api-key")";
        if (!text) {
          type_error(value, key_path, kKeyExpected);
          valid = false;
        } else if (text->get() == "client_ip") {
          decl.header.clear();
        } else if (text->get().starts_with("header:") &&
                   is_token(std::string_view(text->get()).substr(7))) {
          decl.header = lower_case(text->get().substr(7));
        } else {
          error(value, key_path, std::string(kKeyExpected) + "; got " + literal(value));
          valid = false;
        }
      } else {
        unknown_key(key, path, {"per_second", "burst", "key"});
        valid = false;
      }
    }
    if (!has_rate) {
      error(node, path, "missing required key \"per_second\"");
      valid = false;
    }
    if (valid && !has_burst) {
      decl.burst = static_cast<std::uint64_t>(std::max(1.0, std::ceil(decl.per_second)));
    }
    if (valid) function.rate_limit = std::move(decl);
  }

  // `cache = { ttl = "60s", stale_while_revalidate = "30s", stale_if_error = "5m",
  //           vary = ["accept-language"], key = ["host", "query"] }`
  void cache_policy(const toml::node& node, const std::string& path, FunctionConfig& function) {
    const toml::table* table = as_table(node, path);
    if (!table) return;
    CachePolicyDecl decl;
    decl.position = position_of(node.source());
    bool valid = true;
    bool has_ttl = false;
    for (auto&& [key, value] : *table) {
      const std::string_view name = key.str();
      const std::string key_path = join(path, name);
      if (name == "ttl") {
        has_ttl = true;
        if (auto ttl = timeout(value, key_path)) {
          decl.ttl = *ttl;
        } else {
          valid = false;
        }
      } else if (name == "stale_while_revalidate" || name == "stale_if_error") {
        if (auto window = timeout(value, key_path)) {
          (name == "stale_if_error" ? decl.stale_if_error : decl.stale_while_revalidate) = *window;
        } else {
          valid = false;
        }
      } else if (name == "vary") {
        valid = names(value, key_path, decl.vary) && valid;
        if (decl.vary.size() > kMaxVaryHeaders) {
          error(value, key_path,
                "at most " + std::to_string(kMaxVaryHeaders) + " headers; got " +
                    std::to_string(decl.vary.size()));
          valid = false;
        }
      } else if (name == "key") {
        valid = cache_key(value, key_path, decl) && valid;
      } else {
        unknown_key(key, path, {"ttl", "stale_while_revalidate", "stale_if_error", "vary", "key"});
        valid = false;
      }
    }
    if (!has_ttl) {
      error(node, path, "missing required key \"ttl\"");
      valid = false;
    }
    if (valid) function.cache = std::move(decl);
  }

  // A list of header names (tokens), lower-cased, without duplicates.
  bool names(const toml::node& node, const std::string& path, std::vector<std::string>& out) {
    const toml::array* array = node.as_array();
    if (!array) {
      type_error(node, path, R"(expected an array of header names such as ["accept-language"])");
      return false;
    }
    bool valid = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      const auto* text = item.as_string();
      if (!text || !is_token(text->get())) {
        error(item, item_path, "expected a header name; got " + literal(item));
        valid = false;
        continue;
      }
      std::string name = lower_case(text->get());
      if (std::find(out.begin(), out.end(), name) != out.end()) {
        error(item, item_path, "listed twice");
        valid = false;
        continue;
      }
      out.push_back(std::move(name));
    }
    return valid;
  }

  // `key = ["host", "query"]` (the default), or fewer, or "query:<name>" items that key on
  // those parameters only.
  bool cache_key(const toml::node& node, const std::string& path, CachePolicyDecl& decl) {
    const toml::array* array = node.as_array();
    constexpr std::string_view kItems =
        R"(expected "host", "query" or "query:<name>" such as "query:page")";
    if (!array) {
      type_error(node, path, std::string("expected an array; each item ") + std::string(kItems));
      return false;
    }
    decl.key_host = false;
    decl.key_query = false;
    bool valid = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      const auto* text = item.as_string();
      const std::string_view value = text ? std::string_view(text->get()) : std::string_view();
      if (value == "host") {
        decl.key_host = true;
      } else if (value == "query") {
        decl.key_query = true;
      } else if (value.starts_with("query:") && value.size() > 6) {
        decl.key_query_params.emplace_back(value.substr(6));
      } else {
        error(item, item_path, std::string(kItems) + "; got " + literal(item));
        valid = false;
      }
    }
    if (decl.key_query && !decl.key_query_params.empty()) {
      error(node, path,
            R"("query" already keys on every parameter; drop the "query:<name>" items)");
      valid = false;
    }
    return valid;
  }

  // `response_headers = { "x-content-type-options" = "nosniff" }`
  void response_headers(const toml::node& node, const std::string& path, FunctionConfig& function) {
    const toml::table* table = as_table(node, path);
    if (!table) return;
    for (auto&& [key, value] : *table) {
      const std::string name(key.str());
      const std::string key_path = join(path, name);
      if (!is_token(name)) {
        error(position_of(key.source()), key_path, "not a valid header name");
        continue;
      }
      const std::string folded = lower_case(name);
      if (folded == "content-length" || folded == "transfer-encoding" || folded == "connection" ||
          folded == "date" || folded == "content-type") {
        error(position_of(key.source()), key_path,
              "this header is set by the server or the function; it cannot be configured");
        continue;
      }
      const auto* text = value.as_string();
      if (!text) {
        type_error(value, key_path, "expected a string");
        continue;
      }
      if (text->get().find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        error(value, key_path, "a header value cannot contain CR, LF or NUL");
        continue;
      }
      function.response_headers.push_back(
          ResponseHeaderDecl{name, text->get(), position_of(key.source())});
    }
    std::stable_sort(function.response_headers.begin(), function.response_headers.end(),
                     [](const ResponseHeaderDecl& a, const ResponseHeaderDecl& b) {
                       return before(a.position, b.position);
                     });
  }

  // `query = { required = ["page"], page = "^[0-9]+$" }` (and the same for headers, whose names
  // are folded to lower case: they are compared with the parser's lower-case names).
  void param_rules(const toml::node& node, const std::string& path, bool headers,
                   std::vector<ParamDecl>& rules) {
    const toml::table* table = as_table(node, path);
    if (!table) return;
    const std::string_view kind = headers ? "header" : "query parameter";
    // Returns the entry for `name`, or nullptr after reporting an invalid name.
    auto entry = [&](std::string name, const toml::node& at, const std::string& key) -> ParamDecl* {
      if (name.empty()) {
        error(at, key, "a " + std::string(kind) + " name cannot be empty");
        return nullptr;
      }
      if (headers) {
        if (!is_token(name)) {
          error(at, key, "not a valid header name");
          return nullptr;
        }
        std::transform(name.begin(), name.end(), name.begin(), [](char c) {
          return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        });
      }
      for (ParamDecl& rule : rules) {
        if (rule.name == name) return &rule;
      }
      rules.push_back(ParamDecl{std::move(name), false, false, {}, key, position_of(at.source())});
      return &rules.back();
    };
    // Patterns first, then `required` merges into them: toml++'s order is not the file's.
    const toml::node* required = nullptr;
    for (auto&& [key, value] : *table) {
      if (key.str() == "required") {
        required = &value;
        continue;
      }
      const std::string key_path = join(path, key.str());
      const auto* text = value.as_string();
      if (!text) {
        type_error(value, key_path,
                   R"(expected a regular expression such as "^[0-9]+$", or required = [...])");
        continue;
      }
      ParamDecl* rule = entry(std::string(key.str()), value, key_path);
      if (!rule) continue;
      if (rule->has_pattern) {
        error(value, key_path, "a pattern for this " + std::string(kind) + " is already given");
        continue;
      }
      rule->has_pattern = true;
      rule->pattern = text->get();
      rule->key = key_path;
      rule->position = position_of(value.source());
    }
    if (required) {
      const std::string key_path = join(path, "required");
      const toml::array* array = required->as_array();
      if (!array) {
        type_error(*required, key_path, R"(expected an array of names such as ["page"])");
      } else {
        for (std::size_t i = 0; i < array->size(); ++i) {
          const toml::node& element = *array->get(i);
          const std::string element_path = indexed(key_path, i);
          const auto* text = element.as_string();
          if (!text) {
            type_error(element, element_path, "expected a name");
            continue;
          }
          if (ParamDecl* rule = entry(text->get(), element, element_path)) rule->required = true;
        }
      }
    }
    std::stable_sort(rules.begin(), rules.end(), [](const ParamDecl& a, const ParamDecl& b) {
      return before(a.position, b.position);
    });
  }

  void routes(const toml::node& node, const std::string& path, FunctionConfig& function) {
    const toml::array* array = node.as_array();
    if (!array) {
      type_error(node, path, R"(expected an array of routes such as ["GET /hello"])");
      return;
    }
    if (array->empty()) {
      error(node, path, R"(expected at least one route such as "GET /hello")");
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string element_path = indexed(path, i);
      const auto* text = element.as_string();
      if (!text) {
        type_error(element, element_path, kRouteExpected);
        continue;
      }
      if (auto route = parse_route(element, element_path, text->get())) {
        function.routes.push_back(std::move(*route));
      }
    }
  }

  std::optional<RouteDecl> parse_route(const toml::node& node, const std::string& path,
                                       std::string_view text) {
    const std::size_t space = text.find(' ');
    if (space == std::string_view::npos || space == 0) {
      error(node, path, std::string(kRouteExpected));
      return std::nullopt;
    }
    const std::string_view method = text.substr(0, space);
    const std::string_view pattern = text.substr(space + 1);
    if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
      error(node, path,
            "unknown method \"" + std::string(method) +
                "\"; expected one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
      return std::nullopt;
    }
    if (pattern.find_first_of(" \t") != std::string_view::npos) {
      error(node, path, std::string(kRouteExpected));
      return std::nullopt;
    }
    if (pattern.empty() || pattern.front() != '/') {
      error(node, path, "the pattern must start with '/'");
      return std::nullopt;
    }
    return RouteDecl{std::string(method), std::string(pattern), position_of(node.source())};
  }

  // Host names as the router compares them: lower-case, no port, letters, digits, '-' and
  // '.', labels of 1..63 characters, at most 253 in all (RFC 1035).
  void host(const toml::node& node, const std::string& path, std::string text,
            FunctionConfig& function) {
    if (text.find(':') != std::string::npos) {
      error(node, path, "a host takes no port; the router ignores the request's port");
      return;
    }
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    bool valid = !text.empty() && text.size() <= 253;
    std::size_t label_start = 0;
    for (std::size_t i = 0; valid && i <= text.size(); ++i) {
      if (i == text.size() || text[i] == '.') {
        const std::size_t length = i - label_start;
        valid = length >= 1 && length <= 63 && text[label_start] != '-' && text[i - 1] != '-';
        label_start = i + 1;
      } else {
        const char c = text[i];
        valid = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      }
    }
    if (!valid) {
      error(node, path, std::string(kHostExpected));
      return;
    }
    function.host = std::move(text);
  }

  void config(const toml::node& node, const std::string& path, const std::string& dir,
              FunctionConfig& function) {
    function.config_position = position_of(node.source());
    const toml::table* table = as_table(node, path);
    if (!table) return;
    std::map<std::string, api::ConfigValue, std::less<>> values;
    for (auto&& [key, value] : *table) {
      const std::string value_path = join(path, key.str());
      std::optional<api::ConfigValue> converted;
      if (const auto* text = value.as_string()) {
        converted = text->get();
      } else if (const auto* number = value.as_integer()) {
        converted = number->get();
      } else if (const auto* real = value.as_floating_point()) {
        converted = real->get();
      } else if (const auto* flag = value.as_boolean()) {
        converted = flag->get();
      } else if (const toml::array* array = value.as_array()) {
        std::vector<std::string> strings;
        bool valid = true;
        for (std::size_t i = 0; i < array->size(); ++i) {
          const toml::node& element = *array->get(i);
          if (const auto* item = element.as_string()) {
            strings.push_back(item->get());
          } else {
            type_error(element, indexed(value_path, i), "config arrays may hold only strings");
            valid = false;
          }
        }
        if (valid) converted = std::move(strings);
      } else {
        type_error(value, value_path,
                   "expected a string, integer, float, boolean or array of strings");
      }
      if (key.str() == "upstream") function.config_upstream_position = position_of(value.source());
      if (converted) values.emplace(std::string(key.str()), std::move(*converted));
    }
    function.config = api::Config(std::move(values), dir);
  }

  std::string path_;
  std::vector<Diagnostic>& errors_;
};

}  // namespace

std::string Diagnostic::to_string() const {
  std::string text = file;
  if (position.line != 0) {
    text += ':' + std::to_string(position.line) + ':' + std::to_string(position.column);
  }
  text += ": ";
  if (!key.empty()) text += key + ": ";
  text += message;
  return text;
}

std::optional<Manifest> parse_manifest(std::string_view text, std::string_view path,
                                       std::vector<Diagnostic>& errors) {
  const std::size_t first_error = errors.size();
  if (text.size() > kMaxManifestBytes) {
    errors.push_back(Diagnostic{std::string(path), {}, "", "the manifest is larger than 1MiB"});
    return std::nullopt;
  }
  // A UTF-8 byte order mark is allowed and means nothing; toml++ would skip it too, but the
  // checks below would count it as a column and as a character outside any string.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (auto problem = check_encoding(text)) {
    errors.push_back(
        Diagnostic{std::string(path), problem->first, "", std::string(problem->second)});
    return std::nullopt;
  }
  if (auto problem = check_parser_hazards(text)) {
    errors.push_back(Diagnostic{std::string(path), problem->first, "", std::move(problem->second)});
    return std::nullopt;
  }

  toml::parse_result result = toml::parse(text, std::string_view(path));
  if (!result) {
    const toml::parse_error& failure = result.error();
    errors.push_back(Diagnostic{std::string(path), position_of(failure.source()), "",
                                std::string(failure.description())});
    return std::nullopt;
  }

  Manifest manifest;
  manifest.path = std::string(path);
  manifest.dir = directory_of(path);
  // Header defaults that need parsing; the rest are member initializers in manifest.h.
  manifest.server.listen = *parse_socket_address("0.0.0.0:8080");
  manifest.server.admin = *parse_socket_address("127.0.0.1:9901");

  Loader loader(path, errors);
  loader.root(result.table(), manifest);

  // Checks run key by key in toml++'s (sorted) order; report in file order.
  std::stable_sort(
      errors.begin() + static_cast<std::ptrdiff_t>(first_error), errors.end(),
      [](const Diagnostic& a, const Diagnostic& b) { return before(a.position, b.position); });
  if (errors.size() != first_error) return std::nullopt;
  return manifest;
}

std::optional<Manifest> load_manifest(const std::string& path, std::vector<Diagnostic>& errors) {
  auto fail = [&](std::string message) {
    errors.push_back(Diagnostic{path, {}, "", std::move(message)});
    return std::nullopt;
  };
  std::string text;
  int error_number = 0;
  switch (read_file_text(path, kMaxManifestBytes, text, error_number)) {
    case FileTextStatus::kRead:
      break;
    case FileTextStatus::kCannotOpen:
      return fail("cannot open the manifest: " + std::string(std::strerror(error_number)));
    case FileTextStatus::kCannotRead:
      return fail("cannot read the manifest: " + std::string(std::strerror(error_number)));
    case FileTextStatus::kTooLarge:
      return fail("the manifest is larger than 1MiB");
  }
  return parse_manifest(text, path, errors);
}

}  // namespace edgefn::runtime
