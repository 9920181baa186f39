// GET /metrics on the admin listener after known traffic: the Prometheus text format parsed line
// by line (every sample belongs to a family announced by # HELP and # TYPE, label values
// unescaped), and exact counts, rejections and histogram sums checked against what was sent.
#include <charconv>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture.h"

namespace edgefn::integration {
namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the text exposition format 0.0.4; a line it cannot read is a test failure.
std::vector<Sample> parse_exposition(const std::string& text) {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    if (line.starts_with("# TYPE ")) {
      const std::size_t space = line.find(' ', 7);
      types[line.substr(7, space - 7)] = line.substr(space + 1);
      continue;
    }
    if (line.starts_with("#")) continue;
    Sample sample;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      sample.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        EXPECT_NE(eq, std::string::npos) << line;
        if (eq == std::string::npos) return samples;
        const std::string key = line.substr(i, eq - i);
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::string value;
        for (i = eq + 2; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
        }
        sample.labels[key] = value;
        ++i;  // the closing quote
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    const std::string number = line.substr(i + 1);
    const auto [ptr, ec] =
        std::from_chars(number.data(), number.data() + number.size(), sample.value);
    EXPECT_TRUE(ec == std::errc() && ptr == number.data() + number.size()) << line;
    // Every sample's family was announced, with a histogram's suffixes on its base name.
    std::string family = sample.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && !types.contains(family)) {
        family.resize(family.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_TRUE(types.contains(family)) << "no # TYPE for " << line;
    samples.push_back(std::move(sample));
  }
  return samples;
}

// The value of the one sample `name` with exactly `labels`; -1 when there is none.
double value_of(const std::vector<Sample>& samples, const std::string& name,
                const std::map<std::string, std::string>& labels = {}) {
  double found = -1;
  int matches = 0;
  for (const Sample& sample : samples) {
    if (sample.name == name && sample.labels == labels) {
      found = sample.value;
      ++matches;
    }
  }
  EXPECT_LE(matches, 1) << name;
  return found;
}

class MetricsTest : public ServerTest {
 protected:
  std::vector<Sample> scrape() {
    HttpResponse response;
    EXPECT_TRUE(exchange(admin_port(), get_request("/metrics"), response));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("content-type").value_or(""),
              "text/plain; version=0.0.4; charset=utf-8");
    return parse_exposition(response.body);
  }
  int status_of(std::string_view target) {
    HttpResponse response;
    EXPECT_TRUE(exchange(port(), get_request(target), response));
    return response.status;
  }
};

TEST_F(MetricsTest, CountsWhatWasServedExactly) {
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(status_of("/hello/metrics"), 200);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(status_of("/teapot"), 418);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(status_of("/no/such/route"), 404);
  HttpResponse too_large;
  ASSERT_TRUE(exchange(port(),
                       "POST /small HTTP/1.1\r\nHost: test.local\r\nContent-Length: 17\r\n\r\n"
                       "12345678901234567",
                       too_large));
  ASSERT_EQ(too_large.status, 413);

  const std::vector<Sample> samples = scrape();
  const auto requests = [&](const char* function, const char* status) {
    return value_of(samples, "edgefn_requests_total", {{"function", function}, {"status", status}});
  };
  EXPECT_EQ(requests("hello", "200"), 7);
  EXPECT_EQ(requests("teapot", "418"), 3);
  EXPECT_EQ(requests("small", "413"), 1);  // routed, turned away before the function ran
  EXPECT_EQ(value_of(samples, "edgefn_rejected_total", {{"reason", "404"}}), 2);
  EXPECT_EQ(value_of(samples, "edgefn_rejected_total", {{"reason", "413"}}), 1);
  EXPECT_EQ(value_of(samples, "edgefn_rejected_total", {{"reason", "418"}}), -1);

  // hello's histogram: cumulative buckets ending at the count, a plausible sum.
  double previous = 0;
  for (const Sample& sample : samples) {
    if (sample.name != "edgefn_request_duration_seconds_bucket" ||
        sample.labels.at("function") != "hello") {
      continue;
    }
    EXPECT_GE(sample.value, previous) << sample.labels.at("le");
    previous = sample.value;
  }
  EXPECT_EQ(value_of(samples, "edgefn_request_duration_seconds_bucket",
                     {{"function", "hello"}, {"le", "+Inf"}}),
            7);
  EXPECT_EQ(value_of(samples, "edgefn_request_duration_seconds_count", {{"function", "hello"}}), 7);
  const double sum =
      value_of(samples, "edgefn_request_duration_seconds_sum", {{"function", "hello"}});
  EXPECT_GT(sum, 0);
  EXPECT_LT(sum, 7 * 1.0);  // each well under a second

  EXPECT_EQ(value_of(samples, "edgefn_build_info", {{"version", "0.1.0"}}), 1);
  const double startup = value_of(samples, "edgefn_startup_seconds");
  EXPECT_GT(startup, 0);
  EXPECT_LT(startup, 5);

  // Counting goes on: a second scrape sees the next request.
  ASSERT_EQ(status_of("/hello/again"), 200);
  EXPECT_EQ(value_of(scrape(), "edgefn_requests_total", {{"function", "hello"}, {"status", "200"}}),
            8);
}

class LoopLagTest : public MetricsTest {
 protected:
  std::string manifest() const override { return manifest_path("lag.toml"); }
  std::vector<std::string> flags() const override { return {}; }

  // Lag samples of worker 0 above `seconds` (a bucket bound).
  static double above(const std::vector<Sample>& samples, const std::string& seconds) {
    return value_of(samples, "edgefn_event_loop_lag_seconds_count", {{"worker", "0"}}) -
           value_of(samples, "edgefn_event_loop_lag_seconds_bucket",
                    {{"worker", "0"}, {"le", seconds}});
  }
};

TEST_F(LoopLagTest, AFunctionBlockingItsWorkerShowsInTheLagHistogram) {
  // A few ticks of an idle loop first.
  std::this_thread::sleep_for(Millis(350));
  const std::vector<Sample> before = scrape();
  EXPECT_GE(value_of(before, "edgefn_event_loop_lag_seconds_count", {{"worker", "0"}}), 2);
  HttpResponse blocked;
  ASSERT_TRUE(exchange(port(),
                       "POST /block HTTP/1.1\r\nHost: test.local\r\nContent-Length: 4\r\n\r\n# hi",
                       blocked));
  ASSERT_EQ(blocked.status, 200);
  // The tick due while the function computed was served about 200 ms late or more.
  const std::vector<Sample> after = scrape();
  EXPECT_GE(above(after, "0.1") - above(before, "0.1"), 1) << "no late tick was counted";
}

}  // namespace
}  // namespace edgefn::integration
