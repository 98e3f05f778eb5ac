// alloc_summary_json(): the "alloc" and "memory" groups of summary.json.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "perflab/profile.hpp"

// Designated initializers name only the fields a test cares about; GCC 12
// warns about the others (which take their defaults), clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace perflab {
namespace {

AllocProfile totals_profile() {
  AllocProfile p;
  p.allocs = 1000;
  p.frees = 990;
  p.bytes = 64000;
  p.temporary = 400;
  p.peak_heap_bytes = 8192;
  p.leaked_objects = 10;
  p.leaked_bytes = 640;
  p.peak_rss_bytes = 1 << 20;
  p.duration_s = 4;
  return p;
}

TEST(AllocSummaryJsonTest, FillsTheAllocGroupFromTheTotals) {
  const nlohmann::json groups = alloc_summary_json(totals_profile());
  const nlohmann::json expected_alloc = {{"allocs", 1000},      {"frees", 990},
                                         {"bytes", 64000},      {"peak_heap_bytes", 8192},
                                         {"leaked_bytes", 640}, {"leaked_objects", 10},
                                         {"temporary", 400},    {"alloc_rate_per_s", 250.0}};
  EXPECT_EQ(groups["alloc"], expected_alloc);
  EXPECT_EQ(groups["memory"], (nlohmann::json{{"peak_rss_bytes", 1 << 20}}));
}

TEST(AllocSummaryJsonTest, PerOperationFiguresNeedAnOperationCount) {
  const nlohmann::json without = alloc_summary_json(totals_profile());
  EXPECT_FALSE(without["alloc"].contains("allocs_per_op"));
  EXPECT_FALSE(without["alloc"].contains("bytes_per_op"));

  const nlohmann::json with = alloc_summary_json(totals_profile(), 250);
  EXPECT_DOUBLE_EQ(with["alloc"]["allocs_per_op"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(with["alloc"]["bytes_per_op"].get<double>(), 256.0);

  const nlohmann::json zero = alloc_summary_json(totals_profile(), 0);
  EXPECT_FALSE(zero["alloc"].contains("allocs_per_op"));
}

TEST(AllocSummaryJsonTest, RateNeedsADuration) {
  AllocProfile p = totals_profile();
  p.duration_s = 0;
  EXPECT_FALSE(alloc_summary_json(p)["alloc"].contains("alloc_rate_per_s"));
}

TEST(AllocSummaryJsonTest, RssGrowthIsTheSlopeOfTheTimeline) {
  AllocProfile p;
  p.timeline = {{.time_s = 0, .rss_bytes = 1000},
                {.time_s = 1, .rss_bytes = 1900},
                {.time_s = 2, .rss_bytes = 3100},
                {.time_s = 3, .rss_bytes = 4000}};
  // Least squares: slope = sum(dt * dr) / sum(dt^2) = 5100 / 5.
  EXPECT_DOUBLE_EQ(alloc_summary_json(p)["memory"]["rss_growth_bytes_per_s"].get<double>(), 1020.0);
}

TEST(RssGrowthTest, AFlatSeriesIsExactlyZero) {
  // A soak's repetition: 600 samples a tenth of a second apart (with the
  // sampler's jitter), late in a run, at a realistic resident set. The
  // one-pass formula gave 4.6e-8 here, and a median interval with that as its
  // low end said "not zero".
  std::vector<TimelineSample> timeline;
  for (int i = 0; i < 600; ++i) {
    timeline.push_back({.time_s = 120.0 + 0.1 * i + 0.0003 * (i % 7), .rss_bytes = 84398080});
  }
  ASSERT_TRUE(rss_growth_per_s(timeline).has_value());
  EXPECT_EQ(*rss_growth_per_s(timeline), 0.0);
}

TEST(RssGrowthTest, OnlyTheWindowCounts) {
  // Growth before 10 s (start-up), flat after it.
  std::vector<TimelineSample> timeline;
  for (int i = 0; i <= 20; ++i) {
    const std::uint64_t rss = i < 10 ? 1000u * static_cast<std::uint64_t>(i) : 10000u;
    timeline.push_back({.time_s = static_cast<double>(i), .rss_bytes = rss});
  }
  EXPECT_DOUBLE_EQ(*rss_growth_per_s(timeline, 0, 9), 1000.0);
  EXPECT_EQ(*rss_growth_per_s(timeline, 10, 20), 0.0);
  EXPECT_GT(*rss_growth_per_s(timeline), 0.0);
  EXPECT_FALSE(rss_growth_per_s(timeline, 20, 30).has_value()) << "one sample";
  timeline.push_back({.time_s = std::nan(""), .rss_bytes = 1});
  EXPECT_EQ(*rss_growth_per_s(timeline, 10, 20), 0.0) << "a sample without a time is skipped";
}

TEST(AllocSummaryJsonTest, MemoryIsLeftOutWhenNothingIsKnown) {
  AllocProfile p;
  p.timeline = {{.time_s = 1, .rss_bytes = 5}, {.time_s = 1, .rss_bytes = 9}};  // one instant
  EXPECT_FALSE(alloc_summary_json(p).contains("memory"));
}

}  // namespace
}  // namespace perflab
