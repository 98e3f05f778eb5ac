// Fuzzes the criteria parser: any text either parses into a criterion whose
// parts are consistent, or throws CompareError. Nothing else (no crash, no
// other exception, no hang).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "perflab/compare.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const perflab::Criterion criterion = perflab::parse_criterion(text);
    // A parsed criterion names a known metric and a finite bound.
    if (!perflab::find_metric(criterion.metric) || !std::isfinite(criterion.value)) std::abort();
  } catch (const perflab::CompareError&) {
  }
  return 0;
}
