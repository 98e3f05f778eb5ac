// Writes HdrHistogram interval logs (format 1.3) byte for byte the way
// HdrHistogram's HistogramLogWriter does, so its tools read them.
#include <charconv>
#include <ctime>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "perflab/histogram.hpp"

namespace perflab {
namespace {

// "%.3f" without the C locale's say over the decimal point.
std::string fixed3(double value) {
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, 3);
  if (result.ec != std::errc()) return "0.000";  // only a > 1e60 value would not fit
  return std::string(buffer, result.ptr);
}

std::string iso8601_utc(double seconds_since_epoch) {
  const auto t = static_cast<std::time_t>(seconds_since_epoch);
  std::tm tm{};
  char buffer[32];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return "unknown date";
  }
  return buffer;
}

void check_tag(std::string_view tag) {
  if (tag.find_first_of(", \r\n") != std::string_view::npos) {
    throw std::invalid_argument("perflab::HistogramLogWriter: tag '" + std::string(tag) +
                                "' contains a comma, space or line break");
  }
}

}  // namespace

HistogramLogWriter::HistogramLogWriter(std::ostream& out, double max_value_unit_ratio)
    : out_(out), max_value_unit_ratio_(max_value_unit_ratio) {
  if (!(max_value_unit_ratio > 0)) {
    throw std::invalid_argument("perflab::HistogramLogWriter: max_value_unit_ratio must be > 0");
  }
}

void HistogramLogWriter::write_header(double start_time_s) {
  write_format_version();
  write_start_time(start_time_s);
  write_base_time(start_time_s);
  write_legend();
}

void HistogramLogWriter::write_format_version() { out_ << "#[Histogram log format version 1.3]\n"; }

void HistogramLogWriter::write_start_time(double start_time_s) {
  out_ << "#[StartTime: " << fixed3(start_time_s) << " (seconds since epoch), "
       << iso8601_utc(start_time_s) << "]\n";
}

void HistogramLogWriter::write_base_time(double base_time_s) {
  out_ << "#[BaseTime: " << fixed3(base_time_s) << " (seconds since epoch)]\n";
}

void HistogramLogWriter::write_legend() {
  out_ << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
          "\"Interval_Compressed_Histogram\"\n";
}

void HistogramLogWriter::write_comment(std::string_view text) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    throw std::invalid_argument("perflab::HistogramLogWriter: comment contains a line break");
  }
  out_ << '#' << text << '\n';
}

void HistogramLogWriter::write_interval(double start_timestamp_s, double length_s,
                                        const Histogram& histogram, std::string_view tag) {
  check_tag(tag);
  // Encode first: a throw must not leave half a line in the stream.
  const std::string payload = encode_histogram_base64(histogram);
  const double interval_max = static_cast<double>(histogram.max()) / max_value_unit_ratio_;
  std::string line;
  if (!tag.empty()) {
    line += "Tag=";
    line += tag;
    line += ',';
  }
  line += fixed3(start_timestamp_s) + ',' + fixed3(length_s) + ',' + fixed3(interval_max) + ',';
  line += payload;
  line += '\n';
  out_ << line;
}

void write_histogram_log(std::ostream& out, const HistogramLog& log, double max_value_unit_ratio) {
  HistogramLogWriter writer(out, max_value_unit_ratio);
  writer.write_format_version();
  if (log.start_time_s) writer.write_start_time(*log.start_time_s);
  if (log.base_time_s) writer.write_base_time(*log.base_time_s);
  writer.write_legend();
  for (const HistogramLogInterval& interval : log.intervals) {
    writer.write_interval(interval.start_timestamp_s, interval.length_s, interval.histogram,
                          interval.tag);
  }
}

std::string format_histogram_log(const HistogramLog& log, double max_value_unit_ratio) {
  std::ostringstream out;
  write_histogram_log(out, log, max_value_unit_ratio);
  return std::move(out).str();
}

}  // namespace perflab
