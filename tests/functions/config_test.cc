// Tests api::Config's typed look-ups.
#include "functions/api/config.h"

#include <gtest/gtest.h>

namespace edgefn::api {
namespace {

Config sample() {
  return Config(
      {
          {"name", std::string("edge")},
          {"count", std::int64_t{-3}},
          {"ratio", 0.5},
          {"enabled", true},
          {"tags", std::vector<std::string>{"a", "b"}},
      },
      "/etc/edgefn");
}

TEST(ConfigTest, EachKindIsFoundByItsOwnLookup) {
  const Config c = sample();
  EXPECT_EQ(c.string("name"), "edge");
  EXPECT_EQ(c.integer("count"), -3);
  EXPECT_EQ(c.boolean("enabled"), true);
  ASSERT_NE(c.strings("tags"), nullptr);
  EXPECT_EQ(*c.strings("tags"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::get<double>(c.values().at("ratio")), 0.5);
}

TEST(ConfigTest, AnotherKindIsNotConverted) {
  const Config c = sample();
  EXPECT_EQ(c.string("count"), std::nullopt);
  EXPECT_EQ(c.integer("name"), std::nullopt);
  EXPECT_EQ(c.integer("ratio"), std::nullopt);    // no double -> integer
  EXPECT_EQ(c.integer("enabled"), std::nullopt);  // no bool -> integer
  EXPECT_EQ(c.boolean("count"), std::nullopt);
  EXPECT_EQ(c.strings("name"), nullptr);
}

TEST(ConfigTest, AbsentKeys) {
  const Config c = sample();
  EXPECT_FALSE(c.contains("missing"));
  EXPECT_TRUE(c.contains("ratio"));
  EXPECT_EQ(c.string("missing"), std::nullopt);
  EXPECT_EQ(c.integer("missing"), std::nullopt);
  EXPECT_EQ(c.boolean("missing"), std::nullopt);
  EXPECT_EQ(c.strings("missing"), nullptr);
  EXPECT_EQ(c.string("Name"), std::nullopt);  // keys are case-sensitive
}

TEST(ConfigTest, BaseDirAndEmptyConfig) {
  EXPECT_EQ(sample().base_dir(), "/etc/edgefn");
  EXPECT_EQ(sample().values().size(), 5u);
  const Config empty;
  EXPECT_TRUE(empty.values().empty());
  EXPECT_EQ(empty.base_dir(), "");
  EXPECT_EQ(empty.string("name"), std::nullopt);
}

}  // namespace
}  // namespace edgefn::api
