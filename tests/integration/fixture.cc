// Shared fixture and response checks for the integration tests (see fixture.h).
#include "tests/integration/fixture.h"

#include <algorithm>
#include <regex>

namespace edgefn::integration {

void ServerTest::SetUp() {
  ASSERT_TRUE(server_.start(manifest(), flags()));
}

void ServerTest::TearDown() {
  if (!server_.running()) return;
  EXPECT_EQ(server_.stop(), 0) << server_.output_for_failure();
}

::testing::AssertionResult has_standard_fields(const HttpResponse& response, bool head_request) {
  static const std::regex kImfFixdate(
      "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
      "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT");
  if (response.header_count("date") != 1) {
    return ::testing::AssertionFailure() << response.header_count("date") << " Date fields in:\n"
                                         << printable(response.raw);
  }
  if (!std::regex_match(*response.header("date"), kImfFixdate)) {
    return ::testing::AssertionFailure()
           << "Date is not an IMF-fixdate: " << *response.header("date");
  }
  if (response.header_count("content-length") != 1) {
    return ::testing::AssertionFailure()
           << response.header_count("content-length") << " Content-Length fields in:\n"
           << printable(response.raw);
  }
  if (!head_request && *response.header("content-length") != std::to_string(response.body.size())) {
    return ::testing::AssertionFailure() << "Content-Length " << *response.header("content-length")
                                         << " for a body of " << response.body.size() << " bytes";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_json_error(const HttpResponse& response, int status) {
  if (response.status != status) {
    return ::testing::AssertionFailure()
           << "status " << response.status << ", expected " << status << ":\n"
           << printable(response.raw);
  }
  if (response.header("content-type") != "application/json") {
    return ::testing::AssertionFailure()
           << "Content-Type " << response.header("content-type").value_or("(none)")
           << ", expected application/json";
  }
  const std::regex body("\\{\"error\":\"([^\"\\\\]|\\\\.)+\",\"status\":" + std::to_string(status) +
                        "\\}");
  if (!std::regex_match(response.body, body)) {
    return ::testing::AssertionFailure()
           << "error body is not {\"error\":\"...\",\"status\":" << status
           << "}: " << printable(response.body);
  }
  return has_standard_fields(response);
}

bool has_token(const std::optional<std::string>& value, std::string_view token) {
  if (!value) return false;
  std::string_view rest = *value;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item.size() == token.size() &&
        std::equal(item.begin(), item.end(), token.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

::testing::AssertionResult wait_for_log(Server& server, std::string_view needle, int count) {
  int seen = 0;
  const auto line = server.wait_for_line([&](std::string_view text) {
    if (text.find(needle) != std::string_view::npos) ++seen;
    return seen >= count;
  });
  if (line) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no " << count << "th line with " << needle << "\n"
                                       << server.output_for_failure();
}

std::string status_and_body(std::uint16_t port, std::string_view target) {
  HttpResponse response;
  EXPECT_TRUE(exchange(port, get_request(target), response));
  return std::to_string(response.status) + " " + response.body;
}

}  // namespace edgefn::integration
