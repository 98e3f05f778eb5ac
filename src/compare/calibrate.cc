// The noise floor: what two runs of one build differ by when nothing changed.
// A tolerance tighter than it asks the statistics for more than these
// samples on this machine can give (DESIGN.md: "an A/A calibration run gives
// the noise floor that a tolerance may not be tighter than").
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "perflab/compare.hpp"
#include "report_common.hpp"

namespace perflab {

std::vector<NoiseFloor> noise_floors(const Comparison& calibration) {
  std::vector<NoiseFloor> floors;
  for (const MetricComparison& row : calibration.rows) {
    NoiseFloor floor{row.group, row.metric, 0, false};
    // A histogram row's interval comes from its bootstrap units, not its samples.
    const bool single = row.source == ChangeSource::kHistogram
                            ? row.change.n_base < 2 || row.change.n_candidate < 2
                            : row.base.size() < 2 || row.candidate.size() < 2;
    if (!row.exact && !single) {
      const double none = row.change.scale == ChangeScale::kRatio ? 1.0 : 0.0;
      floor.floor = std::max(std::fabs(row.change.low - none), std::fabs(row.change.high - none));
      floor.measured = std::isfinite(floor.floor);
    }
    floors.push_back(floor);
  }
  return floors;
}

std::vector<std::string> criteria_below_noise(const std::vector<NoiseFloor>& floors,
                                              const std::vector<Criterion>& criteria) {
  std::vector<std::string> warnings;
  for (const Criterion& criterion : criteria) {
    if (!criterion.relative) continue;
    for (const NoiseFloor& floor : floors) {
      if (floor.metric.name != criterion.metric || !floor.measured) continue;
      if (floor.metric.scale != ChangeScale::kRatio) continue;
      if (std::fabs(criterion.value) >= floor.floor) continue;
      char text[256];
      std::snprintf(text, sizeof text,
                    "%s%s%s: tighter than the noise floor +-%.1f%% that two runs of one build "
                    "showed; it cannot be decided reliably (loosen it, or take more repetitions)",
                    criterion.text.c_str(), floor.group.empty() ? "" : " on ", floor.group.c_str(),
                    100 * floor.floor);
      warnings.emplace_back(text);
    }
  }
  return warnings;
}

std::string format_calibration_text(const Comparison& calibration,
                                    const std::vector<NoiseFloor>& floors,
                                    const std::vector<std::string>& warnings) {
  std::string out = "perflab compare --calibrate: " + calibration.base_path + " and " +
                    calibration.candidate_path + " (two runs of one build)\n\n";
  std::size_t width = 6;
  for (const NoiseFloor& floor : floors) {
    MetricComparison row;
    row.group = floor.group;
    row.metric = floor.metric;
    width = std::max(width, compare_detail::row_label(row).size());
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-*s  %s\n", static_cast<int>(width), "metric",
                "noise floor (largest change the interval allows)");
  out += line;
  for (const NoiseFloor& floor : floors) {
    const std::string label =
        floor.group.empty() ? floor.metric.name : floor.group + " " + floor.metric.name;
    std::string value = "-";
    if (floor.measured) {
      char number[64];
      if (floor.metric.scale == ChangeScale::kRatio) {
        std::snprintf(number, sizeof number, "+-%.1f%%", 100 * floor.floor);
      } else {
        std::snprintf(number, sizeof number, "+-%g%s%s", floor.floor,
                      floor.metric.unit.empty() ? "" : " ", floor.metric.unit.c_str());
      }
      value = number;
    }
    std::snprintf(line, sizeof line, "%-*s  %s\n", static_cast<int>(width), label.c_str(),
                  value.c_str());
    out += line;
  }
  for (const std::string& warning : warnings) out += "warning: " + warning + "\n";
  return out;
}

}  // namespace perflab
