// Reads HdrHistogram interval logs. Accepts what HdrHistogram's
// HistogramLogReader accepts for format 1.2/1.3 logs; anything else is a
// HistogramFormatError that names the line and the field.
#include <charconv>
#include <istream>
#include <sstream>
#include <string>
#include <string_view>

#include "perflab/histogram.hpp"

namespace perflab {
namespace {

constexpr std::string_view kStartTimePrefix = "#[StartTime:";
constexpr std::string_view kBaseTimePrefix = "#[BaseTime:";
constexpr std::string_view kLegendPrefix = "\"StartTimestamp\"";
constexpr std::string_view kTagPrefix = "Tag=";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Parses a whole field as a double (locale-independent); false otherwise.
bool parse_double(std::string_view text, double& value) {
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;
  if (text.size() > kShown) return "'" + std::string(text.substr(0, kShown)) + "...'";
  return "'" + std::string(text) + "'";
}

// "#[StartTime: 1700000000.000 (seconds since epoch), ...]" -> 1700000000.0
double parse_time_comment(std::string_view line, std::string_view prefix, std::size_t line_number) {
  std::string_view rest = trim(line.substr(prefix.size()));
  const std::size_t end = rest.find_first_of(" ,]");
  const std::string_view number = rest.substr(0, end);
  double value = 0;
  if (!parse_double(number, value)) {
    throw HistogramFormatError(
        std::string(prefix.substr(2, prefix.size() - 3)) + " is not a number: " + quoted(number),
        line_number);
  }
  return value;
}

}  // namespace

std::optional<HistogramLogInterval> HistogramLogReader::next_interval() {
  while (std::getline(in_, line_)) {
    ++line_number_;
    const std::string_view line = trim(line_);
    if (line.empty() || line.starts_with(kLegendPrefix)) continue;
    if (line.starts_with('#')) {
      if (line.starts_with(kStartTimePrefix)) {
        start_time_s_ = parse_time_comment(line, kStartTimePrefix, line_number_);
      } else if (line.starts_with(kBaseTimePrefix)) {
        base_time_s_ = parse_time_comment(line, kBaseTimePrefix, line_number_);
      }
      continue;
    }

    std::string_view rest = line;
    std::string tag;
    if (rest.starts_with(kTagPrefix)) {
      const std::size_t comma = rest.find(',');
      if (comma == std::string_view::npos) {
        throw HistogramFormatError("tagged line has nothing after its tag", line_number_);
      }
      tag = std::string(rest.substr(kTagPrefix.size(), comma - kTagPrefix.size()));
      rest.remove_prefix(comma + 1);
    }
    std::string_view fields[4];
    std::size_t field_count = 0;
    while (field_count < 4) {
      const std::size_t comma = field_count < 3 ? rest.find(',') : std::string_view::npos;
      fields[field_count++] = trim(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (field_count < 4) {
      throw HistogramFormatError(
          "expected 4 comma-separated fields (StartTimestamp, Interval_Length, Interval_Max, "
          "Interval_Compressed_Histogram), found " +
              std::to_string(field_count),
          line_number_);
    }
    static constexpr const char* kNames[3] = {"StartTimestamp", "Interval_Length", "Interval_Max"};
    double numbers[3] = {};
    for (int i = 0; i < 3; ++i) {
      if (!parse_double(fields[i], numbers[i])) {
        throw HistogramFormatError(
            std::string(kNames[i]) + " is not a number: " + quoted(fields[i]), line_number_);
      }
    }
    try {
      return HistogramLogInterval{std::move(tag), numbers[0], numbers[1], numbers[2],
                                  decode_histogram_base64(fields[3], max_counts_length_)};
    } catch (const HistogramFormatError& e) {
      throw HistogramFormatError(std::string("Interval_Compressed_Histogram: ") + e.what(),
                                 line_number_);
    }
  }
  return std::nullopt;
}

HistogramLog read_histogram_log(std::istream& in, const HistogramLogLimits& limits) {
  HistogramLogReader reader(in, limits.max_counts_length);
  HistogramLog log;
  std::size_t kept_counts_length = 0;  // <= limits.max_total_counts_length throughout
  while (std::optional<HistogramLogInterval> interval = reader.next_interval()) {
    // Each interval keeps a whole counts array alive, however short its line.
    const std::size_t length = interval->histogram.counts_length();
    if (length > limits.max_total_counts_length - kept_counts_length) {
      throw HistogramFormatError(
          "the intervals up to here need " + std::to_string(kept_counts_length + length) +
              " counts in memory, more than max_total_counts_length = " +
              std::to_string(limits.max_total_counts_length) +
              " allows; read the log one interval at a time with HistogramLogReader or pass a "
              "larger limit",
          reader.line_number());
    }
    kept_counts_length += length;
    log.intervals.push_back(std::move(*interval));
  }
  log.start_time_s = reader.start_time_s();
  log.base_time_s = reader.base_time_s();
  return log;
}

HistogramLog read_histogram_log(std::string_view text, const HistogramLogLimits& limits) {
  std::istringstream in{std::string(text)};
  return read_histogram_log(in, limits);
}

}  // namespace perflab
