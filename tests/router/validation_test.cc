// Tests for request validation (router/validation.h): JSON bodies of every type against schemas,
// the pointer and keyword of the first failure, invalid JSON, query and header rules.
#include "router/validation.h"

#include <gtest/gtest.h>

#include "tests/support/alloc_counter.h"

#include <array>
#include <string>
#include <vector>

namespace edgefn::router {
namespace {

std::unique_ptr<const BodySchema> schema_of(std::string_view text) {
  std::string error;
  std::unique_ptr<const BodySchema> schema = BodySchema::compile(text, error);
  EXPECT_NE(schema, nullptr) << error;
  return schema;
}

std::string compile_error(std::string_view text) {
  std::string error;
  EXPECT_EQ(BodySchema::compile(text, error), nullptr) << text;
  return error;
}

// The rejection of `body`, or "valid".
struct Outcome {
  std::string message;
  std::string members;
};
Outcome check(const BodySchema& schema, std::string_view body) {
  ValidationScratch scratch;
  Rejection rejection;
  if (validate_body(schema, body, scratch, rejection)) return {"valid", ""};
  return {rejection.message, rejection.members};
}

ParamRule rule(std::string name, bool required, std::string pattern = {}) {
  ParamRule result;
  result.name = std::move(name);
  result.required = required;
  if (!pattern.empty()) {
    std::string error;
    EXPECT_TRUE(compile_pattern(pattern, result.pattern, error)) << error;
    result.has_pattern = true;
    result.pattern_text = std::move(pattern);
  }
  return result;
}

// --- Bodies of every JSON type ----------------------------------------------------------------

struct TypeCase {
  std::string_view type;
  std::string_view valid;
  std::string_view other;  // valid JSON of another type
};

TEST(ValidateBody, EveryJsonTypeIsAcceptedAsABodyAndCheckedAgainstItsType) {
  const std::array cases = {
      TypeCase{"object", R"({"a":1})", "[1]"}, TypeCase{"array", "[1,2]", R"({"a":1})"},
      TypeCase{"string", R"("text")", "12"},   TypeCase{"number", "1.5", R"("1.5")"},
      TypeCase{"integer", "-7", "7.5"},        TypeCase{"boolean", "true", "null"},
      TypeCase{"null", "null", "false"},
  };
  for (const TypeCase& c : cases) {
    SCOPED_TRACE(c.type);
    const auto schema = schema_of(R"({"type":")" + std::string(c.type) + "\"}");
    EXPECT_EQ(check(*schema, c.valid).message, "valid");
    const Outcome outcome = check(*schema, c.other);
    EXPECT_EQ(outcome.message,
              "the body does not match the schema: Value type not permitted by 'type' "
              "constraint.");
    EXPECT_EQ(outcome.members, R"("pointer":"","keyword":"type")");
  }
}

constexpr std::string_view kOrder = R"({
  "type": "object",
  "required": ["id", "items"],
  "properties": {
    "id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
    "items": {
      "type": "array", "minItems": 1,
      "items": {
        "type": "object", "required": ["sku", "qty"],
        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}
      }
    }
  }
})";

TEST(ValidateBody, FormatIsAnAnnotationButDataNamedFormatStays) {
  // Not asserted (valijson would compile a regex per checked string), wherever it appears.
  const auto schema = schema_of(R"({"type": "object",
    "properties": {"at": {"type": "string", "format": "date-time"},
                   "format": {"enum": [{"format": "x"}]}},
    "items": [{"format": "date"}], "anyOf": [{"format": "time"}]})");
  EXPECT_EQ(check(*schema, R"({"at": "not a date"})").message, "valid");
  // A property named "format" is a schema position like any other, and `enum` data keeps its
  // "format" member.
  EXPECT_EQ(check(*schema, R"({"format": {"format": "x"}})").message, "valid");
  EXPECT_NE(check(*schema, R"({"format": {}})").message, "valid");
  EXPECT_NE(check(*schema, R"({"at": 1})").message, "valid");
}

TEST(ValidateBody, AValidOrderPasses) {
  const auto schema = schema_of(kOrder);
  EXPECT_EQ(check(*schema, R"({"id":"ABC-1","items":[{"sku":"x","qty":2}]})").message, "valid");
}

TEST(ValidateBody, TheFirstFailureIsNamedByPointerAndKeyword) {
  const auto schema = schema_of(kOrder);
  const Outcome outcome =
      check(*schema, R"({"id":"ABC-1","items":[{"sku":"x","qty":0},{"sku":"y","qty":-1}]})");
  EXPECT_EQ(outcome.members, R"("pointer":"/items/0/qty","keyword":"minimum")");
  EXPECT_TRUE(
      outcome.message.starts_with("the body does not match the schema: Expected number "
                                  "greater than or equal to 1"))
      << outcome.message;
}

TEST(ValidateBody, KeywordsOfCommonFailures) {
  const auto schema = schema_of(kOrder);
  EXPECT_EQ(check(*schema, R"({"items":[{"sku":"x","qty":1}]})").members,
            R"("pointer":"","keyword":"required")");
  EXPECT_EQ(check(*schema, R"({"id":"abc","items":[{"sku":"x","qty":1}]})").members,
            R"("pointer":"/id","keyword":"pattern")");
  EXPECT_EQ(check(*schema, R"({"id":"ABC-1","items":[]})").members,
            R"("pointer":"/items","keyword":"minItems")");
  EXPECT_EQ(
      check(*schema, R"({"id":"ABC-1","items":[{"sku":"x","qty":1},{"sku":3,"qty":1}]})").members,
      R"("pointer":"/items/1/sku","keyword":"type")");
  const auto closed = schema_of(R"({"additionalProperties":false,"properties":{"a":{}}})");
  EXPECT_EQ(check(*closed, R"({"a":1,"b":2})").members,
            R"("pointer":"","keyword":"additionalProperties")");
  const auto choice = schema_of(R"({"enum":["red","green"]})");
  EXPECT_EQ(check(*choice, R"("blue")").members, R"("pointer":"","keyword":"enum")");
  const auto bounded = schema_of(R"({"type":"string","maxLength":3})");
  EXPECT_EQ(check(*bounded, R"("abcd")").members, R"("pointer":"","keyword":"maxLength")");
}

TEST(ValidateBody, AnyOfAndOneOfFailuresAreNamedAndTheirValidBodiesPass) {
  // Schemas with alternatives take the two-pass path: a plain check, then one collecting results.
  const auto any = schema_of(R"({"anyOf":[{"type":"string"},{"type":"integer","minimum":5}]})");
  EXPECT_EQ(check(*any, R"("a")").message, "valid");
  EXPECT_EQ(check(*any, "7").message, "valid");
  // The first error is the first branch's, reported before the anyOf itself.
  EXPECT_EQ(check(*any, "3").members, R"("pointer":"","keyword":"type")");
  const auto one =
      schema_of(R"({"properties":{"a":{"oneOf":[{"required":["x"]},{"required":["y"]}]},"b":{}}})");
  EXPECT_EQ(check(*one, R"({"a":{"x":1}})").message, "valid");
  EXPECT_EQ(check(*one, R"({"a":{"x":1,"y":2}})").members, R"("pointer":"/a","keyword":"oneOf")");
  EXPECT_EQ(check(*one, R"({"a":{}})").members, R"("pointer":"/a","keyword":"required")");
}

TEST(ValidateBody, NonAsciiBodiesAreCheckedInCodePoints) {
  const auto schema =
      schema_of(R"({"properties":{"n":{"type":"string","maxLength":3},"é":{"type":"string"}}})");
  EXPECT_EQ(check(*schema, "{\"n\":\"h\xC3\xA9\xC3\xA9\"}").message, "valid");
  EXPECT_EQ(check(*schema, "{\"n\":\"h\xC3\xA9\xC3\xA9\xC3\xA9\"}").members,
            R"("pointer":"/n","keyword":"maxLength")");
  EXPECT_EQ(check(*schema, "{\"\xC3\xA9\":1}").members,
            "\"pointer\":\"/\xC3\xA9\",\"keyword\":\"type\"");
  EXPECT_EQ(check(*schema, "{\"\xC3\xA9\":}").message, "invalid JSON: Invalid value at offset 6");
  EXPECT_EQ(check(*schema, "{\"n\":\"\xC3\xA9\xC3\"}").message,
            "invalid JSON: Invalid encoding in string at offset 8");
}

TEST(ValidateBody, OneScratchNamesEachBodysOwnFirstFailure) {
  for (std::string_view text : {kOrder, std::string_view(R"({"oneOf":[{}, )"
                                                         R"({"type":"string"}], "type":"array",)"
                                                         R"( "items":{"type":"integer"}})")}) {
    SCOPED_TRACE(text);
    const auto schema = schema_of(text);
    ValidationScratch scratch;
    Rejection rejection;
    const auto members = [&](std::string_view body) {
      return validate_body(*schema, body, scratch, rejection) ? std::string("valid")
                                                              : rejection.members;
    };
    if (text == kOrder) {
      EXPECT_EQ(members(R"({"id":"ABC-1","items":[{"sku":"x","qty":0}]})"),
                R"("pointer":"/items/0/qty","keyword":"minimum")");
      EXPECT_EQ(members(R"({"id":"ABC-1","items":[{"sku":"x","qty":1}]})"), "valid");
      EXPECT_EQ(members(R"({"id":"ABC-1","items":[{"sku":"x","qty":1},{"qty":1}]})"),
                R"("pointer":"/items/1","keyword":"required")");
      EXPECT_EQ(members(R"({"id":"x","items":[]})"), R"("pointer":"/id","keyword":"pattern")");
    } else {
      EXPECT_EQ(members("[1,2]"), "valid");
      EXPECT_EQ(members(R"([1,"a"])"), R"("pointer":"/1","keyword":"type")");
      EXPECT_EQ(members("[3]"), "valid");
      EXPECT_EQ(members(R"(["b",2])"), R"("pointer":"/0","keyword":"type")");
    }
  }
}

TEST(ValidateBody, AValidBodyAllocatesNothingButItsPatternMatches) {
  // The decision reads rapidjson's values in place; only std::regex allocates, per match.
  std::string order = R"({"id":"ABC-1","items":[)";
  for (int i = 0; i < 20; ++i)
    order += R"({"sku":"x","qty":1},)";
  order += R"({"sku":"x","qty":1}]})";
  ValidationScratch scratch;
  Rejection rejection;
  std::string without_patterns(kOrder);
  without_patterns.erase(without_patterns.find(R"(, "pattern": "^[A-Z]{3}-[0-9]+$")"),
                         std::string_view(R"(, "pattern": "^[A-Z]{3}-[0-9]+$")").size());
  const auto plain = schema_of(without_patterns);
  ASSERT_TRUE(validate_body(*plain, order, scratch, rejection));
  EXPECT_NO_ALLOC(ASSERT_TRUE(validate_body(*plain, order, scratch, rejection)));

  const auto patterned = schema_of(kOrder);
  ASSERT_TRUE(validate_body(*patterned, order, scratch, rejection));
  testing::AllocationScope scope;
  ASSERT_TRUE(validate_body(*patterned, order, scratch, rejection));
  EXPECT_LE(scope.count(), 4u);  // one `pattern` checked: std::regex's matching state
}

TEST(ValidateBody, PatternsAreCompiledWithTheSchemaNotOnAThreadsFirstRequest) {
  const std::string order = R"({"id":"ABC-1","items":[{"sku":"x","qty":1}]})";
  std::string without_patterns(kOrder);
  without_patterns.erase(without_patterns.find(R"(, "pattern": "^[A-Z]{3}-[0-9]+$")"),
                         std::string_view(R"(, "pattern": "^[A-Z]{3}-[0-9]+$")").size());
  const auto patterned = schema_of(kOrder);
  ValidationScratch scratch;
  Rejection rejection;
  // A first body readies the scratch's own buffers; the schema's pattern is not one it has met.
  ASSERT_TRUE(validate_body(*schema_of(without_patterns), order, scratch, rejection));
  testing::AllocationScope scope;
  ASSERT_TRUE(validate_body(*patterned, order, scratch, rejection));
  EXPECT_LE(scope.count(), 4u);  // std::regex's matching state, no compilation
}

TEST(ValidateBody, AFailureIsNamedAfterTheCheckThatFindsIt) {
  const auto schema = schema_of(kOrder);
  std::string invalid = R"({"id":"ABC-1","items":[)";
  for (int i = 0; i < 20; ++i)
    invalid += R"({"sku":"x","qty":1},)";
  invalid += R"({"sku":"x","qty":0}]})";
  ValidationScratch scratch;
  Rejection rejection;
  ASSERT_FALSE(validate_body(*schema, invalid, scratch, rejection));
  EXPECT_EQ(rejection.members, R"("pointer":"/items/20/qty","keyword":"minimum")");
}

TEST(ValidateBody, PointerTokensAreEscaped) {
  const auto schema =
      schema_of(R"({"properties":{"a/b~c":{"properties":{"[x]":{"type":"string"}}}}})");
  EXPECT_EQ(check(*schema, R"({"a/b~c":{"[x]":1}})").members,
            R"("pointer":"/a~1b~0c/[x]","keyword":"type")");
}

TEST(ValidateBody, PointerEscapingFollowsRfc6901) {
  std::string pointer;
  append_pointer_token(pointer, "a/b");
  append_pointer_token(pointer, "m~n");
  append_pointer_token(pointer, "~1");
  append_pointer_token(pointer, "");
  EXPECT_EQ(pointer, "/a~1b/m~0n/~01/");
}

// --- Bodies that are not JSON -----------------------------------------------------------------

TEST(ValidateBody, InvalidJsonNamesRapidjsonsReasonAndTheOffset) {
  const auto schema = schema_of("{}");
  EXPECT_EQ(check(*schema, R"({"a":})").message, "invalid JSON: Invalid value at offset 5");
  EXPECT_EQ(check(*schema, "{} x").message,
            "invalid JSON: The document root must not be followed by other values at offset 3");
  EXPECT_EQ(check(*schema, "  ").message, "invalid JSON: The document is empty at offset 2");
  EXPECT_EQ(check(*schema, "\"\xC3\x28\"").message,
            "invalid JSON: Invalid encoding in string at offset 1");
  EXPECT_EQ(check(*schema, R"({"a":1})").members, "");
}

TEST(ValidateBody, AnEmptyBodyIsRequiredToBeJson) {
  const auto schema = schema_of("{}");
  EXPECT_EQ(check(*schema, "").message, "a JSON body is required");
}

TEST(ValidateBody, DeepNestingIsRefusedBeforeParsing) {
  const auto schema = schema_of("{}");
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(check(*schema, ok).message, "valid");
  const std::string deep(100000, '[');
  EXPECT_EQ(check(*schema, deep).message,
            "invalid JSON: nested deeper than 128 levels at offset 128");
  // Brackets inside strings do not nest.
  EXPECT_EQ(check(*schema, "[\"" + deep + "\\\"\"]").message, "valid");
  // The depth is named even when the text is broken before the bracket that goes too deep.
  EXPECT_EQ(check(*schema, "[1,," + deep).message,
            "invalid JSON: nested deeper than 128 levels at offset 131");
  const std::string too_deep = std::string(kMaxJsonDepth + 1, '{');
  EXPECT_EQ(check(*schema, R"({"a":)" + too_deep).message,
            "invalid JSON: nested deeper than 128 levels at offset 132");
}

TEST(ValidateBody, TheScratchIsReusedAcrossBodiesLargeAndSmall) {
  const auto schema = schema_of(R"({"type":"array","items":{"type":"string"}})");
  ValidationScratch scratch;
  Rejection rejection;
  std::string large = "[";
  for (int i = 0; i < 20000; ++i)
    large += "\"value-" + std::to_string(i) + "\",";
  large += "\"end\"]";
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(validate_body(*schema, large, scratch, rejection));
    EXPECT_TRUE(validate_body(*schema, R"(["a"])", scratch, rejection));
    EXPECT_FALSE(validate_body(*schema, R"(["a",1])", scratch, rejection));
    EXPECT_EQ(rejection.members, R"("pointer":"/1","keyword":"type")");
  }
}

// --- Schemas ------------------------------------------------------------------------------------

TEST(BodySchema, SchemaTextThatIsNotJsonIsReported) {
  EXPECT_EQ(compile_error(R"({"type":)"), "the schema is not JSON: Invalid value at offset 8");
}

TEST(BodySchema, AnInvalidSchemaIsReported) {
  const std::string error = compile_error(R"({"type":"nonsense"})");
  EXPECT_TRUE(error.starts_with("not a valid JSON Schema (draft 7): ")) << error;
  EXPECT_TRUE(compile_error(R"({"minLength":"x"})").starts_with("not a valid JSON Schema"));
}

TEST(BodySchema, AnInvalidPatternIsTheSchemasErrorNamingIt) {
  EXPECT_EQ(compile_error(R"({"properties":{"a":{"pattern":"([0-9]"}}})")
                .rfind(R"(not a valid JSON Schema (draft 7): pattern "([0-9]": invalid regular )"
                       R"(expression: )",
                       0),
            0u);
  EXPECT_TRUE(compile_error(R"({"patternProperties":{"[":{}}})")
                  .starts_with(R"(not a valid JSON Schema (draft 7): pattern "[": )"));
  // Data is not a schema: a "pattern" inside const or enum is never compiled.
  std::string error;
  EXPECT_NE(BodySchema::compile(R"({"const":{"pattern":"(["},"enum":[{"pattern":"(["}]})", error),
            nullptr)
      << error;
}

// --- Query and header rules ---------------------------------------------------------------------

struct QueryOutcome {
  bool valid = false;
  std::string message;
  std::string members;
};
QueryOutcome query(const std::vector<ParamRule>& rules, std::string_view text) {
  ValidationScratch scratch;
  Rejection rejection;
  const bool valid = validate_query(rules, text, scratch, rejection);
  return {valid, valid ? "" : rejection.message, valid ? "" : rejection.members};
}

TEST(ValidateQuery, RequiredParametersMustBePresent) {
  const std::vector<ParamRule> rules = {rule("page", true, "^[0-9]+$")};
  EXPECT_TRUE(query(rules, "page=2").valid);
  EXPECT_TRUE(query(rules, "x=1&page=20&y").valid);
  const QueryOutcome missing = query(rules, "pages=2&xpage=1");
  EXPECT_FALSE(missing.valid);
  EXPECT_EQ(missing.message, R"(query parameter "page" is required)");
  EXPECT_EQ(missing.members, R"("parameter":"page")");
  EXPECT_FALSE(query(rules, "").valid);
}

TEST(ValidateQuery, PatternsMatchTheWholeDecodedValue) {
  const std::vector<ParamRule> rules = {rule("page", true, "[0-9]+")};
  const QueryOutcome partial = query(rules, "page=12a");
  EXPECT_FALSE(partial.valid);
  EXPECT_EQ(partial.message, R"(query parameter "page" must match [0-9]+)");
  EXPECT_EQ(partial.members, R"("parameter":"page")");
  EXPECT_TRUE(query(rules, "page=%31%32").valid);  // "12"
  EXPECT_FALSE(query(rules, "page=").valid);
  EXPECT_FALSE(query(rules, "page").valid);  // present, empty value
  // Every occurrence must match, not only the first.
  EXPECT_FALSE(query(rules, "page=1&page=x").valid);
}

TEST(ValidateQuery, NamesAndValuesArePercentDecodedWithPlusAsSpace) {
  const std::vector<ParamRule> rules = {rule("full name", true, "^[A-Z][a-z]+ [A-Z][a-z]+$")};
  EXPECT_TRUE(query(rules, "full+name=Ada+Lovelace").valid);
  EXPECT_TRUE(query(rules, "full%20name=Ada%20Lovelace").valid);
  EXPECT_FALSE(query(rules, "full+name=Ada%2BLovelace").valid);  // %2B is a literal '+'
  // An invalid escape stays as written.
  const std::vector<ParamRule> literal = {rule("q", true, "^100%zz$")};
  EXPECT_TRUE(query(literal, "q=100%zz").valid);
  EXPECT_TRUE(query(literal, "q=100%25zz").valid);
}

TEST(ValidateQuery, OptionalParametersAreCheckedOnlyWhenPresent) {
  const std::vector<ParamRule> rules = {rule("sort", false, "^(asc|desc)$")};
  EXPECT_TRUE(query(rules, "").valid);
  EXPECT_TRUE(query(rules, "sort=asc").valid);
  EXPECT_FALSE(query(rules, "sort=up").valid);
}

TEST(ValidateHeaders, RequiredHeadersAndPatterns) {
  const std::vector<ParamRule> rules = {rule("x-api-key", true, "^[A-Za-z0-9]{8}$")};
  const std::array good = {api::Header{"host", "a"}, api::Header{"x-api-key", "abcd1234"}};
  const std::array bad = {api::Header{"x-api-key", "abcd-123"}};
  const std::array none = {api::Header{"host", "a"}};
  Rejection rejection;
  EXPECT_TRUE(validate_headers(rules, api::HeaderList(good), rejection));
  EXPECT_FALSE(validate_headers(rules, api::HeaderList(bad), rejection));
  EXPECT_EQ(rejection.message, R"(header "x-api-key" must match ^[A-Za-z0-9]{8}$)");
  EXPECT_EQ(rejection.members, R"("header":"x-api-key")");
  EXPECT_FALSE(validate_headers(rules, api::HeaderList(none), rejection));
  EXPECT_EQ(rejection.message, R"(header "x-api-key" is required)");
}

TEST(CompilePattern, AnInvalidRegexIsReported) {
  Pattern pattern;
  std::string error;
  EXPECT_FALSE(compile_pattern("([0-9]", pattern, error));
  EXPECT_TRUE(error.starts_with("invalid regular expression: ")) << error;
}

TEST(ValidateRequest, GetAndHeadAreNotBodyValidated) {
  RequestRules rules;
  rules.body = schema_of(R"({"type":"object"})");
  rules.query.push_back(rule("v", false, "^[0-9]$"));
  ValidationScratch scratch;
  Rejection rejection;
  const api::HeaderList headers;
  EXPECT_TRUE(validate_request(rules, "GET", "", headers, "", scratch, rejection));
  EXPECT_TRUE(validate_request(rules, "HEAD", "", headers, "", scratch, rejection));
  EXPECT_FALSE(validate_request(rules, "POST", "", headers, "", scratch, rejection));
  EXPECT_EQ(rejection.message, "a JSON body is required");
  EXPECT_FALSE(validate_request(rules, "PUT", "", headers, "[]", scratch, rejection));
  EXPECT_TRUE(validate_request(rules, "PATCH", "", headers, "{}", scratch, rejection));
  // Query rules come first, for every method.
  EXPECT_FALSE(validate_request(rules, "GET", "v=x", headers, "", scratch, rejection));
  EXPECT_EQ(rejection.members, R"("parameter":"v")");
  EXPECT_TRUE(RequestRules{}.empty());
  EXPECT_FALSE(rules.empty());
}

}  // namespace
}  // namespace edgefn::router

// --- Inputs too long for std::regex -----------------------------------------------------------

namespace edgefn::router {
namespace {

// std::regex recurses per character; these inputs would overflow the stack if they reached it.
TEST(RegexInputLimit, LongQueryValuesFailTheirPatternWithoutReachingTheRegex) {
  const std::vector<ParamRule> rules = {rule("q", true, "^[a-z]+$")};
  EXPECT_TRUE(query(rules, "q=" + std::string(4096, 'a')).valid);
  const QueryOutcome long_value = query(rules, "q=" + std::string(200000, 'a'));
  EXPECT_FALSE(long_value.valid);
  EXPECT_EQ(long_value.message, R"(query parameter "q" must match ^[a-z]+$)");
}

TEST(RegexInputLimit, LongStringsAreRefusedWhenTheSchemaUsesPatterns) {
  const auto patterned =
      schema_of(R"({"type":"object","properties":{"s":{"pattern":"^[a-z]+$"}}})");
  EXPECT_EQ(check(*patterned, R"({"s":")" + std::string(4096, 'a') + R"("})").message, "valid");
  EXPECT_EQ(check(*patterned, R"({"s":")" + std::string(200000, 'a') + R"("})").message,
            "a string of 200000 bytes is longer than the 4096 bytes this schema's patterns may "
            "check");
  EXPECT_EQ(check(*patterned, R"({")" + std::string(5000, 'k') + R"(":1})").message,
            "a string of 5000 bytes is longer than the 4096 bytes this schema's patterns may "
            "check");
  // Lengths are those of the decoded strings: escapes shrink them.
  std::string escaped;
  for (int i = 0; i < 1000; ++i)
    escaped += "\\u0061";  // 6000 bytes of text, 1000 decoded
  EXPECT_EQ(check(*patterned, R"({"s":")" + escaped + R"("})").message, "valid");
  escaped.clear();
  for (int i = 0; i < 2100; ++i)
    escaped += "\\u00e9";  // two bytes each, decoded
  EXPECT_EQ(check(*patterned, R"({"s":")" + escaped + R"("})").message,
            "a string of 4200 bytes is longer than the 4096 bytes this schema's patterns may "
            "check");
  // Without pattern, patternProperties or format, long strings are fine.
  const auto plain = schema_of(R"({"type":"object","properties":{"s":{"type":"string"}}})");
  EXPECT_EQ(check(*plain, R"({"s":")" + std::string(200000, 'a') + R"("})").message, "valid");
}

}  // namespace
}  // namespace edgefn::router
