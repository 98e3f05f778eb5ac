// The HdrHistogram interval log (.hlog): what the writer emits, what the
// reader returns, and the errors malformed logs produce.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "perflab/histogram.hpp"

namespace perflab {
namespace {

Histogram interval_histogram(std::uint32_t seed, std::int64_t scale) {
  Histogram h(1, 3'600'000'000'000, 3);
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(0.0, 1.0);
  for (int i = 0; i < 1000; ++i) h.record_value(static_cast<std::int64_t>(dist(rng) * scale));
  return h;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_error(const std::string& text) {
  try {
    (void)read_histogram_log(text);
  } catch (const HistogramFormatError& e) {
    return e.what();
  }
  return "read";
}

TEST(HistogramLogTest, WrittenLogWithSeveralIntervalsReadsBackTheSame) {
  HistogramLog log;
  log.start_time_s = 1'700'000'000.25;
  log.base_time_s = 1'700'000'000.25;
  for (int i = 0; i < 5; ++i) {
    log.intervals.push_back(HistogramLogInterval{i % 2 == 0 ? "" : "get", 1.0 * i, 1.0, 0.0,
                                                 interval_histogram(i + 1, 1000 * (i + 1))});
  }
  log.intervals.push_back(HistogramLogInterval{"empty", 5.0, 0.5, 0.0, Histogram(1, 1000, 2)});

  const std::string text = format_histogram_log(log, 1000.0);
  const HistogramLog read = read_histogram_log(text);
  ASSERT_TRUE(read.start_time_s.has_value());
  ASSERT_TRUE(read.base_time_s.has_value());
  EXPECT_DOUBLE_EQ(*read.start_time_s, 1'700'000'000.25);
  EXPECT_DOUBLE_EQ(*read.base_time_s, 1'700'000'000.25);
  ASSERT_EQ(read.intervals.size(), log.intervals.size());
  for (std::size_t i = 0; i < log.intervals.size(); ++i) {
    SCOPED_TRACE(i);
    const HistogramLogInterval& want = log.intervals[i];
    const HistogramLogInterval& got = read.intervals[i];
    EXPECT_EQ(got.tag, want.tag);
    EXPECT_DOUBLE_EQ(got.start_timestamp_s, want.start_timestamp_s);
    EXPECT_DOUBLE_EQ(got.length_s, want.length_s);
    EXPECT_NEAR(got.interval_max, static_cast<double>(want.histogram.max()) / 1000.0, 0.0005);
    EXPECT_EQ(got.histogram, want.histogram);
  }
}

TEST(HistogramLogTest, WriterEmitsTheLinesHdrHistogramWrites) {
  std::ostringstream out;
  HistogramLogWriter writer(out);  // HdrHistogram's default ratio: ns in, ms out
  writer.write_header(1'441'812'279.474);
  writer.write_comment(" recorded by perflab");
  Histogram h(1, 3'600'000'000'000, 3);
  h.record_value(2'769'000);  // 2.769 ms in ns
  writer.write_interval(0.127, 1.007, h);
  writer.write_interval(1.134, 1.0, h, "put");
  const std::vector<std::string> lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "#[Histogram log format version 1.3]");
  EXPECT_EQ(lines[1], "#[StartTime: 1441812279.474 (seconds since epoch), 2015-09-09T15:24:39Z]");
  EXPECT_EQ(lines[2], "#[BaseTime: 1441812279.474 (seconds since epoch)]");
  EXPECT_EQ(lines[3],
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"");
  EXPECT_EQ(lines[4], "# recorded by perflab");
  const std::string payload = encode_histogram_base64(h);
  char max_ms[32];
  std::snprintf(max_ms, sizeof max_ms, "%.3f", static_cast<double>(h.max()) / 1e6);
  EXPECT_STREQ(max_ms, "2.771");  // 2769000 ns sits in the bucket ending at 2770943
  EXPECT_EQ(lines[5], "0.127,1.007," + std::string(max_ms) + "," + payload);
  EXPECT_EQ(lines[6], "Tag=put,1.134,1.000," + std::string(max_ms) + "," + payload);
}

TEST(HistogramLogTest, WriterRejectsTagsAndCommentsThatWouldBreakTheFormat) {
  std::ostringstream out;
  HistogramLogWriter writer(out);
  const Histogram h(1, 1000, 2);
  EXPECT_THROW(writer.write_interval(0, 1, h, "a,b"), std::invalid_argument);
  EXPECT_THROW(writer.write_interval(0, 1, h, "a b"), std::invalid_argument);
  EXPECT_THROW(writer.write_interval(0, 1, h, "a\nb"), std::invalid_argument);
  EXPECT_THROW(writer.write_comment("two\nlines"), std::invalid_argument);
  EXPECT_THROW(HistogramLogWriter(out, 0.0), std::invalid_argument);
  EXPECT_EQ(out.str(), "");
}

TEST(HistogramLogTest, ReaderSkipsCommentsLegendBlankLinesAndCarriageReturns) {
  Histogram h(1, 1'000'000, 3);
  h.record_value(42);
  const std::string payload = encode_histogram_base64(h);
  const std::string text =
      "#[Histogram log format version 1.3]\r\n"
      "# a comment, with commas\r\n"
      "\r\n"
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_"
      "Histogram\"\r\n"
      "0.000,1.000,0.000," +
      payload +
      "\r\n"
      "Tag=x, 1.000, 1.000, 0.000, " +
      payload + "\r\n";
  const HistogramLog log = read_histogram_log(text);
  EXPECT_FALSE(log.start_time_s.has_value());
  EXPECT_FALSE(log.base_time_s.has_value());
  ASSERT_EQ(log.intervals.size(), 2u);
  EXPECT_EQ(log.intervals[0].tag, "");
  EXPECT_EQ(log.intervals[1].tag, "x");
  EXPECT_EQ(log.intervals[1].histogram, h);
}

TEST(HistogramLogTest, StreamingReaderReturnsOneIntervalAtATime) {
  std::stringstream stream;
  HistogramLogWriter writer(stream, 1.0);
  writer.write_header(100.0);
  for (int i = 0; i < 3; ++i) writer.write_interval(i, 1, interval_histogram(i, 100));
  HistogramLogReader reader(stream);
  int n = 0;
  while (std::optional<HistogramLogInterval> interval = reader.next_interval()) {
    EXPECT_EQ(interval->histogram, interval_histogram(n, 100));
    EXPECT_DOUBLE_EQ(interval->interval_max, static_cast<double>(interval->histogram.max()));
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(reader.start_time_s(), 100.0);
  EXPECT_FALSE(reader.next_interval().has_value());
}

TEST(HistogramLogTest, MalformedLinesGiveErrorsNamingTheLineAndTheField) {
  Histogram h(1, 1'000'000, 3);
  h.record_value(42);
  const std::string payload = encode_histogram_base64(h);
  const std::string legend =
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

  EXPECT_EQ(read_error(legend + "0.0,1.0,0.0," + payload + "\n"), "read");
  EXPECT_EQ(read_error(legend + "0.0,1.0,abc," + payload + "\n"),
            "line 2: Interval_Max is not a number: 'abc'");
  EXPECT_EQ(read_error(legend + "x,1.0,0.0," + payload + "\n"),
            "line 2: StartTimestamp is not a number: 'x'");
  EXPECT_EQ(read_error(legend + "0.0,,0.0," + payload + "\n"),
            "line 2: Interval_Length is not a number: ''");
  EXPECT_NE(read_error(legend + "0.0,1.0," + payload + "\n").find("line 2: expected 4"),
            std::string::npos);
  EXPECT_NE(read_error("garbage\n").find("line 1: expected 4"), std::string::npos);
  EXPECT_NE(read_error("Tag=oops\n").find("line 1: tagged line has nothing"), std::string::npos);
  EXPECT_EQ(read_error("#[StartTime: soon]\n"), "line 1: StartTime is not a number: 'soon'");
  EXPECT_EQ(read_error("#[BaseTime: ]\n"), "line 1: BaseTime is not a number: ''");
  EXPECT_NE(read_error(legend + "0.0,1.0,0.0,HISTF*AA\n")
                .find("line 2: Interval_Compressed_Histogram: invalid base64 character '*'"),
            std::string::npos);
  EXPECT_NE(read_error(legend + "0.0,1.0,0.0," + payload.substr(0, payload.size() - 8) + "\n")
                .find("line 2: Interval_Compressed_Histogram:"),
            std::string::npos);
  EXPECT_NE(read_error("\n\n0,1,2,AAAAAAAAAAAA\n")
                .find("line 3: Interval_Compressed_Histogram: bad "
                      "histogram cookie 0x00000000"),
            std::string::npos);
}

TEST(HistogramLogTest, LogOfHugeConfigurationLinesFailsAtTheFirstOverTheLimit) {
  // One count in the largest configuration (47 MiB of counts) is a ~70-byte line.
  Histogram largest(1, std::numeric_limits<std::int64_t>::max(), 5);
  largest.record_value(1);
  const std::string line = "0.000,1.000,0.000," + encode_histogram_base64(largest) + "\n";
  ASSERT_LT(line.size(), 100u);
  std::string text;
  for (int i = 0; i < 40; ++i) text += line;
  EXPECT_NE(read_error(text).find("line 1: Interval_Compressed_Histogram: histogram "
                                  "configuration (lowest_discernible_value 1"),
            std::string::npos);
  EXPECT_NE(read_error(text).find("needs 6160384 counts"), std::string::npos);
  std::istringstream in(text);
  HistogramLogReader reader(in);
  EXPECT_THROW((void)reader.next_interval(), HistogramFormatError);
  // A caller that expects such histograms raises the limit.
  std::istringstream again(line);
  HistogramLogReader generous(again, largest.counts_length());
  const std::optional<HistogramLogInterval> interval = generous.next_interval();
  ASSERT_TRUE(interval.has_value());
  EXPECT_EQ(interval->histogram, largest);
}

TEST(HistogramLogTest, ReadingAWholeLogStopsAtItsMemoryBudget) {
  Histogram h(1, 1'000'000, 3);  // 11264 counts
  h.record_value(42);
  ASSERT_EQ(h.counts_length(), 11264u);
  std::string text = "#[Histogram log format version 1.3]\n";
  for (int i = 0; i < 6; ++i)
    text += std::to_string(i) + ".000,1.000,0.000," + encode_histogram_base64(h) + "\n";
  const HistogramLogLimits limits{.max_counts_length = kDefaultMaxCountsLength,
                                  .max_total_counts_length = 3 * 11264};
  try {
    (void)read_histogram_log(text, limits);
    ADD_FAILURE() << "a log over its budget was read";
  } catch (const HistogramFormatError& e) {
    EXPECT_EQ(e.line(), 5u);  // the fourth interval
    EXPECT_NE(std::string(e.what()).find("need 45056 counts in memory, more than "
                                         "max_total_counts_length = 33792"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_histogram_log(text, {.max_total_counts_length = 6 * 11264}).intervals.size(), 6u);
  EXPECT_NE(read_error(text).find("read"), std::string::npos);  // the defaults admit it
  // The streaming reader keeps one interval at a time, so it has no total.
  std::istringstream in(text);
  HistogramLogReader reader(in, 11264);
  int n = 0;
  while (reader.next_interval()) ++n;
  EXPECT_EQ(n, 6);
  EXPECT_EQ(reader.line_number(), 7u);
  std::istringstream tight(text);
  EXPECT_THROW((void)HistogramLogReader(tight, 11263).next_interval(), HistogramFormatError);
}

TEST(HistogramLogTest, GarbageTextNeverCrashesTheReader) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  Histogram h(1, 1'000'000, 3);
  h.record_value(42);
  const std::string valid = "0.0,1.0,0.0," + encode_histogram_base64(h) + "\n";
  for (int round = 0; round < 500; ++round) {
    std::string text = valid;
    for (int k = 0; k < 3; ++k) {
      text[static_cast<std::size_t>(byte(rng)) % text.size()] = static_cast<char>(byte(rng));
    }
    try {
      (void)read_histogram_log(text);
    } catch (const HistogramFormatError& e) {
      EXPECT_EQ(e.line() > 0, true);
    }
  }
}

}  // namespace
}  // namespace perflab
