// CORS policy: origin matching, preflight answers, actual-request headers, credentials rules.
#include "router/cors.h"

#include <gtest/gtest.h>

#include "tests/support/alloc_counter.h"

namespace edgefn::router {
namespace {

CorsPolicy listed(bool credentials = false) {
  CorsSettings settings;
  settings.origins = {"https://app.example.com", "http://localhost:3000"};
  settings.methods = {"GET", "POST"};
  settings.headers = {"content-type", "x-api-key"};
  settings.expose = {"x-request-id"};
  settings.max_age_seconds = 600;
  settings.credentials = credentials;
  return CorsPolicy::make(std::move(settings));
}

CorsPolicy any(bool credentials_with_list = false) {
  CorsSettings settings;
  settings.origins = {"*"};
  if (credentials_with_list) settings.origins = {"https://a.example", "*"};
  settings.methods = {"GET"};
  return CorsPolicy::make(std::move(settings));
}

TEST(CorsPolicy, MatchesListedOriginsExactly) {
  const CorsPolicy policy = listed();
  EXPECT_TRUE(policy.origin_allowed("https://app.example.com"));
  EXPECT_TRUE(policy.origin_allowed("http://localhost:3000"));
  EXPECT_FALSE(policy.origin_allowed("http://app.example.com"));
  EXPECT_FALSE(policy.origin_allowed("https://app.example.com:443"));
  EXPECT_FALSE(policy.origin_allowed("https://evil.app.example.com"));
  EXPECT_FALSE(policy.origin_allowed("https://app.example.com.evil"));
  EXPECT_FALSE(policy.origin_allowed("http://localhost:30000"));
  EXPECT_FALSE(policy.origin_allowed("null"));
  EXPECT_FALSE(policy.origin_allowed(""));
}

TEST(CorsPolicy, WildcardAllowsAnyOriginButNotAMissingOne) {
  const CorsPolicy policy = any();
  EXPECT_TRUE(policy.origin_allowed("https://whatever.example"));
  EXPECT_TRUE(policy.origin_allowed("null"));
  EXPECT_FALSE(policy.origin_allowed(""));
}

TEST(CorsPolicy, PreflightFromAllowedOriginEchoesItWithEveryConfiguredLine) {
  std::string out;
  ASSERT_TRUE(
      listed().preflight("https://app.example.com", "POST", "Content-Type, X-API-Key", out));
  EXPECT_EQ(out,
            "Access-Control-Allow-Origin: https://app.example.com\r\n"
            "Vary: Origin\r\n"
            "Access-Control-Allow-Methods: GET, POST\r\n"
            "Access-Control-Allow-Headers: content-type, x-api-key\r\n"
            "Access-Control-Max-Age: 600\r\n");
}

TEST(CorsPolicy, PreflightWithCredentialsSaysSo) {
  std::string out;
  ASSERT_TRUE(listed(true).preflight("http://localhost:3000", "GET", "", out));
  EXPECT_EQ(out,
            "Access-Control-Allow-Origin: http://localhost:3000\r\n"
            "Vary: Origin\r\n"
            "Access-Control-Allow-Methods: GET, POST\r\n"
            "Access-Control-Allow-Headers: content-type, x-api-key\r\n"
            "Access-Control-Max-Age: 600\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
}

TEST(CorsPolicy, PreflightForAnyOriginAnswersStarWithoutVary) {
  std::string out;
  ASSERT_TRUE(any().preflight("https://x.example", "GET", "", out));
  EXPECT_EQ(out,
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Methods: GET\r\n");
}

TEST(CorsPolicy, PreflightRefusesOriginMethodOrHeaderNotAllowed) {
  const CorsPolicy policy = listed();
  std::string out;
  EXPECT_FALSE(policy.preflight("https://evil.example", "GET", "", out));
  EXPECT_FALSE(policy.preflight("", "GET", "", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "DELETE", "", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "get", "", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "PUT", "", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "GET", "content-type, x-secret", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "GET", "authorization", out));
  EXPECT_EQ(out, "");
}

TEST(CorsPolicy, PreflightAllowsSafelistedMethodsEvenWhenUnlisted) {
  CorsSettings settings;
  settings.origins = {"https://app.example.com"};
  settings.methods = {"PUT"};
  const CorsPolicy policy = CorsPolicy::make(std::move(settings));
  std::string out;
  for (const char* method : {"GET", "HEAD", "POST", "PUT"}) {
    out.clear();
    EXPECT_TRUE(policy.preflight("https://app.example.com", method, "", out)) << method;
    EXPECT_NE(out.find("Access-Control-Allow-Methods: PUT\r\n"), std::string::npos) << out;
  }
  out.clear();
  EXPECT_FALSE(policy.preflight("https://app.example.com", "DELETE", "", out));
  EXPECT_FALSE(policy.preflight("https://app.example.com", "PATCH", "", out));
  EXPECT_EQ(out, "");
}

TEST(CorsPolicy, RequestHeaderListToleratesSpacingCaseAndEmptyItems) {
  std::string out;
  EXPECT_TRUE(
      listed().preflight("https://app.example.com", "GET", " X-Api-Key ,,\tcontent-type ", out));
  EXPECT_NE(out, "");
}

TEST(CorsPolicy, ActualRequestGetsOriginCredentialsAndExposeLines) {
  std::string out;
  ASSERT_TRUE(listed(true).actual("https://app.example.com", out));
  EXPECT_EQ(out,
            "Access-Control-Allow-Origin: https://app.example.com\r\n"
            "Vary: Origin\r\n"
            "Access-Control-Allow-Credentials: true\r\n"
            "Access-Control-Expose-Headers: x-request-id\r\n");
  out.clear();
  EXPECT_FALSE(listed().actual("https://other.example", out));
  EXPECT_EQ(out, "");
}

TEST(CorsPolicy, ActualRequestForAnyOriginAnswersStar) {
  std::string out;
  ASSERT_TRUE(any().actual("https://x.example", out));
  EXPECT_EQ(out, "Access-Control-Allow-Origin: *\r\n");
}

TEST(CorsPolicy, CredentialsWithAListedOriginAndStarEchoTheOrigin) {
  // The manifest refuses credentials with "*"; the policy still never pairs them on the wire.
  CorsSettings settings;
  settings.origins = {"https://a.example", "*"};
  settings.methods = {"GET"};
  settings.credentials = true;
  const CorsPolicy policy = CorsPolicy::make(std::move(settings));
  std::string out;
  ASSERT_TRUE(policy.actual("https://b.example", out));
  EXPECT_EQ(out,
            "Access-Control-Allow-Origin: https://b.example\r\n"
            "Vary: Origin\r\n"
            "Access-Control-Allow-Credentials: true\r\n");
}

TEST(CorsPolicy, AnswersWithoutAllocatingWhenTheOutputHasRoom) {
  const CorsPolicy policy = listed(true);
  std::string out;
  out.reserve(1024);
  EXPECT_NO_ALLOC(policy.preflight("https://app.example.com", "POST", "content-type", out));
  out.clear();
  EXPECT_NO_ALLOC(policy.actual("https://app.example.com", out));
}

}  // namespace
}  // namespace edgefn::router
