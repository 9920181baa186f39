// CheckVisitor: decides whether a JSON value satisfies a compiled valijson schema, stopping at
// the first failure without saying where. Private to router/.
//
// It is valijson's own ValidationVisitor with the keywords that descend into members, items or
// alternative subschemas (properties, patternProperties, additionalProperties, items,
// additionalItems, allOf, anyOf, oneOf, not, if/then/else, contains) and those that read a string
// (pattern, minLength, maxLength) done again over rapidjson's values directly. valijson's
// versions cost about 22 allocations per object visited (validation_bench): a copied context
// path of std::strings for every child value, a std::set of matched property names, a
// std::string copy of every key and string checked, a ValidationResults (a std::deque) for every
// anyOf/oneOf/if. The context path only serves error messages, which a decision does not write.
// Every other keyword (type, enum, const, required, bounds, multipleOf, uniqueItems,
// dependencies, propertyNames) is valijson's code, called on this visitor.
//
// Semantics are valijson's results-collecting mode where its two modes disagree: `items: []`
// with `additionalItems: false` refuses a non-empty array, and string lengths count every code
// point, "\u0000" included. tests/router/schema_check_test.cc compares the decisions with
// valijson's on every keyword.
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/detail/json_schema.h"
#include "router/pattern.h"

namespace edgefn::router::detail {

// What CheckVisitor reuses between checks, one per thread. It grows to the largest document
// seen and keeps its capacity, so a check allocates nothing of its own beyond std::regex's
// matching state (and compiling a pattern the thread has not met yet).
struct CheckState {
  // The schema's `pattern` and `patternProperties` regexes, compiled with it (BodySchema):
  // shared and read-only. Null for a schema compiled elsewhere (tests).
  const PatternTable* compiled = nullptr;
  // Regexes met outside `compiled`, compiled on this thread's first use of each.
  PatternTable regexes;
  // valijson's own std::regex cache, for the keywords left to its visitor and for the pass that
  // names a failure (its type is valijson's).
  std::unordered_map<std::string, std::regex> valijson_regexes;
  // One flag per member of every object being checked, innermost last: a member a `properties`
  // or `patternProperties` entry has matched is exempt from `additionalProperties`.
  std::vector<unsigned char> matched;
  std::string pattern;  // the pattern text being looked up, its capacity kept
};

class CheckVisitor final : public Visitor {
 public:
  CheckVisitor(const rapidjson::Value& value, CheckState& state);

  // The decision: whether the value satisfies `schema`. valijson's validateSchema() would do the
  // same through a std::bind held in a std::function, a heap allocation for each value.
  bool check(const valijson::Subschema& schema);

  using Visitor::visit;
  bool visit(const valijson::constraints::AllOfConstraint& constraint) override;
  bool visit(const valijson::constraints::AnyOfConstraint& constraint) override;
  bool visit(const valijson::constraints::OneOfConstraint& constraint) override;
  bool visit(const valijson::constraints::NotConstraint& constraint) override;
  bool visit(const valijson::constraints::ConditionalConstraint& constraint) override;
  bool visit(const valijson::constraints::ContainsConstraint& constraint) override;
  bool visit(const valijson::constraints::PropertiesConstraint& constraint) override;
  bool visit(const valijson::constraints::SingularItemsConstraint& constraint) override;
  bool visit(const valijson::constraints::LinearItemsConstraint& constraint) override;
  bool visit(const valijson::constraints::PatternConstraint& constraint) override;
  bool visit(const valijson::constraints::MinLengthConstraint& constraint) override;
  bool visit(const valijson::constraints::MaxLengthConstraint& constraint) override;

 private:
  // Whether `value` satisfies `schema`, checked by a visitor of its own.
  bool satisfies(const rapidjson::Value& value, const valijson::Subschema& schema) const;
  // The compiled regex of `pattern`.
  const Pattern& regex_for(std::string_view pattern);

  const rapidjson::Value& value_;
  CheckState& state_;
};

}  // namespace edgefn::router::detail
