// Fuzz target: a request body through JSON Schema validation as a validated route runs it —
// the depth check, rapidjson's parse into the thread's pools, the CheckVisitor's decision and,
// for a refused body, valijson's second pass that names the failure. Every body is checked
// against each schema below; together they use every keyword the CheckVisitor implements itself
// and most of those it leaves to valijson. The schemas are the manifest author's and trusted;
// the body is the untrusted part.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "router/validation.h"

namespace edgefn::fuzz {
namespace {

// deploy/schemas/order.json: the example manifest's schema.
constexpr std::string_view kOrder = R"({
  "type": "object",
  "required": ["id", "items"],
  "additionalProperties": false,
  "properties": {
    "id": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,8}$" },
    "note": { "type": "string", "maxLength": 200 },
    "items": {
      "type": "array", "minItems": 1, "maxItems": 50,
      "items": {
        "type": "object",
        "required": ["sku", "qty"],
        "properties": {
          "sku": { "type": "string", "minLength": 1 },
          "qty": { "type": "integer", "minimum": 1, "maximum": 1000 }
        }
      }
    }
  }
})";

// The combinators and the keywords that descend into members and items.
constexpr std::string_view kCombinators = R"({
  "definitions": { "tag": { "type": "string", "minLength": 1, "maxLength": 8 } },
  "anyOf": [
    { "type": "array", "items": [ { "type": "integer" }, { "$ref": "#/definitions/tag" } ],
      "additionalItems": false },
    { "type": "array", "contains": { "const": "x" }, "uniqueItems": true },
    { "type": "object",
      "patternProperties": { "^x-": { "type": "number", "multipleOf": 0.5 } },
      "additionalProperties": { "$ref": "#/definitions/tag" },
      "propertyNames": { "maxLength": 12 },
      "dependencies": { "a": ["b"], "c": { "required": ["d"] } } },
    { "oneOf": [ { "type": "string", "pattern": "^[a-z]+$" }, { "enum": ["A", 1, null, [1]] } ] },
    { "not": { "type": ["boolean", "null"] } }
  ]
})";

// Conditionals, numeric bounds and nested arrays.
constexpr std::string_view kConditional = R"({
  "type": "object",
  "if": { "properties": { "kind": { "const": "range" } }, "required": ["kind"] },
  "then": { "properties": { "from": { "type": "number", "exclusiveMinimum": -1e9 },
                            "to": { "type": "number", "exclusiveMaximum": 1e9 } },
            "required": ["from", "to"] },
  "else": { "properties": { "values": { "type": "array", "maxItems": 16,
                                        "items": { "type": "array",
                                                   "items": { "type": "integer" } } } },
            "minProperties": 1, "maxProperties": 4 },
  "properties": { "kind": { "enum": ["range", "list"] } }
})";

constexpr std::array<std::string_view, 3> kSchemaTexts = {kOrder, kCombinators, kConditional};

struct Schemas {
  std::array<std::unique_ptr<const router::BodySchema>, kSchemaTexts.size()> compiled;

  Schemas() {
    for (std::size_t i = 0; i < kSchemaTexts.size(); ++i) {
      std::string error;
      compiled[i] = router::BodySchema::compile(kSchemaTexts[i], error);
      if (!compiled[i]) {
        std::fprintf(stderr, "schema %zu: %s\n", i, error.c_str());
        std::abort();
      }
    }
  }
};

const Schemas& schemas() {
  static const Schemas s;
  return s;
}

}  // namespace
}  // namespace edgefn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace router = edgefn::router;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  router::ValidationScratch& scratch = router::ValidationScratch::for_thread();
  router::Rejection rejection;
  for (const auto& schema : edgefn::fuzz::schemas().compiled) {
    rejection.message.clear();
    rejection.members.clear();
    if (!router::validate_body(*schema, body, scratch, rejection)) {
      // A refused body always says why.
      FUZZ_CHECK(!rejection.message.empty());
    }
  }
  return 0;
}
