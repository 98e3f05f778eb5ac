// timeline.csv: one row per timeline sample, under a fixed header.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "profile_internal.hpp"

namespace perflab::profile_detail {

namespace {

template <typename Number>
bool parse_number(std::string_view text, Number& value) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

}  // namespace

std::string format_double(double value) {
  // Plain decimals where they stay short ("1000000", "0.25"), exponents beyond.
  const double magnitude = std::fabs(value);
  const bool plain = value == 0 || (magnitude >= 1e-4 && magnitude < 1e15);
  char text[64];
  const auto result = plain
                          ? std::to_chars(text, text + sizeof text, value, std::chars_format::fixed)
                          : std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

std::string format_timeline_csv(const std::vector<TimelineSample>& timeline) {
  std::string out(kTimelineHeader);
  out += '\n';
  for (const TimelineSample& sample : timeline) {
    out += format_double(sample.time_s);
    out += ',';
    out += std::to_string(sample.heap_bytes);
    out += ',';
    out += std::to_string(sample.rss_bytes);
    out += ',';
    out += std::to_string(sample.allocs);
    out += ',';
    out += format_double(sample.requests_per_s);
    out += ',';
    out += std::to_string(sample.alloc_bytes);
    out += '\n';
  }
  return out;
}

std::vector<TimelineSample> parse_timeline_csv(std::string_view text, const std::string& what) {
  std::vector<TimelineSample> timeline;
  std::size_t line_number = 0;
  std::size_t columns = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = what + ": line " + std::to_string(line_number) + ": ";
    if (line_number == 1) {
      if (line != kTimelineHeader && line != kTimelineHeaderWithoutAllocBytes) {
        throw ProfileError(where + "expected the header '" + std::string(kTimelineHeader) + "'");
      }
      columns = split_fields(line).size();
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string_view> fields = split_fields(line);
    if (fields.size() != columns) {
      throw ProfileError(where + "expected " + std::to_string(columns) + " fields, found " +
                         std::to_string(fields.size()));
    }
    TimelineSample sample;
    if (!parse_number(fields[0], sample.time_s) || !parse_number(fields[1], sample.heap_bytes) ||
        !parse_number(fields[2], sample.rss_bytes) || !parse_number(fields[3], sample.allocs) ||
        !parse_number(fields[4], sample.requests_per_s) ||
        (columns > 5 && !parse_number(fields[5], sample.alloc_bytes))) {
      throw ProfileError(where + "a field is not a number: '" + std::string(line) + "'");
    }
    timeline.push_back(sample);
  }
  if (line_number == 0) throw ProfileError(what + ": empty (expected a header line)");
  return timeline;
}

}  // namespace perflab::profile_detail
