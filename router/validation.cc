// Request validation: JSON Schema via valijson over rapidjson, query and header rules via
// std::regex.

#include "router/validation.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <regex>
#include <stdexcept>
#include <unordered_map>

#include "functions/api/json.h"
#include "router/detail/json_schema.h"
#include "router/detail/schema_check.h"
#include "router/path.h"

namespace edgefn::router {

struct BodySchema::Impl {
  valijson::Schema schema;
  PatternTable patterns;    // every `pattern` and `patternProperties` regex, by its text
  bool uses_regex = false;  // `pattern` or `patternProperties`: see kMaxRegexInput
};

namespace {

using detail::Adapter;
using detail::CheckVisitor;
using detail::Document;
using detail::Pool;
using detail::Visitor;

// Invalid UTF-8 is invalid JSON (RFC 8259 8.1), and a schema's string checks count code points.
// The iterative parser does not recurse on the text's nesting: schema files are parsed with it,
// and so is a body whose fast parse failed, because its error codes are the ones users see.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
// A body is first parsed recursively, about 15% faster than iteratively (2.4 vs 2.9 us for
// validation_bench's body); BoundedHandler stops it at kMaxJsonDepth, far less deep than
// valijson itself recurses. Both parsers accept the same texts (checked on 3 million mutated
// documents) but name some errors differently ("The document is empty" vs "Invalid value"), so
// a failure is parsed again by the iterative one. Encoding validation only ever rejects bytes
// >= 0x80, so a pure ASCII body skips it (0.7 us).
constexpr unsigned kFastParseFlags = rapidjson::kParseValidateEncodingFlag;
constexpr unsigned kFastAsciiParseFlags = rapidjson::kParseNoFlags;

// A typical body (1 KiB of JSON) becomes about 4 KiB of rapidjson values: the fixed buffers hold
// bodies up to several KiB with no heap allocation; beyond, the pool adds 64 KiB chunks, freed
// when the next call clears it.
constexpr std::size_t kValueBufferBytes = 32 * 1024;
constexpr std::size_t kStackBufferBytes = 4 * 1024;
constexpr std::size_t kChunkBytes = 64 * 1024;

void append_offset_message(std::string& out, std::string_view reason, std::size_t offset) {
  // rapidjson's messages end with a period, which reads wrongly before " at offset".
  if (reason.ends_with('.')) reason.remove_suffix(1);
  out.assign("invalid JSON: ");
  out.append(reason);
  out.append(" at offset ");
  out.append(std::to_string(offset));
}

// Finds nesting deeper than kMaxJsonDepth without parsing: the offset of the bracket that goes
// too deep, or npos. Brackets inside strings do not count.
std::size_t too_deep_at(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

bool is_ascii(std::string_view text) {
  unsigned char bits = 0;
  for (char c : text)
    bits |= static_cast<unsigned char>(c);
  return bits < 0x80;
}

// The schema keyword behind a valijson error. valijson 1.0 reports only a description, written
// by the visitor of one constraint type each; the prefixes below are those texts
// (validation_visitor.hpp). Longer prefixes come before their own prefixes.
struct KeywordPrefix {
  std::string_view prefix;
  std::string_view keyword;
};
constexpr std::array kKeywords = {
    KeywordPrefix{"Expected number greater than or equal to", "minimum"},
    KeywordPrefix{"Expected number greater than", "exclusiveMinimum"},
    KeywordPrefix{"Expected number less than or equal to", "maximum"},
    KeywordPrefix{"Expected number less than", "exclusiveMaximum"},
    KeywordPrefix{"Value type not permitted", "type"},
    KeywordPrefix{"Missing required property", "required"},
    KeywordPrefix{"Missing dependency", "dependencies"},
    KeywordPrefix{"Failed to validate against dependent schema", "dependencies"},
    KeywordPrefix{"Failed to match regex specified by 'pattern'", "pattern"},
    KeywordPrefix{"Failed to match against any enum values", "enum"},
    KeywordPrefix{"Failed to match expected value set by 'const'", "const"},
    KeywordPrefix{"String should be no fewer than", "minLength"},
    KeywordPrefix{"String should be no more than", "maxLength"},
    KeywordPrefix{"String should be a valid", "format"},
    KeywordPrefix{"Array should contain no fewer than", "minItems"},
    KeywordPrefix{"Array should contain no more than", "maxItems"},
    KeywordPrefix{"Object should have no fewer than", "minProperties"},
    KeywordPrefix{"Object should have no more than", "maxProperties"},
    KeywordPrefix{"Value should be a multiple of", "multipleOf"},
    KeywordPrefix{"Value could not be converted", "multipleOf"},
    KeywordPrefix{"Elements at indexes", "uniqueItems"},
    KeywordPrefix{"Target should not validate", "not"},
    KeywordPrefix{"Failed to validate against any schemas allowed by anyOf", "anyOf"},
    KeywordPrefix{"Failed to validate against any child schemas allowed by oneOf", "oneOf"},
    KeywordPrefix{"Failed to validate against exactly one child schema", "oneOf"},
    KeywordPrefix{"Failed to validate against child schema", "allOf"},
    KeywordPrefix{"Failed to any values against subschema in 'contains'", "contains"},
    KeywordPrefix{"Failed to validate against a conditional schema", "if"},
    KeywordPrefix{"Object contains a property that could not be validated", "additionalProperties"},
    KeywordPrefix{"Failed to validate against additional properties", "additionalProperties"},
    KeywordPrefix{"Array contains more items than allowed", "additionalItems"},
    KeywordPrefix{"Cannot validate item", "additionalItems"},
    KeywordPrefix{"Failed to validate item", "items"},
    KeywordPrefix{"Failed to validate against schema associated with property name", "properties"},
    KeywordPrefix{"Failed to validate against schema associated with pattern", "patternProperties"},
};

std::string_view keyword_of(std::string_view description) {
  for (const KeywordPrefix& entry : kKeywords) {
    if (description.starts_with(entry.prefix)) return entry.keyword;
  }
  return "schema";
}

// valijson names the failing instance by a path of "[name]" / "[index]" segments below the root
// context it was given (none here, see validate_body). An array element and an object member
// are written alike, and so are they in RFC 6901, so each segment's text between its outer
// brackets (a member name may itself contain brackets) is the reference token, escaped.
void pointer_of(const std::vector<std::string>& context, std::string& pointer) {
  pointer.clear();
  for (std::size_t i = 0; i < context.size(); ++i) {
    std::string_view segment = context[i];
    if (segment.size() >= 2 && segment.front() == '[' && segment.back() == ']') {
      segment = segment.substr(1, segment.size() - 2);
    }
    append_pointer_token(pointer, segment);
  }
}

// libstdc++'s std::regex matches recursively, about 160 bytes of stack per input character
// (measured: `^[a-z]+$` overflows an 8 MiB stack near 50 000 characters), and a stack overflow
// cannot be caught. No input longer than this reaches a regex: query and header values fail
// their pattern, and a body whose schema applies patterns is refused if any of its strings or
// keys is longer (see validate_body).
constexpr std::size_t kMaxRegexInput = 4096;

// Whether any member of the schema document, at any depth, is named one of `names`. A member
// that is not a keyword (a property called "pattern") makes the answer err on the safe side.
template <class Value>
bool has_member_named(const Value& value, std::initializer_list<std::string_view> names) {
  if (value.IsObject()) {
    for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
      const std::string_view key(member->name.GetString(), member->name.GetStringLength());
      for (std::string_view name : names) {
        if (key == name) return true;
      }
      if (has_member_named(member->value, names)) return true;
    }
  } else if (value.IsArray()) {
    for (const auto& element : value.GetArray()) {
      if (has_member_named(element, names)) return true;
    }
  }
  return false;
}

// Compiles `text` into `patterns` unless it is there; throws std::invalid_argument naming the
// pattern when it is not a valid ECMAScript regex.
void compile_into(PatternTable& patterns, std::string_view text) {
  if (patterns.contains(text)) return;
  Pattern pattern;
  std::string error;
  if (!compile_pattern(text, pattern, error)) {
    throw std::invalid_argument("pattern \"" + std::string(text) + "\": " + error);
  }
  patterns.emplace(std::string(text), std::move(pattern));
}

// Readies a draft 7 schema document for valijson, walking only schema positions (a member inside
// enum, const, default or examples is data and stays):
// - it removes the `format` keywords. Draft 7 lets a validator treat format as an annotation;
//   valijson 1.0 asserts date, time and date-time by compiling a std::regex for every string it
//   checks (about 0.5 ms each), which would let a body of many short strings hold a worker for a
//   second. `pattern` states the same constraints.
// - it compiles every `pattern` and `patternProperties` regex into `patterns`, so a worker's
//   first request compiles none (11 us each) and a bad one is the manifest's error, not a 400.
void prepare_schema(rapidjson::Value& schema, PatternTable& patterns) {
  if (!schema.IsObject()) return;
  schema.RemoveMember("format");
  for (auto member = schema.MemberBegin(); member != schema.MemberEnd(); ++member) {
    const std::string_view keyword(member->name.GetString(), member->name.GetStringLength());
    rapidjson::Value& value = member->value;
    if (keyword == "pattern") {
      if (value.IsString()) compile_into(patterns, {value.GetString(), value.GetStringLength()});
    } else if (keyword == "properties" || keyword == "patternProperties" ||
               keyword == "definitions" || keyword == "dependencies") {
      if (!value.IsObject()) continue;
      for (auto entry = value.MemberBegin(); entry != value.MemberEnd(); ++entry) {
        if (keyword == "patternProperties") {
          compile_into(patterns, {entry->name.GetString(), entry->name.GetStringLength()});
        }
        prepare_schema(entry->value, patterns);
      }
    } else if (keyword == "items" || keyword == "allOf" || keyword == "anyOf" ||
               keyword == "oneOf") {
      if (value.IsArray()) {
        for (rapidjson::Value& item : value.GetArray())
          prepare_schema(item, patterns);
      } else {
        prepare_schema(value, patterns);
      }
    } else if (keyword == "additionalProperties" || keyword == "additionalItems" ||
               keyword == "not" || keyword == "if" || keyword == "then" || keyword == "else" ||
               keyword == "contains" || keyword == "propertyNames") {
      prepare_schema(value, patterns);
    }
  }
}

// Builds the document from the parser's events (GenericDocument is itself a handler) and checks
// two limits on the way: nesting deeper than kMaxJsonDepth stops the parse, which also bounds the
// recursive parser's own recursion, and the first string or key (in document order) longer than
// kMaxRegexInput is noted. Its member names are the ones rapidjson's Handler concept requires.
class BoundedHandler {
 public:
  explicit BoundedHandler(Document& document) : document_(document) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool value) { return document_.Bool(value); }
  bool Int(int value) { return document_.Int(value); }
  bool Uint(unsigned value) { return document_.Uint(value); }
  bool Int64(std::int64_t value) { return document_.Int64(value); }
  bool Uint64(std::uint64_t value) { return document_.Uint64(value); }
  bool Double(double value) { return document_.Double(value); }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.RawNumber(text, length, copy);
  }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    note(length);
    return document_.String(text, length, copy);
  }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    note(length);
    return document_.Key(text, length, copy);
  }
  bool StartObject() { return enter() && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return enter() && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

  // The byte length of the first string longer than kMaxRegexInput, or 0.
  std::size_t first_long_string() const { return first_long_string_; }

 private:
  bool enter() { return ++depth_ <= kMaxJsonDepth; }
  void note(rapidjson::SizeType length) {
    if (first_long_string_ == 0 && length > kMaxRegexInput) first_long_string_ = length;
  }

  Document& document_;
  std::size_t depth_ = 0;
  std::size_t first_long_string_ = 0;
};

// std::regex can throw while matching (error_complexity, error_stack on long input): the data
// plane does not throw, and a value that cannot be shown to match does not match.
bool full_match(const Pattern& pattern, std::string_view value) {
  if (value.size() > kMaxRegexInput) return false;
  try {
    return std::regex_match(value.begin(), value.end(), pattern);
  } catch (const std::exception&) {
    return false;
  }
}

void reject(Rejection& rejection, std::string_view what, const ParamRule& rule, bool missing,
            std::string_view member) {
  rejection.message.assign(what);
  rejection.message.append(" \"");
  rejection.message.append(rule.name);
  if (missing) {
    rejection.message.append("\" is required");
  } else {
    rejection.message.append("\" must match ");
    rejection.message.append(rule.pattern_text);
  }
  rejection.members.clear();
  rejection.members.push_back('"');
  rejection.members.append(member);
  rejection.members.append("\":");
  api::json::append_string(rejection.members, rule.name);
}

}  // namespace

struct ValidationScratch::Impl {
  Impl()
      : values(value_buffer.data(), value_buffer.size(), kChunkBytes),
        stack(stack_buffer.data(), stack_buffer.size(), kChunkBytes),
        document(&values, kStackBufferBytes / 2, &stack) {}

  alignas(8) std::array<char, kValueBufferBytes> value_buffer;
  alignas(8) std::array<char, kStackBufferBytes> stack_buffer;
  Pool values;
  Pool stack;
  Document document;
  // Includes the compiled `pattern` regexes by pattern text, filled as they are met: each is
  // compiled once per thread, for every schema this thread validates against.
  detail::CheckState check;
  // Kept empty between calls: a new one allocates its deque.
  valijson::ValidationResults results;
  std::string name;   // decoded query parameter name
  std::string value;  // decoded query parameter value
  std::string pointer;
};

BodySchema::BodySchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BodySchema::~BodySchema() = default;

std::unique_ptr<const BodySchema> BodySchema::compile(std::string_view text, std::string& error) {
  rapidjson::Document document;
  document.Parse<kParseFlags>(text.data(), text.size());
  if (document.HasParseError()) {
    std::string reason;
    append_offset_message(reason, rapidjson::GetParseError_En(document.GetParseError()),
                          document.GetErrorOffset());
    // "invalid JSON: ..." reads as the request's fault; here it is the schema file's.
    error = "the schema is not JSON: " + reason.substr(std::string_view("invalid JSON: ").size());
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  try {
    prepare_schema(document, impl->patterns);
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::RapidJsonAdapter adapter(document);
    parser.populateSchema(adapter, impl->schema);
    const rapidjson::Value& root = document;
    impl->uses_regex = has_member_named(root, {"pattern", "patternProperties"});
  } catch (const std::exception& failure) {
    error = "not a valid JSON Schema (draft 7): ";
    error += failure.what();
    return nullptr;
  }
  return std::unique_ptr<const BodySchema>(new BodySchema(std::move(impl)));
}

bool compile_pattern(std::string_view text, Pattern& out, std::string& error) {
  try {
    out = Pattern(text.begin(), text.end(), Pattern::ECMAScript);
  } catch (const std::regex_error& failure) {
    error = "invalid regular expression: ";
    error += failure.what();
    return false;
  }
  return true;
}

ValidationScratch::ValidationScratch() : impl_(std::make_unique<Impl>()) {}
ValidationScratch::~ValidationScratch() = default;

ValidationScratch& ValidationScratch::for_thread() {
  thread_local ValidationScratch scratch;
  return scratch;
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~') {
      pointer.append("~0");
    } else if (c == '/') {
      pointer.append("~1");
    } else {
      pointer.push_back(c);
    }
  }
}

bool validate_query(std::span<const ParamRule> rules, std::string_view query,
                    ValidationScratch& scratch, Rejection& rejection) {
  ValidationScratch::Impl& state = scratch.impl();
  for (const ParamRule& rule : rules) {
    bool found = false;
    std::string_view rest = query;
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const std::size_t equals = pair.find('=');
      decode_form(pair.substr(0, equals), state.name);
      if (state.name != rule.name) continue;
      found = true;
      if (!rule.has_pattern) break;
      decode_form(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1),
                  state.value);
      if (!full_match(rule.pattern, state.value)) {
        reject(rejection, "query parameter", rule, false, "parameter");
        return false;
      }
    }
    if (rule.required && !found) {
      reject(rejection, "query parameter", rule, true, "parameter");
      return false;
    }
  }
  return true;
}

bool validate_headers(std::span<const ParamRule> rules, const api::HeaderList& headers,
                      Rejection& rejection) {
  for (const ParamRule& rule : rules) {
    bool found = false;
    for (const api::Header& header : headers) {
      if (header.name != rule.name) continue;
      found = true;
      if (rule.has_pattern && !full_match(rule.pattern, header.value)) {
        reject(rejection, "header", rule, false, "header");
        return false;
      }
    }
    if (rule.required && !found) {
      reject(rejection, "header", rule, true, "header");
      return false;
    }
  }
  return true;
}

bool validate_body(const BodySchema& schema, std::string_view body, ValidationScratch& scratch,
                   Rejection& rejection) {
  rejection.members.clear();
  if (body.empty()) {
    rejection.message.assign("a JSON body is required");
    return false;
  }
  ValidationScratch::Impl& state = scratch.impl();
  // The previous document's values live in the pools: drop the root first, then the memory.
  const auto reset = [&state] {
    state.document.SetNull();
    state.values.Clear();
    state.stack.Clear();
  };
  reset();
  // One pass over the text builds the document and checks its depth and string lengths: a scan
  // of the text before parsing it took 1.3 us of validation_bench's 952 bytes.
  bool parsed = false;
  std::size_t long_string = 0;
  auto generate = [&](Document& document) {
    rapidjson::MemoryStream memory(body.data(), body.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> input(memory);
    // Its parse stack comes from the scratch's pool, as GenericDocument::Parse does it.
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, Pool> reader(&state.stack);
    BoundedHandler handler(document);
    if (is_ascii(body)) {
      parsed = !reader.Parse<kFastAsciiParseFlags>(input, handler).IsError();
    } else {
      parsed = !reader.Parse<kFastParseFlags>(input, handler).IsError();
    }
    long_string = handler.first_long_string();
    return parsed;
  };
  state.document.Populate(generate);
  if (!parsed) {
    // A failure, too deep or not JSON, is named by the depth scan first (it names the bracket
    // even when the text breaks before it), then by the iterative parser's error and offset.
    if (const std::size_t at = too_deep_at(body); at != std::string_view::npos) {
      append_offset_message(rejection.message,
                            "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", at);
      return false;
    }
    reset();
    state.document.Parse<kParseFlags>(body.data(), body.size());
    append_offset_message(rejection.message,
                          rapidjson::GetParseError_En(state.document.GetParseError()),
                          state.document.GetErrorOffset());
    return false;
  }
  const rapidjson::Value& root = state.document;
  const BodySchema::Impl& compiled = schema.impl();
  if (compiled.uses_regex && long_string != 0) {
    rejection.message.assign("a string of " + std::to_string(long_string) +
                             " bytes is longer than the " + std::to_string(kMaxRegexInput) +
                             " bytes this schema's patterns may check");
    return false;
  }
  valijson::ValidationResults& results = state.results;
  state.check.compiled = &compiled.patterns;
  try {
    if (CheckVisitor(root, state.check).check(compiled.schema)) return true;
    // valijson's visitor names the failure: it collects results, copying its context path at
    // every value. valijson's Validator would start that path with "<root>", one more string to
    // copy twice for each value visited; the visitor itself takes an empty path.
    Visitor visitor(Adapter(root), {}, true, &results, state.check.valijson_regexes);
    visitor.validateSchema(compiled.schema);
    if (results.numErrors() == 0) {
      rejection.message.assign("the body does not match the schema");
      return false;
    }
    // Children report before their parents, so the first error is the first failing leaf.
    const valijson::ValidationResults::Error& first = *results.begin();
    pointer_of(first.context, state.pointer);
    rejection.message.assign("the body does not match the schema: ");
    rejection.message.append(first.description);
    rejection.members.assign("\"pointer\":");
    api::json::append_string(rejection.members, state.pointer);
    rejection.members.append(",\"keyword\":");
    api::json::append_string(rejection.members, keyword_of(first.description));
  } catch (const std::exception&) {
    // valijson's rapidjson assertions throw, and so can std::regex on a `pattern`.
    rejection.message.assign("the body could not be validated against the schema");
    rejection.members.clear();
  }
  results = valijson::ValidationResults();
  return false;
}

bool validate_request(const RequestRules& rules, std::string_view method, std::string_view query,
                      const api::HeaderList& headers, std::string_view body,
                      ValidationScratch& scratch, Rejection& rejection) {
  if (!rules.query.empty() && !validate_query(rules.query, query, scratch, rejection)) {
    return false;
  }
  if (!rules.headers.empty() && !validate_headers(rules.headers, headers, rejection)) return false;
  if (rules.body && method != "GET" && method != "HEAD") {
    return validate_body(*rules.body, body, scratch, rejection);
  }
  return true;
}

}  // namespace edgefn::router
