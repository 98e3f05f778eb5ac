// Fuzzes what compare reads: summary.json and Google Benchmark JSON. Any
// bytes either give metric samples of known metrics with finite values, or
// throw CompareError.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "perflab/compare.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const perflab::CompareInput input = perflab::parse_compare_json(text, "fuzz");
    for (const perflab::MetricSamples& samples : input.metrics) {
      if (!perflab::find_metric(samples.metric) || samples.values.empty()) std::abort();
      for (const double value : samples.values) {
        if (!std::isfinite(value)) std::abort();
      }
    }
    // Comparing a parsed input with itself must not fail on its figures.
    (void)perflab::compare_inputs(input, input, {}, {});
  } catch (const perflab::CompareError&) {
  }
  return 0;
}
