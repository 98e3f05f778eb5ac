#include "report_common.hpp"

#include <cmath>
#include <cstdio>

namespace perflab::compare_detail {
namespace {

std::string group_thousands(const std::string& digits) {
  // digits: optional '-', integer part, optional fraction
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  std::size_t end = digits.find('.');
  if (end == std::string::npos) end = digits.size();
  std::string out = digits;
  for (std::ptrdiff_t at = static_cast<std::ptrdiff_t>(end) - 3;
       at > static_cast<std::ptrdiff_t>(start); at -= 3) {
    out.insert(static_cast<std::size_t>(at), ",");
  }
  return out;
}

std::string plain_number(double value) {
  char text[64];
  const double magnitude = std::fabs(value);
  if (magnitude >= 1000 || value == std::floor(value)) {
    std::snprintf(text, sizeof text, "%.0f", value);
    return group_thousands(text);
  }
  if (magnitude >= 100) {
    std::snprintf(text, sizeof text, "%.1f", value);
  } else if (magnitude >= 1) {
    std::snprintf(text, sizeof text, "%.2f", value);
  } else {
    std::snprintf(text, sizeof text, "%.3g", value);
  }
  return text;
}

}  // namespace

std::string format_value(double value, const std::string& unit) {
  if (unit == "B" && std::fabs(value) >= 10'000) {
    const char* units[] = {"kB", "MB", "GB", "TB"};
    double scaled = value / 1000;
    int index = 0;
    while (std::fabs(scaled) >= 1000 && index < 3) {
      scaled /= 1000;
      ++index;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.3g %s", scaled, units[index]);
    return text;
  }
  const std::string number = plain_number(value);
  return unit.empty() ? number : number + " " + unit;
}

std::string format_change(const ShiftEstimate& change, const std::string& unit) {
  char text[64];
  if (change.scale == ChangeScale::kRatio) {
    std::snprintf(text, sizeof text, "%+.1f%%", (change.estimate - 1) * 100);
    return text;
  }
  const std::string number = plain_number(change.estimate);
  return (change.estimate >= 0 ? "+" : "") + number + (unit.empty() ? "" : " " + unit);
}

std::string format_interval(const MetricComparison& row) {
  if (row.exact) return "(exact)";
  ShiftEstimate low = row.change;
  low.estimate = row.change.low;
  ShiftEstimate high = row.change;
  high.estimate = row.change.high;
  // "(h)": from the histograms; a note under the table says how.
  return format_change(low, "") + " .. " + format_change(high, "") +
         (row.source == ChangeSource::kHistogram ? " (h)" : "");
}

std::string format_p(const MetricComparison& row) {
  if (row.exact) return "-";
  char text[32];
  std::snprintf(text, sizeof text, row.change.p_value < 0.001 ? "%.1e" : "%.3f",
                row.change.p_value);
  return text;
}

std::string format_counts(const MetricComparison& row) {
  if (row.source == ChangeSource::kHistogram) {
    return std::to_string(row.change.n_base) + "/" + std::to_string(row.change.n_candidate);
  }
  return std::to_string(row.base.size()) + "/" + std::to_string(row.candidate.size());
}

std::string row_label(const MetricComparison& row) {
  return row.group.empty() ? row.metric.name : row.group + " " + row.metric.name;
}

}  // namespace perflab::compare_detail
