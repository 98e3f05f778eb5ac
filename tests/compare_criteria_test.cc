// The criteria language, the metric table, and the three-way verdict of one
// criterion, on hand-built estimates so each case states its interval.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "perflab/compare.hpp"

namespace perflab {
namespace {

using Op = Criterion::Op;

// Runs parse_criterion expecting a CompareError whose message contains the
// criterion text and every one of `fragments`.
void expect_parse_error(const std::string& text, std::initializer_list<std::string> fragments) {
  SCOPED_TRACE("criterion: '" + text + "'");
  try {
    parse_criterion(text);
    ADD_FAILURE() << "parsed without error";
  } catch (const CompareError& error) {
    const std::string message = error.what();
    std::string trimmed = text;
    trimmed.erase(0, trimmed.find_first_not_of(" \t"));
    trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
    EXPECT_NE(message.find("'" + trimmed + "'"), std::string::npos) << message;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "missing '" << fragment << "' in: " << message;
    }
  }
}

MetricInfo metric(const std::string& name) {
  std::optional<MetricInfo> info = find_metric(name);
  EXPECT_TRUE(info.has_value()) << name;
  return info.value_or(MetricInfo{});
}

ShiftEstimate ratio_change(double low, double high, double confidence = 0.95) {
  ShiftEstimate change;
  change.scale = ChangeScale::kRatio;
  change.low = low;
  change.high = high;
  change.estimate = (low + high) / 2;
  change.confidence = confidence;
  change.n_base = 10;
  change.n_candidate = 10;
  change.p_value = 0.01;
  change.min_p_value = 1e-5;
  return change;
}

Verdict relative_verdict(const std::string& text, double low, double high) {
  const Criterion criterion = parse_criterion(text);
  return evaluate_relative(criterion, metric(criterion.metric), ratio_change(low, high)).verdict;
}

Verdict absolute_verdict(const std::string& text, double low, double high) {
  const Criterion criterion = parse_criterion(text);
  return evaluate_absolute(criterion, metric(criterion.metric), MedianInterval{low, low, high})
      .verdict;
}

CriterionResult exact(const std::string& text, double base, double candidate) {
  const Criterion criterion = parse_criterion(text);
  return evaluate_exact(criterion, metric(criterion.metric), base, candidate);
}

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// --- parsing ---------------------------------------------------------------

TEST(CompareCriteriaTest, ParsesARelativeChangeAsAFraction) {
  const Criterion c = parse_criterion("allocs_per_op <= -30%");
  EXPECT_EQ(c.text, "allocs_per_op <= -30%");
  EXPECT_EQ(c.metric, "allocs_per_op");
  EXPECT_EQ(c.op, Op::kLessEqual);
  EXPECT_DOUBLE_EQ(c.value, -0.30);
  EXPECT_TRUE(c.relative);

  const Criterion up = parse_criterion("throughput_rps >= +10%");
  EXPECT_EQ(up.op, Op::kGreaterEqual);
  EXPECT_DOUBLE_EQ(up.value, 0.10);
  EXPECT_TRUE(up.relative);

  EXPECT_DOUBLE_EQ(parse_criterion("cpu_per_op_us < 12.5%").value, 0.125);
  EXPECT_DOUBLE_EQ(parse_criterion("cpu_per_op_us < -1.5e1%").value, -0.15);
}

TEST(CompareCriteriaTest, ParsesEveryOperator) {
  EXPECT_EQ(parse_criterion("latency_p99_us <= 1").op, Op::kLessEqual);
  EXPECT_EQ(parse_criterion("latency_p99_us >= 1").op, Op::kGreaterEqual);
  EXPECT_EQ(parse_criterion("latency_p99_us < 1").op, Op::kLess);
  EXPECT_EQ(parse_criterion("latency_p99_us > 1").op, Op::kGreater);
}

TEST(CompareCriteriaTest, ParsesAbsoluteBoundsInEveryNumberForm) {
  const Criterion c = parse_criterion("latency_p99_us <= 2000");
  EXPECT_FALSE(c.relative);
  EXPECT_DOUBLE_EQ(c.value, 2000);
  EXPECT_DOUBLE_EQ(parse_criterion("latency_p99_us <= 1.5e3").value, 1500);
  EXPECT_DOUBLE_EQ(parse_criterion("latency_p99_us <= 1.5E+3").value, 1500);
  EXPECT_DOUBLE_EQ(parse_criterion("latency_p99_us <= +2000").value, 2000);
  EXPECT_DOUBLE_EQ(parse_criterion("error_rate <= .5").value, 0.5);
  EXPECT_DOUBLE_EQ(parse_criterion("error_rate <= 5.").value, 5);
  EXPECT_DOUBLE_EQ(parse_criterion("error_rate <= 1e-3").value, 0.001);
  EXPECT_DOUBLE_EQ(parse_criterion("rss_growth_bytes_per_s <= -10").value, -10);
}

TEST(CompareCriteriaTest, IgnoresWhitespaceAroundTokensAndKeepsTheTrimmedText) {
  const Criterion tight = parse_criterion("allocs_per_op<=-30%");
  EXPECT_EQ(tight.metric, "allocs_per_op");
  EXPECT_DOUBLE_EQ(tight.value, -0.30);
  const Criterion loose = parse_criterion("  throughput_rps \t>=   +10 %  ");
  EXPECT_EQ(loose.text, "throughput_rps \t>=   +10 %");
  EXPECT_TRUE(loose.relative);
  EXPECT_DOUBLE_EQ(loose.value, 0.10);
}

TEST(CompareCriteriaTest, ReadsZeroPercentEitherSignAsPositiveZero) {
  for (const char* text :
       {"latency_p50_us <= +0%", "latency_p50_us <= -0%", "latency_p50_us <= 0%"}) {
    const Criterion c = parse_criterion(text);
    EXPECT_EQ(c.value, 0.0) << text;
    EXPECT_FALSE(std::signbit(c.value)) << text;
    EXPECT_TRUE(c.relative) << text;
  }
}

TEST(CompareCriteriaTest, AcceptsAbsoluteBoundsOnDifferenceScaleMetrics) {
  EXPECT_DOUBLE_EQ(parse_criterion("error_rate <= 0.01").value, 0.01);
  EXPECT_DOUBLE_EQ(parse_criterion("pool_hit_rate >= 0.9").value, 0.9);
  EXPECT_DOUBLE_EQ(parse_criterion("leaked_bytes <= 0").value, 0);
}

TEST(CompareCriteriaTest, AcceptsGoogleBenchmarkFigures) {
  EXPECT_EQ(parse_criterion("real_time_ns <= -5%").metric, "real_time_ns");
  EXPECT_EQ(parse_criterion("items_per_second >= +5%").metric, "items_per_second");
  EXPECT_EQ(parse_criterion("allocs_per_iteration <= 3").metric, "allocs_per_iteration");
}

TEST(CompareCriteriaTest, AcceptsARelativeFallJustShortOfOneHundredPercent) {
  EXPECT_DOUBLE_EQ(parse_criterion("bytes_per_op <= -99.9%").value, -0.999);
  EXPECT_DOUBLE_EQ(parse_criterion("throughput_rps >= +250%").value, 2.5);
}

TEST(CompareCriteriaTest, ParseCriteriaKeepsTheOrderAndStopsAtTheFirstBadOne) {
  const std::vector<Criterion> criteria =
      parse_criteria({"allocs_per_op <= -30%", "latency_p99_us <= 2000", "throughput_rps >= +0%"});
  ASSERT_EQ(criteria.size(), 3u);
  EXPECT_EQ(criteria[0].metric, "allocs_per_op");
  EXPECT_EQ(criteria[1].metric, "latency_p99_us");
  EXPECT_EQ(criteria[2].metric, "throughput_rps");
  EXPECT_TRUE(parse_criteria({}).empty());
  EXPECT_THROW(parse_criteria({"allocs_per_op <= -30%", "allocs <= 1"}), CompareError);
}

TEST(CompareCriteriaTest, RejectsAnEmptyCriterion) {
  for (const char* text : {"", "   ", "\t"}) {
    try {
      parse_criterion(text);
      ADD_FAILURE() << "parsed '" << text << "'";
    } catch (const CompareError& error) {
      EXPECT_TRUE(contains(error.what(), "empty criterion")) << error.what();
    }
  }
}

TEST(CompareCriteriaTest, RejectsAnUnknownMetricListingTheKnownOnesAndSuggestingTheClosest) {
  expect_parse_error("latency_p99 <= 2000",
                     {"unknown metric 'latency_p99'", "did you mean latency_p99_us?",
                      "known metrics:", "throughput_rps", "pool_hit_rate", "real_time_ns"});
  expect_parse_error("alocs_per_op <= -30%", {"did you mean allocs_per_op?"});
  expect_parse_error("throughput <= 1", {"unknown metric 'throughput'", "known metrics:"});
}

TEST(CompareCriteriaTest, SuggestsNothingWhenNoMetricIsWithinThreeEdits) {
  try {
    parse_criterion("frobnication <= 1");
    ADD_FAILURE() << "parsed";
  } catch (const CompareError& error) {
    EXPECT_TRUE(contains(error.what(), "unknown metric 'frobnication'")) << error.what();
    EXPECT_FALSE(contains(error.what(), "did you mean")) << error.what();
  }
}

TEST(CompareCriteriaTest, RejectsAMissingMetricName) {
  expect_parse_error("<= 5", {"missing metric name"});
  expect_parse_error("-30%", {"missing metric name"});
}

TEST(CompareCriteriaTest, RejectsAMissingOrUnknownOperator) {
  expect_parse_error("allocs_per_op -30%", {"missing operator", "<= >= < >"});
  expect_parse_error("allocs_per_op", {"missing operator"});
  expect_parse_error("allocs_per_op = 3", {"unknown operator '='", "<= >= < >"});
  expect_parse_error("allocs_per_op == 3", {"unknown operator '=='"});
  expect_parse_error("allocs_per_op != 3", {"unknown operator '!='"});
  expect_parse_error("allocs_per_op => 3", {"unknown operator '=>'"});
  expect_parse_error("allocs_per_op << 3", {"unknown operator '<<'"});
}

TEST(CompareCriteriaTest, RejectsAMissingOrBadNumber) {
  expect_parse_error("allocs_per_op <=", {"missing value"});
  expect_parse_error("allocs_per_op <= abc", {"bad number 'abc'"});
  expect_parse_error("allocs_per_op <= -", {"bad number '-'"});
  expect_parse_error("allocs_per_op <= +%", {"bad number '+%'"});
  expect_parse_error("allocs_per_op <= 1e", {"bad number '1e'"});
  expect_parse_error("allocs_per_op <= .", {"bad number '.'"});
  expect_parse_error("allocs_per_op <= inf", {"bad number 'inf'"});
  expect_parse_error("allocs_per_op <= nan", {"bad number 'nan'"});
  expect_parse_error("allocs_per_op <= 1e999", {"bad number '1e999'", "out of range"});
}

TEST(CompareCriteriaTest, RejectsAnythingAfterTheValue) {
  expect_parse_error("latency_p99_us <= 2000us", {"unexpected 'us' after the value", "units"});
  expect_parse_error("allocs_per_op <= -30%%", {"unexpected '%' after the value"});
  expect_parse_error("allocs_per_op <= 2000 3", {"unexpected '3'"});
  expect_parse_error("allocs_per_op <= 1.2.3", {"unexpected '.3'"});
  expect_parse_error("allocs_per_op <= -30% and more", {"unexpected 'and more'"});
}

TEST(CompareCriteriaTest, RejectsAFallOfOneHundredPercentOrMoreOnARatioMetric) {
  expect_parse_error("allocs_per_op <= -100%", {"cannot fall by 100% or more"});
  expect_parse_error("throughput_rps >= -150%", {"cannot fall by 100% or more"});
}

TEST(CompareCriteriaTest, RejectsARelativeBoundOnADifferenceScaleMetric) {
  expect_parse_error("error_rate <= +5%",
                     {"relative bound is ambiguous", "error_rate", "absolute bound"});
  expect_parse_error("leaked_bytes <= +0%", {"relative bound is ambiguous"});
  expect_parse_error("pool_hit_rate >= -5%", {"relative bound is ambiguous"});
}

// --- the metric table ------------------------------------------------------

TEST(CompareCriteriaTest, MetricNamesAreUnique) {
  std::set<std::string> names;
  for (const MetricInfo& info : canonical_metrics()) {
    EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
  }
}

TEST(CompareCriteriaTest, ListsDesignsCanonicalMetricsFirstAndInOrder) {
  const std::vector<std::string> design = {
      "throughput_rps",   "latency_p50_us",  "latency_p90_us",
      "latency_p99_us",   "latency_p999_us", "latency_max_us",
      "error_rate",       "allocs_per_op",   "bytes_per_op",
      "alloc_rate_per_s", "peak_heap_bytes", "leaked_bytes",
      "cpu_per_op_us",    "peak_rss_bytes",  "rss_growth_bytes_per_s",
      "pool_hit_rate"};
  const std::vector<MetricInfo>& metrics = canonical_metrics();
  ASSERT_GE(metrics.size(), design.size());
  for (std::size_t i = 0; i < design.size(); ++i) EXPECT_EQ(metrics[i].name, design[i]);
  for (const char* name : {"real_time_ns", "cpu_time_ns", "items_per_second", "bytes_per_second",
                           "allocs_per_iteration"}) {
    EXPECT_TRUE(find_metric(name).has_value()) << name;
  }
}

TEST(CompareCriteriaTest, DescribesEachMetricsUnitDirectionAndScale) {
  const MetricInfo throughput = metric("throughput_rps");
  EXPECT_EQ(throughput.unit, "req/s");
  EXPECT_EQ(throughput.better, Better::kHigher);
  EXPECT_EQ(throughput.scale, ChangeScale::kRatio);
  EXPECT_FALSE(throughput.deterministic);

  const MetricInfo p99 = metric("latency_p99_us");
  EXPECT_EQ(p99.unit, "us");
  EXPECT_EQ(p99.better, Better::kLower);

  const MetricInfo allocs = metric("allocs_per_op");
  EXPECT_TRUE(allocs.deterministic);
  EXPECT_EQ(allocs.scale, ChangeScale::kRatio);

  const MetricInfo leaked = metric("leaked_bytes");
  EXPECT_TRUE(leaked.deterministic);
  EXPECT_EQ(leaked.scale, ChangeScale::kDifference);

  EXPECT_EQ(metric("error_rate").scale, ChangeScale::kDifference);
  EXPECT_EQ(metric("pool_hit_rate").better, Better::kHigher);
  EXPECT_EQ(metric("items_per_second").better, Better::kHigher);
  EXPECT_EQ(metric("real_time_ns").unit, "ns");
}

TEST(CompareCriteriaTest, FindsNoMetricForAnUnknownOrMiscasedName) {
  EXPECT_FALSE(find_metric("latency_p99").has_value());
  EXPECT_FALSE(find_metric("Throughput_RPS").has_value());
  EXPECT_FALSE(find_metric("").has_value());
}

TEST(CompareCriteriaTest, NamesEveryVerdict) {
  EXPECT_STREQ(verdict_name(Verdict::kPass), "pass");
  EXPECT_STREQ(verdict_name(Verdict::kFail), "fail");
  EXPECT_STREQ(verdict_name(Verdict::kInconclusive), "inconclusive");
}

// --- relative criteria -----------------------------------------------------

TEST(CompareCriteriaTest, PassesWhenTheWholeIntervalOfAFallIsWithinTheBound) {
  const Criterion c = parse_criterion("allocs_per_op <= -30%");
  const CriterionResult r =
      evaluate_relative(c, metric("allocs_per_op"), ratio_change(0.588, 0.65));
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.reason,
            "pass: the whole 95% interval of the change (-41.2% .. -35.0%) is within <= -30%");
  EXPECT_EQ(r.criterion.text, c.text);
}

TEST(CompareCriteriaTest, FailsWhenTheWholeIntervalViolatesTheBound) {
  const Criterion c = parse_criterion("latency_p99_us <= +5%");
  const CriterionResult r =
      evaluate_relative(c, metric("latency_p99_us"), ratio_change(1.12, 1.185));
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.reason,
            "fail: the whole 95% interval of the change (+12.0% .. +18.5%) violates <= +5%");
}

TEST(CompareCriteriaTest, IsInconclusiveWhenTheIntervalStraddlesTheBound) {
  const Criterion c = parse_criterion("cpu_per_op_us <= +0%");
  const CriterionResult r =
      evaluate_relative(c, metric("cpu_per_op_us"), ratio_change(0.979, 1.034));
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_EQ(r.reason,
            "inconclusive: the 95% interval of the change (-2.1% .. +3.4%) straddles the bound "
            "+0%; more samples would narrow it");
}

TEST(CompareCriteriaTest, JudgesALowerIsBetterMetricOnAllThreeOutcomes) {
  EXPECT_EQ(relative_verdict("latency_p50_us <= -10%", 0.70, 0.85), Verdict::kPass);
  EXPECT_EQ(relative_verdict("latency_p50_us <= -10%", 0.95, 1.10), Verdict::kFail);
  EXPECT_EQ(relative_verdict("latency_p50_us <= -10%", 0.85, 0.95), Verdict::kInconclusive);
  // A no-regression gate.
  EXPECT_EQ(relative_verdict("latency_p50_us <= +0%", 0.90, 0.99), Verdict::kPass);
  EXPECT_EQ(relative_verdict("latency_p50_us <= +0%", 1.01, 1.05), Verdict::kFail);
}

TEST(CompareCriteriaTest, JudgesAHigherIsBetterMetricOnAllThreeOutcomes) {
  EXPECT_EQ(relative_verdict("throughput_rps >= +10%", 1.15, 1.20), Verdict::kPass);
  EXPECT_EQ(relative_verdict("throughput_rps >= +10%", 0.90, 1.05), Verdict::kFail);
  EXPECT_EQ(relative_verdict("throughput_rps >= +10%", 1.05, 1.20), Verdict::kInconclusive);
  EXPECT_EQ(relative_verdict("throughput_rps > -5%", 0.96, 1.02), Verdict::kPass);
  EXPECT_EQ(relative_verdict("throughput_rps > -5%", 0.80, 0.90), Verdict::kFail);
}

TEST(CompareCriteriaTest, TellsStrictFromNonStrictOnlyAtTheExactBound) {
  // An end of the interval on the bound (ratio 0.7 for -30%).
  EXPECT_EQ(relative_verdict("allocs_per_op <= -30%", 0.6, 0.7), Verdict::kPass);
  EXPECT_EQ(relative_verdict("allocs_per_op < -30%", 0.6, 0.7), Verdict::kInconclusive);
  EXPECT_EQ(relative_verdict("allocs_per_op <= -30%", 0.7, 0.8), Verdict::kInconclusive);
  EXPECT_EQ(relative_verdict("allocs_per_op < -30%", 0.7, 0.8), Verdict::kFail);

  EXPECT_EQ(relative_verdict("throughput_rps >= +10%", 1.1, 1.3), Verdict::kPass);
  EXPECT_EQ(relative_verdict("throughput_rps > +10%", 1.1, 1.3), Verdict::kInconclusive);
  EXPECT_EQ(relative_verdict("throughput_rps >= +10%", 0.9, 1.1), Verdict::kInconclusive);
  EXPECT_EQ(relative_verdict("throughput_rps > +10%", 0.9, 1.1), Verdict::kFail);

  // A point interval on the bound: the operator alone decides.
  EXPECT_EQ(relative_verdict("latency_max_us <= +0%", 1.0, 1.0), Verdict::kPass);
  EXPECT_EQ(relative_verdict("latency_max_us < +0%", 1.0, 1.0), Verdict::kFail);
  EXPECT_EQ(relative_verdict("latency_max_us >= +0%", 1.0, 1.0), Verdict::kPass);
  EXPECT_EQ(relative_verdict("latency_max_us > +0%", 1.0, 1.0), Verdict::kFail);

  // Just off the bound is not on it.
  EXPECT_EQ(relative_verdict("allocs_per_op < -30%", 0.6, 0.7 - 1e-6), Verdict::kPass);
}

TEST(CompareCriteriaTest, ExplainsThatInfeasibleSampleCountsCannotReachSignificance) {
  const Criterion c = parse_criterion("allocs_per_op <= -30%");
  ShiftEstimate change = ratio_change(0.5, 1.4, 0.9);
  change.n_base = 3;
  change.n_candidate = 3;
  change.feasible = false;
  change.min_p_value = 0.1;
  change.p_value = 0.1;
  const CriterionResult r = evaluate_relative(c, metric("allocs_per_op"), change);
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_TRUE(contains(r.reason,
                       "inconclusive: 3 samples per side cannot reach the "
                       "significance level (the smallest p-value they can give is 0.1)"))
      << r.reason;
  EXPECT_TRUE(contains(r.reason, "alpha 0.05 needs at least 4 per side")) << r.reason;
  EXPECT_TRUE(contains(r.reason, "alpha 0.01 needs at least 5 per side")) << r.reason;
  EXPECT_TRUE(contains(r.reason,
                       "the 90% interval of the change (-50.0% .. +40.0%) straddles "
                       "the bound -30%"))
      << r.reason;
}

TEST(CompareCriteriaTest, NamesOnlyTheLevelsAnInfeasibleEstimateCouldHaveMissed) {
  // 4 per side give p >= 2/70 = 0.029: alpha 0.05 was reachable, so the
  // configured level must be lower.
  ShiftEstimate change = ratio_change(0.5, 1.4);
  change.n_base = 4;
  change.n_candidate = 4;
  change.feasible = false;
  change.min_p_value = 2.0 / 70.0;
  const CriterionResult r =
      evaluate_relative(parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"), change);
  EXPECT_FALSE(contains(r.reason, "alpha 0.05")) << r.reason;
  EXPECT_TRUE(contains(r.reason, "alpha 0.01 needs at least 5 per side")) << r.reason;
}

TEST(CompareCriteriaTest, CountsPairsForAnInfeasiblePairedEstimate) {
  ShiftEstimate change = ratio_change(0.5, 1.4);
  change.paired = true;
  change.n_base = 4;
  change.n_candidate = 4;
  change.feasible = false;
  change.min_p_value = 2.0 / 16.0;
  const CriterionResult r =
      evaluate_relative(parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"), change);
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_TRUE(contains(r.reason, "4 pairs cannot reach")) << r.reason;
  EXPECT_TRUE(contains(r.reason, "alpha 0.05 needs at least 6 pairs")) << r.reason;
}

// DESIGN.md: no claim the sample counts cannot support; an interval below the
// confidence asked for decides nothing, even clear of the bound.
TEST(CompareCriteriaTest, NeverLetsAnInfeasibleIntervalDecide) {
  ShiftEstimate change = ratio_change(0.40, 0.50, 0.9);
  change.feasible = false;
  change.min_p_value = 0.1;
  const CriterionResult r =
      evaluate_relative(parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"), change);
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_TRUE(contains(r.reason, "cannot reach the significance level")) << r.reason;
  EXPECT_TRUE(contains(r.reason, "(-60.0% .. -50.0%) alone would say <= -30% is met")) << r.reason;
}

TEST(CompareCriteriaTest, StatesTheIntervalsActualConfidence) {
  const CriterionResult r =
      evaluate_relative(parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"),
                        ratio_change(0.5, 0.6, 0.9523));
  EXPECT_TRUE(contains(r.reason, "the whole 95.2% interval")) << r.reason;
  const CriterionResult high =
      evaluate_relative(parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"),
                        ratio_change(0.5, 0.6, 0.99996));
  EXPECT_TRUE(contains(high.reason, "the whole 99.996% interval")) << high.reason;
  const CriterionResult unknown = evaluate_relative(
      parse_criterion("allocs_per_op <= -30%"), metric("allocs_per_op"), ratio_change(0.5, 0.6, 0));
  EXPECT_TRUE(contains(unknown.reason, "the whole interval of the change")) << unknown.reason;
}

TEST(CompareCriteriaTest, PrintsAPointIntervalAndTinyChangesReadably) {
  const CriterionResult point = evaluate_relative(parse_criterion("allocs_per_op <= +5%"),
                                                  metric("allocs_per_op"), ratio_change(1.0, 1.0));
  EXPECT_TRUE(contains(point.reason, "interval of the change (+0.0%) is within")) << point.reason;
  const CriterionResult tiny =
      evaluate_relative(parse_criterion("latency_p50_us <= +0%"), metric("latency_p50_us"),
                        ratio_change(0.9996, 1.0003));
  EXPECT_TRUE(contains(tiny.reason, "(-0.04% .. +0.03%)")) << tiny.reason;
}

TEST(CompareCriteriaTest, ReadsARelativeValueAsADifferenceBoundOnTheDifferenceScale) {
  // The parser refuses "error_rate <= +1%", but code may build the criterion.
  Criterion c;
  c.text = "error_rate <= +0.01";
  c.metric = "error_rate";
  c.op = Op::kLessEqual;
  c.value = 0.01;
  c.relative = true;
  ShiftEstimate change = ratio_change(0.002, 0.004);
  change.scale = ChangeScale::kDifference;
  const CriterionResult pass = evaluate_relative(c, metric("error_rate"), change);
  EXPECT_EQ(pass.verdict, Verdict::kPass);
  EXPECT_EQ(pass.reason,
            "pass: the whole 95% interval of the change (+0.002 .. +0.004) is within <= +0.01");
  change.low = 0.005;
  change.high = 0.02;
  EXPECT_EQ(evaluate_relative(c, metric("error_rate"), change).verdict, Verdict::kInconclusive);
  change.low = 0.011;
  EXPECT_EQ(evaluate_relative(c, metric("error_rate"), change).verdict, Verdict::kFail);
}

TEST(CompareCriteriaTest, IsInconclusiveWhenTheChangeIsNotANumber) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const CriterionResult r = evaluate_relative(parse_criterion("allocs_per_op <= -30%"),
                                              metric("allocs_per_op"), ratio_change(nan, nan));
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_TRUE(contains(r.reason, "could not be estimated")) << r.reason;
}

// --- absolute bounds -------------------------------------------------------

TEST(CompareCriteriaTest, JudgesAnAbsoluteBoundOnTheCandidatesMedianInterval) {
  const Criterion c = parse_criterion("latency_p99_us <= 2000");
  const CriterionResult pass =
      evaluate_absolute(c, metric("latency_p99_us"), MedianInterval{1700, 1520, 1830});
  EXPECT_EQ(pass.verdict, Verdict::kPass);
  EXPECT_EQ(pass.reason,
            "pass: the whole confidence interval of the candidate's median (1520 us .. 1830 us) "
            "is within <= 2000 us");
  const CriterionResult fail =
      evaluate_absolute(c, metric("latency_p99_us"), MedianInterval{2300, 2100, 2500});
  EXPECT_EQ(fail.verdict, Verdict::kFail);
  EXPECT_TRUE(contains(fail.reason, "fail: the whole")) << fail.reason;
  EXPECT_TRUE(contains(fail.reason, "violates <= 2000 us")) << fail.reason;
  const CriterionResult unsure =
      evaluate_absolute(c, metric("latency_p99_us"), MedianInterval{2000, 1900, 2100});
  EXPECT_EQ(unsure.verdict, Verdict::kInconclusive);
  EXPECT_EQ(unsure.reason,
            "inconclusive: the confidence interval of the candidate's median (1900 us .. 2100 us) "
            "straddles the bound 2000 us; more samples would narrow it");
}

TEST(CompareCriteriaTest, JudgesAnAbsoluteLowerBoundAndTheExactEdge) {
  EXPECT_EQ(absolute_verdict("throughput_rps >= 5000", 5200, 5600), Verdict::kPass);
  EXPECT_EQ(absolute_verdict("throughput_rps >= 5000", 4000, 4900), Verdict::kFail);
  EXPECT_EQ(absolute_verdict("throughput_rps >= 5000", 4900, 5100), Verdict::kInconclusive);
  EXPECT_EQ(absolute_verdict("throughput_rps >= 5000", 5000, 5100), Verdict::kPass);
  EXPECT_EQ(absolute_verdict("throughput_rps > 5000", 5000, 5100), Verdict::kInconclusive);
  EXPECT_EQ(absolute_verdict("latency_p99_us <= 2000", 1800, 2000), Verdict::kPass);
  EXPECT_EQ(absolute_verdict("latency_p99_us < 2000", 1800, 2000), Verdict::kInconclusive);
  EXPECT_EQ(absolute_verdict("latency_p99_us < 2000", 2000, 2200), Verdict::kFail);
  EXPECT_EQ(absolute_verdict("error_rate <= 0", 0, 0), Verdict::kPass);
  EXPECT_EQ(absolute_verdict("error_rate <= 0", 0, 0.001), Verdict::kInconclusive);
}

TEST(CompareCriteriaTest, PrintsLargeAbsoluteFiguresInPlainDigits) {
  const CriterionResult r =
      evaluate_absolute(parse_criterion("peak_rss_bytes <= 2e8"), metric("peak_rss_bytes"),
                        MedianInterval{150000000, 123456789, 187654321});
  EXPECT_EQ(r.reason,
            "pass: the whole confidence interval of the candidate's median (123456789 B .. "
            "187654321 B) is within <= 200000000 B");
}

// --- exact comparison ------------------------------------------------------

TEST(CompareCriteriaTest, ComparesADeterministicFigureExactly) {
  // 7 / 10 - 1 is -0.30000000000000004 in binary; it is still exactly -30%.
  const CriterionResult pass = exact("allocs_per_op <= -30%", 10, 7);
  EXPECT_EQ(pass.verdict, Verdict::kPass);
  EXPECT_EQ(pass.reason, "pass: the exact change -30.0% (10 allocs -> 7 allocs) is within <= -30%");
  EXPECT_EQ(exact("allocs_per_op < -30%", 10, 7).verdict, Verdict::kFail);
  const CriterionResult fail = exact("allocs_per_op <= -30%", 10, 8);
  EXPECT_EQ(fail.verdict, Verdict::kFail);
  EXPECT_EQ(fail.reason, "fail: the exact change -20.0% (10 allocs -> 8 allocs) violates <= -30%");
  EXPECT_EQ(exact("allocs_per_op <= +0%", 10, 10).verdict, Verdict::kPass);
  EXPECT_EQ(exact("allocs_per_op < +0%", 10, 10).verdict, Verdict::kFail);
}

TEST(CompareCriteriaTest, TreatsABaseOfZeroAsNoChangeOrAnInfiniteOne) {
  EXPECT_EQ(exact("allocs_per_op <= +0%", 0, 0).verdict, Verdict::kPass);
  EXPECT_EQ(exact("allocs_per_op >= +0%", 0, 0).verdict, Verdict::kPass);
  const CriterionResult grown = exact("allocs_per_op <= +50%", 0, 3);
  EXPECT_EQ(grown.verdict, Verdict::kFail);
  EXPECT_EQ(grown.reason, "fail: the exact change +inf% (0 allocs -> 3 allocs) violates <= +50%");
  EXPECT_EQ(exact("allocs_per_op >= +50%", 0, 3).verdict, Verdict::kPass);
}

TEST(CompareCriteriaTest, ComparesAnAbsoluteBoundOnADeterministicFigureExactly) {
  const CriterionResult none = exact("leaked_bytes <= 0", 64, 0);
  EXPECT_EQ(none.verdict, Verdict::kPass);
  EXPECT_EQ(none.reason, "pass: the exact value 0 B is within <= 0 B");
  const CriterionResult leak = exact("leaked_bytes <= 0", 0, 16);
  EXPECT_EQ(leak.verdict, Verdict::kFail);
  EXPECT_EQ(leak.reason, "fail: the exact value 16 B violates <= 0 B");
  EXPECT_EQ(exact("allocs_per_op < 3", 5, 3).verdict, Verdict::kFail);
  EXPECT_EQ(exact("allocs_per_op <= 3", 5, 3).verdict, Verdict::kPass);
}

}  // namespace
}  // namespace perflab
