// Tests for HTTP caching semantics: Cache-Control parsing, the store decision and its lifetime on a
// pinned clock, conditional requests, HTTP-date parsing, the Cache-Status field, and that none of
// it allocates.
#include "cache/policy.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::cache {
namespace {

using std::chrono::seconds;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1000);

constexpr std::int64_t kCap = std::int64_t{1} << 31;  // RFC 9111 1.2.2's ceiling, in seconds

// ---- parse_cache_control ----------------------------------------------------------------------

TEST(ParseCacheControl, EmptyValueHasNoDirectives) {
  for (std::string_view v : {"", " ", ",", " , ,\t,"}) {
    const CacheControl cc = parse_cache_control(v);
    EXPECT_FALSE(cc.no_store || cc.no_cache || cc.private_ || cc.public_ || cc.must_revalidate)
        << v;
    EXPECT_FALSE(cc.max_age || cc.s_maxage || cc.stale_while_revalidate || cc.stale_if_error) << v;
  }
}

TEST(ParseCacheControl, EachFlagDirectiveSetsOnlyItsField) {
  struct Case {
    std::string_view value;
    bool CacheControl::*field;
  };
  const Case cases[] = {
      {"no-store", &CacheControl::no_store},
      {"no-cache", &CacheControl::no_cache},
      {"private", &CacheControl::private_},
      {"public", &CacheControl::public_},
      {"must-revalidate", &CacheControl::must_revalidate},
      {"proxy-revalidate", &CacheControl::must_revalidate},
  };
  const std::array<bool CacheControl::*, 5> all = {&CacheControl::no_store, &CacheControl::no_cache,
                                                   &CacheControl::private_, &CacheControl::public_,
                                                   &CacheControl::must_revalidate};
  for (const Case& c : cases) {
    const CacheControl cc = parse_cache_control(c.value);
    for (bool CacheControl::*f : all) {
      EXPECT_EQ(cc.*f, f == c.field) << c.value;
    }
    EXPECT_FALSE(cc.max_age || cc.s_maxage || cc.stale_while_revalidate || cc.stale_if_error);
  }
}

TEST(ParseCacheControl, EachDeltaDirectiveSetsOnlyItsField) {
  struct Case {
    std::string_view value;
    std::optional<Duration> CacheControl::*field;
  };
  const Case cases[] = {
      {"max-age=60", &CacheControl::max_age},
      {"s-maxage=60", &CacheControl::s_maxage},
      {"stale-while-revalidate=60", &CacheControl::stale_while_revalidate},
      {"stale-if-error=60", &CacheControl::stale_if_error},
  };
  const std::array<std::optional<Duration> CacheControl::*, 4> all = {
      &CacheControl::max_age, &CacheControl::s_maxage, &CacheControl::stale_while_revalidate,
      &CacheControl::stale_if_error};
  for (const Case& c : cases) {
    const CacheControl cc = parse_cache_control(c.value);
    for (std::optional<Duration> CacheControl::*f : all) {
      if (f == c.field) {
        EXPECT_EQ(cc.*f, Duration(seconds(60))) << c.value;
      } else {
        EXPECT_FALSE((cc.*f).has_value()) << c.value;
      }
    }
    EXPECT_FALSE(cc.no_store || cc.no_cache || cc.private_ || cc.public_ || cc.must_revalidate);
  }
}

TEST(ParseCacheControl, AFullValue) {
  const CacheControl cc = parse_cache_control(
      "public, max-age=60, s-maxage=30, stale-while-revalidate=10, stale-if-error=300, "
      "must-revalidate");
  EXPECT_TRUE(cc.public_);
  EXPECT_TRUE(cc.must_revalidate);
  EXPECT_FALSE(cc.no_store || cc.no_cache || cc.private_);
  EXPECT_EQ(cc.max_age, Duration(seconds(60)));
  EXPECT_EQ(cc.s_maxage, Duration(seconds(30)));
  EXPECT_EQ(cc.stale_while_revalidate, Duration(seconds(10)));
  EXPECT_EQ(cc.stale_if_error, Duration(seconds(300)));
}

TEST(ParseCacheControl, NamesAreCaseInsensitive) {
  const CacheControl cc = parse_cache_control(
      "No-Store, NO-CACHE, Private, PUBLIC, Must-Revalidate, MAX-AGE=5, "
      "S-MaxAge=6, Stale-While-Revalidate=7, STALE-IF-ERROR=8");
  EXPECT_TRUE(cc.no_store && cc.no_cache && cc.private_ && cc.public_ && cc.must_revalidate);
  EXPECT_EQ(cc.max_age, Duration(seconds(5)));
  EXPECT_EQ(cc.s_maxage, Duration(seconds(6)));
  EXPECT_EQ(cc.stale_while_revalidate, Duration(seconds(7)));
  EXPECT_EQ(cc.stale_if_error, Duration(seconds(8)));
  EXPECT_TRUE(parse_cache_control("PROXY-revalidate").must_revalidate);
}

TEST(ParseCacheControl, SpacingAroundMembersAndEqualsIsAccepted) {
  EXPECT_EQ(parse_cache_control("max-age=60").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("  max-age=60  ").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("\tmax-age=60\t").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age = 60").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age\t=\t60").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age= \"60\" ").max_age, Duration(seconds(60)));
  const CacheControl cc = parse_cache_control("public,max-age=1,no-store");
  EXPECT_TRUE(cc.public_ && cc.no_store);
  EXPECT_EQ(cc.max_age, Duration(seconds(1)));
  const CacheControl spaced = parse_cache_control(" ,, public ,\t, max-age=2 ,, ");
  EXPECT_TRUE(spaced.public_);
  EXPECT_EQ(spaced.max_age, Duration(seconds(2)));
}

TEST(ParseCacheControl, QuotedDeltaSecondsAreAccepted) {
  EXPECT_EQ(parse_cache_control("max-age=\"60\"").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("s-maxage=\"0\"").s_maxage, Duration::zero());
  // A quoted-pair stands for the character it escapes.
  EXPECT_EQ(parse_cache_control("max-age=\"6\\0\"").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age=\"6\\x\"").max_age, Duration::zero());
}

TEST(ParseCacheControl, MalformedDeltaSecondsCountAsZero) {
  for (std::string_view v :
       {"max-age", "max-age=", "max-age= ", "max-age=-1", "max-age=+5", "max-age=1.5",
        "max-age=abc", "max-age=6 0", "max-age=60s", "max-age=0x10", "max-age=\"\"", "max-age=\"60",
        "max-age=\"60\"x", "max-age=60\"", "max-age=\"", "max-age=\"6 0\"", "max-age=1e3",
        "max-age=\xd9\xa1"}) {
    EXPECT_EQ(parse_cache_control(v).max_age, Duration::zero()) << v;
  }
  EXPECT_EQ(parse_cache_control("s-maxage=x").s_maxage, Duration::zero());
  EXPECT_EQ(parse_cache_control("stale-while-revalidate").stale_while_revalidate, Duration::zero());
  EXPECT_EQ(parse_cache_control("stale-if-error=-5").stale_if_error, Duration::zero());
}

TEST(ParseCacheControl, LeadingZerosAreDigits) {
  EXPECT_EQ(parse_cache_control("max-age=007").max_age, Duration(seconds(7)));
  EXPECT_EQ(parse_cache_control("max-age=0000").max_age, Duration::zero());
}

TEST(ParseCacheControl, HugeDeltaSecondsSaturateAtTwoToTheThirtyFirst) {
  EXPECT_EQ(parse_cache_control("max-age=2147483647").max_age, Duration(seconds(kCap - 1)));
  EXPECT_EQ(parse_cache_control("max-age=2147483648").max_age, Duration(seconds(kCap)));
  EXPECT_EQ(parse_cache_control("max-age=2147483649").max_age, Duration(seconds(kCap)));
  EXPECT_EQ(parse_cache_control("max-age=99999999999999999999999999999999").max_age,
            Duration(seconds(kCap)));
  EXPECT_EQ(parse_cache_control("s-maxage=\"18446744073709551617\"").s_maxage,
            Duration(seconds(kCap)));
}

TEST(ParseCacheControl, AgreeingDuplicatesKeepTheirValueDisagreeingOnesCountAsZero) {
  EXPECT_EQ(parse_cache_control("max-age=60, max-age=60").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age=60, max-age=\"60\"").max_age, Duration(seconds(60)));
  EXPECT_EQ(parse_cache_control("max-age=60, max-age=30").max_age, Duration::zero());
  EXPECT_EQ(parse_cache_control("max-age=30, max-age=60").max_age, Duration::zero());
  EXPECT_EQ(parse_cache_control("max-age=abc, max-age=60").max_age, Duration::zero());
  EXPECT_EQ(parse_cache_control("max-age=60, max-age").max_age, Duration::zero());
  EXPECT_EQ(parse_cache_control("max-age=60, max-age=30, max-age=60").max_age, Duration::zero());
  EXPECT_EQ(parse_cache_control("s-maxage=5, S-MAXAGE=6").s_maxage, Duration::zero());
  // A duplicate of one directive leaves the others alone.
  const CacheControl cc = parse_cache_control("max-age=1, s-maxage=9, max-age=2");
  EXPECT_EQ(cc.max_age, Duration::zero());
  EXPECT_EQ(cc.s_maxage, Duration(seconds(9)));
  const CacheControl flags = parse_cache_control("no-store, no-store, public, public");
  EXPECT_TRUE(flags.no_store && flags.public_);
}

TEST(ParseCacheControl, SeveralFieldsJoined) {
  const CacheControl cc =
      parse_cache_control("max-age=60, stale-while-revalidate=30, private, stale-if-error=600");
  EXPECT_TRUE(cc.private_);
  EXPECT_EQ(cc.max_age, Duration(seconds(60)));
  EXPECT_EQ(cc.stale_while_revalidate, Duration(seconds(30)));
  EXPECT_EQ(cc.stale_if_error, Duration(seconds(600)));
}

TEST(ParseCacheControl, FieldListsAndArgumentsOnFlagsAreTreatedAsAWhole) {
  EXPECT_TRUE(parse_cache_control("no-cache=\"Set-Cookie\"").no_cache);
  EXPECT_TRUE(parse_cache_control("private=\"Authorization\"").private_);
  EXPECT_TRUE(parse_cache_control("no-cache=Set-Cookie").no_cache);
  EXPECT_TRUE(parse_cache_control("no-store=\"x\"").no_store);
  EXPECT_TRUE(parse_cache_control("public=").public_);
}

TEST(ParseCacheControl, CommasInsideQuotedStringsDoNotSplitMembers) {
  const CacheControl cc =
      parse_cache_control("no-cache=\"Set-Cookie, max-age=5, no-store\", s-maxage=60");
  EXPECT_TRUE(cc.no_cache);
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(cc.max_age.has_value());
  EXPECT_EQ(cc.s_maxage, Duration(seconds(60)));
  // An escaped quote does not close the string.
  const CacheControl escaped = parse_cache_control("private=\"a\\\", no-store\", max-age=3");
  EXPECT_TRUE(escaped.private_);
  EXPECT_FALSE(escaped.no_store);
  EXPECT_EQ(escaped.max_age, Duration(seconds(3)));
}

TEST(ParseCacheControl, AnUnclosedQuoteRunsToTheEnd) {
  const CacheControl cc = parse_cache_control("no-cache=\"Set-Cookie, no-store, max-age=5");
  EXPECT_TRUE(cc.no_cache);
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(cc.max_age.has_value());
}

TEST(ParseCacheControl, UnknownAndLookalikeDirectivesAreIgnored) {
  const CacheControl cc = parse_cache_control(
      "immutable, foo=bar, max-agex=5, xmax-age=5, no-stores, no_store, publicity, s-max-age=5, "
      "\"max-age=5\", must-understand, no-transform, max-age=7");
  EXPECT_FALSE(cc.no_store || cc.no_cache || cc.private_ || cc.public_ || cc.must_revalidate);
  EXPECT_EQ(cc.max_age, Duration(seconds(7)));
  EXPECT_FALSE(cc.s_maxage || cc.stale_while_revalidate || cc.stale_if_error);
  EXPECT_FALSE(parse_cache_control("s-maxage=5").max_age.has_value());
  EXPECT_FALSE(parse_cache_control("max-age=5").s_maxage.has_value());
}

// ---- plan_store -------------------------------------------------------------------------------

class PlanStore : public ::testing::Test {
 protected:
  PlanStore() {
    route_.ttl = seconds(60);
    route_.stale_while_revalidate = seconds(30);
    route_.stale_if_error = seconds(300);
    route_.vary = vary_;
  }

  StorePlan plan(std::string_view cache_control, int status = 200, std::string_view vary = "",
                 bool set_cookie = false, bool authorized = false) const {
    ResponseFacts facts;
    facts.status = status;
    facts.cache_control = parse_cache_control(cache_control);
    facts.vary = vary;
    facts.has_set_cookie = set_cookie;
    facts.request_authorized = authorized;
    return plan_store(route_, facts, t0);
  }

  StoreVerdict verdict(std::string_view cache_control, int status = 200, std::string_view vary = "",
                       bool set_cookie = false, bool authorized = false) const {
    return plan(cache_control, status, vary, set_cookie, authorized).verdict;
  }

  // Freshness and stale window of a stored plan, in seconds, relative to t0.
  static void expect_lifetime(const StorePlan& p, std::int64_t fresh, std::int64_t stale) {
    ASSERT_EQ(p.verdict, StoreVerdict::kStore);
    EXPECT_EQ(p.lifetime.stored_at, t0);
    EXPECT_EQ(p.lifetime.fresh_until, t0 + seconds(fresh));
    EXPECT_EQ(p.lifetime.stale_until, t0 + seconds(fresh + stale));
  }

  std::vector<std::string> vary_{"accept-language", "x-api-key"};
  RoutePolicy route_;
};

TEST_F(PlanStore, NoDirectivesUseTheRouteTtlAndTheLongerStaleWindow) {
  expect_lifetime(plan(""), 60, 300);
  route_.stale_if_error = seconds(10);
  expect_lifetime(plan(""), 60, 30);
  route_.stale_if_error = Duration::zero();
  route_.stale_while_revalidate = Duration::zero();
  expect_lifetime(plan(""), 60, 0);
}

TEST_F(PlanStore, MaxAgeIsCappedByTheRouteTtl) {
  expect_lifetime(plan("max-age=10"), 10, 300);
  expect_lifetime(plan("max-age=60"), 60, 300);
  expect_lifetime(plan("max-age=61"), 60, 300);
  expect_lifetime(plan("max-age=2147483648"), 60, 300);
  expect_lifetime(plan("public, max-age=59"), 59, 300);
}

TEST_F(PlanStore, SMaxageWinsOverMaxAgeAndIsCappedToo) {
  expect_lifetime(plan("max-age=5, s-maxage=20"), 20, 300);
  expect_lifetime(plan("max-age=20, s-maxage=5"), 5, 300);
  expect_lifetime(plan("max-age=5, s-maxage=600"), 60, 300);
  expect_lifetime(plan("s-maxage=0, max-age=30"), 0, 300);
}

TEST_F(PlanStore, ResponseStaleDirectivesCapTheRouteWindows) {
  route_.stale_if_error = Duration::zero();
  expect_lifetime(plan("stale-while-revalidate=5"), 60, 5);
  expect_lifetime(plan("stale-while-revalidate=100"), 60, 30);
  expect_lifetime(plan("stale-while-revalidate=0"), 60, 0);
  expect_lifetime(plan("stale-while-revalidate=abc"), 60, 0);

  route_.stale_if_error = seconds(300);
  route_.stale_while_revalidate = Duration::zero();
  expect_lifetime(plan("stale-if-error=120"), 60, 120);
  expect_lifetime(plan("stale-if-error=1000"), 60, 300);
  // A window the route does not grant is not opened by the response.
  expect_lifetime(plan("stale-while-revalidate=100"), 60, 300);
  route_.stale_if_error = Duration::zero();
  expect_lifetime(plan("stale-while-revalidate=100, stale-if-error=100"), 60, 0);
}

TEST_F(PlanStore, TheStaleWindowIsTheLongerOfTheTwo) {
  expect_lifetime(plan("stale-if-error=10"), 60, 30);
  expect_lifetime(plan("stale-if-error=10, stale-while-revalidate=5"), 60, 10);
  expect_lifetime(plan("stale-if-error=45, stale-while-revalidate=5"), 60, 45);
}

TEST_F(PlanStore, MustRevalidateClosesBothStaleWindows) {
  expect_lifetime(plan("must-revalidate"), 60, 0);
  expect_lifetime(plan("proxy-revalidate, max-age=10"), 10, 0);
  expect_lifetime(plan("must-revalidate, stale-while-revalidate=10, stale-if-error=10"), 60, 0);
}

TEST_F(PlanStore, NoStoreNoCacheAndPrivateAreNotStored) {
  for (std::string_view cc : {"no-store", "no-cache", "private", "no-cache=\"Set-Cookie\"",
                              "private=\"x\"", "public, max-age=60, no-store", "NO-STORE"}) {
    EXPECT_EQ(verdict(cc), StoreVerdict::kNoStore) << cc;
  }
}

TEST_F(PlanStore, StatusesCacheableByDefaultAreStored) {
  for (int status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}) {
    EXPECT_EQ(verdict("", status), StoreVerdict::kStore) << status;
  }
}

TEST_F(PlanStore, OtherStatusesNeedExplicitFreshness) {
  for (int status : {201, 202, 302, 303, 307, 400, 401, 403, 409, 429, 500, 502, 503, 504}) {
    EXPECT_EQ(verdict("", status), StoreVerdict::kStatus) << status;
    EXPECT_EQ(verdict("public", status), StoreVerdict::kStatus) << status;
    EXPECT_EQ(verdict("stale-if-error=60", status), StoreVerdict::kStatus) << status;
    EXPECT_EQ(verdict("max-age=10", status), StoreVerdict::kStore) << status;
    EXPECT_EQ(verdict("s-maxage=10", status), StoreVerdict::kStore) << status;
  }
  expect_lifetime(plan("max-age=10", 500), 10, 300);
}

TEST_F(PlanStore, PartialInterimNotModifiedAndInvalidStatusesAreNeverStored) {
  for (int status : {206, 304, 100, 101, 199, 0, -1, 600, 999}) {
    EXPECT_EQ(verdict("", status), StoreVerdict::kStatus) << status;
    EXPECT_EQ(verdict("public, max-age=60, s-maxage=60", status), StoreVerdict::kStatus) << status;
  }
}

TEST_F(PlanStore, SetCookieIsNeverStored) {
  EXPECT_EQ(verdict("", 200, "", true), StoreVerdict::kSetCookie);
  EXPECT_EQ(verdict("public, s-maxage=60", 200, "", true), StoreVerdict::kSetCookie);
}

TEST_F(PlanStore, VaryWithinTheRouteListIsStored) {
  for (std::string_view vary :
       {"accept-language", "Accept-Language", "ACCEPT-LANGUAGE, X-Api-Key",
        "  x-api-key ,\taccept-language  ", "x-api-key, x-api-key", ", ,accept-language,,", ","}) {
    EXPECT_EQ(verdict("", 200, vary), StoreVerdict::kStore) << vary;
  }
}

TEST_F(PlanStore, VaryOutsideTheRouteListOrStarIsNotStored) {
  for (std::string_view vary :
       {"accept-encoding", "accept-language, cookie", "*", " * ", "accept-language, *",
        "accept-languages", "accept", "accept-language x-api-key", "x-api-key;q=1"}) {
    EXPECT_EQ(verdict("", 200, vary), StoreVerdict::kVary) << vary;
  }
  // "*" is never a header the key can hold, even if a route's list were to name it.
  vary_ = {"*", "accept-language"};
  route_.vary = vary_;
  EXPECT_EQ(verdict("", 200, "*"), StoreVerdict::kVary);
  EXPECT_EQ(verdict("", 200, "accept-language"), StoreVerdict::kStore);
  vary_.clear();
  route_.vary = vary_;
  EXPECT_EQ(verdict("", 200, "accept-language"), StoreVerdict::kVary);
  EXPECT_EQ(verdict("", 200, ""), StoreVerdict::kStore);
}

TEST_F(PlanStore, RouteVaryNamesAreComparedCaseInsensitivelyToo) {
  vary_ = {"Accept-Language"};
  route_.vary = vary_;
  EXPECT_EQ(verdict("", 200, "accept-language"), StoreVerdict::kStore);
}

TEST_F(PlanStore, AuthorizedRequestsNeedPublicSMaxageOrMustRevalidate) {
  EXPECT_EQ(verdict("", 200, "", false, true), StoreVerdict::kAuthorization);
  EXPECT_EQ(verdict("max-age=30", 200, "", false, true), StoreVerdict::kAuthorization);
  EXPECT_EQ(verdict("public", 200, "", false, true), StoreVerdict::kStore);
  EXPECT_EQ(verdict("must-revalidate", 200, "", false, true), StoreVerdict::kStore);
  EXPECT_EQ(verdict("proxy-revalidate", 200, "", false, true), StoreVerdict::kStore);
  expect_lifetime(plan("s-maxage=20", 200, "", false, true), 20, 300);
}

TEST_F(PlanStore, NothingToKeepIsAZeroLifetime) {
  route_.stale_while_revalidate = Duration::zero();
  route_.stale_if_error = Duration::zero();
  EXPECT_EQ(verdict("max-age=0"), StoreVerdict::kZeroLifetime);
  EXPECT_EQ(verdict("s-maxage=0, max-age=60"), StoreVerdict::kZeroLifetime);
  EXPECT_EQ(verdict("max-age=junk"), StoreVerdict::kZeroLifetime);
  EXPECT_EQ(verdict("max-age=0, stale-while-revalidate=60"), StoreVerdict::kZeroLifetime);
  expect_lifetime(plan("max-age=1"), 1, 0);
}

TEST_F(PlanStore, AStaleWindowAloneIsWorthKeeping) {
  expect_lifetime(plan("max-age=0"), 0, 300);
  EXPECT_EQ(verdict("max-age=0, must-revalidate"), StoreVerdict::kZeroLifetime);
}

TEST_F(PlanStore, VerdictsArePrioritizedInDeclarationOrder) {
  // no-store > status > set-cookie > vary > authorization > zero lifetime.
  EXPECT_EQ(verdict("no-store", 500, "*", true, true), StoreVerdict::kNoStore);
  EXPECT_EQ(verdict("", 500, "*", true, true), StoreVerdict::kStatus);
  EXPECT_EQ(verdict("", 200, "*", true, true), StoreVerdict::kSetCookie);
  EXPECT_EQ(verdict("", 200, "*", false, true), StoreVerdict::kVary);
  route_.stale_while_revalidate = Duration::zero();
  route_.stale_if_error = Duration::zero();
  EXPECT_EQ(verdict("max-age=0", 200, "", false, true), StoreVerdict::kAuthorization);
  EXPECT_EQ(verdict("max-age=0", 200, "", false, false), StoreVerdict::kZeroLifetime);
}

TEST_F(PlanStore, NegativeRouteDurationsCountAsZero) {
  route_.stale_while_revalidate = seconds(-5);
  route_.stale_if_error = seconds(-5);
  expect_lifetime(plan(""), 60, 0);
  route_.ttl = seconds(-1);
  EXPECT_EQ(verdict(""), StoreVerdict::kZeroLifetime);
}

TEST(Describe, EveryVerdictHasItsOwnShortLowerCaseReason) {
  EXPECT_EQ(describe(StoreVerdict::kStore), "stored");
  EXPECT_EQ(describe(StoreVerdict::kNoStore), "no-store");
  EXPECT_EQ(describe(StoreVerdict::kStatus), "status");
  EXPECT_EQ(describe(StoreVerdict::kSetCookie), "set-cookie");
  EXPECT_EQ(describe(StoreVerdict::kVary), "vary");
  EXPECT_EQ(describe(StoreVerdict::kAuthorization), "authorization");
  EXPECT_EQ(describe(StoreVerdict::kZeroLifetime), "zero-lifetime");
  EXPECT_EQ(describe(static_cast<StoreVerdict>(200)), "unknown");
}

// ---- parse_http_date --------------------------------------------------------------------------

constexpr std::int64_t kExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(ParseHttpDate, TheThreeFormsOfRfc9110) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov 06 08:49:37 1994"), kExample);
}

TEST(ParseHttpDate, EpochAndBeforeIt) {
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
  EXPECT_EQ(parse_http_date("Thu, 01 Mar 1900 00:00:00 GMT"), -2203891200);
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Thu Jan  1 00:00:00 1970"), 0);
}

TEST(ParseHttpDate, LeapYears) {
  EXPECT_EQ(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  EXPECT_EQ(parse_http_date("Tue Feb 29 00:00:00 2000"), 951782400);
  EXPECT_EQ(parse_http_date("Tuesday, 29-Feb-00 00:00:00 GMT"), 951782400);
  EXPECT_EQ(parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Mon, 29 Feb 2100 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 30 Feb 2024 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Tuesday, 29-Feb-99 00:00:00 GMT"), std::nullopt);
}

TEST(ParseHttpDate, FieldBounds) {
  EXPECT_TRUE(parse_http_date("Fri, 31 Jan 2025 00:00:00 GMT"));
  EXPECT_TRUE(parse_http_date("Wed, 31 Dec 2025 23:59:59 GMT"));
  EXPECT_EQ(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
  EXPECT_EQ(parse_http_date("Thu, 31 Apr 2025 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sat, 31 Jun 2025 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 00 Jan 2025 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sat, 32 Jan 2025 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 01 Jan 2025 24:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 01 Jan 2025 00:60:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 01 Jan 2025 00:00:61 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 01 Jan 2025 99:99:99 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun Nov 32 08:49:37 1994"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun Nov  0 08:49:37 1994"), std::nullopt);
}

TEST(ParseHttpDate, ALeapSecondReadsAsTheNextMinute) {
  EXPECT_EQ(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228799 + 1);
}

TEST(ParseHttpDate, TwoDigitYearsPivotAtSeventy) {
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);
  EXPECT_EQ(parse_http_date("Tuesday, 01-Jan-69 00:00:00 GMT"), 3124224000);
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
}

TEST(ParseHttpDate, DayNamesAreCheckedForSpellingNotAgainstTheDate) {
  EXPECT_EQ(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sundae, 06-Nov-94 08:49:37 GMT"), std::nullopt);
}

TEST(ParseHttpDate, SurroundingWhitespaceIsIgnored) {
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t"), kExample);
}

TEST(ParseHttpDate, MalformedDatesAreRejected) {
  for (std::string_view v : {
           "",
           "Sun",
           "Sun,",
           "garbage",
           "784111777",
           "sun, 06 nov 1994 08:49:37 gmt",
           "Sun, 06 Nov 1994 08:49:37 gmt",
           "SUN, 06 NOV 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 UTC",
           "Sun, 06 Nov 1994 08:49:37 +0000",
           "Sun, 06 Nov 1994 08:49:37",
           "Sun, 06 Nov 1994 08:49:37 GMT x",
           "Sun, 06 Nov 1994 08:49:37 GMTT",
           "Sun, 6 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 94 08:49:37 GMT",
           "Sun, 06 November 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun, 06 Nov 1994 08:49 GMT",
           "Sun, 06-Nov-1994 08:49:37 GMT",
           "Sun,  06 Nov 1994 08:49:37 GMT",
           "Sun, 06  Nov 1994 08:49:37 GMT",
           "Sun 06 Nov 1994 08:49:37 GMT",
           "Sun, 0a Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:3x GMT",
           "Sun, 06 Nov 1994 08.49.37 GMT",
           "Sun, 06 Nov -994 08:49:37 GMT",
           "Sunday, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06-Nov-94 08:49:37 GMT",
           "Sunday, 06-Nov-94 08:49:37",
           "Sunday, 6-Nov-94 08:49:37 GMT",
           "Sunday, 06-nov-94 08:49:37 GMT",
           "Sun Nov 6 08:49:37 1994",
           "Sun Nov  6 08:49:37 94",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun, Nov  6 08:49:37 1994",
           "Sun Nov   6 08:49:37 1994",
       }) {
    EXPECT_EQ(parse_http_date(v), std::nullopt) << v;
  }
}

TEST(ParseHttpDate, EveryTruncationOfAValidDateIsRejected) {
  for (std::string_view full : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                "Sun Nov  6 08:49:37 1994"}) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      EXPECT_EQ(parse_http_date(full.substr(0, n)), std::nullopt) << full.substr(0, n);
    }
  }
}

// ---- not_modified -----------------------------------------------------------------------------

constexpr std::string_view kLastModified = "Sun, 06 Nov 1994 08:49:37 GMT";

TEST(NotModified, NoConditionalHeadersMeansNotAMatch) {
  EXPECT_FALSE(not_modified(std::nullopt, std::nullopt, "\"abc\"", kLastModified));
}

TEST(NotModified, IfNoneMatchUsesWeakComparison) {
  EXPECT_TRUE(not_modified("\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified("W/\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified("\"abc\"", std::nullopt, "W/\"abc\"", ""));
  EXPECT_TRUE(not_modified("W/\"abc\"", std::nullopt, "W/\"abc\"", ""));
  EXPECT_TRUE(not_modified("\"\"", std::nullopt, "\"\"", ""));
  EXPECT_FALSE(not_modified("\"abd\"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"ABC\"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"abc \"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"ab\"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"abcd\"", std::nullopt, "\"abc\"", ""));
}

TEST(NotModified, IfNoneMatchListsMatchAnyMember) {
  EXPECT_TRUE(not_modified("\"x\", \"y\", \"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified("\"x\",\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified(" \"x\" ,\tW/\"abc\" , ", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified(",,\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"x\", \"y\"", std::nullopt, "\"abc\"", ""));
}

TEST(NotModified, CommasInsideAnEntityTagAreData) {
  EXPECT_TRUE(not_modified("\"a,b\"", std::nullopt, "\"a,b\"", ""));
  EXPECT_FALSE(not_modified("\"a,b\"", std::nullopt, "\"b\"", ""));
  EXPECT_FALSE(not_modified("\"x,\"abc\"\"", std::nullopt, "\"abc\"", ""));
}

TEST(NotModified, StarMatchesAnyStoredResponseWithAnETag) {
  EXPECT_TRUE(not_modified("*", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified(" * ", std::nullopt, "W/\"abc\"", ""));
  EXPECT_TRUE(not_modified("\"x\", *", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("*", std::nullopt, "", kLastModified));
}

TEST(NotModified, MalformedEntityTagsNeverMatch) {
  EXPECT_FALSE(not_modified("abc", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("\"abc", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("w/\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_FALSE(not_modified("W/abc", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified("abc, \"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(not_modified("W/abc, W/\"abc\"", std::nullopt, "\"abc\"", ""));
  // A stored ETag that is not a quoted entity-tag matches no tag, only "*".
  EXPECT_FALSE(not_modified("abc", std::nullopt, "abc", ""));
  EXPECT_FALSE(not_modified("\"abc\"", std::nullopt, "abc", ""));
  EXPECT_FALSE(not_modified("\"", std::nullopt, "\"", ""));
  EXPECT_FALSE(not_modified("W/", std::nullopt, "W/", ""));
  EXPECT_TRUE(not_modified("*", std::nullopt, "abc", ""));
}

TEST(NotModified, IfNoneMatchTakesPrecedenceOverIfModifiedSince) {
  // A current If-Modified-Since does not rescue a failed If-None-Match...
  EXPECT_FALSE(not_modified("\"x\"", kLastModified, "\"abc\"", kLastModified));
  // ...nor a missing ETag, nor an empty If-None-Match...
  EXPECT_FALSE(not_modified("\"abc\"", kLastModified, "", kLastModified));
  EXPECT_FALSE(not_modified("", kLastModified, "\"abc\"", kLastModified));
  // ...and an outdated one does not spoil a matching If-None-Match.
  EXPECT_TRUE(not_modified("\"abc\"", "Thu, 01 Jan 1970 00:00:00 GMT", "\"abc\"", kLastModified));
}

TEST(NotModified, IfModifiedSinceComparesDates) {
  EXPECT_TRUE(not_modified(std::nullopt, kLastModified, "\"abc\"", kLastModified));
  EXPECT_TRUE(not_modified(std::nullopt, "Sun, 06 Nov 1994 08:49:38 GMT", "", kLastModified));
  EXPECT_TRUE(not_modified(std::nullopt, "Fri, 01 Jan 2100 00:00:00 GMT", "", kLastModified));
  EXPECT_FALSE(not_modified(std::nullopt, "Sun, 06 Nov 1994 08:49:36 GMT", "", kLastModified));
  EXPECT_FALSE(not_modified(std::nullopt, "Thu, 01 Jan 1970 00:00:00 GMT", "", kLastModified));
}

TEST(NotModified, IfModifiedSinceInEveryDateForm) {
  for (std::string_view since : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                 "Sun Nov  6 08:49:37 1994"}) {
    EXPECT_TRUE(not_modified(std::nullopt, since, "", kLastModified)) << since;
    EXPECT_TRUE(not_modified(std::nullopt, since, "", "Sun Nov  6 08:49:37 1994")) << since;
    EXPECT_TRUE(not_modified(std::nullopt, since, "", "Sunday, 06-Nov-94 08:49:36 GMT")) << since;
    EXPECT_FALSE(not_modified(std::nullopt, since, "", "Sun Nov  6 08:49:38 1994")) << since;
  }
}

TEST(NotModified, AnUnparseableDateNeverMatches) {
  for (std::string_view bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
                               "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
                               "Sun, 31 Feb 1994 08:49:37 GMT", "784111777"}) {
    EXPECT_FALSE(not_modified(std::nullopt, bad, "", kLastModified)) << bad;
    EXPECT_FALSE(not_modified(std::nullopt, kLastModified, "", bad)) << bad;
  }
}

TEST(NotModified, NoLastModifiedMeansNotAMatch) {
  EXPECT_FALSE(not_modified(std::nullopt, kLastModified, "\"abc\"", ""));
}

// ---- append_cache_status ----------------------------------------------------------------------

std::string cache_status(const CacheStatus& status) {
  std::string out;
  append_cache_status(out, status);
  return out;
}

TEST(AppendCacheStatus, TheDocumentedExamplesByteForByte) {
  CacheStatus hit;
  hit.hit = true;
  hit.ttl_seconds = 42;
  hit.detail = "l1";
  EXPECT_EQ(cache_status(hit), "Cache-Status: edgefn; hit; ttl=42; detail=l1\r\n");

  CacheStatus swr;
  swr.hit = true;
  swr.fwd = "stale";
  swr.ttl_seconds = -3;
  swr.detail = "l2";
  EXPECT_EQ(cache_status(swr), "Cache-Status: edgefn; hit; fwd=stale; ttl=-3; detail=l2\r\n");

  CacheStatus stored;
  stored.fwd = "miss";
  stored.fwd_status = 200;
  stored.stored = true;
  EXPECT_EQ(cache_status(stored), "Cache-Status: edgefn; fwd=miss; fwd-status=200; stored\r\n");

  CacheStatus not_stored;
  not_stored.fwd = "miss";
  not_stored.fwd_status = 500;
  not_stored.detail = describe(StoreVerdict::kStatus);
  EXPECT_EQ(cache_status(not_stored),
            "Cache-Status: edgefn; fwd=miss; fwd-status=500; detail=status\r\n");

  CacheStatus sie;
  sie.fwd = "stale";
  sie.fwd_status = 503;
  sie.ttl_seconds = -9;
  sie.detail = "stale-if-error";
  EXPECT_EQ(cache_status(sie),
            "Cache-Status: edgefn; fwd=stale; fwd-status=503; ttl=-9; detail=stale-if-error\r\n");

  CacheStatus method;
  method.fwd = "method";
  EXPECT_EQ(cache_status(method), "Cache-Status: edgefn; fwd=method\r\n");
}

TEST(AppendCacheStatus, AnEmptyStatusNamesOnlyTheCache) {
  EXPECT_EQ(cache_status(CacheStatus{}), "Cache-Status: edgefn\r\n");
}

TEST(AppendCacheStatus, EveryParameterInRfc9211Order) {
  CacheStatus all;
  all.hit = true;
  all.fwd = "stale";
  all.fwd_status = 200;
  all.stored = true;
  all.ttl_seconds = 0;
  all.detail = "redis";
  EXPECT_EQ(
      cache_status(all),
      "Cache-Status: edgefn; hit; fwd=stale; fwd-status=200; ttl=0; stored; detail=redis\r\n");
}

TEST(AppendCacheStatus, AppendsToWhatIsThere) {
  std::string out = "HTTP/1.1 200 OK\r\n";
  CacheStatus s;
  s.fwd = "bypass";
  append_cache_status(out, s);
  append_cache_status(out, s);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nCache-Status: edgefn; fwd=bypass\r\nCache-Status: edgefn; "
            "fwd=bypass\r\n");
}

TEST(AppendCacheStatus, ExtremeTtls) {
  CacheStatus s;
  s.ttl_seconds = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; ttl=-9223372036854775808\r\n");
  s.ttl_seconds = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; ttl=9223372036854775807\r\n");
}

TEST(AppendCacheStatus, EveryVerdictDescriptionIsASfToken) {
  for (StoreVerdict v : {StoreVerdict::kStore, StoreVerdict::kNoStore, StoreVerdict::kStatus,
                         StoreVerdict::kSetCookie, StoreVerdict::kVary,
                         StoreVerdict::kAuthorization, StoreVerdict::kZeroLifetime}) {
    CacheStatus s;
    s.detail = describe(v);
    EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=" + std::string(describe(v)) + "\r\n");
  }
}

TEST(AppendCacheStatus, ValuesThatAreNotTokensBecomeSfStrings) {
  CacheStatus s;
  s.detail = "no cache";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=\"no cache\"\r\n");
  s.detail = "1x";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=\"1x\"\r\n");
  s.detail = "a\"b\\c";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=\"a\\\"b\\\\c\"\r\n");
  s.detail = "a\r\nX-Injected: 1";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=\"aX-Injected: 1\"\r\n");
  s.detail = "*a:b/c";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; detail=*a:b/c\r\n");
  s.detail = {};
  s.fwd = "uri miss";
  EXPECT_EQ(cache_status(s), "Cache-Status: edgefn; fwd=\"uri miss\"\r\n");
}

// ---- allocation -------------------------------------------------------------------------------

TEST(PolicyAllocation, ParsingDecidingAndMatchingAllocateNothing) {
  const std::string long_value =
      "public, max-age=60, s-maxage=30, stale-while-revalidate=10, stale-if-error=300, "
      "no-cache=\"Set-Cookie, X-Very-Long-Header-Name-That-Would-Not-Fit-In-SSO\", "
      "must-revalidate, immutable, max-age=60";
  CacheControl cc;
  EXPECT_NO_ALLOC(cc = parse_cache_control(long_value));
  EXPECT_TRUE(cc.no_cache);

  const std::vector<std::string> vary = {"accept-language", "x-api-key"};
  RoutePolicy route;
  route.ttl = seconds(60);
  route.stale_if_error = seconds(300);
  route.vary = vary;
  ResponseFacts facts;
  facts.cache_control = parse_cache_control("max-age=30, stale-if-error=60");
  facts.vary = "Accept-Language, X-Api-Key";
  StorePlan p;
  EXPECT_NO_ALLOC(p = plan_store(route, facts, t0));
  EXPECT_EQ(p.verdict, StoreVerdict::kStore);

  bool matched = false;
  EXPECT_NO_ALLOC(matched = not_modified("\"x\", W/\"abc\"", std::nullopt, "\"abc\"", ""));
  EXPECT_TRUE(matched);
  EXPECT_NO_ALLOC(matched = not_modified(std::nullopt, "Sun Nov  6 08:49:37 1994", "",
                                         "Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_TRUE(matched);

  std::optional<std::int64_t> date;
  EXPECT_NO_ALLOC(date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
  EXPECT_EQ(date, kExample);
}

TEST(PolicyAllocation, AppendCacheStatusAllocatesNothingWhenTheStringHasRoom) {
  std::string out;
  out.reserve(256);
  CacheStatus s;
  s.hit = true;
  s.fwd = "stale";
  s.fwd_status = 503;
  s.ttl_seconds = -123456789;
  s.stored = true;
  s.detail = "stale-if-error";
  EXPECT_NO_ALLOC(append_cache_status(out, s));
  s.detail = "needs \"quoting\"";
  EXPECT_NO_ALLOC(append_cache_status(out, s));
  EXPECT_EQ(out,
            "Cache-Status: edgefn; hit; fwd=stale; fwd-status=503; ttl=-123456789; stored; "
            "detail=stale-if-error\r\n"
            "Cache-Status: edgefn; hit; fwd=stale; fwd-status=503; ttl=-123456789; stored; "
            "detail=\"needs \\\"quoting\\\"\"\r\n");
}

}  // namespace
}  // namespace edgefn::cache
