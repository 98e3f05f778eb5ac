// Number and change formatting shared by compare's report formats.
#pragma once

#include <string>

#include "perflab/compare.hpp"

namespace perflab::compare_detail {

/// A figure with its unit, 3-4 significant digits, thousands grouped:
/// "5,012 req/s", "812 us", "1.25 MB" (bytes scale to kB/MB/GB).
std::string format_value(double value, const std::string& unit);
/// The change's estimate: "+25.7%" (ratio) or "+0.003" with the unit (difference).
std::string format_change(const ShiftEstimate& change, const std::string& unit);
/// The interval, "+22.1% .. +29.0%" (with " (h)" when from the histograms), or "(exact)".
std::string format_interval(const MetricComparison& row);
/// "0.000" .. "1.00"; "-" when exact.
std::string format_p(const MetricComparison& row);
/// "10/10": samples per side (histogram rows: bootstrap units per side).
std::string format_counts(const MetricComparison& row);
/// The row's label: the metric, with the group in front for benchmark sets.
std::string row_label(const MetricComparison& row);

}  // namespace perflab::compare_detail
