// Tests the per-worker counters: histogram buckets at their bounds, statuses outside 100..599
// ignored, and function counters kept by name across an App's re-indexing.
#include "runtime/metrics.h"

#include <gtest/gtest.h>

#include <chrono>

namespace edgefn::runtime {
namespace {

using namespace std::chrono_literals;

TEST(DurationHistogram, EachSampleLandsInTheFirstBucketThatHoldsIt) {
  DurationHistogram histogram;
  histogram.observe(50us);  // exactly the first bound
  histogram.observe(51us);  // the second bucket
  histogram.observe(1ms);   // exactly the 1 ms bound
  histogram.observe(11s);   // beyond every bound: only the count (the +Inf bucket)
  histogram.observe(-1ns);  // a clock that went backwards counts as 0
  EXPECT_EQ(histogram.bucket(0), 2u);
  EXPECT_EQ(histogram.bucket(1), 1u);
  EXPECT_EQ(histogram.bucket(4), 1u);
  std::uint64_t finite = 0;
  for (std::size_t i = 0; i < DurationHistogram::kBounds.size(); ++i)
    finite += histogram.bucket(i);
  EXPECT_EQ(finite, 4u);
  EXPECT_EQ(histogram.count(), 5u);
  EXPECT_EQ(histogram.sum_nanoseconds(), (50us + 51us + 1ms + 11s).count() * 1000u);
}

TEST(StatusCounters, CountsTheHttpRangeAndIgnoresTheRest) {
  StatusCounters counters;
  counters.add(100);
  counters.add(200);
  counters.add(200);
  counters.add(599);
  counters.add(99);
  counters.add(600);
  counters.add(-1);
  EXPECT_EQ(counters.value(100), 1u);
  EXPECT_EQ(counters.value(200), 2u);
  EXPECT_EQ(counters.value(599), 1u);
}

TEST(WorkerMetrics, FunctionsAndRoutesAreCountedByName) {
  WorkerMetrics metrics;
  metrics.route("hello", "GET /hello").add(200);
  metrics.route("hello", "GET /hello").add(200);
  metrics.route("hello", "GET /hello/:name").add(404);
  metrics.function("other").duration.observe(std::chrono::milliseconds(1));
  std::map<std::string, std::uint64_t> seen;
  metrics.for_each_function([&](const std::string& name, const FunctionMetrics& counted) {
    for (const auto& [route, statuses] : counted.routes)
      seen[name + " " + route] = statuses->value(200) + statuses->value(404);
    seen[name] = counted.duration.count();
  });
  EXPECT_EQ(
      seen,
      (std::map<std::string, std::uint64_t>{
          {"hello", 0}, {"hello GET /hello", 2}, {"hello GET /hello/:name", 1}, {"other", 1}}));
  EXPECT_EQ(&metrics.route("hello", "GET /hello"), &metrics.route("hello", "GET /hello"));
}

}  // namespace
}  // namespace edgefn::runtime
