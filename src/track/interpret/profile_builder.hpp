// Turns one process's dump into the profile model: stacks merged across
// threads, addresses symbolized, leaks and totals computed.
#pragma once

#include <nlohmann/json.hpp>

#include "perflab/profile.hpp"
#include "track/interpret/dump_reader.hpp"
#include "track/interpret/symbolizer.hpp"

namespace perflab::track {

/// Builds the allocation profile of one process image. Symbolizes every
/// distinct call-site address once (from the image's own memory map).
/// Throws std::runtime_error only when symbolization cannot start at all.
AllocProfile build_alloc_profile(const ProcessDump& dump, SymbolizerOptions symbols = {});

/// The summary.json groups of a track run for one process image: "run"
/// (command, pid, start, duration, how the recording ended), "alloc" and
/// "memory" (alloc_summary_json), and "track" (mode, unwinder, threads).
/// Never includes the environment.
nlohmann::json track_summary_json(const ProcessDump& dump, const AllocProfile& profile);

}  // namespace perflab::track
