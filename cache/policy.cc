// HTTP caching semantics: single-pass, allocation-free parsers over header values, and the
// store decision built on them.
#include "cache/policy.h"

#include <algorithm>
#include <charconv>

#include "functions/api/ascii.h"

namespace edgefn::cache {
namespace {

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && is_ows(v.front()))
    v.remove_prefix(1);
  while (!v.empty() && is_ows(v.back()))
    v.remove_suffix(1);
  return v;
}

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// ---- Cache-Control ----------------------------------------------------------------------------

// RFC 9111 1.2.2: a delta-seconds too large to represent is taken as 2^31 rather than wrapped
// or refused. 2^31 s in steady_clock nanoseconds is about 2.1e18, inside int64.
constexpr std::int64_t kDeltaSecondsCap = std::int64_t{1} << 31;

// Where one list member ends: at the first comma outside a quoted-string. Quoted-strings may
// hold commas (no-cache="Set-Cookie, X-Foo"), and quoted-pairs may escape a quote. An unclosed
// quote runs to the end of the value.
std::size_t member_end(std::string_view value, std::size_t pos) {
  bool quoted = false;
  for (; pos < value.size(); ++pos) {
    const char c = value[pos];
    if (quoted) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      break;
    }
  }
  return std::min(pos, value.size());
}

// A delta-seconds argument, bare or quoted (RFC 9111 5.2 asks recipients to accept both), as a
// whole number of seconds; nullopt when malformed (absent, empty, a sign, any non-digit, an
// unclosed quote, anything after the closing quote).
std::optional<std::int64_t> parse_delta_seconds(std::string_view arg) {
  bool quoted = false;
  if (!arg.empty() && arg.front() == '"') {
    if (arg.size() < 2 || arg.back() != '"') return std::nullopt;
    arg = arg.substr(1, arg.size() - 2);
    quoted = true;
  }
  if (arg.empty()) return std::nullopt;
  std::int64_t seconds = 0;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    char c = arg[i];
    // Inside a quoted-string, "\5" is the digit 5; a bare or trailing quote is not a digit.
    if (quoted && c == '\\' && i + 1 < arg.size()) c = arg[++i];
    if (!is_digit(c)) return std::nullopt;
    // Saturates rather than overflows; more digits cannot bring it back down.
    seconds = std::min(seconds * 10 + (c - '0'), kDeltaSecondsCap);
  }
  return seconds;
}

// Records one occurrence of a delta-seconds directive. RFC 9111 4.2.1: of several occurrences,
// use the first or treat the response as stale; occurrences that agree are not in doubt and
// keep their value, any disagreement (a malformed one included) makes it 0.
void set_delta(std::optional<Duration>& field, std::string_view arg, bool has_arg) {
  const std::optional<std::int64_t> seconds = has_arg ? parse_delta_seconds(arg) : std::nullopt;
  const Duration value = std::chrono::seconds(seconds.value_or(0));
  if (!field) {
    field = value;
  } else if (*field != value) {
    field = Duration::zero();
  }
}

// ---- plan_store -------------------------------------------------------------------------------

// RFC 9110 15.1's heuristically cacheable statuses, less 206: without Range support a partial
// response stored under the full resource's key would be served to plain GETs.
bool cacheable_by_default(int status) {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

// Never stored, whatever the directives say: interim (1xx) responses are not final; a 206 is
// partial (RFC 9111 3.3: a cache without Range support must not store it); a 304 answers one
// client's conditional request and would be replayed to clients that hold no copy.
bool never_stored(int status) {
  return status < 200 || status > 599 || status == 206 || status == 304;
}

// Every member of the response's Vary is one of the route's key headers.
bool vary_covered(std::string_view vary, std::span<const std::string> route_vary) {
  std::size_t pos = 0;
  while (pos <= vary.size()) {
    std::size_t comma = vary.find(',', pos);
    if (comma == std::string_view::npos) comma = vary.size();
    const std::string_view name = trim_ows(vary.substr(pos, comma - pos));
    pos = comma + 1;
    if (name.empty()) continue;
    if (name == "*") return false;
    const bool listed = std::any_of(route_vary.begin(), route_vary.end(),
                                    [name](const std::string& h) { return iequals(h, name); });
    if (!listed) return false;
  }
  return true;
}

Duration non_negative(Duration d) {
  return d < Duration::zero() ? Duration::zero() : d;
}

// The route's window, capped by the response's directive of the same name when it has one.
Duration stale_window(Duration route, const std::optional<Duration>& response) {
  const Duration window = non_negative(route);
  return response ? std::min(window, non_negative(*response)) : window;
}

// ---- HTTP-date --------------------------------------------------------------------------------

constexpr std::string_view kShortDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::string_view kLongDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A cursor over the date text; every read checks bounds and advances only on success.
class DateReader {
 public:
  explicit DateReader(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }

  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }

  // Exactly `n` digits.
  bool digits(std::size_t n, int& out) {
    if (text_.size() - pos_ < n) return false;
    int value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text_[pos_ + i];
      if (!is_digit(c)) return false;
      value = value * 10 + (c - '0');
    }
    pos_ += n;
    out = value;
    return true;
  }

  // HTTP-date is case-sensitive (RFC 9110 5.6.7): names match exactly. A day name is checked
  // for spelling only, not against the date: it carries no meaning a recipient may rely on, and
  // rejecting a mismatch would only turn a sender's slip into a missed validation.
  template <std::size_t N>
  bool one_of(const std::string_view (&names)[N], int& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // time-of-day = hour ":" minute ":" second
  bool time_of_day(int& hour, int& minute, int& second) {
    return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
           digits(2, second);
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Seconds since the epoch of a proleptic Gregorian date and time, or nullopt when a field is
// out of range. Second 60 is a leap second (RFC 9110's time-of-day allows it); POSIX time has
// no leap seconds, so it reads as the first second of the next minute.
std::optional<std::int64_t> to_unix_seconds(int year, int month, int day, int hour, int minute,
                                            int second) {
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::int64_t> parse_imf_fixdate(std::string_view text) {
  DateReader r(text);
  int weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (r.one_of(kShortDays, weekday) && r.literal(", ") && r.digits(2, day) && r.literal(" ") &&
      r.one_of(kMonths, month) && r.literal(" ") && r.digits(4, year) && r.literal(" ") &&
      r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.done()) {
    return to_unix_seconds(year, month + 1, day, hour, minute, second);
  }
  return std::nullopt;
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". RFC 9110 5.6.7 places a two-digit year within 50
// years of the present, which needs a clock this function does not have; 70-99 read as 19xx
// and 00-69 as 20xx, as nginx does. The form is obsolete and the difference starts in 2020+50.
std::optional<std::int64_t> parse_rfc850_date(std::string_view text) {
  DateReader r(text);
  int weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (r.one_of(kLongDays, weekday) && r.literal(", ") && r.digits(2, day) && r.literal("-") &&
      r.one_of(kMonths, month) && r.literal("-") && r.digits(2, year) && r.literal(" ") &&
      r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.done()) {
    year += year < 70 ? 2000 : 1900;
    return to_unix_seconds(year, month + 1, day, hour, minute, second);
  }
  return std::nullopt;
}

// asctime: "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space).
std::optional<std::int64_t> parse_asctime_date(std::string_view text) {
  DateReader r(text);
  int weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (r.one_of(kShortDays, weekday) && r.literal(" ") && r.one_of(kMonths, month) &&
      r.literal(" ") && (r.digits(2, day) || (r.literal(" ") && r.digits(1, day))) &&
      r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" ") &&
      r.digits(4, year) && r.done()) {
    return to_unix_seconds(year, month + 1, day, hour, minute, second);
  }
  return std::nullopt;
}

// ---- ETags ------------------------------------------------------------------------------------

// The opaque-tag of an entity-tag (quotes included) with any weakness indicator dropped: weak
// comparison (RFC 9110 8.8.3.2) compares exactly these bytes.
std::string_view opaque_tag(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
  const std::string_view stored = opaque_tag(trim_ows(etag));
  if (stored.empty()) return false;
  // Only well-formed tags are taken from the request, so a stored ETag that is not a quoted
  // entity-tag can match nothing but "*".
  std::size_t pos = 0;
  while (pos < header.size()) {
    const char c = header[pos];
    if (is_ows(c) || c == ',') {
      ++pos;
      continue;
    }
    if (c == '*') {
      // "*" is the whole field in valid requests; it may meet a list when fields are joined.
      return true;
    }
    if (header.substr(pos, 3) == "W/\"") pos += 2;
    if (header[pos] == '"') {
      // etagc excludes DQUOTE, so the next quote closes the tag (commas inside are data).
      const std::size_t close = header.find('"', pos + 1);
      if (close == std::string_view::npos) return false;
      if (header.substr(pos, close + 1 - pos) == stored) return true;
      pos = close + 1;
    } else {
      // Not an entity-tag (an unquoted value some clients send): skip to the next member.
      pos = header.find(',', pos);
      if (pos == std::string_view::npos) return false;
    }
  }
  return false;
}

// ---- Cache-Status -----------------------------------------------------------------------------

using api::ascii::is_tchar;

// An sf-token (RFC 8941 3.3.4): ALPHA or "*", then tchar, ":" or "/".
bool is_sf_token(std::string_view s) {
  if (s.empty()) return false;
  const char first = s.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '*')) {
    return false;
  }
  return std::all_of(s.begin() + 1, s.end(),
                     [](char c) { return is_tchar(c) || c == ':' || c == '/'; });
}

// A parameter value as an sf-token when it is one, else as an sf-string: quotes and backslashes
// escaped, bytes outside printable ASCII (which sf-string cannot carry) dropped.
void append_sf_item(std::string& out, std::string_view value) {
  if (is_sf_token(value)) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c >= 0x20 && c <= 0x7e) {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void append_integer(std::string& out, std::int64_t value) {
  char digits[24];
  const std::to_chars_result r = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

}  // namespace

CacheControl parse_cache_control(std::string_view value) {
  CacheControl cc;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t end = member_end(value, pos);
    const std::string_view member = value.substr(pos, end - pos);
    pos = end + 1;

    // Whitespace around "=" is outside the grammar but common; it is accepted, as Varnish does.
    const std::size_t eq = member.find('=');
    const bool has_arg = eq != std::string_view::npos;
    const std::string_view name = trim_ows(member.substr(0, eq));
    const std::string_view arg = has_arg ? trim_ows(member.substr(eq + 1)) : std::string_view();
    if (name.empty()) continue;

    if (iequals(name, "max-age")) {
      set_delta(cc.max_age, arg, has_arg);
    } else if (iequals(name, "s-maxage")) {
      set_delta(cc.s_maxage, arg, has_arg);
    } else if (iequals(name, "stale-while-revalidate")) {
      set_delta(cc.stale_while_revalidate, arg, has_arg);
    } else if (iequals(name, "stale-if-error")) {
      set_delta(cc.stale_if_error, arg, has_arg);
    } else if (iequals(name, "no-store")) {
      cc.no_store = true;
    } else if (iequals(name, "no-cache")) {
      cc.no_cache = true;
    } else if (iequals(name, "private")) {
      cc.private_ = true;
    } else if (iequals(name, "public")) {
      cc.public_ = true;
    } else if (iequals(name, "must-revalidate") || iequals(name, "proxy-revalidate")) {
      cc.must_revalidate = true;
    }
  }
  return cc;
}

StorePlan plan_store(const RoutePolicy& route, const ResponseFacts& response, TimePoint now) {
  const CacheControl& cc = response.cache_control;
  StorePlan plan;
  if (cc.no_store || cc.no_cache || cc.private_) {
    plan.verdict = StoreVerdict::kNoStore;
    return plan;
  }
  const bool explicit_freshness = cc.max_age.has_value() || cc.s_maxage.has_value();
  if (never_stored(response.status) ||
      (!cacheable_by_default(response.status) && !explicit_freshness)) {
    plan.verdict = StoreVerdict::kStatus;
    return plan;
  }
  if (response.has_set_cookie) {
    plan.verdict = StoreVerdict::kSetCookie;
    return plan;
  }
  if (!vary_covered(response.vary, route.vary)) {
    plan.verdict = StoreVerdict::kVary;
    return plan;
  }
  // RFC 9111 3.5 names three directives that let a shared cache store an answer to an
  // authorized request: public, s-maxage and must-revalidate (proxy-revalidate is the same
  // thing for a shared cache, and the parser folds it in).
  if (response.request_authorized && !cc.public_ && !cc.s_maxage && !cc.must_revalidate) {
    plan.verdict = StoreVerdict::kAuthorization;
    return plan;
  }

  const Duration route_ttl = non_negative(route.ttl);
  const std::optional<Duration>& given = cc.s_maxage ? cc.s_maxage : cc.max_age;
  const Duration fresh = given ? std::min(non_negative(*given), route_ttl) : route_ttl;
  Duration stale = Duration::zero();
  if (!cc.must_revalidate) {
    stale = std::max(stale_window(route.stale_while_revalidate, cc.stale_while_revalidate),
                     stale_window(route.stale_if_error, cc.stale_if_error));
  }
  if (fresh == Duration::zero() && stale == Duration::zero()) {
    plan.verdict = StoreVerdict::kZeroLifetime;
    return plan;
  }
  plan.verdict = StoreVerdict::kStore;
  plan.lifetime = Lifetime{now, now + fresh, now + fresh + stale};
  return plan;
}

std::string_view describe(StoreVerdict verdict) {
  switch (verdict) {
    case StoreVerdict::kStore:
      return "stored";
    case StoreVerdict::kNoStore:
      return "no-store";
    case StoreVerdict::kStatus:
      return "status";
    case StoreVerdict::kSetCookie:
      return "set-cookie";
    case StoreVerdict::kVary:
      return "vary";
    case StoreVerdict::kAuthorization:
      return "authorization";
    case StoreVerdict::kZeroLifetime:
      return "zero-lifetime";
  }
  return "unknown";
}

bool not_modified(std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since, std::string_view etag,
                  std::string_view last_modified) {
  // RFC 9110 13.1.3: If-Modified-Since is ignored whenever If-None-Match is present.
  if (if_none_match) return if_none_match_matches(*if_none_match, etag);
  if (!if_modified_since || last_modified.empty()) return false;
  const std::optional<std::int64_t> since = parse_http_date(*if_modified_since);
  const std::optional<std::int64_t> modified = parse_http_date(last_modified);
  return since && modified && *modified <= *since;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  text = trim_ows(text);
  // The three forms differ by the fourth byte: ',' (IMF-fixdate), ' ' (asctime), or a letter of
  // a long day name (RFC 850).
  if (text.size() < 4) return std::nullopt;
  switch (text[3]) {
    case ',':
      return parse_imf_fixdate(text);
    case ' ':
      return parse_asctime_date(text);
    default:
      return parse_rfc850_date(text);
  }
}

void append_cache_status(std::string& out, const CacheStatus& status) {
  // Parameters in RFC 9211's order of definition.
  out.append("Cache-Status: edgefn");
  if (status.hit) out.append("; hit");
  if (!status.fwd.empty()) {
    out.append("; fwd=");
    append_sf_item(out, status.fwd);
  }
  if (status.fwd_status != 0) {
    out.append("; fwd-status=");
    append_integer(out, status.fwd_status);
  }
  if (status.ttl_seconds) {
    out.append("; ttl=");
    append_integer(out, *status.ttl_seconds);
  }
  if (status.stored) out.append("; stored");
  if (!status.detail.empty()) {
    out.append("; detail=");
    append_sf_item(out, status.detail);
  }
  out.append("\r\n");
}

}  // namespace edgefn::cache
