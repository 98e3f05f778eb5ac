// compare's statistics: exact p-values and intervals against references
// computed independently (brute-force enumeration of the permutation null in
// Python; R's wilcox.test agrees on W, V and p), the normal approximation
// under ties, feasibility, Holm-Bonferroni, the median interval, and the
// calibration that matters in use: false-positive rate and coverage on A/A
// samples, and power on a known 20% change.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../src/compare/statistics_internal.hpp"
#include "perflab/compare.hpp"

namespace perflab {
namespace {

using compare_detail::kth_pairwise_difference;
using compare_detail::kth_walsh_average;
using compare_detail::mann_whitney_cdf;
using compare_detail::normal_cdf;
using compare_detail::normal_quantile;
using compare_detail::signed_rank_cdf;

constexpr double kTight = 1e-12;

// R's wilcox.test example data (Hollander & Wolfe).
const std::vector<double> kX = {0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
const std::vector<double> kY = {1.15, 0.88, 0.90, 0.74, 1.21};
// Paired: depression scores at the first (kPairedAfter) and second visit.
const std::vector<double> kPairedAfter = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
const std::vector<double> kPairedBefore = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};

// The message of the CompareError `fn` throws, or "" when it throws none.
template <class Fn>
std::string compare_error_of(Fn fn) {
  try {
    fn();
  } catch (const CompareError& e) {
    return e.what();
  }
  return "";
}

// Standard normal deviates from mt19937_64 by Box-Muller, written out so the
// sequence is the same under libstdc++ and libc++.
class NormalSource {
 public:
  explicit NormalSource(std::uint64_t seed) : engine_(seed) {}

  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform_open();
    const double u2 = uniform_open();
    const double radius = std::sqrt(-2 * std::log(u1));
    const double angle = 2 * kPi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  static constexpr double kPi = 3.14159265358979323846;

  // In (0, 1): 53 random bits, offset by half a step so log() never sees 0.
  double uniform_open() { return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1p-53; }

  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// n draws of ratio * lognormal(0, sigma).
std::vector<double> lognormal_sample(NormalSource& normal, std::size_t n, double sigma,
                                     double ratio) {
  std::vector<double> out(n);
  for (double& v : out) v = ratio * std::exp(sigma * normal.next());
  return out;
}

struct Calibration {
  double significant = 0;  // fraction with p < alpha
  double detected = 0;     // fraction with p < alpha and the interval excluding 1
  double covered = 0;      // fraction whose interval covers the true ratio
};

// Repeats a comparison on fresh samples; `draw` fills base and candidate.
template <class Draw>
Calibration calibrate(int trials, bool paired, double true_ratio, Draw draw) {
  constexpr double kAlpha = 0.05;
  int significant = 0;
  int detected = 0;
  int covered = 0;
  std::vector<double> base;
  std::vector<double> candidate;
  for (int t = 0; t < trials; ++t) {
    draw(base, candidate);
    const ShiftEstimate s = paired
                                ? compare_paired(base, candidate, kAlpha, ChangeScale::kRatio)
                                : compare_independent(base, candidate, kAlpha, ChangeScale::kRatio);
    if (s.p_value < kAlpha) ++significant;
    if (s.p_value < kAlpha && (s.low > 1 || s.high < 1)) ++detected;
    if (s.low <= true_ratio && true_ratio <= s.high) ++covered;
  }
  const double n = trials;
  return {significant / n, detected / n, covered / n};
}

TEST(CompareStatisticsTest, ExactMannWhitneyMatchesTheReference) {
  // wilcox.test(x, y): W = 35, p-value = 0.2544. Here base = x, so U counts
  // the other 50 - 35 = 15 pairs; the two-sided p-value is the same.
  const ShiftEstimate s = compare_independent(kX, kY, 0.05, ChangeScale::kDifference);
  EXPECT_NEAR(s.p_value, 0.2544122544122544, kTight);
  EXPECT_NEAR(s.estimate, -0.305, kTight);
  EXPECT_NEAR(s.low, -0.76, kTight);  // D_(9) of the 50 sorted differences
  EXPECT_NEAR(s.high, 0.15, kTight);  // D_(42)
  EXPECT_NEAR(s.confidence, 0.9600399600399601, kTight);
  EXPECT_TRUE(s.feasible);
  EXPECT_FALSE(s.paired);
  EXPECT_EQ(s.n_base, 10u);
  EXPECT_EQ(s.n_candidate, 5u);
  EXPECT_NE(s.method.find("exact"), std::string::npos) << s.method;
  EXPECT_NEAR(s.min_p_value, 2.0 / 3003, kTight);
}

TEST(CompareStatisticsTest, SwappingTheSamplesNegatesTheShift) {
  const ShiftEstimate s = compare_independent(kY, kX, 0.10, ChangeScale::kDifference);
  EXPECT_NEAR(s.p_value, 0.2544122544122544, kTight);
  EXPECT_NEAR(s.estimate, 0.305, kTight);
  EXPECT_NEAR(s.low, -0.08, kTight);
  EXPECT_NEAR(s.high, 0.72, kTight);
  EXPECT_NEAR(s.confidence, 0.9007659007659008, kTight);
}

TEST(CompareStatisticsTest, RatioScaleWorksOnLogarithmsAndReportsRatios) {
  const ShiftEstimate s = compare_independent(kX, kY, 0.05, ChangeScale::kRatio);
  EXPECT_EQ(s.scale, ChangeScale::kRatio);
  EXPECT_NEAR(s.p_value, 0.2544122544122544, kTight);
  EXPECT_NEAR(s.estimate, 0.7623304256784819, kTight);
  EXPECT_NEAR(s.low, 0.5103448275862069, kTight);
  EXPECT_NEAR(s.high, 1.1634615384615383, kTight);
}

TEST(CompareStatisticsTest, ExactSignedRankMatchesTheReference) {
  // wilcox.test(x, y, paired = TRUE, alternative = "greater"): V = 40,
  // p-value = 0.01953; two-sided twice that.
  const ShiftEstimate s =
      compare_paired(kPairedBefore, kPairedAfter, 0.05, ChangeScale::kDifference);
  EXPECT_TRUE(s.paired);
  EXPECT_NEAR(s.p_value, 0.0390625, kTight);
  EXPECT_NEAR(s.estimate, 0.46, kTight);
  EXPECT_NEAR(s.low, 0.01, kTight);
  EXPECT_NEAR(s.high, 0.786, kTight);
  EXPECT_NEAR(s.confidence, 0.9609375, kTight);
  EXPECT_NEAR(s.min_p_value, 2.0 / 512, kTight);
  EXPECT_TRUE(s.feasible);
  EXPECT_NE(s.method.find("exact"), std::string::npos) << s.method;

  const ShiftEstimate r = compare_paired(kPairedBefore, kPairedAfter, 0.05, ChangeScale::kRatio);
  EXPECT_NEAR(r.p_value, 0.0546875, kTight);
  EXPECT_NEAR(r.estimate, 1.3846838219248516, kTight);
  EXPECT_NEAR(r.low, 0.9909978452920198, kTight);
  EXPECT_NEAR(r.high, 1.986968511867785, kTight);
}

TEST(CompareStatisticsTest, PairedTestDropsZeroDifferencesButTheEstimateKeepsThem) {
  const std::vector<double> base = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<double> delta = {0, 1.0, 1.5, -0.5, 2.5, 3.5, 0.25, 4.5};
  std::vector<double> candidate(base.size());
  for (std::size_t i = 0; i < base.size(); ++i) candidate[i] = base[i] + delta[i];
  const ShiftEstimate s = compare_paired(base, candidate, 0.05, ChangeScale::kDifference);
  EXPECT_NEAR(s.p_value, 0.046875, kTight);  // exact, V = 26 over the 7 nonzero pairs
  EXPECT_NEAR(s.estimate, 1.5, kTight);      // Walsh averages of all 8 differences
  EXPECT_NEAR(s.low, 0.0, kTight);
  EXPECT_NEAR(s.high, 3.5, kTight);
  EXPECT_NEAR(s.confidence, 0.9609375, kTight);
}

TEST(CompareStatisticsTest, UnchangedPairsGiveNoEvidence) {
  const std::vector<double> same = {3, 1, 4, 1, 5, 9, 2, 6};
  const ShiftEstimate s = compare_paired(same, same, 0.05, ChangeScale::kRatio);
  EXPECT_EQ(s.p_value, 1.0);
  EXPECT_EQ(s.estimate, 1.0);
  EXPECT_EQ(s.low, 1.0);
  EXPECT_EQ(s.high, 1.0);
}

TEST(CompareStatisticsTest, TiesFallBackToTheNormalApproximation) {
  const std::vector<double> base = {1, 2, 2, 3, 4, 4, 5};
  const std::vector<double> candidate = {3, 4, 4, 5, 6, 6, 7};
  const ShiftEstimate s = compare_independent(base, candidate, 0.05, ChangeScale::kDifference);
  // U = 41 of 49; midranks, tie-corrected variance, continuity correction.
  EXPECT_NEAR(s.p_value, 0.03783827646017665, 1e-12);
  EXPECT_NE(s.method.find("normal"), std::string::npos) << s.method;
  EXPECT_NEAR(s.estimate, 2.0, kTight);
  EXPECT_LE(s.low, s.estimate);
  EXPECT_GE(s.high, s.estimate);
  EXPECT_TRUE(s.feasible);

  const std::vector<double> all_equal(6, 2.5);
  const ShiftEstimate flat = compare_independent(all_equal, all_equal, 0.05, ChangeScale::kRatio);
  EXPECT_EQ(flat.p_value, 1.0);
  EXPECT_EQ(flat.estimate, 1.0);
  EXPECT_EQ(flat.low, 1.0);
  EXPECT_EQ(flat.high, 1.0);
}

TEST(CompareStatisticsTest, FourSamplesPerSideCannotReachOnePercent) {
  const std::vector<double> base = {1, 2, 3, 4};
  const std::vector<double> candidate = {5, 6, 7, 8};  // as separated as 4 samples get
  const ShiftEstimate s = compare_independent(base, candidate, 0.01, ChangeScale::kDifference);
  EXPECT_FALSE(s.feasible);
  EXPECT_NEAR(s.min_p_value, 2.0 / 70, kTight);
  EXPECT_NEAR(s.p_value, 2.0 / 70, kTight);
  EXPECT_GT(s.p_value, 0.01);
  EXPECT_EQ(s.low, 1.0);  // the widest interval: min and max of the differences
  EXPECT_EQ(s.high, 7.0);
  EXPECT_EQ(s.estimate, 4.0);

  // The same samples do reach 5%.
  const ShiftEstimate five = compare_independent(base, candidate, 0.05, ChangeScale::kDifference);
  EXPECT_TRUE(five.feasible);
  EXPECT_LT(five.p_value, 0.05);
}

TEST(CompareStatisticsTest, FiveSamplesPerSideCanReachOnePercent) {
  const std::vector<double> base = {1, 2, 3, 4, 5};
  const std::vector<double> candidate = {6, 7, 8, 9, 10};
  const ShiftEstimate s = compare_independent(base, candidate, 0.01, ChangeScale::kDifference);
  EXPECT_TRUE(s.feasible);
  EXPECT_NEAR(s.p_value, 2.0 / 252, kTight);
  EXPECT_LT(s.p_value, 0.01);
  EXPECT_GT(s.low, 0.0);
}

TEST(CompareStatisticsTest, FewPairsCannotReachAlpha) {
  // 2 / 2^5 = 0.0625 > 0.05 even when every pair moved the same way.
  const std::vector<double> base = {1, 1, 1, 1, 1};
  const std::vector<double> candidate = {1.2, 1.3, 1.25, 1.22, 1.21};
  const ShiftEstimate s = compare_paired(base, candidate, 0.05, ChangeScale::kRatio);
  EXPECT_FALSE(s.feasible);
  EXPECT_NEAR(s.p_value, 0.0625, kTight);
  EXPECT_NEAR(s.low, 1.2, kTight);
  EXPECT_NEAR(s.high, 1.3, kTight);

  const std::vector<double> base6 = {1, 1, 1, 1, 1, 1};
  const std::vector<double> candidate6 = {1.2, 1.3, 1.25, 1.22, 1.21, 1.27};
  const ShiftEstimate six = compare_paired(base6, candidate6, 0.05, ChangeScale::kRatio);
  EXPECT_TRUE(six.feasible);
  EXPECT_NEAR(six.p_value, 0.03125, kTight);
}

TEST(CompareStatisticsTest, MinimumPValuesFollowTheSampleCounts) {
  EXPECT_NEAR(min_p_value_independent(4, 4), 2.0 / 70, kTight);
  EXPECT_NEAR(min_p_value_independent(5, 5), 2.0 / 252, kTight);
  EXPECT_NEAR(min_p_value_independent(3, 7), 2.0 / 120, kTight);
  EXPECT_EQ(min_p_value_independent(1, 1), 1.0);
  EXPECT_EQ(min_p_value_independent(0, 5), 1.0);
  EXPECT_GE(min_p_value_independent(2000, 2000), 0.0);
  EXPECT_LT(min_p_value_independent(2000, 2000), 1e-300);
  EXPECT_EQ(min_p_value_paired(0), 1.0);
  EXPECT_EQ(min_p_value_paired(1), 1.0);
  EXPECT_EQ(min_p_value_paired(5), 0.0625);
  EXPECT_EQ(min_p_value_paired(8), 2.0 / 256);
  EXPECT_EQ(min_p_value_paired(100000), 0.0);
}

TEST(CompareStatisticsTest, OneSamplePerSideGivesThePlainRatio) {
  const std::vector<double> base = {2.0};
  const std::vector<double> candidate = {3.0};
  const ShiftEstimate s = compare_independent(base, candidate, 0.05, ChangeScale::kRatio);
  EXPECT_NEAR(s.estimate, 1.5, kTight);
  EXPECT_EQ(s.low, s.estimate);
  EXPECT_EQ(s.high, s.estimate);
  EXPECT_EQ(s.p_value, 1.0);
  EXPECT_FALSE(s.feasible);

  const ShiftEstimate d = compare_independent(base, candidate, 0.05, ChangeScale::kDifference);
  EXPECT_EQ(d.estimate, 1.0);
  EXPECT_EQ(d.p_value, 1.0);

  const ShiftEstimate p = compare_paired(base, candidate, 0.05, ChangeScale::kRatio);
  EXPECT_NEAR(p.estimate, 1.5, kTight);
  EXPECT_EQ(p.low, p.estimate);
  EXPECT_EQ(p.high, p.estimate);
  EXPECT_EQ(p.p_value, 1.0);
  EXPECT_FALSE(p.feasible);
}

TEST(CompareStatisticsTest, ExactNullDistributionsMatchEnumeration) {
  for (std::size_t m = 1; m <= 6; ++m) {
    for (std::size_t n = 1; n <= 7; ++n) {
      // Every choice of which pooled ranks the first sample holds.
      std::vector<double> counts(m * n + 1, 0.0);
      double total = 0;
      for (std::uint32_t mask = 0; mask < (1u << (m + n)); ++mask) {
        if (static_cast<std::size_t>(std::popcount(mask)) != m) continue;
        std::size_t u = 0;  // pairs where the first sample is larger
        for (std::size_t a = 0; a < m + n; ++a) {
          if ((mask >> a) & 1u) {
            for (std::size_t b = 0; b < a; ++b) u += ((mask >> b) & 1u) ? 0 : 1;
          }
        }
        counts[u] += 1;
        total += 1;
      }
      const std::vector<double> cdf = mann_whitney_cdf(m, n);
      ASSERT_EQ(cdf.size(), m * n + 1);
      double running = 0;
      for (std::size_t u = 0; u <= m * n; ++u) {
        running += counts[u];
        EXPECT_NEAR(cdf[u], running / total, kTight) << "m=" << m << " n=" << n << " u=" << u;
      }
    }
  }
  for (std::size_t n = 0; n <= 12; ++n) {
    std::vector<double> counts(n * (n + 1) / 2 + 1, 0.0);
    for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
      std::size_t v = 0;
      for (std::size_t r = 0; r < n; ++r) v += ((mask >> r) & 1u) ? r + 1 : 0;
      counts[v] += 1;
    }
    const std::vector<double> cdf = signed_rank_cdf(n);
    ASSERT_EQ(cdf.size(), counts.size());
    double running = 0;
    for (std::size_t v = 0; v < counts.size(); ++v) {
      running += counts[v];
      EXPECT_NEAR(cdf[v], running / std::ldexp(1.0, static_cast<int>(n)), kTight)
          << "n=" << n << " v=" << v;
    }
  }
}

TEST(CompareStatisticsTest, NormalQuantileInvertsTheCdf) {
  EXPECT_NEAR(normal_quantile(0.025), -1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile(0.005), -2.5758293035489004, 1e-12);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-14);
  EXPECT_NEAR(normal_cdf(1.959963984540054), 0.975, 1e-14);
  for (const double p : {1e-10, 1e-4, 0.1, 0.3, 0.9, 0.999}) {
    EXPECT_NEAR(normal_cdf(normal_quantile(p)), p, p * 1e-12) << p;
  }
}

TEST(CompareStatisticsTest, SelectionWithoutMaterialisingMatchesSorting) {
  std::mt19937_64 engine(7);
  for (int round = 0; round < 20; ++round) {
    // Coarse values so ties (within, across and at the pivot) are common.
    const std::size_t m = 1 + engine() % 13;
    const std::size_t n = 1 + engine() % 17;
    std::vector<double> a(m);
    std::vector<double> b(n);
    for (double& v : a) v = static_cast<double>(engine() % 9);
    for (double& v : b) v = static_cast<double>(engine() % 9) + 0.5 * (round % 2);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());

    std::vector<double> differences;
    for (const double x : a) {
      for (const double y : b) differences.push_back(y - x);
    }
    std::sort(differences.begin(), differences.end());
    for (std::size_t k = 1; k <= differences.size(); ++k) {
      for (const std::size_t limit : {std::size_t{0}, std::size_t{3}, std::size_t{1} << 20}) {
        ASSERT_EQ(kth_pairwise_difference(a, b, k, limit), differences[k - 1])
            << "round " << round << " k " << k << " limit " << limit;
      }
    }

    std::vector<double> walsh;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i; j < n; ++j) walsh.push_back((b[i] + b[j]) / 2);
    }
    std::sort(walsh.begin(), walsh.end());
    for (std::size_t k = 1; k <= walsh.size(); ++k) {
      for (const std::size_t limit : {std::size_t{0}, std::size_t{3}, std::size_t{1} << 20}) {
        ASSERT_EQ(kth_walsh_average(b, k, limit), walsh[k - 1])
            << "round " << round << " k " << k << " limit " << limit;
      }
    }
  }
}

TEST(CompareStatisticsTest, HugeSamplesStayInBoundedMemoryAndFindTheShift) {
  // 1000 x 1100 = 1.1 million differences, past the materialising limit.
  // j - i over i in 0..999, j in 0..1099 is symmetric about 50, so the
  // Hodges-Lehmann shift is exactly 50.5.
  std::vector<double> base(1000);
  std::vector<double> candidate(1100);
  for (std::size_t i = 0; i < base.size(); ++i) base[i] = static_cast<double>(i);
  for (std::size_t j = 0; j < candidate.size(); ++j) candidate[j] = static_cast<double>(j) + 0.5;
  const ShiftEstimate s = compare_independent(base, candidate, 0.05, ChangeScale::kDifference);
  EXPECT_EQ(s.estimate, 50.5);
  EXPECT_LT(s.low, 50.5);
  EXPECT_GT(s.high, 50.5);
  EXPECT_LT(s.high - s.low, 80.0);
  EXPECT_NE(s.method.find("normal"), std::string::npos) << s.method;
  EXPECT_GT(s.p_value, 0.0);
  EXPECT_LT(s.p_value, 1.0);
  EXPECT_NEAR(s.confidence, 0.95, 0.001);
}

TEST(CompareStatisticsTest, NormalApproximationAgreesWithTheExactDistributionAtFiftyPerSide) {
  // 50 per side is the first size that uses the normal approximation; its
  // p-value must land close to the exact one computed here for the same data.
  NormalSource normal(11);
  const std::vector<double> base = lognormal_sample(normal, 50, 0.05, 1.0);
  const std::vector<double> candidate = lognormal_sample(normal, 50, 0.05, 1.02);
  const ShiftEstimate approx = compare_independent(base, candidate, 0.05, ChangeScale::kRatio);
  EXPECT_NE(approx.method.find("normal"), std::string::npos) << approx.method;

  std::size_t u = 0;
  for (const double b : base) {
    for (const double c : candidate) u += c > b ? 1 : 0;
  }
  const std::vector<double> cdf = mann_whitney_cdf(50, 50);
  const double exact_p = std::min(1.0, 2 * std::min(cdf[u], cdf[2500 - u]));
  EXPECT_NEAR(approx.p_value, exact_p, 0.002) << "U = " << u;
  EXPECT_GT(approx.p_value, 1e-4);  // the data are not so extreme that any method agrees
  EXPECT_LT(approx.p_value, 0.9);
  EXPECT_NEAR(approx.confidence, 0.95, 0.002);
}

TEST(CompareStatisticsTest, HolmBonferroniStepsDownAndStopsAtTheFirstMiss) {
  // Sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop.
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  EXPECT_EQ(holm_bonferroni(p, 0.05), (std::vector<bool>{true, false, false, true}));
  // 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.03 <= 0.05/1: all three.
  const std::vector<double> all = {0.03, 0.01, 0.02};
  EXPECT_EQ(holm_bonferroni(all, 0.05), (std::vector<bool>{true, true, true}));
  // The first miss stops it even though 0.04 <= 0.05 on its own.
  const std::vector<double> first_miss = {0.04, 0.03};
  EXPECT_EQ(holm_bonferroni(first_miss, 0.05), (std::vector<bool>{false, false}));
  const std::vector<double> with_nan = {std::numeric_limits<double>::quiet_NaN(), 0.001};
  EXPECT_EQ(holm_bonferroni(with_nan, 0.05), (std::vector<bool>{false, true}));
  EXPECT_TRUE(holm_bonferroni({}, 0.05).empty());
}

TEST(CompareStatisticsTest, MedianIntervalUsesBinomialOrderStatistics) {
  // n = 10: P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2): [X_(2), X_(9)].
  const std::vector<double> ten = {9, 1, 8, 2, 7, 3, 6, 4, 5, 10};
  const MedianInterval m10 = median_interval(ten, 0.05);
  EXPECT_EQ(m10.median, 5.5);
  EXPECT_EQ(m10.low, 2.0);
  EXPECT_EQ(m10.high, 9.0);

  // n = 20: j = 6, [X_(6), X_(15)].
  std::vector<double> twenty(20);
  for (std::size_t i = 0; i < twenty.size(); ++i) twenty[i] = static_cast<double>(20 - i) * 1.5;
  const MedianInterval m20 = median_interval(twenty, 0.05);
  EXPECT_EQ(m20.median, 15.75);
  EXPECT_EQ(m20.low, 9.0);
  EXPECT_EQ(m20.high, 22.5);

  // n = 5: even [min, max] covers only 1 - 2/32 < 0.95, so min and max.
  const std::vector<double> five = {4, 2, 5, 3, 1};
  const MedianInterval m5 = median_interval(five, 0.05);
  EXPECT_EQ(m5.median, 3.0);
  EXPECT_EQ(m5.low, 1.0);
  EXPECT_EQ(m5.high, 5.0);

  const std::vector<double> one = {42};
  const MedianInterval m1 = median_interval(one, 0.05);
  EXPECT_EQ(m1.median, 42.0);
  EXPECT_EQ(m1.low, 42.0);
  EXPECT_EQ(m1.high, 42.0);
}

TEST(CompareStatisticsTest, IndependentAaComparisonsHoldTheFalsePositiveRate) {
  NormalSource normal(20240601);
  const Calibration c = calibrate(2000, false, 1.0, [&](auto& base, auto& candidate) {
    base = lognormal_sample(normal, 10, 0.05, 1.0);
    candidate = lognormal_sample(normal, 10, 0.05, 1.0);
  });
  std::printf("A/A independent n=10: p<0.05 in %.4f, 95%% interval covers 1 in %.4f\n",
              c.significant, c.covered);
  EXPECT_LE(c.significant, 0.065);
  EXPECT_GT(c.significant, 0.02);
  EXPECT_GE(c.covered, 0.93);
}

TEST(CompareStatisticsTest, IndependentComparisonsDetectATwentyPercentIncrease) {
  NormalSource normal(42);
  const Calibration c = calibrate(500, false, 1.2, [&](auto& base, auto& candidate) {
    base = lognormal_sample(normal, 10, 0.05, 1.0);
    candidate = lognormal_sample(normal, 10, 0.05, 1.2);
  });
  std::printf("power independent n=10: detected in %.4f, interval covers 1.2 in %.4f\n", c.detected,
              c.covered);
  EXPECT_GE(c.detected, 0.99);
  EXPECT_GE(c.covered, 0.93);
}

// Pairs share a per-pair machine state (sigma 0.2, far larger than the 5%
// noise) that pairing cancels and independent samples could not.
template <class Normal>
void draw_pairs(Normal& normal, double ratio, std::vector<double>& base,
                std::vector<double>& candidate) {
  base.resize(10);
  candidate.resize(10);
  for (std::size_t i = 0; i < base.size(); ++i) {
    const double drift = 0.2 * normal.next();
    base[i] = std::exp(drift + 0.05 * normal.next());
    candidate[i] = ratio * std::exp(drift + 0.05 * normal.next());
  }
}

TEST(CompareStatisticsTest, PairedAaComparisonsHoldTheFalsePositiveRate) {
  NormalSource normal(7);
  const Calibration c = calibrate(2000, true, 1.0, [&](auto& base, auto& candidate) {
    draw_pairs(normal, 1.0, base, candidate);
  });
  std::printf("A/A paired n=10: p<0.05 in %.4f, 95%% interval covers 1 in %.4f\n", c.significant,
              c.covered);
  EXPECT_LE(c.significant, 0.065);
  EXPECT_GT(c.significant, 0.02);
  EXPECT_GE(c.covered, 0.93);
}

TEST(CompareStatisticsTest, PairedComparisonsDetectATwentyPercentIncrease) {
  NormalSource normal(99);
  const Calibration c = calibrate(500, true, 1.2, [&](auto& base, auto& candidate) {
    draw_pairs(normal, 1.2, base, candidate);
  });
  std::printf("power paired n=10: detected in %.4f, interval covers 1.2 in %.4f\n", c.detected,
              c.covered);
  EXPECT_GE(c.detected, 0.99);
  EXPECT_GE(c.covered, 0.93);
}

TEST(CompareStatisticsTest, NonPositiveValuesOnTheRatioScaleThrow) {
  const std::vector<double> good = {1, 2, 3};
  const std::vector<double> with_zero = {1, 0, 3};
  const std::vector<double> negative = {-1, 2, 3};
  const std::string zero_message =
      compare_error_of([&] { compare_independent(good, with_zero, 0.05, ChangeScale::kRatio); });
  EXPECT_NE(zero_message.find("candidate sample 2"), std::string::npos) << zero_message;
  EXPECT_NE(zero_message.find("is 0"), std::string::npos) << zero_message;
  EXPECT_NE(zero_message.find("positive"), std::string::npos) << zero_message;
  const std::string negative_message =
      compare_error_of([&] { compare_paired(negative, good, 0.05, ChangeScale::kRatio); });
  EXPECT_NE(negative_message.find("base sample 1 is -1"), std::string::npos) << negative_message;

  // The difference scale takes zeros and negatives.
  EXPECT_EQ(compare_error_of(
                [&] { compare_independent(negative, with_zero, 0.05, ChangeScale::kDifference); }),
            "");
}

TEST(CompareStatisticsTest, EmptyNonFiniteAndUnequalInputsThrow) {
  const std::vector<double> good = {1, 2, 3};
  const std::vector<double> empty;
  const std::vector<double> with_nan = {1, std::numeric_limits<double>::quiet_NaN()};
  const std::vector<double> with_inf = {std::numeric_limits<double>::infinity()};
  EXPECT_NE(compare_error_of([&] {
              compare_independent(empty, good, 0.05, ChangeScale::kRatio);
            }).find("base sample is empty"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] {
              compare_independent(good, empty, 0.05, ChangeScale::kDifference);
            }).find("candidate sample is empty"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] {
              compare_independent(good, with_nan, 0.05, ChangeScale::kDifference);
            }).find("candidate sample 2"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] {
              compare_paired(with_inf, with_inf, 0.05, ChangeScale::kDifference);
            }).find("not a finite number"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] {
              compare_paired(good, with_nan, 0.05, ChangeScale::kRatio);
            }).find("equal lengths"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] {
              compare_paired(empty, empty, 0.05, ChangeScale::kRatio);
            }).find("empty"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] { median_interval(empty, 0.05); }), "");
  EXPECT_NE(compare_error_of([&] { median_interval(with_nan, 0.05); }), "");
  EXPECT_NE(compare_error_of([&] {
              compare_independent(good, good, 0, ChangeScale::kRatio);
            }).find("alpha"),
            std::string::npos);
  EXPECT_NE(compare_error_of([&] { compare_paired(good, good, 1.5, ChangeScale::kRatio); }), "");
}

TEST(CompareStatisticsTest, OrderTrendIsKendallsTauAgainstTheOrderWithAnExactPValue) {
  // Six values in order: S = 15 of 15 pairs, and 2 of the 720 orders are that
  // extreme (this one and its reverse).
  const std::vector<double> rising = {20, 21, 23, 24, 26, 29};
  const OrderTrend up = order_trend(rising);
  EXPECT_EQ(up.n, 6u);
  EXPECT_NEAR(up.tau, 1.0, kTight);
  EXPECT_NEAR(up.p_value, 2.0 / 720, kTight);
  const std::vector<double> falling(rising.rbegin(), rising.rend());
  EXPECT_NEAR(order_trend(falling).tau, -1.0, kTight);
  EXPECT_NEAR(order_trend(falling).p_value, 2.0 / 720, kTight);

  // 1 3 2 4: one inversion, S = 4 of 6; 4 of the 24 orders have at most one
  // inversion, 4 at least five: p = 8 / 24.
  const std::vector<double> almost = {1, 3, 2, 4};
  EXPECT_NEAR(order_trend(almost).tau, 4.0 / 6, kTight);
  EXPECT_NEAR(order_trend(almost).p_value, 1.0 / 3, kTight);

  // A repetition pattern with no drift: nothing to see.
  const std::vector<double> level = {25.1, 24.0, 25.6, 24.4, 25.0, 24.7};
  EXPECT_GT(order_trend(level).p_value, 0.3);
  const std::vector<double> flat(6, 7.0);
  EXPECT_NEAR(order_trend(flat).tau, 0.0, kTight);
  EXPECT_NEAR(order_trend(flat).p_value, 1.0, kTight);
  const std::vector<double> two = {1, 2};
  EXPECT_NEAR(order_trend(two).p_value, 1.0, kTight);
}

TEST(CompareStatisticsTest, OrderTrendOfManyValuesUsesTheNormalApproximation) {
  std::vector<double> drifting;
  std::vector<double> steady;
  for (int i = 0; i < 400; ++i) {
    drifting.push_back(i + 30.0 * std::sin(i));  // rises under the noise
    steady.push_back(std::sin(i * 7.0));
  }
  EXPECT_GT(order_trend(drifting).tau, 0.8);
  EXPECT_LT(order_trend(drifting).p_value, 1e-6);
  EXPECT_GT(order_trend(steady).p_value, 0.01);
  const std::vector<double> bad = {1, std::nan(""), 3};
  EXPECT_NE(compare_error_of([&] { order_trend(bad); }), "");
}

}  // namespace
}  // namespace perflab
