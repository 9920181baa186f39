// What load tests need beside a client: enough file descriptors, the server's process id and
// resident memory, and one series of its /metrics.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/integration/process.h"

namespace edgefn::integration {

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (children inherit it). Returns
// an empty string when at least `needed` descriptors may now be open, else why not (for
// GTEST_SKIP: the hard limit is the machine's to raise, not the test's).
std::string raise_open_file_limit(std::uint64_t needed);

// The one running child of this process whose executable is `binary` (the Server under test);
// nullopt when there is none or several. Found through /proc, so the Server helper needs no
// accessor for it.
std::optional<pid_t> child_running(const std::string& binary);

// The outcome of a nonblocking connect that poll reported ready: 0, or its errno (SO_ERROR).
int connect_error(int fd);

// VmRSS of `pid` in bytes, from /proc/<pid>/status; nullopt when it cannot be read.
std::optional<std::size_t> resident_bytes(pid_t pid);

// The value of one sample of GET /metrics on `admin_port`, named exactly as in the text format
// (`edgefn_connections{state="idle"}`); nullopt when the scrape fails or has no such sample.
std::optional<double> metric_value(std::uint16_t admin_port, std::string_view series);

// The sum of every sample of family `name` (all label sets), e.g. all open connections.
std::optional<double> metric_sum(std::uint16_t admin_port, std::string_view name);

// Polls metric_value every 20 ms until it equals `expected` or `timeout` passes.
::testing::AssertionResult metric_becomes(std::uint16_t admin_port, std::string_view series,
                                          double expected, Millis timeout);

}  // namespace edgefn::integration
