// The built-in CPU sampler's stacks, from addresses to names: symbolized
// after sampling, outside the sampling loop, with perflab's symbolizer.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "cpu_profile.hpp"

namespace perflab::cli {

/// Sampled stacks as addresses, innermost first (RemoteUnwinder::unwind's
/// form: the stopped address, then call sites) -> samples.
using SampledStacks = std::map<std::vector<std::uint64_t>, std::uint64_t>;

/// Folds `stacks` into CpuStacks as fold_perf_script does for perf: each
/// address named by perflab's symbolizer (src/track/interpret) from the files
/// `maps_text` maps, inlined functions as frames of their own, "root;...;leaf"
/// -> samples, at most the innermost kMaxCpuFrames frames (after inlined
/// frames are added). `maps_text` is /proc/PID/maps of the sampled process:
/// one or several snapshots, concatenated (where they differ the later one
/// wins). A frame without a function name is its module's file name in
/// brackets ("[libc.so.6]"), "[vdso]", or "[unknown]". Stacks that fold to
/// the same names are added up. Never throws but std::bad_alloc (and
/// std::runtime_error should libdwfl fail to initialise).
CpuStacks fold_sampled_stacks(const SampledStacks& stacks, std::string_view maps_text);

}  // namespace perflab::cli
