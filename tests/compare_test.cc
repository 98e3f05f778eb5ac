// compare_inputs on profile directories and Google Benchmark JSON built by the
// test: verdicts on known changes, exact comparison of deterministic figures,
// Holm-Bonferroni over criteria, bad input, and the reports.
#include "perflab/compare.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "scratch_dir.hpp"

namespace perflab {
namespace {

using perflab::testing::ScratchDir;

// Samples around `center` with multiplicative noise of about `noise`
// (deterministic: a fixed seed and a hand-rolled transform, so g++ and clang
// builds see the same numbers).
std::vector<double> noisy(double center, double noise, int n, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const double u = static_cast<double>(random() >> 11) / 9007199254740992.0;  // [0, 1)
    out.push_back(center * (1 + noise * (2 * u - 1)));
  }
  return out;
}

std::filesystem::path write_profile(const std::filesystem::path& dir, const nlohmann::json& samples,
                                    nlohmann::json load = {{"mode", "open"}, {"connections", 8}}) {
  std::filesystem::create_directories(dir);
  nlohmann::json summary = {
      {"schema", kProfileSchema}, {"run", {{"repetitions", 10}}}, {"samples", samples}};
  if (!load.is_null()) summary["load"] = load;
  std::ofstream(dir / kSummaryFile) << summary.dump(2);
  return dir;
}

const CriterionResult& result_for(const Comparison& c, const std::string& text) {
  for (const CriterionResult& r : c.criteria) {
    if (r.criterion.text == text) return r;
  }
  throw std::runtime_error("no result for " + text);
}

class CompareTest : public ::testing::Test {
 protected:
  ScratchDir scratch_{"compare_test"};

  Comparison compare(const nlohmann::json& base, const nlohmann::json& candidate,
                     const std::vector<std::string>& criteria, CompareOptions options = {}) {
    const auto b = write_profile(scratch_.path() / ("base" + std::to_string(counter_)), base);
    const auto c =
        write_profile(scratch_.path() / ("cand" + std::to_string(counter_++)), candidate);
    return compare_inputs(read_compare_input(b), read_compare_input(c), parse_criteria(criteria),
                          options);
  }
  int counter_ = 0;
};

TEST_F(CompareTest, APooledBuildThatAllocatesLessAndServesMorePasses) {
  const Comparison c =
      compare({{"allocs_per_op", std::vector<double>(10, 12.0)},
               {"throughput_rps", noisy(10000, 0.03, 10, 1)},
               {"latency_p99_us", noisy(900, 0.05, 10, 2)}},
              {{"allocs_per_op", std::vector<double>(10, 4.0)},
               {"throughput_rps", noisy(13000, 0.03, 10, 3)},
               {"latency_p99_us", noisy(700, 0.05, 10, 4)}},
              {"allocs_per_op <= -50%", "throughput_rps >= +25%", "latency_p99_us <= +0%"});
  EXPECT_EQ(c.verdict, Verdict::kPass) << format_comparison_text(c);
  ASSERT_EQ(c.rows.size(), 3u);
  EXPECT_EQ(c.rows[0].metric.name, "throughput_rps");  // report order: canonical order
  for (const MetricComparison& row : c.rows) {
    if (row.metric.name == "allocs_per_op") {
      EXPECT_TRUE(row.exact);  // deterministic and constant: no statistics
      EXPECT_DOUBLE_EQ(row.change.estimate, 4.0 / 12.0);
    }
    if (row.metric.name == "throughput_rps") {
      EXPECT_TRUE(row.significant);
      EXPECT_NEAR(row.change.estimate, 1.3, 0.03);
      EXPECT_LT(row.change.low, 1.3);
      EXPECT_GT(row.change.high, 1.3);
    }
  }
}

TEST_F(CompareTest, ABuildThatDoesTwentyPercentMoreWorkPerRequestFails) {
  const Comparison c =
      compare({{"cpu_per_op_us", noisy(50, 0.04, 10, 5)}},
              {{"cpu_per_op_us", noisy(60, 0.04, 10, 6)}}, {"cpu_per_op_us <= +5%"});
  EXPECT_EQ(c.verdict, Verdict::kFail) << format_comparison_text(c);
  EXPECT_EQ(verdict_exit_code(c.verdict), 1);
  EXPECT_NE(c.criteria[0].reason.find("violates"), std::string::npos) << c.criteria[0].reason;
}

TEST_F(CompareTest, TwoRunsOfTheSameBuildAreNotAChange) {
  const Comparison c = compare({{"throughput_rps", noisy(10000, 0.05, 10, 7)}},
                               {{"throughput_rps", noisy(10000, 0.05, 10, 8)}},
                               {"throughput_rps >= +10%", "throughput_rps >= -20%"});
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_FALSE(c.rows[0].significant);
  // Not 10% better (the whole interval is below +10%), surely not 20% worse.
  EXPECT_EQ(result_for(c, "throughput_rps >= +10%").verdict, Verdict::kFail);
  EXPECT_EQ(result_for(c, "throughput_rps >= -20%").verdict, Verdict::kPass);
}

TEST_F(CompareTest, FourSamplesPerSideCannotReachAlphaOnePercent) {
  CompareOptions options;
  options.alpha = 0.01;
  const Comparison c =
      compare({{"throughput_rps", noisy(10000, 0.01, 4, 9)}},
              {{"throughput_rps", noisy(12000, 0.01, 4, 10)}}, {"throughput_rps >= +30%"}, options);
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_FALSE(c.rows[0].change.feasible);
  EXPECT_FALSE(c.rows[0].significant);
  EXPECT_EQ(c.verdict, Verdict::kInconclusive) << format_comparison_text(c);
  EXPECT_EQ(verdict_exit_code(c.verdict), 3);
  EXPECT_EQ(verdict_exit_code(c.verdict, 0), 0);
  ASSERT_FALSE(c.notes.empty());
  EXPECT_NE(c.notes[0].find("cannot reach alpha"), std::string::npos) << c.notes[0];
}

TEST_F(CompareTest, ARatioFigureWithAZeroSampleHasNoRelativeChange) {
  std::vector<double> candidate = noisy(1010, 0.01, 10, 30);
  candidate[3] = 0;  // a repetition that completed nothing
  const Comparison c = compare({{"throughput_rps", noisy(1000, 0.01, 10, 31)}},
                               {{"throughput_rps", candidate}}, {"throughput_rps >= +10%"});
  EXPECT_EQ(c.verdict, Verdict::kInconclusive) << format_comparison_text(c);
  EXPECT_NE(c.criteria[0].reason.find("0 or less"), std::string::npos) << c.criteria[0].reason;
}

TEST_F(CompareTest, HolmJudgesTheSecondCriterionAtTheFullLevelOnlyAfterTheFirstIsDecided) {
  // Two clear changes: the smaller p-value is judged at alpha/2, the other at alpha.
  const Comparison c = compare(
      {{"throughput_rps", noisy(1000, 0.02, 10, 40)}, {"cpu_per_op_us", noisy(50, 0.02, 10, 41)}},
      {{"throughput_rps", noisy(1300, 0.02, 10, 42)}, {"cpu_per_op_us", noisy(40, 0.02, 10, 43)}},
      {"throughput_rps >= +10%", "cpu_per_op_us <= -5%"});
  ASSERT_EQ(c.criteria.size(), 2u);
  std::vector<std::string> levels;
  for (const CriterionResult& r : c.criteria) {
    EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
    levels.push_back(r.reason.substr(r.reason.find("whole ") + 6, 5));
  }
  // One at ~97.5% confidence, the other at ~95%: not both at the same level.
  EXPECT_NE(levels[0], levels[1]) << levels[0] << " " << levels[1];
}

TEST_F(CompareTest, AMetricOnlyTheCandidateHasIsNoted) {
  const Comparison c =
      compare({{"throughput_rps", {1.0, 2.0, 3.0}}},
              {{"throughput_rps", {1.0, 2.0, 3.0}}, {"cpu_per_op_us", {5.0, 6.0}}}, {});
  const bool noted = std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& note) {
    return note.find("cpu_per_op_us: only in the candidate") != std::string::npos;
  });
  EXPECT_TRUE(noted) << format_comparison_text(c);
}

TEST_F(CompareTest, RepetitionsThatFallInOrderAreNotedAndShuffledOnesAreNot) {
  // The base's throughput falls from the first repetition to the last, as a
  // service's does while its store grows; the same figures shuffled do not.
  const std::vector<double> falling = {31200, 30600, 27700, 26900, 25200, 24700};
  const std::vector<double> shuffled = {26900, 31200, 24700, 30600, 25200, 27700};
  const std::vector<double> candidate = {33100, 32700, 34000, 32300, 33600, 32900};
  const std::vector<std::string> criteria = {"throughput_rps >= +5%"};
  const auto trend_notes = [](const Comparison& c) {
    std::vector<std::string> found;
    for (const std::string& note : c.notes) {
      if (note.find("Kendall tau") != std::string::npos) found.push_back(note);
    }
    return found;
  };

  const Comparison drifting =
      compare({{"throughput_rps", falling}, {"cpu_per_op_us", falling}},
              {{"throughput_rps", candidate}, {"cpu_per_op_us", candidate}}, criteria);
  const std::vector<std::string> notes = trend_notes(drifting);
  ASSERT_EQ(notes.size(), 1u) << format_comparison_text(drifting);  // cpu_per_op_us: not judged
  EXPECT_NE(notes[0].find("throughput_rps: the base's 6 repetitions fall"), std::string::npos)
      << notes[0];
  EXPECT_NE(format_comparison_text(drifting).find("Kendall tau -1.00"), std::string::npos);

  const Comparison steady =
      compare({{"throughput_rps", shuffled}}, {{"throughput_rps", candidate}}, criteria);
  EXPECT_TRUE(trend_notes(steady).empty()) << format_comparison_text(steady);

  // Without criteria every measured figure is looked at.
  const Comparison all = compare({{"throughput_rps", shuffled}, {"cpu_per_op_us", falling}},
                                 {{"throughput_rps", candidate}, {"cpu_per_op_us", candidate}}, {});
  ASSERT_EQ(trend_notes(all).size(), 1u) << format_comparison_text(all);
  EXPECT_NE(trend_notes(all)[0].find("cpu_per_op_us"), std::string::npos);
}

TEST_F(CompareTest, AbsoluteBoundsJudgeTheCandidateAlone) {
  const Comparison c = compare({{"latency_p99_us", noisy(5000, 0.02, 10, 11)}},
                               {{"latency_p99_us", noisy(1500, 0.02, 10, 12)}},
                               {"latency_p99_us <= 2000", "latency_p99_us <= 1000"});
  EXPECT_EQ(result_for(c, "latency_p99_us <= 2000").verdict, Verdict::kPass);
  EXPECT_EQ(result_for(c, "latency_p99_us <= 1000").verdict, Verdict::kFail);
  EXPECT_EQ(c.verdict, Verdict::kFail);
}

TEST_F(CompareTest, ACriterionOnAMetricNeitherRunHasIsBadInput) {
  EXPECT_THROW(compare({{"throughput_rps", {1.0, 2.0}}}, {{"throughput_rps", {1.0, 2.0}}},
                       {"allocs_per_op <= -30%"}),
               CompareError);
}

TEST_F(CompareTest, ProfilesOfDifferentLoadsAreRefusedUnlessAllowed) {
  const auto b = write_profile(scratch_.path() / "a", {{"throughput_rps", {1.0, 2.0, 3.0}}},
                               {{"mode", "open"}, {"connections", 8}});
  const auto c = write_profile(scratch_.path() / "b", {{"throughput_rps", {1.0, 2.0, 3.0}}},
                               {{"mode", "closed"}, {"connections", 8}});
  try {
    compare_inputs(read_compare_input(b), read_compare_input(c), {}, {});
    FAIL() << "expected CompareError";
  } catch (const CompareError& e) {
    EXPECT_NE(std::string(e.what()).find("different loads"), std::string::npos) << e.what();
  }
  CompareOptions options;
  options.allow_different_loads = true;
  EXPECT_NO_THROW(compare_inputs(read_compare_input(b), read_compare_input(c), {}, options));
}

TEST_F(CompareTest, BadProfilesNameTheFileAndTheProblem) {
  const auto missing = scratch_.path() / "missing";
  EXPECT_THROW(read_compare_input(missing), CompareError);

  const auto corrupt = scratch_.path() / "corrupt";
  std::filesystem::create_directories(corrupt);
  std::ofstream(corrupt / kSummaryFile) << "{\"schema\": ";
  EXPECT_THROW(read_compare_input(corrupt), CompareError);

  const auto future = scratch_.path() / "future";
  std::filesystem::create_directories(future);
  std::ofstream(future / kSummaryFile) << R"({"schema": "perflab.profile/9", "load": {}})";
  try {
    read_compare_input(future);
    FAIL() << "expected CompareError";
  } catch (const CompareError& e) {
    EXPECT_NE(std::string(e.what()).find("perflab.profile/9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("summary.json"), std::string::npos) << e.what();
  }

  const auto wrong_type = write_profile(scratch_.path() / "wrong", {{"throughput_rps", "fast"}});
  try {
    read_compare_input(wrong_type);
    FAIL() << "expected CompareError";
  } catch (const CompareError& e) {
    EXPECT_NE(std::string(e.what()).find("samples.throughput_rps"), std::string::npos) << e.what();
  }
}

TEST_F(CompareTest, AProfileWithoutSamplesComparesItsSingleFigures) {
  const auto b = scratch_.path() / "single-b";
  const auto c = scratch_.path() / "single-c";
  for (const auto& [dir, rps] : {std::pair{b, 1000.0}, std::pair{c, 1100.0}}) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / kSummaryFile)
        << nlohmann::json({{"schema", kProfileSchema},
                           {"load", {{"throughput_rps", rps}, {"latency_p99_us", 250.0}}}})
               .dump();
  }
  const Comparison comparison =
      compare_inputs(read_compare_input(b), read_compare_input(c), {}, {});
  ASSERT_EQ(comparison.rows.size(), 2u);
  EXPECT_EQ(comparison.rows[0].base.size(), 1u);
  EXPECT_NEAR(comparison.rows[0].change.estimate, 1.1, 1e-9);
  EXPECT_FALSE(comparison.rows[0].significant);  // one run each: nothing can be claimed
}

nlohmann::json benchmark_json(double scale, std::uint64_t seed) {
  nlohmann::json runs = nlohmann::json::array();
  for (const char* name : {"BM_Encode/64", "BM_Decode/64"}) {
    const std::vector<double> times = noisy(100 * scale, 0.02, 6, seed++);
    for (double t : times) {
      runs.push_back({{"name", name},
                      {"run_name", name},
                      {"run_type", "iteration"},
                      {"real_time", t},
                      {"cpu_time", t},
                      {"time_unit", "ns"},
                      {"allocs_per_iter", 2.0}});
    }
    runs.push_back({{"name", std::string(name) + "_mean"},
                    {"run_name", name},
                    {"run_type", "aggregate"},
                    {"real_time", 1.0}});
  }
  return {{"context", {{"library_build_type", "release"}}}, {"benchmarks", runs}};
}

TEST_F(CompareTest, BenchmarkSetsGetAGeometricMeanAndEveryBenchmarkIsJudged) {
  const auto b = scratch_.path() / "b.json";
  const auto c = scratch_.path() / "c.json";
  std::ofstream(b) << benchmark_json(1.0, 20).dump();
  std::ofstream(c) << benchmark_json(0.8, 40).dump();
  const Comparison comparison = compare_inputs(read_compare_input(b), read_compare_input(c),
                                               parse_criteria({"cpu_time_ns <= -10%"}), {});
  // 2 benchmarks x (real, cpu, allocs) rows; aggregates skipped.
  EXPECT_EQ(comparison.rows.size(), 6u);
  ASSERT_FALSE(comparison.geomeans.empty());
  for (const MetricComparison& row : comparison.geomeans) {
    if (row.metric.name == "cpu_time_ns") {
      EXPECT_NEAR(row.change.estimate, 0.8, 0.03);
    }
  }
  EXPECT_EQ(comparison.verdict, Verdict::kPass) << format_comparison_text(comparison);
  EXPECT_NE(comparison.criteria[0].reason.find("2 of 2 benchmarks"), std::string::npos)
      << comparison.criteria[0].reason;
}

TEST_F(CompareTest, ReportsShowEveryRowAndEscapeNames) {
  const auto b = scratch_.path() / "pipe-b.json";
  const auto c = scratch_.path() / "pipe-c.json";
  nlohmann::json base = benchmark_json(1.0, 60);
  nlohmann::json candidate = benchmark_json(1.0, 70);
  for (nlohmann::json* doc : {&base, &candidate}) {
    for (auto& run : (*doc)["benchmarks"]) run["run_name"] = "BM_A|B";
  }
  std::ofstream(b) << base.dump();
  std::ofstream(c) << candidate.dump();
  const Comparison comparison =
      compare_inputs(read_compare_input(b), read_compare_input(c), {}, {});
  const std::string markdown = format_comparison_markdown(comparison);
  EXPECT_NE(markdown.find("BM_A\\|B"), std::string::npos) << markdown;
  EXPECT_EQ(markdown.find("BM_A|B"), std::string::npos) << markdown;
  const std::string text = format_comparison_text(comparison);
  EXPECT_NE(text.find("cpu_time_ns"), std::string::npos) << text;
  const nlohmann::json json = comparison_json(comparison);
  EXPECT_EQ(json["rows"].size(), comparison.rows.size());
  EXPECT_EQ(json["verdict"], "none");
}

}  // namespace
}  // namespace perflab
