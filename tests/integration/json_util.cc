// JSON reading for integration tests (see json_util.h).
#include "tests/integration/json_util.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace edgefn::integration {

::testing::AssertionResult parse_json(std::string_view text, rapidjson::Document& document) {
  document.Parse(text.data(), text.size());
  if (document.HasParseError()) {
    return ::testing::AssertionFailure()
           << "invalid JSON at offset " << document.GetErrorOffset() << " ("
           << rapidjson::GetParseError_En(document.GetParseError()) << "): " << text;
  }
  return ::testing::AssertionSuccess();
}

const rapidjson::Value* json_member(const rapidjson::Value& value, std::string_view key) {
  if (!value.IsObject()) return nullptr;
  // rapidjson's FindMember wants a Value; a StringRef one copies nothing.
  const rapidjson::Value name(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  const auto it = value.FindMember(name);
  return it == value.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> json_string(const rapidjson::Value& value, std::string_view key) {
  const rapidjson::Value* member = json_member(value, key);
  if (member == nullptr || !member->IsString()) return std::nullopt;
  return std::string(member->GetString(), member->GetStringLength());
}

std::optional<std::int64_t> json_int(const rapidjson::Value& value, std::string_view key) {
  const rapidjson::Value* member = json_member(value, key);
  if (member == nullptr || !member->IsInt64()) return std::nullopt;
  return member->GetInt64();
}

std::string json_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace edgefn::integration
