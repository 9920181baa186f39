// GET /metrics on the admin listener after known traffic: the Prometheus text format parsed line
// by line (every sample belongs to a family announced by # HELP and # TYPE, label values
// unescaped), and exact counts, rejections and histogram sums checked against what was sent.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
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
  const auto requests = [&](const char* function, const char* route, const char* status) {
    return value_of(samples, "edgefn_requests_total",
                    {{"function", function}, {"route", route}, {"status", status}});
  };
  EXPECT_EQ(requests("hello", "GET /hello/:name", "200"), 7);
  EXPECT_EQ(requests("teapot", "GET /teapot", "418"), 3);
  EXPECT_EQ(requests("small", "POST /small", "413"), 1);  // routed, refused before it ran
  EXPECT_EQ(value_of(samples, "edgefn_inflight_requests"), 0);
  EXPECT_EQ(value_of(samples, "edgefn_reloads_total", {{"result", "applied"}}), 0);
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
  EXPECT_EQ(value_of(scrape(), "edgefn_requests_total",
                     {{"function", "hello"}, {"route", "GET /hello/:name"}, {"status", "200"}}),
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

// Debian's Prometheus client library reads the scrape as Prometheus itself would.
constexpr std::string_view kPrometheusCheck = R"py(
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
hello = sum(s.value for s in families["edgefn_requests"].samples
            if s.labels.get("function") == "hello" and s.name == "edgefn_requests_total")
duration = families["edgefn_request_duration_seconds"]
count = [s.value for s in duration.samples
         if s.name.endswith("_count") and s.labels["function"] == "hello"][0]
print(f"{len(families)} {int(hello)} {int(count)} {duration.type}")
)py";

TEST_F(MetricsTest, ThePrometheusClientLibraryParsesTheScrape) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(status_of("/hello"), 200);
  HttpResponse response;
  ASSERT_TRUE(exchange(admin_port(), get_request("/metrics"), response));
  const std::string dir = ::testing::TempDir();
  const std::string scrape = dir + "/edgefn-scrape-" + std::to_string(::getpid()) + ".txt";
  const std::string script = dir + "/edgefn-check-" + std::to_string(::getpid()) + ".py";
  std::ofstream(scrape) << response.body;
  std::ofstream(script) << kPrometheusCheck;
  FILE* pipe = ::popen(("/usr/bin/python3 " + script + " " + scrape + " 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    output += buffer;
  EXPECT_EQ(::pclose(pipe), 0) << output;
  // Every family parsed; hello counted 5 times in both series; the histogram typed as one.
  std::istringstream fields(output);
  int families = 0;
  int hello = 0;
  int count = 0;
  std::string type;
  fields >> families >> hello >> count >> type;
  EXPECT_GE(families, 10) << output;
  EXPECT_EQ(hello, 5) << output;
  EXPECT_EQ(count, 5) << output;
  EXPECT_EQ(type, "histogram") << output;
  std::remove(scrape.c_str());
  std::remove(script.c_str());
}

class CacheMetricsTest : public MetricsTest {
 protected:
  std::string manifest() const override { return manifest_path("cache.toml"); }
};

TEST_F(CacheMetricsTest, HitsAndMissesAreCountedByLayer) {
  ASSERT_EQ(status_of("/page/m"), 200);  // miss: the function answers and it is stored
  ASSERT_EQ(status_of("/page/m"), 200);  // a hit in this worker's L1, or in L2 from the other
  ASSERT_EQ(status_of("/page/m"), 200);
  const std::vector<Sample> samples = scrape();
  const auto cache = [&](const char* layer, const char* result) {
    return value_of(samples, "edgefn_cache_requests_total", {{"layer", layer}, {"result", result}});
  };
  EXPECT_EQ(cache("function", "miss"), 1);
  EXPECT_EQ(cache("l1", "hit") + cache("l2", "hit"), 2);
  EXPECT_EQ(cache("redis", "hit"), 0);
}

TEST_F(CacheMetricsTest, StoredBytesAreReportedPerLayer) {
  const auto bytes = [](const std::vector<Sample>& samples, const char* layer) {
    return value_of(samples, "edgefn_cache_bytes", {{"layer", layer}});
  };
  const std::vector<Sample> before = scrape();
  EXPECT_EQ(bytes(before, "l1"), 0);
  EXPECT_EQ(bytes(before, "l2"), 0);
  EXPECT_EQ(value_of(before, "edgefn_cache_budget_bytes", {{"layer", "l2"}}), 4 * 1024 * 1024);
  ASSERT_EQ(status_of("/page/bytes"), 200);  // stored in L2 and in the answering worker's L1
  // L2 counts at once; L1's figure is copied by its worker's 100 ms tick.
  std::vector<Sample> after;
  for (int i = 0; i < 100; ++i) {
    after = scrape();
    if (bytes(after, "l1") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(bytes(after, "l2"), 0);
  EXPECT_GT(bytes(after, "l1"), 0);
  EXPECT_EQ(value_of(after, "edgefn_cache_entries", {{"layer", "l2"}}), 1);
  EXPECT_EQ(value_of(after, "edgefn_cache_entries", {{"layer", "l1"}}), 1);
}

class ConnectionMetricsTest : public MetricsTest {
 protected:
  std::string manifest() const override { return manifest_path("admission.toml"); }
  // The edgefn_connections samples by state, once they equal `expected` (within 5 s).
  ::testing::AssertionResult states_become(const std::map<std::string, double>& expected) {
    std::map<std::string, double> states;
    for (int i = 0; i < 250; ++i) {
      states.clear();
      for (const Sample& sample : scrape()) {
        if (sample.name == "edgefn_connections") states[sample.labels.at("state")] = sample.value;
      }
      if (states == expected) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto failure = ::testing::AssertionFailure() << "states:";
    for (const auto& [state, value] : states)
      failure << ' ' << state << '=' << value;
    return failure;
  }
};

TEST_F(ConnectionMetricsTest, OpenConnectionsAreCountedByState) {
  EXPECT_TRUE(
      states_become({{"idle", 0}, {"reading", 0}, {"active", 0}, {"writing", 0}, {"closing", 0}}));
  std::vector<Client> idle(3);
  for (Client& client : idle)
    ASSERT_TRUE(client.connect(port()));
  Client reading;
  ASSERT_TRUE(reading.connect(port()));
  ASSERT_TRUE(reading.send("GET /fast HTTP/1.1\r\nHo"));
  Client active;
  ASSERT_TRUE(active.connect(port()));
  ASSERT_TRUE(active.send(get_request("/hold")));  // its function answers after 3 s
  EXPECT_TRUE(
      states_become({{"idle", 3}, {"reading", 1}, {"active", 1}, {"writing", 0}, {"closing", 0}}));

  // A finished request leaves its connection idle again; closed ones leave the count.
  ASSERT_TRUE(reading.send("st: test.local\r\n\r\n"));
  HttpResponse response;
  ASSERT_TRUE(reading.read_response(response));
  EXPECT_EQ(response.status, 200);
  for (Client& client : idle)
    client.close();
  active.close();  // its function is cancelled
  EXPECT_TRUE(
      states_become({{"idle", 1}, {"reading", 0}, {"active", 0}, {"writing", 0}, {"closing", 0}}));
}

}  // namespace
}  // namespace edgefn::integration
