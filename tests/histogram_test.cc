// Recording, queries, merge and iteration of perflab::Histogram, checked
// against exact statistics of the same data.
#include "perflab/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace perflab {
namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

struct Config {
  std::int64_t lowest;
  std::int64_t highest;
  int figures;
};

std::string describe(const Config& c) {
  return "lowest=" + std::to_string(c.lowest) + " highest=" + std::to_string(c.highest) +
         " figures=" + std::to_string(c.figures);
}

// Latencies in microseconds: mostly 100-2000 us with a long tail, like a service.
std::vector<std::int64_t> lognormal_values(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(6.5, 1.2);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(dist(rng));
  return values;
}

std::vector<std::int64_t> uniform_values(std::size_t n, std::int64_t max, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(0, max);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = dist(rng);
  return values;
}

// A heavy Pareto tail spanning many powers of two, plus a spike of equal values.
std::vector<std::int64_t> skewed_values(std::size_t n, std::int64_t max, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::int64_t> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 10 == 0) {
      values[i] = 4242;
      continue;
    }
    const double pareto = 10.0 / std::pow(1.0 - u(rng), 1.0 / 0.7);
    values[i] = static_cast<std::int64_t>(std::min(pareto, static_cast<double>(max)));
  }
  return values;
}

TEST(HistogramTest, ConstructorRejectsInvalidConfigurationsWithAClearMessage) {
  const auto message_of = [](std::int64_t lowest, std::int64_t highest, int figures) {
    try {
      Histogram h(lowest, highest, figures);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_NE(message_of(0, 1000, 3).find("lowest_discernible_value must be >= 1"),
            std::string::npos);
  EXPECT_NE(message_of(-5, 1000, 3).find("lowest_discernible_value"), std::string::npos);
  EXPECT_NE(message_of(1, 1000, 0).find("significant_figures must be in 1..5"), std::string::npos);
  EXPECT_NE(message_of(1, 1000, 6).find("significant_figures"), std::string::npos);
  EXPECT_NE(message_of(100, 199, 3).find("highest_trackable_value must be >= 2"),
            std::string::npos);
  EXPECT_NE(message_of(std::int64_t{1} << 50, kInt64Max, 5).find("63 bits"), std::string::npos);
  EXPECT_EQ(message_of(100, 200, 3), "no exception");
}

TEST(HistogramTest, ReportsHdrHistogramLayoutForTheConfiguration) {
  const Histogram h(1, 3'600'000'000, 3);
  EXPECT_EQ(h.sub_bucket_count(), 2048);
  EXPECT_EQ(h.bucket_count(), 22);
  EXPECT_EQ(h.counts_length(), 23u * 1024u);
  EXPECT_EQ(h.lowest_discernible_value(), 1);
  EXPECT_EQ(h.highest_trackable_value(), 3'600'000'000);
  EXPECT_EQ(h.significant_figures(), 3);
  EXPECT_EQ(Histogram(1, 1000, 1).sub_bucket_count(), 32);
  EXPECT_EQ(Histogram(1, 1000, 5).sub_bucket_count(), 262144);
}

TEST(HistogramTest, RecordsValuesAndReportsPercentilesWithinPrecision) {
  const Config configs[] = {
      {1, 3'600'000'000, 3},        {1, 1'000'000, 2},   {1, kInt64Max, 1},
      {1000, 1'000'000'000'000, 4}, {1, 100'000'000, 5}, {7, 10'000'000, 3},
  };
  // An odd prime count keeps p * n / 100 away from integers, so the rank is exact.
  constexpr std::size_t kCount = 20011;
  const int percentiles_x100[] = {1, 10, 2500, 5000, 7500, 9000, 9900, 9990, 9999, 10000};
  for (const Config& config : configs) {
    const std::vector<std::vector<std::int64_t>> data_sets = {
        lognormal_values(kCount, 1),
        uniform_values(kCount, std::min<std::int64_t>(config.highest, 50'000'000), 2),
        skewed_values(kCount, std::min<std::int64_t>(config.highest, 900'000'000), 3),
    };
    for (std::size_t d = 0; d < data_sets.size(); ++d) {
      SCOPED_TRACE(describe(config) + " data set " + std::to_string(d));
      Histogram h(config.lowest, config.highest, config.figures);
      std::vector<std::int64_t> sorted = data_sets[d];
      for (std::int64_t v : sorted) ASSERT_TRUE(h.record_value(v));
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(h.total_count(), static_cast<std::int64_t>(kCount));

      const double relative_precision = std::pow(10.0, -config.figures);
      for (int p100 : percentiles_x100) {
        const std::size_t rank =
            (static_cast<std::size_t>(p100) * kCount + 9999) / 10000;  // ceil(p * n / 100)
        const std::int64_t exact = sorted[rank - 1];
        const std::int64_t reported = h.value_at_percentile(p100 / 100.0);
        SCOPED_TRACE("p" + std::to_string(p100 / 100.0) + " exact " + std::to_string(exact));
        EXPECT_EQ(reported, h.highest_equivalent_value(exact));
        EXPECT_GE(reported, exact);
        const double allowed = std::max(static_cast<double>(exact) * relative_precision,
                                        static_cast<double>(config.lowest));
        EXPECT_LE(static_cast<double>(reported - exact), allowed);
      }
      EXPECT_EQ(h.value_at_percentile(0), h.lowest_equivalent_value(sorted.front()));
      EXPECT_EQ(h.value_at_percentile(100), h.max());
    }
  }
}

TEST(HistogramTest, ReportsMinMaxMeanStddevAndCountOfRecordedValues) {
  const Config configs[] = {{1, 3'600'000'000, 3}, {1, 10'000'000, 2}, {1, 10'000'000, 4}};
  for (const Config& config : configs) {
    SCOPED_TRACE(describe(config));
    Histogram h(config.lowest, config.highest, config.figures);
    const std::vector<std::int64_t> values = lognormal_values(5000, 11);
    for (std::int64_t v : values) h.record_value(v);
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const double n = static_cast<double>(values.size());
    const double exact_mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
    double squares = 0;
    for (std::int64_t v : values) squares += (v - exact_mean) * (v - exact_mean);
    const double exact_stddev = std::sqrt(squares / n);
    const double relative_precision = std::pow(10.0, -config.figures);

    EXPECT_EQ(h.total_count(), 5000);
    EXPECT_EQ(h.min(), h.lowest_equivalent_value(*lo));
    EXPECT_EQ(h.max(), h.highest_equivalent_value(*hi));
    EXPECT_NEAR(h.mean(), exact_mean, exact_mean * relative_precision);
    EXPECT_NEAR(h.stddev(), exact_stddev, static_cast<double>(*hi) * relative_precision);
  }
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  const Histogram h(1, 1'000'000, 3);
  EXPECT_EQ(h.total_count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.value_at_percentile(99), 0);
  EXPECT_EQ(h.recorded_buckets().begin(), h.recorded_buckets().end());
}

TEST(HistogramTest, OutOfRangeValuesAreRejectedAndCountedAsOverflow) {
  Histogram h(1, 1'000'000, 3);
  EXPECT_TRUE(h.record_value(1'000'000));
  EXPECT_TRUE(h.record_value(0));
  EXPECT_FALSE(h.record_value(1'000'001));
  EXPECT_FALSE(h.record_value(-1));
  EXPECT_FALSE(h.record_value(kInt64Max));
  EXPECT_FALSE(h.record_value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_FALSE(h.record_values(5'000'000, 10));
  EXPECT_EQ(h.total_count(), 2);
  EXPECT_EQ(h.overflow_count(), 14);
  EXPECT_EQ(h.max(), h.highest_equivalent_value(1'000'000));
  EXPECT_EQ(h.count_at_value(5'000'000), 0);
  EXPECT_EQ(h.count_at_value(-3), 0);
}

TEST(HistogramTest, HighestTrackableValueIsRecordableAtEveryPrecision) {
  for (int figures = 1; figures <= 5; ++figures) {
    for (std::int64_t lowest : {std::int64_t{1}, std::int64_t{1000}}) {
      for (std::int64_t highest : {kInt64Max, std::int64_t{1} << 40, std::int64_t{3000}}) {
        SCOPED_TRACE(describe({lowest, highest, figures}));
        Histogram h(lowest, highest, figures);
        ASSERT_TRUE(h.record_value(highest));
        ASSERT_TRUE(h.record_value(0));
        EXPECT_EQ(h.count_at_value(highest), 1);
        EXPECT_EQ(h.max(), h.highest_equivalent_value(highest));
        EXPECT_GE(h.max(), highest);
        EXPECT_FALSE(h.record_value(highest == kInt64Max ? -1 : highest + 1));
      }
    }
  }
}

TEST(HistogramTest, EquivalentValueRangesMatchTheConfiguredPrecision) {
  const Histogram h(1, 3'600'000'000, 3);
  // 2048 sub-buckets: unit resolution below 2048, then doubling widths.
  EXPECT_EQ(h.size_of_equivalent_value_range(2047), 1);
  EXPECT_EQ(h.size_of_equivalent_value_range(2048), 2);
  EXPECT_EQ(h.size_of_equivalent_value_range(10'007), 8);
  EXPECT_EQ(h.lowest_equivalent_value(10'007), 10'000);
  EXPECT_EQ(h.highest_equivalent_value(10'007), 10'007);
  EXPECT_EQ(h.median_equivalent_value(10'007), 10'004);
  EXPECT_TRUE(h.values_are_equivalent(2048, 2049));
  EXPECT_FALSE(h.values_are_equivalent(2047, 2048));
  EXPECT_FALSE(h.values_are_equivalent(10'007, 10'008));

  const Histogram coarse(1000, 1'000'000'000, 3);  // unit 512
  EXPECT_EQ(coarse.size_of_equivalent_value_range(0), 512);
  EXPECT_TRUE(coarse.values_are_equivalent(0, 511));
  EXPECT_FALSE(coarse.values_are_equivalent(511, 512));

  std::mt19937_64 rng(5);
  std::uniform_int_distribution<std::int64_t> dist(0, 3'600'000'000);
  for (int i = 0; i < 10000; ++i) {
    const std::int64_t v = dist(rng);
    const std::int64_t lo = h.lowest_equivalent_value(v);
    const std::int64_t hi = h.highest_equivalent_value(v);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    ASSERT_EQ(hi - lo + 1, h.size_of_equivalent_value_range(v));
    ASSERT_LE(static_cast<double>(hi - lo), std::max(1.0, static_cast<double>(v) / 1000.0));
    ASSERT_TRUE(h.values_are_equivalent(lo, hi));
    ASSERT_FALSE(h.values_are_equivalent(lo, hi + 1));
  }
}

TEST(HistogramTest, CorrectedValueBackFillsMissingSamplesAsHdrHistogramDoes) {
  Histogram h(1, 1'000'000, 3);
  EXPECT_TRUE(h.record_corrected_value(1000, 100));  // 1000, 900, ..., 100
  EXPECT_EQ(h.total_count(), 10);
  for (std::int64_t v = 100; v <= 1000; v += 100) EXPECT_EQ(h.count_at_value(v), 1) << v;
  EXPECT_EQ(h.count_at_value(0), 0);

  h.reset();
  EXPECT_TRUE(h.record_corrected_values(1000, 3, 300));  // 1000, 700, 400; 100 < 300 stops
  EXPECT_EQ(h.total_count(), 9);
  EXPECT_EQ(h.count_at_value(400), 3);
  EXPECT_EQ(h.count_at_value(100), 0);

  h.reset();
  EXPECT_TRUE(h.record_corrected_value(1000, 0));   // back-fill disabled
  EXPECT_TRUE(h.record_corrected_value(50, 100));   // no stall
  EXPECT_TRUE(h.record_corrected_value(100, 100));  // exactly on schedule
  EXPECT_EQ(h.total_count(), 3);

  h.reset();
  EXPECT_FALSE(h.record_corrected_value(2'000'000, 100));  // out of range: nothing back-filled
  EXPECT_EQ(h.total_count(), 0);
  EXPECT_EQ(h.overflow_count(), 1);
}

TEST(HistogramTest, AddOfEqualConfigurationsEqualsRecordingEverythingIntoOne) {
  const std::vector<std::int64_t> a = lognormal_values(3000, 21);
  const std::vector<std::int64_t> b = skewed_values(3000, 1'000'000'000, 22);
  Histogram ha(1, 3'600'000'000, 3), hb(1, 3'600'000'000, 3), all(1, 3'600'000'000, 3);
  for (std::int64_t v : a) ha.record_value(v), all.record_value(v);
  for (std::int64_t v : b) hb.record_value(v), all.record_value(v);
  hb.record_value(-1);
  all.record_value(-1);
  ha.add(hb);
  EXPECT_EQ(ha, all);
  EXPECT_EQ(ha.overflow_count(), 1);
}

TEST(HistogramTest, AddToItselfDoublesEveryCount) {
  Histogram h(1, 1'000'000, 2);
  for (std::int64_t v : lognormal_values(500, 3)) h.record_value(v);
  Histogram expected = h;
  for (const HistogramBucket& b : h.recorded_buckets())
    expected.record_values(b.lowest_value, b.count);
  h.add(h);
  EXPECT_EQ(h, expected);
  EXPECT_EQ(h.total_count(), 1000);
}

TEST(HistogramTest, AddOfDifferentConfigurationsReRecordsBucketsAtTheirLowestValue) {
  Histogram fine(1, 3'600'000'000, 4);
  for (std::int64_t v : skewed_values(4000, 900'000'000, 31)) fine.record_value(v);
  fine.record_value(3'000'000'000);

  Histogram coarse(1, 1'000'000'000, 2);
  coarse.add(fine);
  Histogram expected(1, 1'000'000'000, 2);
  for (const HistogramBucket& b : fine.recorded_buckets()) {
    expected.record_values(b.lowest_value, b.count);
  }
  EXPECT_EQ(coarse, expected);
  EXPECT_EQ(coarse.total_count(), fine.total_count() - 1);
  EXPECT_EQ(coarse.overflow_count(), 1);  // 3e9 is beyond the coarse range
  for (double p : {50.0, 90.0, 99.0}) {
    EXPECT_TRUE(
        coarse.values_are_equivalent(coarse.value_at_percentile(p), fine.value_at_percentile(p)) ||
        std::abs(
            static_cast<double>(coarse.value_at_percentile(p) - fine.value_at_percentile(p))) <=
            0.01 * static_cast<double>(fine.value_at_percentile(p)))
        << p;
  }
}

TEST(HistogramTest, AddOfTheSameLayoutSendsCountsAboveTheRangeToOverflow) {
  // Both have one 2048-count bucket: 1500 fits a's counts array but not its range.
  Histogram a(1, 1000, 3), b(1, 2000, 3), wide(1, 1'000'000, 3);
  ASSERT_EQ(a.counts_length(), b.counts_length());
  for (std::int64_t v : {700, 1000, 1500, 2000, 2000}) ASSERT_TRUE(b.record_value(v));
  a.add(b);
  Histogram expected(1, 1000, 3);
  for (std::int64_t v : {700, 1000, 1500, 2000, 2000}) expected.record_value(v);
  EXPECT_EQ(a, expected);  // exactly as if b's values had been recorded into a
  EXPECT_EQ(a.max(), 1000);
  EXPECT_EQ(a.total_count(), 2);
  EXPECT_EQ(a.overflow_count(), 3);
  EXPECT_FALSE(Histogram(a).record_value(1500));

  // A longer counts array of the same layout: the same rule.
  ASSERT_TRUE(wide.record_value(999));
  ASSERT_TRUE(wide.record_value(500'000));
  a.add(wide);
  EXPECT_EQ(a.total_count(), 3);
  EXPECT_EQ(a.overflow_count(), 4);
  EXPECT_EQ(a.count_at_value(999), 1);

  // A bucket straddling the top: its lowest value is in range, so it is kept
  // (as record_value() of that lowest value would be).
  Histogram coarse(1, 1000, 1), coarse_wide(1, 100'000, 1);
  const std::int64_t top_bucket = coarse.lowest_equivalent_value(1000);
  ASSERT_LT(top_bucket, 1000);
  ASSERT_GT(coarse.highest_equivalent_value(1000), 1000);
  coarse_wide.record_value(coarse.highest_equivalent_value(1000));
  coarse.add(coarse_wide);
  EXPECT_EQ(coarse.total_count(), 1);
  EXPECT_EQ(coarse.count_at_value(top_bucket), 1);
  EXPECT_EQ(coarse.overflow_count(), 0);
}

TEST(HistogramTest, ResetClearsCountsAndKeepsConfiguration) {
  Histogram h(10, 1'000'000, 3);
  for (std::int64_t v : lognormal_values(100, 4)) h.record_value(v);
  h.record_value(-7);
  h.reset();
  EXPECT_EQ(h, Histogram(10, 1'000'000, 3));
  EXPECT_EQ(h.total_count(), 0);
  EXPECT_EQ(h.overflow_count(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_TRUE(h.record_value(500));
  EXPECT_EQ(h.total_count(), 1);
}

TEST(HistogramTest, RecordedBucketsIterateNonEmptyBucketsInOrderWithCumulativeCounts) {
  Histogram h(1, 3'600'000'000, 3);
  const std::vector<std::int64_t> values = skewed_values(2000, 100'000'000, 8);
  for (std::int64_t v : values) h.record_value(v);

  std::int64_t cumulative = 0;
  std::int64_t previous_highest = -1;
  std::size_t buckets = 0;
  for (const HistogramBucket& b : h.recorded_buckets()) {
    ++buckets;
    ASSERT_GT(b.count, 0);
    ASSERT_GT(b.lowest_value, previous_highest);
    ASSERT_EQ(b.count, h.count_at_value(b.lowest_value));
    ASSERT_EQ(b.highest_value, h.highest_equivalent_value(b.lowest_value));
    cumulative += b.count;
    ASSERT_EQ(b.cumulative_count, cumulative);
    ASSERT_DOUBLE_EQ(b.percentile, 100.0 * static_cast<double>(cumulative) / 2000.0);
    previous_highest = b.highest_value;
  }
  EXPECT_EQ(cumulative, h.total_count());
  EXPECT_EQ(previous_highest, h.max());
  std::vector<std::int64_t> distinct;
  for (std::int64_t v : values) distinct.push_back(h.lowest_equivalent_value(v));
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(buckets, distinct.size());
}

TEST(HistogramTest, EqualityComparesConfigurationCountsAndOverflow) {
  Histogram a(1, 1'000'000, 3), b(1, 1'000'000, 3);
  EXPECT_EQ(a, b);
  a.record_value(5);
  EXPECT_FALSE(a == b);
  b.record_value(5);
  EXPECT_EQ(a, b);
  b.record_value(-1);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(Histogram(1, 1'000'000, 3) == Histogram(1, 1'000'000, 2));
  EXPECT_FALSE(Histogram(1, 1'000'000, 3) == Histogram(1, 2'000'000, 3));
}

TEST(HistogramTest, CopiesAreIndependentOfTheOriginal) {
  Histogram a(1, 1'000'000, 3);
  a.record_value(10);
  Histogram b = a;
  b.record_value(20);
  EXPECT_EQ(a.total_count(), 1);
  EXPECT_EQ(b.total_count(), 2);
  EXPECT_EQ(a.count_at_value(20), 0);
  Histogram c = std::move(b);
  EXPECT_EQ(c.count_at_value(20), 1);
}

}  // namespace
}  // namespace perflab
