// Tests for CheckVisitor (router/detail/schema_check.h): on every keyword, its decision is
// valijson's own (its visitor collecting results), for every document of a corpus of values of
// every type, nesting and non-ASCII text. Where it means to differ (duplicate members, NUL in a
// string), a test says so.
#include "router/detail/schema_check.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::router::detail {
namespace {

constexpr std::string_view kSchemas[] = {
    R"({})",
    R"({"type": "object"})",
    R"({"type": ["string", "null"]})",
    R"({"type": "integer", "minimum": 1, "maximum": 10})",
    R"({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100, "multipleOf": 1.5})",
    R"({"enum": ["a", 1, null, {"a": 1}, [1, 2]]})",
    R"({"const": {"a": 1}})",
    R"({"minLength": 2, "maxLength": 3})",
    R"({"pattern": "^[A-Z]{3}-[0-9]+$"})",
    R"({"pattern": "b"})",
    R"({"required": ["a", "b"]})",
    R"({"properties": {"a": {"type": "integer"}, "b": {"type": "string"}}})",
    R"({"properties": {"a": {"type": "integer"}}, "additionalProperties": false})",
    R"({"properties": {"a": {}}, "additionalProperties": {"type": "string"}})",
    R"({"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": false})",
    R"({"properties": {"a": {"minimum": 0}}, "patternProperties": {"a": {"maximum": 1}}})",
    R"({"propertyNames": {"maxLength": 1}})",
    R"({"minProperties": 1, "maxProperties": 2})",
    R"({"dependencies": {"a": ["b"], "b": {"required": ["c"]}}})",
    R"({"items": {"type": "integer"}})",
    R"({"items": [{"type": "integer"}, {"type": "string"}]})",
    R"({"items": [{"type": "integer"}], "additionalItems": false})",
    R"({"items": [{}], "additionalItems": {"type": "string"}})",
    R"({"items": [], "additionalItems": false})",
    R"({"minItems": 1, "maxItems": 2, "uniqueItems": true})",
    R"({"contains": {"type": "string"}})",
    R"({"allOf": [{"type": "object"}, {"required": ["a"]}]})",
    R"({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]})",
    R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})",
    R"({"not": {"type": "array"}})",
    R"({"if": {"type": "integer"}, "then": {"minimum": 3}, "else": {"type": "object"}})",
    R"({"if": {"required": ["a"]}, "then": {"required": ["b"]}})",
    R"({"properties": {"a": true, "b": false}})",
    R"({"items": false})",
    R"({"definitions": {"n": {"type": "integer"}, "tree": {"type": "object",
        "properties": {"v": {"$ref": "#/definitions/n"},
                       "kids": {"type": "array", "items": {"$ref": "#/definitions/tree"}}}}},
        "$ref": "#/definitions/tree"})",
    R"({"type": "object", "required": ["a"], "properties": {"a": {"type": "object",
        "properties": {"b": {"type": "array", "items": {"anyOf": [{"type": "integer"},
        {"type": "object", "additionalProperties": false, "properties": {"c": {"type": "null"}}}
        ]}}}}}})",
};

constexpr std::string_view kDocuments[] = {
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1",
    "1.5",
    "3",
    "4.5",
    "7",
    "10",
    "100",
    "1e300",
    R"("")",
    R"("a")",
    R"("ab")",
    R"("abc")",
    R"("abcd")",
    R"("ABC-1")",
    R"("xABC-12x")",
    R"("é€𝄞")",
    R"("éé")",
    R"("𝄞𝄞𝄞𝄞")",
    "[]",
    "[1]",
    "[1,2]",
    "[1,2,3]",
    R"([1,"a"])",
    R"([1,"a","b"])",
    R"([1,"a",2])",
    R"(["a","a"])",
    "[[1,2],[1,2]]",
    R"([{"a":1},{"a":1.0}])",
    R"([{"c":null},2,{"d":1}])",
    "{}",
    R"({"a":1})",
    R"({"a":"x"})",
    R"({"a":1,"b":2})",
    R"({"a":1,"b":"y"})",
    R"({"a":1,"b":"y","c":3})",
    R"({"b":"y"})",
    R"({"b":"y","c":1})",
    R"({"x-1":1})",
    R"({"x-1":"one"})",
    R"({"x-1":1,"y":2})",
    R"({"a":0.5})",
    R"({"a":2})",
    R"({"é":1})",
    R"({"a":{"b":[1,{"c":null}]}})",
    R"({"a":{"b":[1,{"c":1}]}})",
    R"({"a":{"b":[1,{"c":null,"d":2}]}})",
    R"({"v":1,"kids":[{"v":2,"kids":[]},{"v":3}]})",
    R"({"v":1,"kids":[{"v":"two"}]})",
};

// valijson's Schema cannot be copied or moved.
std::unique_ptr<const valijson::Schema> compiled(std::string_view text) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  EXPECT_FALSE(document.HasParseError()) << text;
  auto schema = std::make_unique<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  parser.populateSchema(Adapter(document), *schema);
  return schema;
}

rapidjson::Document parsed(std::string_view text) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

bool valijson_decides(const valijson::Schema& schema, const rapidjson::Value& value,
                      CheckState& state) {
  valijson::ValidationResults results;
  return Visitor(Adapter(value), {}, true, &results, state.valijson_regexes).validateSchema(schema);
}

TEST(CheckVisitor, DecidesAsValijsonOnEveryKeywordAndDocument) {
  CheckState state;
  int accepted = 0;
  int refused = 0;
  for (std::string_view schema_text : kSchemas) {
    const auto schema = compiled(schema_text);
    for (std::string_view document_text : kDocuments) {
      const rapidjson::Document document = parsed(document_text);
      const bool expected = valijson_decides(*schema, document, state);
      EXPECT_EQ(CheckVisitor(document, state).check(*schema), expected)
          << "schema " << schema_text << "\ndocument " << document_text;
      ++(expected ? accepted : refused);
    }
  }
  // The corpus exercises both answers in bulk.
  EXPECT_GT(accepted, 500);
  EXPECT_GT(refused, 500);
  EXPECT_TRUE(state.matched.empty());
}

TEST(CheckVisitor, EveryDuplicateMemberIsChecked) {
  // valijson validates the first member of a name only; the function behind may read any.
  CheckState state;
  const auto schema = compiled(R"({"properties": {"a": {"type": "integer"}}})");
  EXPECT_TRUE(CheckVisitor(parsed(R"({"a":1,"a":2})"), state).check(*schema));
  EXPECT_FALSE(CheckVisitor(parsed(R"({"a":1,"a":"dup"})"), state).check(*schema));
}

TEST(CheckVisitor, LengthsCountEveryCodePointIncludingNul) {
  // valijson counts up to the first NUL of a C string.
  CheckState state;
  const auto schema = compiled(R"({"maxLength": 2})");
  EXPECT_FALSE(CheckVisitor(parsed(R"("\u0000ab")"), state).check(*schema));
  EXPECT_TRUE(CheckVisitor(parsed(R"("\u0000a")"), state).check(*schema));
}

TEST(CheckVisitor, ACheckWithoutPatternsAllocatesNothing) {
  CheckState state;
  const auto schema = compiled(kSchemas[std::size(kSchemas) - 1]);
  const rapidjson::Document document = parsed(R"({"a":{"b":[1,{"c":null},2,{"c":null}]}})");
  ASSERT_TRUE(CheckVisitor(document, state).check(*schema));
  EXPECT_NO_ALLOC(EXPECT_TRUE(CheckVisitor(document, state).check(*schema)));
}

}  // namespace
}  // namespace edgefn::router::detail
