// Log levels by name, for the command line (--log-level) and the manifest ([log] level).
#pragma once

#include <array>
#include <string_view>

#include "functions/api/context.h"

namespace edgefn::runtime {

using LogLevel = api::LogLevel;

inline constexpr std::array<std::string_view, 4> kLogLevelNames = {"debug", "info", "warn",
                                                                   "error"};

constexpr std::string_view log_level_name(LogLevel level) {
  return kLogLevelNames[static_cast<std::size_t>(level)];
}

// "debug" | "info" | "warn" | "error"; false for anything else.
constexpr bool parse_log_level(std::string_view text, LogLevel& level) {
  for (std::size_t i = 0; i < kLogLevelNames.size(); ++i) {
    if (text == kLogLevelNames[i]) {
      level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

}  // namespace edgefn::runtime
