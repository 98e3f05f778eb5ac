// The RSS growth of a timeline: what a soak judges a leak by.
#include <cmath>
#include <optional>
#include <vector>

#include "perflab/profile.hpp"

namespace perflab {

std::optional<double> rss_growth_per_s(const std::vector<TimelineSample>& timeline, double from_s,
                                       double to_s) {
  const auto in_window = [&](const TimelineSample& sample) {
    return std::isfinite(sample.time_s) && sample.time_s >= from_s && sample.time_s <= to_s;
  };
  double n = 0;
  double sum_t = 0;
  double sum_r = 0;
  for (const TimelineSample& sample : timeline) {
    if (!in_window(sample)) continue;
    n += 1;
    sum_t += sample.time_s;
    sum_r += static_cast<double>(sample.rss_bytes);
  }
  if (n < 2) return std::nullopt;
  // Sums of whole byte counts are exact in a double, so for a flat series
  // the mean is the value itself and every deviation exactly 0.
  const double mean_t = sum_t / n;
  const double mean_r = sum_r / n;
  double covariance = 0;
  double variance = 0;
  for (const TimelineSample& sample : timeline) {
    if (!in_window(sample)) continue;
    const double dt = sample.time_s - mean_t;
    covariance += dt * (static_cast<double>(sample.rss_bytes) - mean_r);
    variance += dt * dt;
  }
  if (variance <= 0) return std::nullopt;
  return covariance / variance;
}

}  // namespace perflab
