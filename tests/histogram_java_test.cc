// Cross-check with HdrHistogram's own Java tools: HistogramLogProcessor reads
// an interval log we wrote and must print the same counts and percentiles we
// compute. The java executable and the jar are found by CMake
// (tests/histogram.cmake); without them the test skips.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "perflab/histogram.hpp"
#include "scratch_dir.hpp"

namespace perflab {
namespace {

namespace fs = std::filesystem;

constexpr const char* kJava = PERFLAB_JAVA_EXECUTABLE;
constexpr const char* kJar = PERFLAB_HDRHISTOGRAM_JAR;
constexpr const char* kMissingHint =
    "HdrHistogram's Java tools are not available (java: '%s', jar: '%s'); install the Debian "
    "packages default-jre-headless and libhdrhistogram-java, then re-run cmake";

std::string missing_tools_message() {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, kMissingHint, kJava, kJar);
  return buffer;
}

bool java_tools_available() {
  std::error_code ec;
  return kJava[0] != '\0' && kJar[0] != '\0' && fs::exists(kJava, ec) && fs::exists(kJar, ec);
}

// One scratch directory per test, named after the suite.
struct ScratchDir : perflab::testing::ScratchDir {
  ScratchDir() : perflab::testing::ScratchDir("histogram_java") {}
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs HistogramLogProcessor; returns its stderr (empty on success).
std::string run_log_processor(const fs::path& log, const fs::path& out,
                              const std::vector<std::string>& extra) {
  const fs::path err = out.string() + ".stderr";
  std::string command = std::string("'") + kJava + "' -cp '" + kJar +
                        "' org.HdrHistogram.HistogramLogProcessor -i '" + log.string() + "' -o '" +
                        out.string() + "' -outputValueUnitRatio 1";
  for (const std::string& arg : extra) command += " " + arg;
  command += " 2>'" + err.string() + "'";
  const int rc = std::system(command.c_str());
  std::string stderr_text = slurp(err);
  if (rc != 0) stderr_text += "\n(exit status " + std::to_string(rc) + ")";
  return stderr_text;
}

std::vector<std::vector<double>> csv_rows(const std::string& text) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] < '0' || line[0] > '9') continue;  // comments, header
    std::vector<double> row;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) {
      row.push_back(field == "Infinity" ? 0.0 : std::stod(field));
    }
    rows.push_back(row);
  }
  return rows;
}

Histogram interval(std::uint32_t seed, double median_ns) {
  Histogram h(1, 3'600'000'000'000, 3);  // nanoseconds up to an hour
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(median_ns), 1.1);
  for (int i = 0; i < 20'000; ++i) h.record_value(static_cast<std::int64_t>(dist(rng)));
  h.record_corrected_value(250'000'000, 10'000'000);  // one stall, back-filled
  return h;
}

TEST(HistogramJavaTest, HdrHistogramLogProcessorReadsOurLogWithTheSamePercentiles) {
  if (!java_tools_available()) GTEST_SKIP() << missing_tools_message();
  ScratchDir dir;
  const std::vector<Histogram> intervals = {interval(1, 800'000), interval(2, 1'200'000),
                                            interval(3, 650'000), interval(4, 2'000'000)};
  const Histogram tagged = interval(9, 40'000);
  {
    std::ofstream out(dir.path() / "latency.hlog");
    HistogramLogWriter writer(out);
    writer.write_header(1'700'000'000.0);
    for (std::size_t i = 0; i < intervals.size(); ++i) {
      writer.write_interval(static_cast<double>(i), 1.0, intervals[i]);
      if (i == 1) writer.write_interval(static_cast<double>(i), 1.0, tagged, "get");
    }
    ASSERT_TRUE(out.good());
  }

  // -csv: one line per interval, then the overall percentile distribution.
  const fs::path csv = dir.path() / "csv";
  ASSERT_EQ(run_log_processor(dir.path() / "latency.hlog", csv, {"-csv"}), "");
  const std::vector<std::vector<double>> interval_rows = csv_rows(slurp(csv));
  ASSERT_EQ(interval_rows.size(), intervals.size()) << slurp(csv);
  Histogram total(1, 3'600'000'000'000, 3);
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    SCOPED_TRACE("interval " + std::to_string(i));
    const Histogram& h = intervals[i];
    total.add(h);
    const std::vector<double>& row = interval_rows[i];
    ASSERT_EQ(row.size(), 12u);
    EXPECT_DOUBLE_EQ(row[0], static_cast<double>(i) + 1.0);  // interval end, relative
    EXPECT_EQ(row[1], static_cast<double>(h.total_count()));
    EXPECT_EQ(row[2], static_cast<double>(h.value_at_percentile(50)));
    EXPECT_EQ(row[3], static_cast<double>(h.value_at_percentile(90)));
    EXPECT_EQ(row[4], static_cast<double>(h.max()));
    EXPECT_EQ(row[5], static_cast<double>(total.total_count()));
    EXPECT_EQ(row[6], static_cast<double>(total.value_at_percentile(50)));
    EXPECT_EQ(row[7], static_cast<double>(total.value_at_percentile(90)));
    EXPECT_EQ(row[8], static_cast<double>(total.value_at_percentile(99)));
    EXPECT_EQ(row[9], static_cast<double>(total.value_at_percentile(99.9)));
    EXPECT_EQ(row[10], static_cast<double>(total.value_at_percentile(99.99)));
    EXPECT_EQ(row[11], static_cast<double>(total.max()));
  }

  // Every row of Java's percentile distribution sits at the top of one of our
  // buckets with our cumulative count there.
  std::map<std::int64_t, std::int64_t> cumulative_at_top;
  for (const HistogramBucket& b : total.recorded_buckets()) {
    cumulative_at_top[b.highest_value] = b.cumulative_count;
  }
  const std::vector<std::vector<double>> distribution = csv_rows(slurp(csv.string() + ".hgrm"));
  ASSERT_GT(distribution.size(), 20u);
  for (const std::vector<double>& row : distribution) {
    ASSERT_GE(row.size(), 3u);
    const auto value = static_cast<std::int64_t>(row[0]);
    const auto it = cumulative_at_top.find(value);
    ASSERT_NE(it, cumulative_at_top.end()) << "Java printed " << value;
    EXPECT_EQ(static_cast<double>(it->second), row[2]) << "at " << value;
  }
  EXPECT_EQ(distribution.back()[1], 1.0);
  EXPECT_EQ(distribution.back()[2], static_cast<double>(total.total_count()));

  // The plain .hgrm footer: mean, standard deviation, max, count, layout.
  const fs::path plain = dir.path() / "plain";
  ASSERT_EQ(run_log_processor(dir.path() / "latency.hlog", plain, {}), "");
  const std::string footer = slurp(plain.string() + ".hgrm");
  double mean = 0, stddev = 0, max = 0;
  long long count = 0, buckets = 0, sub_buckets = 0;
  const auto mean_at = footer.find("#[Mean");
  const auto max_at = footer.find("#[Max");
  const auto buckets_at = footer.find("#[Buckets");
  ASSERT_NE(buckets_at, std::string::npos) << footer;
  ASSERT_EQ(
      std::sscanf(footer.c_str() + mean_at, "#[Mean = %lf, StdDeviation = %lf]", &mean, &stddev),
      2);
  ASSERT_EQ(std::sscanf(footer.c_str() + max_at, "#[Max = %lf, Total count = %lld]", &max, &count),
            2);
  ASSERT_EQ(std::sscanf(footer.c_str() + buckets_at, "#[Buckets = %lld, SubBuckets = %lld]",
                        &buckets, &sub_buckets),
            2);
  EXPECT_NEAR(mean, total.mean(), 0.0005 + total.mean() * 1e-12);
  EXPECT_NEAR(stddev, total.stddev(), 0.0005 + total.stddev() * 1e-12);
  EXPECT_EQ(max, static_cast<double>(total.max()));
  EXPECT_EQ(count, total.total_count());
  EXPECT_EQ(buckets, total.bucket_count());
  EXPECT_EQ(sub_buckets, total.sub_bucket_count());

  // The tagged line is invisible without -tag and alone with it.
  const fs::path by_tag = dir.path() / "tag";
  ASSERT_EQ(run_log_processor(dir.path() / "latency.hlog", by_tag, {"-csv", "-tag", "get"}), "");
  const std::vector<std::vector<double>> tag_rows = csv_rows(slurp(by_tag));
  ASSERT_EQ(tag_rows.size(), 1u);
  EXPECT_EQ(tag_rows[0][1], static_cast<double>(tagged.total_count()));
  EXPECT_EQ(tag_rows[0][4], static_cast<double>(tagged.max()));
  EXPECT_EQ(tag_rows[0][9], static_cast<double>(tagged.value_at_percentile(99.9)));
}

}  // namespace
}  // namespace perflab
