// Folded stacks of a sampling profiler (cpu.folded) and their pprof Profile
// (cpu.pb.gz). Frames are names only: perf has already symbolized them, and
// a folded stack keeps no addresses, so locations carry none either.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pprof_strings.hpp"
#include "profile.pb.h"
#include "profile_internal.hpp"

namespace perflab {

namespace {

using StringTable = profile_detail::PprofStringTable;

// pprof values are int64: clamp rather than wrap.
std::int64_t clamp_int64(double value) {
  if (!(value > 0)) return 0;
  if (value >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  return std::llround(value);
}

// The frames of "root;...;leaf", leaf first as pprof orders a sample's locations.
std::vector<std::string_view> frames_leaf_first(std::string_view stack) {
  std::vector<std::string_view> frames;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = stack.find(';', begin);
    frames.push_back(stack.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return {frames.rbegin(), frames.rend()};
}

}  // namespace

std::string format_folded_stacks(const FoldedStacks& stacks) {
  std::string out;
  for (const auto& [stack, samples] : stacks) {
    if (samples == 0) continue;  // a zero-width stack draws nothing
    out += stack;
    out += ' ';
    out += std::to_string(samples);
    out += '\n';
  }
  return out;
}

std::string encode_cpu_pprof(const FoldedStacks& stacks, double sample_hz, double duration_s) {
  if (!(sample_hz > 0) || !std::isfinite(sample_hz)) {
    throw ProfileError("cpu profile: the sampling rate must be positive");
  }
  const double period_ns = 1e9 / sample_hz;
  pprof::Profile out;
  StringTable strings(&out);
  for (const char* type : {"samples", "cpu"}) {
    pprof::ValueType* value_type = out.add_sample_type();
    value_type->set_type(strings.index(type));
    value_type->set_unit(
        strings.index(type == std::string_view("samples") ? "count" : "nanoseconds"));
  }
  out.set_default_sample_type(strings.index("cpu"));
  out.mutable_period_type()->set_type(strings.index("cpu"));
  out.mutable_period_type()->set_unit(strings.index("nanoseconds"));
  out.set_period(clamp_int64(period_ns));
  out.set_duration_nanos(std::isfinite(duration_s) ? clamp_int64(duration_s * 1e9) : 0);

  // One location and one function per distinct name: id = its order of appearance.
  std::unordered_map<std::string, std::uint64_t> location_ids;
  const auto location_of = [&](std::string_view frame) {
    const std::string name = frame.empty() ? "[unknown]" : std::string(frame);
    const auto [it, inserted] = location_ids.try_emplace(name, location_ids.size() + 1);
    if (inserted) {
      pprof::Function* function = out.add_function();
      function->set_id(it->second);
      function->set_name(strings.index(name));
      function->set_system_name(strings.index(name));
      pprof::Location* location = out.add_location();
      location->set_id(it->second);
      location->add_line()->set_function_id(it->second);
    }
    return it->second;
  };
  for (const auto& [stack, samples] : stacks) {
    if (samples == 0) continue;
    pprof::Sample* sample = out.add_sample();
    for (const std::string_view frame : frames_leaf_first(stack)) {
      sample->add_location_id(location_of(frame));
    }
    sample->add_value(clamp_int64(static_cast<double>(samples)));
    sample->add_value(clamp_int64(static_cast<double>(samples) * period_ns));
  }

  if (out.ByteSizeLong() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw ProfileError("cpu profile: too large for pprof (over 2 GiB serialized)");
  }
  std::string bytes;
  if (!out.SerializeToString(&bytes)) {
    throw ProfileError("cpu profile: protobuf serialization failed");
  }
  return profile_detail::gzip_compress(bytes);
}

}  // namespace perflab
