// JSON reading for integration tests: rapidjson parsing plus member look-ups that report a
// missing or mistyped member as a test failure instead of tripping rapidjson's asserts.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgefn::integration {

// Parses `text` (the whole of it must be one JSON value) into `document`.
::testing::AssertionResult parse_json(std::string_view text, rapidjson::Document& document);

// The member `key` of `value`, or nullptr when `value` is not an object or has no such member.
const rapidjson::Value* json_member(const rapidjson::Value& value, std::string_view key);

// Typed member look-ups: nullopt when the member is absent or of another type.
std::optional<std::string> json_string(const rapidjson::Value& value, std::string_view key);
std::optional<std::int64_t> json_int(const rapidjson::Value& value, std::string_view key);

// The value written back as compact JSON text (for failure messages and exact comparisons).
std::string json_text(const rapidjson::Value& value);

}  // namespace edgefn::integration
