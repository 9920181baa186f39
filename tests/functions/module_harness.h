// Test helpers for module tests: a recording Logger, a counting memory resource, and a driver
// that runs a handler's Task to completion outside any event loop.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "functions/api/module.h"
#include "functions/registry.h"

namespace edgefn::functions::testing {

// Keeps every line written, so a test can assert what a module logged.
class RecordingLogger final : public api::Logger {
 public:
  void write(api::LogLevel level, std::string_view message) override {
    lines.emplace_back(level, std::string(message));
  }
  std::vector<std::pair<api::LogLevel, std::string>> lines;
};

// A Scheduler for tests: keeps the alarms it is given, and fires them when the test says.
class ManualScheduler final : public api::Scheduler {
 public:
  void schedule(api::Alarm& alarm) override {
    alarm.slot = alarms.size();
    alarms.push_back(&alarm);
  }
  void cancel(api::Alarm& alarm) noexcept override {
    if (!alarm.scheduled()) return;
    std::erase(alarms, &alarm);
    for (std::size_t i = 0; i < alarms.size(); ++i)
      alarms[i]->slot = i;
    alarm.slot = api::Alarm::kIdle;
  }
  // Fires every alarm scheduled so far (whatever its deadline), oldest first.
  void fire_all() {
    std::vector<api::Alarm*> due = std::move(alarms);
    alarms.clear();
    for (api::Alarm* alarm : due) {
      alarm->slot = api::Alarm::kIdle;
      alarm->fire();
    }
  }
  std::vector<api::Alarm*> alarms;
};

// Forwards to an upstream resource and counts what passes through it.
class CountingResource final : public std::pmr::memory_resource {
 public:
  explicit CountingResource(std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
      : upstream_(upstream) {}

  std::size_t allocations = 0;
  std::size_t deallocations = 0;
  std::size_t outstanding_bytes = 0;

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    ++allocations;
    outstanding_bytes += bytes;
    return upstream_->allocate(bytes, align);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    ++deallocations;
    outstanding_bytes -= bytes;
    upstream_->deallocate(p, bytes, align);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::pmr::memory_resource* upstream_;
};

// Starts a handler's task and returns its response; the built-in modules never suspend, so the
// task must be complete after its first run.
inline api::Response run(api::Task<api::Response> task) {
  task.start();
  EXPECT_TRUE(task.done()) << "the handler suspended";
  return task.result();
}

// Everything a module call needs besides the request: a config, a logger, an arena and, when a
// test sets one, a key-value store (else ctx.kv() answers every call unavailable).
struct Harness {
  explicit Harness(api::Config cfg = {}) : config(std::move(cfg)) {}

  api::Context context() {
    return api::Context(config, logger, &arena, api::Context::Clock::now() + kTimeout, scheduler,
                        kv);
  }

  static constexpr std::chrono::seconds kTimeout{5};
  api::Config config;
  RecordingLogger logger;
  ManualScheduler scheduler;
  std::pmr::monotonic_buffer_resource arena;
  api::Kv* kv = nullptr;
};

// The registry entry of a built-in module; the test fails (and the process aborts on use) when
// the binary has none by that name.
inline const api::ModuleSpec& module_spec(std::string_view name) {
  const api::ModuleSpec* spec = Registry::instance().find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

// A module config from literal values, as the manifest loader would build it.
inline api::Config config_of(std::map<std::string, api::ConfigValue, std::less<>> values) {
  return api::Config(std::move(values), "");
}

// Creates a module through its registry entry, failing the test if creation fails.
inline std::unique_ptr<api::Module> create_ok(const api::ModuleSpec& spec,
                                              const api::Config& config) {
  std::string error;
  std::unique_ptr<api::Module> module = spec.create(config, error);
  EXPECT_NE(module, nullptr) << error;
  EXPECT_EQ(error, "");
  return module;
}

// The error message of a creation that must fail.
inline std::string create_error(const api::ModuleSpec& spec, const api::Config& config) {
  std::string error;
  std::unique_ptr<api::Module> module = spec.create(config, error);
  EXPECT_EQ(module, nullptr);
  return error;
}

}  // namespace edgefn::functions::testing
