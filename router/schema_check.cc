// CheckVisitor: valijson's descending and string-reading keywords without its per-value copies.
#include "router/detail/schema_check.h"

#include <cstddef>
#include <string_view>

namespace edgefn::router::detail {
namespace {

using valijson::Subschema;
namespace constraints = valijson::constraints;

std::string_view text_of(const rapidjson::Value& value) {
  return {value.GetString(), value.GetStringLength()};
}

// Code points of valid UTF-8 (the body parser has checked it): the bytes that do not continue
// a sequence.
std::size_t code_points(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text)
    count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// Pops what an object's check pushed onto CheckState::matched, however the check ends.
class MatchedFlags {
 public:
  MatchedFlags(std::vector<unsigned char>& flags, std::size_t count)
      : flags_(flags), base_(flags.size()) {
    flags_.resize(base_ + count, 0);
  }
  ~MatchedFlags() { flags_.resize(base_); }
  MatchedFlags(const MatchedFlags&) = delete;
  MatchedFlags& operator=(const MatchedFlags&) = delete;

  // By index, never by reference: a nested object's check may grow the vector.
  void set(std::size_t member) { flags_[base_ + member] = 1; }
  bool test(std::size_t member) const { return flags_[base_ + member] != 0; }

 private:
  std::vector<unsigned char>& flags_;
  std::size_t base_;
};

}  // namespace

CheckVisitor::CheckVisitor(const rapidjson::Value& value, CheckState& state)
    : Visitor(Adapter(value), {}, /*strictTypes=*/true, /*results=*/nullptr,
              state.valijson_regexes),
      value_(value),
      state_(state) {}

bool CheckVisitor::check(const Subschema& schema) {
  if (schema.getAlwaysInvalid()) return false;
  // Capturing only `this`, the callback fits std::function's local buffer.
  Subschema::ApplyFunction visit_each = [this](const constraints::Constraint& constraint) {
    return constraint.accept(*this);
  };
  return schema.applyStrict(visit_each);
}

bool CheckVisitor::satisfies(const rapidjson::Value& value, const Subschema& schema) const {
  return CheckVisitor(value, state_).check(schema);
}

const Pattern& CheckVisitor::regex_for(std::string_view pattern) {
  if (state_.compiled != nullptr) {
    const auto shared = state_.compiled->find(pattern);
    if (shared != state_.compiled->end()) return shared->second;
  }
  auto found = state_.regexes.find(pattern);
  if (found == state_.regexes.end()) {
    // valijson's flags (ECMAScript), so both passes read a pattern alike.
    found =
        state_.regexes.emplace(std::string(pattern), Pattern(pattern.begin(), pattern.end())).first;
  }
  return found->second;
}

bool CheckVisitor::visit(const constraints::AllOfConstraint& constraint) {
  bool all = true;
  constraint.applyToSubschemas([&](unsigned, const Subschema* schema) {
    all = satisfies(value_, *schema);
    return all;
  });
  return all;
}

bool CheckVisitor::visit(const constraints::AnyOfConstraint& constraint) {
  bool any = false;
  constraint.applyToSubschemas([&](unsigned, const Subschema* schema) {
    any = satisfies(value_, *schema);
    return !any;
  });
  return any;
}

bool CheckVisitor::visit(const constraints::OneOfConstraint& constraint) {
  unsigned satisfied = 0;
  constraint.applyToSubschemas([&](unsigned, const Subschema* schema) {
    if (satisfies(value_, *schema)) ++satisfied;
    return satisfied < 2;
  });
  return satisfied == 1;
}

bool CheckVisitor::visit(const constraints::NotConstraint& constraint) {
  const Subschema* schema = constraint.getSubschema();
  // valijson reads a missing subschema as the empty schema, which everything satisfies.
  return schema != nullptr && !satisfies(value_, *schema);
}

bool CheckVisitor::visit(const constraints::ConditionalConstraint& constraint) {
  const Subschema* condition = constraint.getIfSubschema();
  if (condition == nullptr) return true;
  const Subschema* branch =
      satisfies(value_, *condition) ? constraint.getThenSubschema() : constraint.getElseSubschema();
  return branch == nullptr || satisfies(value_, *branch);
}

bool CheckVisitor::visit(const constraints::ContainsConstraint& constraint) {
  if (!value_.IsArray()) return true;
  const Subschema* schema = constraint.getSubschema();
  for (const rapidjson::Value& element : value_.GetArray()) {
    if (satisfies(element, *schema)) return true;
  }
  return false;
}

bool CheckVisitor::visit(const constraints::PropertiesConstraint& constraint) {
  if (!value_.IsObject()) return true;
  const auto members = value_.MemberBegin();
  const std::size_t count = value_.MemberCount();
  MatchedFlags matched(state_.matched, count);
  bool valid = true;
  // Every member of a name is checked, duplicates included: a JSON parser behind the function
  // may keep any one of them.
  constraint.applyToProperties([&](const auto& name, const Subschema* schema) {
    const std::string_view wanted(name.c_str(), name.size());
    for (std::size_t i = 0; i < count && valid; ++i) {
      if (text_of(members[i].name) != wanted) continue;
      matched.set(i);
      valid = satisfies(members[i].value, *schema);
    }
    return valid;
  });
  if (!valid) return false;
  constraint.applyToPatternProperties([&](const auto& pattern, const Subschema* schema) {
    const Pattern& regex = regex_for({pattern.c_str(), pattern.size()});
    for (std::size_t i = 0; i < count && valid; ++i) {
      const std::string_view name = text_of(members[i].name);
      if (!std::regex_search(name.begin(), name.end(), regex)) continue;
      matched.set(i);
      valid = satisfies(members[i].value, *schema);
    }
    return valid;
  });
  if (!valid) return false;
  // valijson compiles `additionalProperties: false` to no subschema, and its absence to the
  // empty one.
  const Subschema* additional = constraint.getAdditionalPropertiesSubschema();
  for (std::size_t i = 0; i < count; ++i) {
    if (matched.test(i)) continue;
    if (additional == nullptr || !satisfies(members[i].value, *additional)) return false;
  }
  return true;
}

bool CheckVisitor::visit(const constraints::SingularItemsConstraint& constraint) {
  if (!value_.IsArray()) return true;
  const Subschema* schema = constraint.getItemsSubschema();
  if (schema == nullptr) return true;
  for (const rapidjson::Value& element : value_.GetArray()) {
    if (!satisfies(element, *schema)) return false;
  }
  return true;
}

bool CheckVisitor::visit(const constraints::LinearItemsConstraint& constraint) {
  if (!value_.IsArray()) return true;
  const auto elements = value_.Begin();
  const std::size_t size = value_.Size();
  const std::size_t positional = constraint.getItemSubschemaCount();
  bool valid = true;
  constraint.applyToItemSubschemas([&](unsigned index, const Subschema* schema) {
    if (index >= size) return false;
    valid = satisfies(elements[index], *schema);
    return valid;
  });
  if (!valid) return false;
  // `additionalItems: false` compiles to no subschema.
  const Subschema* additional = constraint.getAdditionalItemsSubschema();
  for (std::size_t i = positional; i < size; ++i) {
    if (additional == nullptr || !satisfies(elements[i], *additional)) return false;
  }
  return true;
}

bool CheckVisitor::visit(const constraints::PatternConstraint& constraint) {
  if (!value_.IsString()) return true;
  constraint.getPattern(state_.pattern);
  const std::string_view text = text_of(value_);
  return std::regex_search(text.begin(), text.end(), regex_for(state_.pattern));
}

bool CheckVisitor::visit(const constraints::MinLengthConstraint& constraint) {
  return !value_.IsString() || code_points(text_of(value_)) >= constraint.getMinLength();
}

bool CheckVisitor::visit(const constraints::MaxLengthConstraint& constraint) {
  return !value_.IsString() || code_points(text_of(value_)) <= constraint.getMaxLength();
}

}  // namespace edgefn::router::detail
