#include "track/interpret/profile_builder.hpp"

#include <unistd.h>

#include <ctime>
#include <map>
#include <optional>
#include <unordered_map>

#include "track/interpret/proc_maps.hpp"
#include "track/interpret/symbolizer.hpp"

namespace perflab::track {
namespace {

std::string iso_time(std::int64_t unix_ns) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

const char* reason_name(DumpReason reason) {
  switch (reason) {
    case DumpReason::kExit:
      return "exit";
    case DumpReason::kQuickExit:
      return "_exit";
    case DumpReason::kExec:
      return "exec";
    case DumpReason::kSignal:
      return "signal";
    case DumpReason::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

const char* unwinder_name(DumpUnwinder unwinder) {
  switch (unwinder) {
    case DumpUnwinder::kNone:
      return "none";
    case DumpUnwinder::kFramePointer:
      return "frame-pointer";
    case DumpUnwinder::kLibunwind:
      return "libunwind";
  }
  return "unknown";
}

}  // namespace

AllocProfile build_alloc_profile(const ProcessDump& dump, SymbolizerOptions symbols) {
  AllocProfile profile;
  const DumpTotals& t = dump.totals;
  profile.allocs = t.allocs;
  profile.frees = t.frees;
  profile.bytes = t.bytes;
  profile.temporary = t.temporary;
  profile.peak_heap_bytes = t.peak_heap_bytes;
  profile.peak_rss_bytes = t.peak_rss_bytes;
  profile.duration_s = static_cast<double>(dump.header.duration_ns) / 1e9;

  // The same stack shows up once per thread table: merge by frames.
  std::map<std::vector<std::uint64_t>, DumpStack> merged;
  for (const RawStack& stack : dump.stacks) {
    DumpStack& m = merged[stack.frames];
    m.allocs += stack.counts.allocs;
    m.bytes += stack.counts.bytes;
    m.frees += stack.counts.frees;
    m.bytes_freed += stack.counts.bytes_freed;
    m.temporary += stack.counts.temporary;
  }

  // Opening every mapped file costs milliseconds: only when there are frames.
  std::optional<Symbolizer> symbolizer;
  std::unordered_map<std::uint64_t, std::uint32_t> frame_of_address;
  for (const auto& [frames, counts] : merged) {
    AllocSite site;
    site.allocs = counts.allocs;
    site.bytes = counts.bytes;
    site.temporary = counts.temporary;
    // Frees are attributed to the allocating stack, so what is left is live;
    // counters read mid-update in a snapshot can briefly disagree: clamp.
    site.leaked_objects = counts.allocs > counts.frees ? counts.allocs - counts.frees : 0;
    site.leaked_bytes = counts.bytes > counts.bytes_freed ? counts.bytes - counts.bytes_freed : 0;
    profile.leaked_objects += site.leaked_objects;
    profile.leaked_bytes += site.leaked_bytes;
    for (std::uint64_t address : frames) {
      auto [it, added] =
          frame_of_address.try_emplace(address, static_cast<std::uint32_t>(profile.frames.size()));
      if (added) {
        if (!symbolizer) symbolizer.emplace(parse_proc_maps(dump.maps), symbols);
        profile.frames.push_back(symbolizer->symbolize(address));
      }
      site.frames.push_back(it->second);
    }
    profile.sites.push_back(std::move(site));
  }
  if (dump.header.mode == DumpMode::kCount && profile.sites.size() == 1) {
    // Counting mode measures frees in usable bytes: the live heap is the
    // recorder's own sum, not allocated minus freed.
    profile.leaked_bytes = t.live_bytes;
    profile.sites.front().leaked_bytes = t.live_bytes;
  }

  for (const DumpSample& s : dump.timeline) {
    TimelineSample sample;
    sample.time_s = static_cast<double>(s.time_ns) / 1e9;
    sample.heap_bytes = s.heap_bytes;
    sample.rss_bytes = s.rss_bytes;
    sample.allocs = s.allocs;
    sample.alloc_bytes = s.alloc_bytes;
    profile.timeline.push_back(sample);
  }
  return profile;
}

nlohmann::json track_summary_json(const ProcessDump& dump, const AllocProfile& profile) {
  std::string command;
  for (const std::string& arg : dump.argv) command += (command.empty() ? "" : " ") + arg;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  nlohmann::json run = {
      {"command", command},
      {"argv", dump.argv},
      {"host", host},
      {"pid", dump.header.pid},
      {"parent_pid", dump.header.parent_pid},
      {"start", iso_time(dump.header.start_unix_ns)},
      {"duration_s", profile.duration_s},
      {"ended_by", reason_name(dump.header.reason)},
      {"repetitions", 1},
  };
  if (dump.header.reason == DumpReason::kSignal) run["signal"] = dump.header.signal;
  nlohmann::json summary = alloc_summary_json(profile);
  summary["run"] = std::move(run);
  summary["track"] = {
      {"mode", dump.header.mode == DumpMode::kCount ? "count" : "stacks"},
      {"unwinder", unwinder_name(dump.header.unwinder)},
      {"threads", dump.totals.threads},
      {"unique_stacks", profile.sites.size()},
      {"dropped_stacks", dump.totals.dropped_stacks},
      {"inherited_frees", dump.totals.inherited_frees},
      {"fork_generation", dump.header.generation},
      {"peak_heap_is_sampled", dump.totals.threads > 1},
      {"heap_bytes_measure", dump.header.mode == DumpMode::kCount ? "usable" : "requested"},
      {"unwinder_samples_compared", dump.totals.unwind_samples},
      {"unwinder_samples_agreed", dump.totals.unwind_agreed},
  };
  if (!dump.malloc_defined_by.empty())
    summary["track"]["malloc_defined_by"] = dump.malloc_defined_by;
  if (!dump.allocator_bypassed.empty())
    summary["track"]["allocator_bypassed"] = dump.allocator_bypassed;
  return summary;
}

}  // namespace perflab::track
