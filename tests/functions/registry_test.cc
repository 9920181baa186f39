// Tests the module registry as filled by the built-in modules' EDGEFN_MODULE registrations.
#include "functions/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace edgefn::functions {
namespace {

std::unique_ptr<api::Module> create_nothing(const api::Config&, std::string& error) {
  error = "never created";
  return nullptr;
}

TEST(RegistryTest, HoldsTheBuiltInModules) {
  const Registry& registry = Registry::instance();
  for (std::string_view name : {"echo", "hello", "kv", "static"}) {
    const api::ModuleSpec* spec = registry.find(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->name, name);
    EXPECT_FALSE(spec->summary.empty()) << name;
    EXPECT_NE(spec->create, nullptr) << name;
  }
}

TEST(RegistryTest, AllIsSortedByName) {
  const std::span<const api::ModuleSpec> all = Registry::instance().all();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].name, "echo");
  EXPECT_EQ(all[1].name, "hello");
  EXPECT_EQ(all[2].name, "kv");
  EXPECT_EQ(all[3].name, "markdown");
  EXPECT_EQ(all[4].name, "proxy");
  EXPECT_EQ(all[5].name, "static");
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
}

TEST(RegistryTest, NamesListsEveryModule) {
  EXPECT_EQ(Registry::instance().names(), "echo, hello, kv, markdown, proxy, static");
}

TEST(RegistryTest, UnknownNamesAreNotFound) {
  const Registry& registry = Registry::instance();
  EXPECT_EQ(registry.find("nope"), nullptr);
  EXPECT_EQ(registry.find(""), nullptr);
  EXPECT_EQ(registry.find("Hello"), nullptr);  // names are case-sensitive
  EXPECT_EQ(registry.find("hell"), nullptr);
  EXPECT_EQ(registry.find("hello "), nullptr);
  EXPECT_EQ(registry.find("zzz"), nullptr);  // past the last entry
}

TEST(RegistryTest, InstanceIsOneObject) {
  EXPECT_EQ(&Registry::instance(), &Registry::instance());
}

TEST(RegistryDeathTest, DuplicateNameAbortsNamingTheModule) {
  EXPECT_DEATH(api::detail::register_module(api::ModuleSpec{"hello", "again", &create_nothing}),
               "module \"hello\" is registered twice");
}

TEST(RegistryDeathTest, SpecWithoutCreateAborts) {
  EXPECT_DEATH(api::detail::register_module(api::ModuleSpec{"fresh", "no create", nullptr}),
               "module \"fresh\" is registered without a name or create\\(\\)");
}

}  // namespace
}  // namespace edgefn::functions
