// Tests the `static` module: fixed responses from `body` or `file`, and every config error.
#include "functions/static/static.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "functions/registry.h"
#include "tests/functions/module_harness.h"

namespace edgefn::functions {
namespace {

using testing::create_error;
using testing::create_ok;
using testing::Harness;
using testing::run;

using Values = std::map<std::string, api::ConfigValue, std::less<>>;

const api::ModuleSpec& spec() {
  return testing::module_spec("static");
}

// A fresh directory per test, removed afterwards, standing in for the manifest's directory.
class StaticTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "edgefn-static-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void write_file(const std::string& name, std::string_view content) {
    std::ofstream out(dir_ + "/" + name, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    ASSERT_TRUE(out.good());
  }

  api::Config config(Values values) { return api::Config(std::move(values), dir_); }

  api::Response serve(const api::Config& cfg) {
    std::unique_ptr<api::Module> module = create_ok(spec(), cfg);
    if (!module) return api::Response();
    api::Context ctx = harness_.context();
    return run(module->handle(api::Request(), ctx));
  }

  std::string dir_;
  Harness harness_;
};

TEST_F(StaticTest, BodyWithDefaults) {
  const api::Response r = serve(config({{"body", std::string("hi")}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi");
  ASSERT_EQ(r.headers().size(), 1u);
  EXPECT_EQ(r.headers()[0].name, "Content-Type");
  EXPECT_EQ(r.headers()[0].value, "text/plain; charset=utf-8");
}

TEST_F(StaticTest, StatusAndContentType) {
  const api::Response r = serve(config({{"status", std::int64_t{404}},
                                        {"content_type", std::string("application/json")},
                                        {"body", std::string(R"({"error":"gone"})")}}));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, R"({"error":"gone"})");
}

TEST_F(StaticTest, ConfiguredHeadersAreAddedInOrder) {
  const api::Response r = serve(
      config({{"body", std::string("v1")},
              {"headers", std::vector<std::string>{"Cache-Control: max-age=30", "ETag:  \"abc\"",
                                                   "Vary: Accept-Language"}}}));
  ASSERT_EQ(r.headers().size(), 4u);
  EXPECT_EQ(r.headers()[1].name, "Cache-Control");
  EXPECT_EQ(r.headers()[1].value, "max-age=30");
  EXPECT_EQ(r.headers()[2].name, "ETag");
  EXPECT_EQ(r.headers()[2].value, "\"abc\"");
  EXPECT_EQ(r.header("vary"), "Accept-Language");
}

TEST_F(StaticTest, RejectsMalformedOrServerOwnedHeaders) {
  EXPECT_EQ(create_error(spec(), config({{"body", std::string()},
                                         {"headers", std::vector<std::string>{"no colon"}}})),
            "headers: expected \"Name: value\" lines; got \"no colon\"");
  EXPECT_EQ(create_error(spec(), config({{"body", std::string()},
                                         {"headers", std::vector<std::string>{"Bad Name: x"}}})),
            "headers: expected \"Name: value\" lines; got \"Bad Name: x\"");
  EXPECT_EQ(
      create_error(spec(), config({{"body", std::string()},
                                   {"headers", std::vector<std::string>{"Content-Length: 3"}}})),
      "headers: Content-Length is set by the server");
  EXPECT_EQ(create_error(spec(), config({{"body", std::string()}, {"headers", std::int64_t{1}}})),
            R"(headers: expected an array of "Name: value" strings)");
}

TEST_F(StaticTest, EmptyBodyIsAllowed) {
  const api::Response r = serve(config({{"body", std::string()}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(StaticTest, NoContentStatusesSendNoContentType) {
  for (std::int64_t status : {100, 204, 304}) {
    const api::Response r = serve(config({{"status", status}, {"body", std::string()}}));
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(r.headers().empty()) << status;
    EXPECT_EQ(r.body, "");
  }
}

TEST_F(StaticTest, FileRelativeToTheManifestDirectory) {
  write_file("index.html", "<h1>edge</h1>\n");
  const api::Response r = serve(
      config({{"file", std::string("index.html")}, {"content_type", std::string("text/html")}}));
  EXPECT_EQ(r.body, "<h1>edge</h1>\n");
  EXPECT_EQ(r.header("Content-Type"), "text/html");
}

TEST_F(StaticTest, FileWithAnAbsolutePath) {
  write_file("abs.txt", "absolute");
  const api::Response r = serve(api::Config({{"file", dir_ + "/abs.txt"}}, "/nonexistent"));
  EXPECT_EQ(r.body, "absolute");
}

TEST_F(StaticTest, FileBytesArePreservedExactly) {
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i);
  bytes += std::string(70000, 'z');  // more than one read() of a small buffer
  write_file("blob.bin", bytes);
  write_file("empty.txt", "");
  const api::Response blob = serve(config({{"file", std::string("blob.bin")}}));
  EXPECT_EQ(std::string_view(blob.body), bytes);
  EXPECT_EQ(serve(config({{"file", std::string("empty.txt")}})).body, "");
}

TEST_F(StaticTest, FileIsReadOnceAtCreate) {
  write_file("once.txt", "before");
  std::unique_ptr<api::Module> module =
      create_ok(spec(), config({{"file", std::string("once.txt")}}));
  ASSERT_NE(module, nullptr);
  write_file("once.txt", "after");
  api::Context ctx = harness_.context();
  EXPECT_EQ(run(module->handle(api::Request(), ctx)).body, "before");
}

TEST_F(StaticTest, EachResponseIsACopyInTheArena) {
  std::unique_ptr<api::Module> module =
      create_ok(spec(), config({{"body", std::string("a body longer than the SSO buffer")}}));
  ASSERT_NE(module, nullptr);
  api::Context ctx = harness_.context();
  api::Response first = run(module->handle(api::Request(), ctx));
  first.body.assign("changed by a caller");
  const api::Response second = run(module->handle(api::Request(), ctx));
  EXPECT_EQ(second.body, "a body longer than the SSO buffer");
  EXPECT_EQ(second.body.get_allocator().resource(), &harness_.arena);
}

TEST_F(StaticTest, FileOfExactlyTheCapIsAccepted) {
  const std::string path = dir_ + "/cap.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(StaticModule::kMaxFileBytes)), 0);  // sparse
  ::close(fd);
  EXPECT_EQ(serve(config({{"file", std::string("cap.bin")}})).body.size(),
            StaticModule::kMaxFileBytes);
}

TEST_F(StaticTest, FileOverTheCapIsRejected) {
  const std::string path = dir_ + "/big.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(StaticModule::kMaxFileBytes + 1)), 0);
  ::close(fd);
  EXPECT_EQ(create_error(spec(), config({{"file", std::string("big.bin")}})),
            "file: \"" + path + "\" is larger than 16 MiB (16777217 bytes)");
}

TEST_F(StaticTest, MissingFileNamesThePathAndTheReason) {
  EXPECT_EQ(create_error(spec(), config({{"file", std::string("nope.txt")}})),
            "file: cannot open \"" + dir_ + "/nope.txt\": No such file or directory");
}

TEST_F(StaticTest, DirectoryIsNotARegularFile) {
  std::filesystem::create_directory(dir_ + "/sub");
  EXPECT_EQ(create_error(spec(), config({{"file", std::string("sub")}})),
            "file: \"" + dir_ + "/sub\" is not a regular file");
}

TEST_F(StaticTest, UnopenableFileNamesTheReason) {
  // A path through a regular file cannot be opened, whoever runs the test (root included).
  write_file("plain.txt", "x");
  EXPECT_EQ(create_error(spec(), config({{"file", std::string("plain.txt/inner")}})),
            "file: cannot open \"" + dir_ + "/plain.txt/inner\": Not a directory");
}

TEST_F(StaticTest, ReadErrorNamesTheReason) {
  // A regular file that opens but cannot be read: offset 0 of this process's memory is unmapped.
  if (::access("/proc/self/mem", R_OK) != 0) GTEST_SKIP() << "no /proc/self/mem";
  EXPECT_EQ(create_error(spec(), config({{"file", std::string("/proc/self/mem")}})),
            "file: cannot read \"/proc/self/mem\": Input/output error");
}

TEST_F(StaticTest, ExactlyOneOfBodyAndFile) {
  write_file("f.txt", "f");
  EXPECT_EQ(create_error(spec(), config({})), "body: missing: set exactly one of body or file");
  EXPECT_EQ(create_error(spec(), config({{"status", std::int64_t{200}}})),
            "body: missing: set exactly one of body or file");
  EXPECT_EQ(
      create_error(spec(), config({{"body", std::string("b")}, {"file", std::string("f.txt")}})),
      "body: cannot be combined with file: set exactly one of them");
}

TEST_F(StaticTest, StatusMustBeAnIntegerInRange) {
  const auto with_status = [&](api::ConfigValue status) {
    return config({{"status", std::move(status)}, {"body", std::string("x")}});
  };
  EXPECT_EQ(create_error(spec(), with_status(std::string("200"))), "status: expected an integer");
  EXPECT_EQ(create_error(spec(), with_status(200.0)), "status: expected an integer");
  EXPECT_EQ(create_error(spec(), with_status(std::int64_t{99})),
            "status: must be between 100 and 599, got 99");
  EXPECT_EQ(create_error(spec(), with_status(std::int64_t{600})),
            "status: must be between 100 and 599, got 600");
  EXPECT_EQ(create_error(spec(), with_status(std::int64_t{-1})),
            "status: must be between 100 and 599, got -1");
  EXPECT_NE(create_ok(spec(), with_status(std::int64_t{599})), nullptr);
}

TEST_F(StaticTest, NoContentStatusRejectsContent) {
  write_file("f.txt", "content");
  EXPECT_EQ(
      create_error(spec(), config({{"status", std::int64_t{204}}, {"body", std::string("x")}})),
      "body: must be empty: a 204 response carries no content");
  EXPECT_EQ(
      create_error(spec(), config({{"status", std::int64_t{304}}, {"file", std::string("f.txt")}})),
      "file: must be empty: a 304 response carries no content");
}

TEST_F(StaticTest, ContentTypeMustBeASafeString) {
  EXPECT_EQ(create_error(spec(), config({{"content_type", true}, {"body", std::string("x")}})),
            "content_type: expected a string");
  const std::string reason =
      "content_type: must be a non-empty header value without control characters";
  EXPECT_EQ(create_error(spec(), config({{"content_type", std::string("text/html\r\nX-Evil: 1")},
                                         {"body", std::string("x")}})),
            reason);
  EXPECT_EQ(
      create_error(spec(), config({{"content_type", std::string()}, {"body", std::string("x")}})),
      reason);
  EXPECT_NE(create_ok(spec(), config({{"content_type", std::string("text/plain;\tq=1")},
                                      {"body", std::string("x")}})),
            nullptr);
}

TEST_F(StaticTest, BodyAndFileMustBeStrings) {
  EXPECT_EQ(create_error(spec(), config({{"body", std::int64_t{1}}})), "body: expected a string");
  EXPECT_EQ(create_error(spec(), config({{"file", std::vector<std::string>{"a"}}})),
            "file: expected a string");
}

TEST_F(StaticTest, ReportsEveryProblemAtOnce) {
  EXPECT_EQ(create_error(spec(), config({{"bdy", std::string("typo")},
                                         {"status", std::int64_t{700}},
                                         {"content_type", std::int64_t{1}}})),
            "bdy: unknown key (static accepts: status, content_type, body, file, headers); "
            "status: must be between 100 and 599, got 700; "
            "content_type: expected a string; "
            "body: missing: set exactly one of body or file");
}

}  // namespace
}  // namespace edgefn::functions
