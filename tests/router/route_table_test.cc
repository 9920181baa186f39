// Tests for the route table: priorities, backtracking, hosts, 404/405, build errors, no-alloc.
#include "router/route_table.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/alloc_counter.h"

namespace edgefn::router {
namespace {

using Status = Match::Status;
using Params = std::vector<std::pair<std::string, std::string>>;

// A spec whose target is its index + 100, so tests can tell `route` from `target`.
RouteSpec spec(std::string method, std::string pattern, std::string host = {}) {
  return {std::move(host), std::move(method), std::move(pattern), 0};
}

// prefix + n + suffix. (Spelled out because g++ 12 -O2 raises a false -Wrestrict on
// `"literal" + std::to_string(n)`.)
std::string numbered(std::string_view prefix, std::size_t n, std::string_view suffix = {}) {
  std::string out(prefix);
  out += std::to_string(n);
  out += suffix;
  return out;
}

RouteTable build_ok(std::vector<RouteSpec> specs) {
  for (std::size_t i = 0; i < specs.size(); ++i)
    specs[i].target = static_cast<std::uint32_t>(i + 100);
  std::vector<RouteError> errors;
  RouteTable table = RouteTable::build(specs, errors);
  for (const RouteError& e : errors)
    ADD_FAILURE() << "route " << e.spec << ": " << e.message;
  return table;
}

// The errors build() reports, as "index: message".
std::vector<std::string> build_errors(const std::vector<RouteSpec>& specs) {
  std::vector<RouteError> errors;
  RouteTable::build(specs, errors);
  std::vector<std::string> out;
  for (const RouteError& e : errors)
    out.push_back(std::to_string(e.spec) + ": " + e.message);
  return out;
}

std::string error_of(RouteSpec s) {
  const std::vector<std::string> errors = build_errors({std::move(s)});
  if (errors.size() != 1) return numbered("expected one error, got ", errors.size());
  return errors.front().substr(3);  // drop "0: "
}

struct Result {
  Status status = Status::kNotFound;
  std::uint32_t route = 0;
  std::uint32_t target = 0;
  std::string allow;
  Params params;
};

Result match(const RouteTable& table, std::string_view method, std::string_view path,
             std::string_view host = {}) {
  std::array<api::Param, kMaxParams> params;
  const Match m = table.match(host, method, path, params);
  Result r;
  r.status = m.status;
  r.allow = allow_header(m.allow);
  if (m.status == Status::kFound) {
    r.route = m.route;
    r.target = m.target;
    for (std::size_t i = 0; i < m.param_count; ++i) {
      r.params.emplace_back(std::string(params[i].name), std::string(params[i].value));
    }
  } else {
    EXPECT_EQ(m.param_count, 0u);
  }
  if (m.status != Status::kMethodNotAllowed) {
    EXPECT_EQ(m.allow, 0u);
  }
  return r;
}

// Expects a match of route `route`; returns its params.
Params found(const RouteTable& table, std::string_view method, std::string_view path,
             std::uint32_t route, std::string_view host = {}) {
  const Result r = match(table, method, path, host);
  EXPECT_EQ(r.status, Status::kFound) << method << " " << host << path;
  EXPECT_EQ(r.route, route) << method << " " << host << path;
  EXPECT_EQ(r.target, route + 100) << method << " " << host << path;
  return r.params;
}

void not_found(const RouteTable& table, std::string_view method, std::string_view path,
               std::string_view host = {}) {
  EXPECT_EQ(match(table, method, path, host).status, Status::kNotFound)
      << method << " " << host << path;
}

void not_allowed(const RouteTable& table, std::string_view method, std::string_view path,
                 std::string_view allow, std::string_view host = {}) {
  const Result r = match(table, method, path, host);
  EXPECT_EQ(r.status, Status::kMethodNotAllowed) << method << " " << host << path;
  EXPECT_EQ(r.allow, allow) << method << " " << host << path;
}

// ---- Methods -----------------------------------------------------------------------------------

TEST(Methods, ParseAndNameRoundTrip) {
  for (Method m : {Method::kGet, Method::kHead, Method::kPost, Method::kPut, Method::kDelete,
                   Method::kPatch, Method::kOptions}) {
    EXPECT_EQ(parse_method(method_name(m)), m);
  }
  EXPECT_EQ(method_name(Method::kDelete), "DELETE");
  EXPECT_EQ(method_name(Method::kCount), "");
}

TEST(Methods, UnknownAndWrongCaseAreCount) {
  EXPECT_EQ(parse_method("get"), Method::kCount);  // methods are case-sensitive
  EXPECT_EQ(parse_method("TRACE"), Method::kCount);
  EXPECT_EQ(parse_method("CONNECT"), Method::kCount);
  EXPECT_EQ(parse_method(""), Method::kCount);
  EXPECT_EQ(parse_method("GETX"), Method::kCount);
}

TEST(Methods, AllowHeaderListsInEnumOrder) {
  const auto bit = [](Method m) { return static_cast<MethodMask>(1u << static_cast<int>(m)); };
  EXPECT_EQ(allow_header(0), "");
  EXPECT_EQ(allow_header(bit(Method::kPost)), "POST");
  EXPECT_EQ(allow_header(bit(Method::kPost) | bit(Method::kGet) | bit(Method::kHead)),
            "GET, HEAD, POST");
  EXPECT_EQ(allow_header(bit(Method::kOptions) | bit(Method::kPatch) | bit(Method::kDelete) |
                         bit(Method::kPut)),
            "PUT, DELETE, PATCH, OPTIONS");
}

// ---- Literals, parameters, wildcards ----------------------------------------------------------

TEST(Match, Literals) {
  const RouteTable t = build_ok({spec("GET", "/"), spec("GET", "/hello"),
                                 spec("GET", "/hello/world"), spec("GET", "/v1/a.json")});
  EXPECT_EQ(t.size(), 4u);
  EXPECT_TRUE(found(t, "GET", "/", 0).empty());
  EXPECT_TRUE(found(t, "GET", "/hello", 1).empty());
  found(t, "GET", "/hello/world", 2);
  found(t, "GET", "/v1/a.json", 3);
  not_found(t, "GET", "/hellox");
  not_found(t, "GET", "/Hello");  // paths are case-sensitive
  not_found(t, "GET", "/hello/world/x");
  not_found(t, "GET", "/v1");
  not_found(t, "GET", "//");
  not_found(t, "GET", "");
  not_found(t, "GET", "hello");
}

TEST(Match, TrailingSlashIsStrict) {
  const RouteTable t = build_ok({spec("GET", "/hello"), spec("GET", "/dir/*rest")});
  found(t, "GET", "/hello", 0);
  not_found(t, "GET", "/hello/");
  not_found(t, "GET", "/dir");  // the '/' before a wildcard is part of the pattern
  EXPECT_EQ(found(t, "GET", "/dir/", 1), (Params{{"rest", ""}}));
}

TEST(Match, ParamsCaptureOneNonEmptySegment) {
  const RouteTable t =
      build_ok({spec("GET", "/users/:id"), spec("GET", "/users/:id/orders/:order_2")});
  EXPECT_EQ(found(t, "GET", "/users/42", 0), (Params{{"id", "42"}}));
  EXPECT_EQ(found(t, "GET", "/users/a b/orders/x.y", 1),
            (Params{{"id", "a b"}, {"order_2", "x.y"}}));
  not_found(t, "GET", "/users/");
  not_found(t, "GET", "/users//orders/1");
  not_found(t, "GET", "/users/42/");
  not_found(t, "GET", "/users/42/orders");
}

TEST(Match, ParamValuesViewThePath) {
  const RouteTable t = build_ok({spec("GET", "/a/:x/*rest")});
  const std::string path = "/a/one/two/three";
  std::array<api::Param, kMaxParams> params;
  const Match m = t.match({}, "GET", path, params);
  ASSERT_EQ(m.status, Status::kFound);
  ASSERT_EQ(m.param_count, 2u);
  EXPECT_EQ(params[0].value.data(), path.data() + 3);
  EXPECT_EQ(params[1].value.data(), path.data() + 7);
  EXPECT_EQ(params[1].value, "two/three");
}

TEST(Match, WildcardTakesTheRestWithSlashes) {
  const RouteTable t = build_ok({spec("GET", "/files/*path"), spec("GET", "/*all")});
  EXPECT_EQ(found(t, "GET", "/files/a/b/c.txt", 0), (Params{{"path", "a/b/c.txt"}}));
  EXPECT_EQ(found(t, "GET", "/files/", 0), (Params{{"path", ""}}));
  EXPECT_EQ(found(t, "GET", "/files//x/", 0), (Params{{"path", "/x/"}}));
  EXPECT_EQ(found(t, "GET", "/files", 1), (Params{{"all", "files"}}));
  EXPECT_EQ(found(t, "GET", "/", 1), (Params{{"all", ""}}));
  EXPECT_EQ(found(t, "GET", "/x/y/", 1), (Params{{"all", "x/y/"}}));
}

TEST(Match, LiteralBeatsParamBeatsWildcard) {
  const RouteTable t = build_ok({spec("GET", "/a/*rest"), spec("GET", "/a/:x"), spec("GET", "/a/b"),
                                 spec("GET", "/"), spec("GET", "/*any")});
  found(t, "GET", "/a/b", 2);
  EXPECT_EQ(found(t, "GET", "/a/c", 1), (Params{{"x", "c"}}));
  EXPECT_EQ(found(t, "GET", "/a/b/c", 0), (Params{{"rest", "b/c"}}));
  EXPECT_EQ(found(t, "GET", "/a/", 0), (Params{{"rest", ""}}));  // a param needs a segment
  found(t, "GET", "/", 3);
  EXPECT_EQ(found(t, "GET", "/a", 4), (Params{{"any", "a"}}));
}

TEST(Match, BacktracksFromLiteralToParam) {
  const RouteTable t = build_ok({spec("GET", "/a/b/c"), spec("GET", "/a/:x/d")});
  found(t, "GET", "/a/b/c", 0);
  EXPECT_EQ(found(t, "GET", "/a/b/d", 1), (Params{{"x", "b"}}));
  not_found(t, "GET", "/a/b/e");
}

TEST(Match, BacktracksSeveralLevels) {
  const RouteTable t = build_ok({spec("GET", "/a/b/:y/z"), spec("GET", "/a/:x/c/w")});
  EXPECT_EQ(found(t, "GET", "/a/b/c/z", 0), (Params{{"y", "c"}}));
  EXPECT_EQ(found(t, "GET", "/a/b/c/w", 1), (Params{{"x", "b"}}));
}

TEST(Match, BacktracksToWildcardAndDropsStaleValues) {
  const RouteTable t = build_ok({spec("GET", "/k/:b/c"), spec("GET", "/:a/*rest")});
  // /k then :b=v fails at "w"; the root parameter then takes "k" and the wildcard the rest.
  EXPECT_EQ(found(t, "GET", "/k/v/w", 1), (Params{{"a", "k"}, {"rest", "v/w"}}));
  EXPECT_EQ(found(t, "GET", "/k/v/c", 0), (Params{{"b", "v"}}));
}

TEST(Match, BacktracksToAWildcardHigherUp) {
  const RouteTable t = build_ok({spec("GET", "/static/:file"), spec("GET", "/*path")});
  EXPECT_EQ(found(t, "GET", "/static/app.css", 0), (Params{{"file", "app.css"}}));
  EXPECT_EQ(found(t, "GET", "/static/css/app.css", 1), (Params{{"path", "static/css/app.css"}}));
}

TEST(Match, EmptySegmentsMatchOnlyWildcards) {
  const RouteTable t = build_ok({spec("GET", "/a/:x/b"), spec("GET", "/c/*r")});
  not_found(t, "GET", "/a//b");
  EXPECT_EQ(found(t, "GET", "/c//", 1), (Params{{"r", "/"}}));
}

TEST(Match, ManyLiteralChildrenUseTheSortedSearch) {
  std::vector<RouteSpec> specs;
  for (std::size_t i = 0; i < 40; ++i)
    specs.push_back(spec("GET", numbered("/k", i * 7, "/x")));
  specs.push_back(spec("GET", "/:other/x"));
  const RouteTable t = build_ok(specs);
  for (std::uint32_t i = 0; i < 40; ++i)
    found(t, "GET", numbered("/k", i * 7, "/x"), i);
  EXPECT_EQ(found(t, "GET", "/k1/x", 40), (Params{{"other", "k1"}}));
  EXPECT_EQ(found(t, "GET", "/a/x", 40), (Params{{"other", "a"}}));
  EXPECT_EQ(found(t, "GET", "/zzz/x", 40), (Params{{"other", "zzz"}}));
  not_found(t, "GET", "/k7/y");
}

TEST(Match, ParamNamesBelongToTheMatchedRoute) {
  const RouteTable t = build_ok({spec("GET", "/a/:x"), spec("POST", "/a/:y"),
                                 spec("PUT", "/a/:z/*tail"), spec("DELETE", "/a/:w/*rest")});
  EXPECT_EQ(found(t, "GET", "/a/1", 0), (Params{{"x", "1"}}));
  EXPECT_EQ(found(t, "POST", "/a/1", 1), (Params{{"y", "1"}}));
  EXPECT_EQ(found(t, "PUT", "/a/1/2", 2), (Params{{"z", "1"}, {"tail", "2"}}));
  EXPECT_EQ(found(t, "DELETE", "/a/1/2", 3), (Params{{"w", "1"}, {"rest", "2"}}));
}

TEST(Match, SixteenParams) {
  std::string pattern;
  std::string path;
  Params expected;
  for (std::size_t i = 0; i < kMaxParams; ++i) {
    pattern += numbered("/:p", i);
    path += numbered("/v", i);
    expected.emplace_back(numbered("p", i), numbered("v", i));
  }
  const RouteTable t = build_ok({spec("GET", pattern)});
  EXPECT_EQ(found(t, "GET", path, 0), expected);
}

// ---- 404 and 405 -------------------------------------------------------------------------------

TEST(Match, MethodNotAllowedListsTheMethodsOfThePath) {
  const RouteTable t = build_ok({spec("GET", "/items"), spec("POST", "/items"),
                                 spec("DELETE", "/items/:id"), spec("PATCH", "/items/:id")});
  found(t, "GET", "/items", 0);
  found(t, "POST", "/items", 1);
  not_allowed(t, "PUT", "/items", "GET, HEAD, POST");
  not_allowed(t, "OPTIONS", "/items", "GET, HEAD, POST");
  not_allowed(t, "TRACE", "/items", "GET, HEAD, POST");  // unknown method: still 405
  not_allowed(t, "get", "/items", "GET, HEAD, POST");
  not_allowed(t, "GET", "/items/7", "DELETE, PATCH");
  not_found(t, "GET", "/nope");
  not_found(t, "TRACE", "/nope");
  not_found(t, "DELETE", "/items/");
}

TEST(Match, MethodNotAllowedIsTheUnionOfEveryMatchingPattern) {
  const RouteTable t =
      build_ok({spec("GET", "/a/b"), spec("POST", "/a/:x"), spec("PUT", "/a/*rest")});
  not_allowed(t, "DELETE", "/a/b", "GET, HEAD, POST, PUT");
  not_allowed(t, "DELETE", "/a/c", "POST, PUT");
  not_allowed(t, "DELETE", "/a/c/d", "PUT");
  // A less specific pattern answers a method the more specific one lacks.
  EXPECT_EQ(found(t, "POST", "/a/b", 1), (Params{{"x", "b"}}));
  EXPECT_EQ(found(t, "PUT", "/a/b", 2), (Params{{"rest", "b"}}));
  found(t, "HEAD", "/a/b", 0);
  not_found(t, "GET", "/a");
}

TEST(Match, GetAnswersHead) {
  const RouteTable t = build_ok({spec("GET", "/page"), spec("POST", "/form")});
  found(t, "HEAD", "/page", 0);
  not_allowed(t, "HEAD", "/form", "POST");
  not_allowed(t, "PUT", "/page", "GET, HEAD");
}

TEST(Match, ExplicitHeadOverridesTheImplicitOne) {
  const RouteTable t = build_ok({spec("GET", "/x"), spec("HEAD", "/x"), spec("HEAD", "/only")});
  found(t, "GET", "/x", 0);
  found(t, "HEAD", "/x", 1);
  found(t, "HEAD", "/only", 2);
  not_allowed(t, "GET", "/only", "HEAD");
  not_allowed(t, "POST", "/x", "GET, HEAD");
}

TEST(Match, HeadFollowsPathPriorityFirst) {
  // The literal's GET answers HEAD before the parameter's explicit HEAD route is considered.
  const RouteTable t = build_ok({spec("GET", "/a/b"), spec("HEAD", "/a/:x")});
  found(t, "HEAD", "/a/b", 0);
  found(t, "HEAD", "/a/c", 1);
}

// ---- Hosts -------------------------------------------------------------------------------------

TEST(Hosts, HostRoutesComeFirstThenHostLessOnes) {
  const RouteTable t = build_ok({spec("GET", "/orders", "api.example.com"), spec("GET", "/orders"),
                                 spec("GET", "/health"), spec("POST", "/submit", "api.example.com"),
                                 spec("GET", "/submit")});
  found(t, "GET", "/orders", 0, "api.example.com");
  found(t, "GET", "/orders", 1, "www.example.com");
  found(t, "GET", "/orders", 1);                     // no Host at all
  found(t, "GET", "/health", 2, "api.example.com");  // not routed on the host: falls back
  // The host's table matches the path, so its 405 wins over the host-less GET.
  not_allowed(t, "GET", "/submit", "POST", "api.example.com");
  found(t, "GET", "/submit", 4, "other.example.com");
  not_found(t, "GET", "/missing", "api.example.com");
}

TEST(Hosts, PortCaseAndTrailingDotAreIgnored) {
  const RouteTable t = build_ok({spec("GET", "/", "api.example.com"), spec("GET", "/x")});
  found(t, "GET", "/", 0, "api.example.com:8080");
  found(t, "GET", "/", 0, "API.Example.COM");
  found(t, "GET", "/", 0, "Api.Example.Com:443");
  found(t, "GET", "/", 0, "api.example.com.");
  found(t, "GET", "/", 0, "api.example.com.:80");
  not_found(t, "GET", "/", "api.example.co");
  not_found(t, "GET", "/", "api.example.com.evil");
  not_found(t, "GET", "/", "xapi.example.com");
  found(t, "GET", "/x", 1, "API.EXAMPLE.COM:1");
}

TEST(Hosts, SpecHostsAreLowerCased) {
  const RouteTable t = build_ok({spec("GET", "/", "API.Example.com")});
  found(t, "GET", "/", 0, "api.example.com");
}

TEST(Hosts, BracketedIpv6) {
  const RouteTable t = build_ok({spec("GET", "/v6", "[::1]"), spec("GET", "/v4", "127.0.0.1"),
                                 spec("GET", "/v6", "[2001:db8::a]")});
  found(t, "GET", "/v6", 0, "[::1]");
  found(t, "GET", "/v6", 0, "[::1]:8080");
  found(t, "GET", "/v6", 2, "[2001:DB8::A]:443");
  not_found(t, "GET", "/v6", "[::2]:8080");
  not_found(t, "GET", "/v6", "[::1");
  found(t, "GET", "/v4", 1, "127.0.0.1:9000");
}

TEST(Hosts, ManyHosts) {
  std::vector<RouteSpec> specs;
  for (std::size_t i = 0; i < 30; ++i)
    specs.push_back(spec("GET", "/", numbered("h", i, ".test")));
  const RouteTable t = build_ok(specs);
  for (std::uint32_t i = 0; i < 30; ++i)
    found(t, "GET", "/", i, numbered("H", i, ".test"));
  not_found(t, "GET", "/", "h30.test");
  not_found(t, "GET", "/", "");
}

// ---- Build errors ------------------------------------------------------------------------------

TEST(BuildErrors, UnknownMethod) {
  EXPECT_EQ(error_of(spec("FETCH", "/a")),
            "unknown method \"FETCH\" (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)");
  EXPECT_EQ(error_of(spec("get", "/a")),
            "unknown method \"get\" (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)");
}

TEST(BuildErrors, PatternMustBeAbsolute) {
  EXPECT_EQ(error_of(spec("GET", "a/b")), "pattern \"a/b\" must start with '/'");
  EXPECT_EQ(error_of(spec("GET", "")), "pattern \"\" must start with '/'");
}

TEST(BuildErrors, EmptySegmentsAndTrailingSlash) {
  EXPECT_EQ(error_of(spec("GET", "/a//b")), "pattern \"/a//b\" has an empty segment");
  EXPECT_EQ(error_of(spec("GET", "//")), "pattern \"//\" has an empty segment");
  EXPECT_EQ(error_of(spec("GET", "/a//")), "pattern \"/a//\" has an empty segment");
  EXPECT_EQ(error_of(spec("GET", "/a/")),
            "pattern \"/a/\" ends with '/' (trailing slashes are significant: use \"/a\" or "
            "\"/a/*rest\")");
}

TEST(BuildErrors, ParameterNames) {
  EXPECT_EQ(error_of(spec("GET", "/a/:")), "pattern \"/a/:\" has a parameter with no name");
  EXPECT_EQ(error_of(spec("GET", "/a/*")), "pattern \"/a/*\" has a parameter with no name");
  EXPECT_EQ(error_of(spec("GET", "/a/:1x")),
            "pattern \"/a/:1x\" has an invalid parameter name \"1x\" (letters, digits and '_', "
            "not starting with a digit)");
  EXPECT_EQ(error_of(spec("GET", "/a/:x-y")),
            "pattern \"/a/:x-y\" has an invalid parameter name \"x-y\" (letters, digits and '_', "
            "not starting with a digit)");
  EXPECT_EQ(error_of(spec("GET", "/f/:id.json")),
            "pattern \"/f/:id.json\" has an invalid parameter name \"id.json\" (letters, digits "
            "and '_', not starting with a digit)");
}

TEST(BuildErrors, DuplicateParameterNames) {
  EXPECT_EQ(error_of(spec("GET", "/a/:id/b/:id")),
            "pattern \"/a/:id/b/:id\" repeats the parameter name \"id\"");
  EXPECT_EQ(error_of(spec("GET", "/a/:id/*id")),
            "pattern \"/a/:id/*id\" repeats the parameter name \"id\"");
}

TEST(BuildErrors, WildcardMustBeLast) {
  EXPECT_EQ(error_of(spec("GET", "/*rest/b")),
            "pattern \"/*rest/b\" has the wildcard \"*rest\" before its last segment");
  EXPECT_EQ(error_of(spec("GET", "/a/*x/*y")),
            "pattern \"/a/*x/*y\" has the wildcard \"*x\" before its last segment");
}

TEST(BuildErrors, TooManyParameters) {
  std::string pattern;
  for (std::size_t i = 0; i <= kMaxParams; ++i)
    pattern += numbered("/:p", i);
  EXPECT_EQ(error_of(spec("GET", pattern)),
            "pattern \"" + pattern + "\" has more than 16 parameters");
}

TEST(BuildErrors, LiteralsThatCanNeverMatch) {
  EXPECT_EQ(error_of(spec("GET", "/a/./b")), "pattern \"/a/./b\" has a '.' or '..' segment");
  EXPECT_EQ(error_of(spec("GET", "/..")), "pattern \"/..\" has a '.' or '..' segment");
  EXPECT_EQ(error_of(spec("GET", "/caf%C3%A9")),
            "pattern \"/caf%C3%A9\" contains '%' (patterns match the decoded path: write the "
            "characters)");
  EXPECT_EQ(error_of(spec("GET", "/search?q")),
            "pattern \"/search?q\" contains '?' (patterns match the path without the query)");
  EXPECT_EQ(error_of(spec("GET", "/a#b")), "pattern \"/a#b\" contains '#'");
  EXPECT_EQ(error_of(spec("GET", "/a\tb")), "pattern \"/a\tb\" contains a control character");
}

TEST(BuildErrors, LiteralsMayHoldOtherPunctuation) {
  const RouteTable t = build_ok({spec("GET", "/a:b/c*d/.well-known/x..y/caf\xC3\xA9/a b")});
  found(t, "GET", "/a:b/c*d/.well-known/x..y/caf\xC3\xA9/a b", 0);
}

TEST(BuildErrors, Hosts) {
  EXPECT_EQ(error_of(spec("GET", "/", "a.com:80")), "host \"a.com:80\" must not include a port");
  EXPECT_EQ(error_of(spec("GET", "/", "::1")),
            "host \"::1\" must not include a port (write IPv6 addresses in brackets)");
  EXPECT_EQ(error_of(spec("GET", "/", "[::1]:80")), "host \"[::1]:80\" must not include a port");
  EXPECT_EQ(error_of(spec("GET", "/", "[xyz]")),
            "host \"[xyz]\" is not a valid IPv6 address in brackets");
  EXPECT_EQ(error_of(spec("GET", "/", "[::1")),
            "host \"[::1\" is not a valid IPv6 address in brackets");
  EXPECT_EQ(error_of(spec("GET", "/", "*.example.com")),
            "host \"*.example.com\" is not a valid host name");
  EXPECT_EQ(error_of(spec("GET", "/", "a b")), "host \"a b\" is not a valid host name");
  EXPECT_EQ(error_of(spec("GET", "/", ".")), "host \".\" is not a valid host name");
}

TEST(BuildErrors, EveryErrorIsCollectedInSpecOrder) {
  const std::vector<std::string> errors = build_errors(
      {spec("GET", "/ok"), spec("BREW", "nope"), spec("GET", "/x/:"), spec("GET", "/", "a:1")});
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "1: unknown method \"BREW\" (expected GET, HEAD, POST, PUT, DELETE, PATCH or "
                "OPTIONS)",
                "1: pattern \"nope\" must start with '/'",
                "2: pattern \"/x/:\" has a parameter with no name",
                "3: host \"a:1\" must not include a port"}));
}

TEST(BuildErrors, InvalidSpecsAreLeftOutAndTheRestStillMatch) {
  std::vector<RouteError> errors;
  const std::vector<RouteSpec> specs = {spec("GET", "/a/"), spec("GET", "/b")};
  const RouteTable t = RouteTable::build(specs, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(match(t, "GET", "/b").route, 1u);
}

// ---- Conflicts ---------------------------------------------------------------------------------

TEST(Conflicts, SameShapeAndMethodConflictWhateverTheNames) {
  EXPECT_EQ(build_errors({spec("GET", "/a/:id"), spec("GET", "/a/:x")}),
            (std::vector<std::string>{"1: conflicts with route 0 \"GET /a/:id\""}));
  EXPECT_EQ(build_errors({spec("GET", "/f/*a"), spec("GET", "/f/*b")}),
            (std::vector<std::string>{"1: conflicts with route 0 \"GET /f/*a\""}));
  EXPECT_EQ(build_errors({spec("GET", "/"), spec("GET", "/")}),
            (std::vector<std::string>{"1: conflicts with route 0 \"GET /\""}));
  EXPECT_EQ(build_errors({spec("HEAD", "/h"), spec("HEAD", "/h")}),
            (std::vector<std::string>{"1: conflicts with route 0 \"HEAD /h\""}));
}

TEST(Conflicts, NamesTheEarlierRouteEvenAfterInvalidOnes) {
  EXPECT_EQ(build_errors({spec("POST", "/x/:a/*r"), spec("POST", "/bad/"), spec("GET", "/x/:b/*s"),
                          spec("POST", "/x/:c/*t")}),
            (std::vector<std::string>{
                "1: pattern \"/bad/\" ends with '/' (trailing slashes are significant: use "
                "\"/bad\" or \"/bad/*rest\")",
                "3: conflicts with route 0 \"POST /x/:a/*r\""}));
}

TEST(Conflicts, HostsMustMatchCaseInsensitively) {
  EXPECT_EQ(build_errors({spec("GET", "/a", "API.com"), spec("GET", "/a", "api.com")}),
            (std::vector<std::string>{"1: conflicts with route 0 \"GET /a\""}));
  EXPECT_TRUE(
      build_errors({spec("GET", "/a", "a.com"), spec("GET", "/a", "b.com"), spec("GET", "/a")})
          .empty());
}

TEST(Conflicts, WhatDoesNotConflict) {
  EXPECT_TRUE(build_errors({spec("GET", "/a"), spec("POST", "/a")}).empty());
  EXPECT_TRUE(build_errors({spec("GET", "/a"), spec("HEAD", "/a")}).empty());
  EXPECT_TRUE(build_errors({spec("GET", "/a/:x"), spec("GET", "/a/*x")}).empty());
  EXPECT_TRUE(build_errors({spec("GET", "/a/:x"), spec("GET", "/a/b")}).empty());
  EXPECT_TRUE(build_errors({spec("GET", "/a"), spec("GET", "/a/*rest")}).empty());
}

TEST(Conflicts, TheFirstRouteKeepsThePath) {
  std::vector<RouteError> errors;
  const std::vector<RouteSpec> specs = {spec("GET", "/a/:x"), spec("GET", "/a/:y")};
  const RouteTable t = RouteTable::build(specs, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].spec, 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(match(t, "GET", "/a/1").params, (Params{{"x", "1"}}));
}

// ---- Table object ------------------------------------------------------------------------------

TEST(Table, EmptyAndMovedFromTablesMatchNothing) {
  const RouteTable empty;
  EXPECT_EQ(empty.size(), 0u);
  not_found(empty, "GET", "/");

  RouteTable built = build_ok({spec("GET", "/a/:name")});
  RouteTable moved = std::move(built);
  EXPECT_EQ(moved.size(), 1u);
  EXPECT_EQ(found(moved, "GET", "/a/z", 0), (Params{{"name", "z"}}));
  not_found(built, "GET", "/a/z");  // NOLINT(bugprone-use-after-move): defined as empty
  EXPECT_EQ(built.size(), 0u);      // NOLINT(bugprone-use-after-move)

  RouteTable assigned;
  assigned = std::move(moved);
  EXPECT_EQ(found(assigned, "GET", "/a/y", 0), (Params{{"name", "y"}}));
}

TEST(Table, BuildFromNothing) {
  const RouteTable t = build_ok({});
  EXPECT_EQ(t.size(), 0u);
  not_found(t, "GET", "/");
}

TEST(Table, MatchAllocatesNothing) {
  const RouteTable t =
      build_ok({spec("GET", "/"), spec("GET", "/users/:id"), spec("POST", "/users"),
                spec("GET", "/static/*path"), spec("GET", "/api/v1/items/:id", "api.example.com")});
  std::array<api::Param, kMaxParams> params;
  Match m;
  EXPECT_NO_ALLOC(m = t.match("example.com", "GET", "/", params));
  EXPECT_EQ(m.status, Status::kFound);
  EXPECT_NO_ALLOC(m = t.match("", "GET", "/users/123", params));
  EXPECT_EQ(m.status, Status::kFound);
  EXPECT_NO_ALLOC(m = t.match("", "HEAD", "/static/a/b/c.css", params));
  EXPECT_EQ(m.status, Status::kFound);
  EXPECT_NO_ALLOC(m = t.match("API.Example.com:8443", "GET", "/api/v1/items/7", params));
  EXPECT_EQ(m.status, Status::kFound);
  EXPECT_NO_ALLOC(m = t.match("[::1]:80", "GET", "/missing/path", params));
  EXPECT_EQ(m.status, Status::kNotFound);
  EXPECT_NO_ALLOC(m = t.match("", "DELETE", "/users", params));
  EXPECT_EQ(m.status, Status::kMethodNotAllowed);
}

TEST(Table, MatchesFromManyThreadsAtOnce) {
  const RouteTable t = build_ok(
      {spec("GET", "/users/:id"), spec("GET", "/files/*path"), spec("GET", "/a", "h.test")});
  std::array<int, 4> failures{};
  std::vector<std::thread> threads;
  for (std::size_t n = 0; n < failures.size(); ++n) {
    threads.emplace_back([&t, &failures, n] {
      std::array<api::Param, kMaxParams> params;
      for (int i = 0; i < 20000; ++i) {
        const Match a = t.match("", "GET", "/users/42", params);
        if (a.status != Status::kFound || a.route != 0 || params[0].value != "42") ++failures[n];
        const Match b = t.match("H.TEST", "GET", "/a", params);
        if (b.status != Status::kFound || b.route != 2) ++failures[n];
      }
    });
  }
  for (std::thread& th : threads)
    th.join();
  EXPECT_EQ(failures, (std::array<int, 4>{}));
}

}  // namespace
}  // namespace edgefn::router
