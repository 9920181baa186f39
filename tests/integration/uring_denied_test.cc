// edgefn where io_uring is forbidden (a seccomp filter like containers' default profiles): it
// must say so clearly and exit non-zero before serving.
#include <gtest/gtest.h>

#include "tests/integration/process.h"

namespace edgefn::integration {
namespace {

TEST(IoUringDenied, ServeExitsWithAClearMessage) {
  Process process;
  ASSERT_TRUE(
      process.spawn({EDGEFN_DENY_IO_URING, binary_path(), "serve", manifest_path("basic.toml"),
                     "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}));
  const std::optional<int> status = process.wait_exit(kExitTimeout);
  ASSERT_TRUE(status.has_value()) << "still running with io_uring forbidden";
  EXPECT_EQ(*status, 1);
  const std::string err = process.err();
  EXPECT_NE(err.find("io_uring is not available: io_uring_setup failed: Operation not permitted"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("seccomp"), std::string::npos) << err;
  EXPECT_EQ(process.out().find("\"msg\":\"ready\""), std::string::npos) << process.out();
}

TEST(IoUringDenied, CheckNeedsNoIoUring) {
  // Validating a manifest touches no ring, so it works in the most locked-down CI container.
  Process process;
  ASSERT_TRUE(
      process.spawn({EDGEFN_DENY_IO_URING, binary_path(), "check", manifest_path("basic.toml")}));
  EXPECT_EQ(process.wait_exit(kExitTimeout), std::optional<int>(0)) << process.err();
}

}  // namespace
}  // namespace edgefn::integration
