// perflab baseline --cpu-profile with Linux perf: `perf record` of the
// server (the cpu-clock software event, so it works in VMs and containers
// without hardware counters) in the background, then `perf script` folded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "cpu_profile.hpp"

namespace perflab::cli {

/// Samples per second per thread on CPU; odd, so it does not beat with timers.
inline constexpr int kPerfSampleHz = 999;
/// What summary.json's cpu.profile.tool says of a perf profile.
inline constexpr const char* kPerfTool = "perf cpu-clock 999 Hz";

struct PerfSamplerOptions {
  /// perf record's --max-size: perf stops recording (and exits) once
  /// perf.data is this large. A sample costs about 8.5 KiB (8 KiB of stack
  /// for the DWARF unwinder, registers, header): 256 MiB is some 30 000
  /// samples, 30 s of one busy thread.
  std::uint64_t max_data_bytes = std::uint64_t{256} << 20;
  /// How long `perf script` may take; it is killed after that.
  std::chrono::seconds script_timeout{120};
};

/// One `perf record` of one process, from construction to stop(). Not
/// thread-safe; neither copyable nor movable. Throws std::runtime_error with
/// the reason (and the end of perf's output) when perf cannot be started or
/// its data cannot be read.
class PerfSampler {
 public:
  /// Why perf (found on PATH) cannot sample on this machine, or nullopt when
  /// it can: runs one short `perf record` of `true`. Takes a fraction of a
  /// second; never throws but for std::bad_alloc.
  static std::optional<std::string> unavailable_reason();

  /// Starts `perf record -e cpu-clock -F 999 --call-graph dwarf -p PID` in
  /// the background, in a process group of its own, writing work_dir/perf.data
  /// (at most options.max_data_bytes) and its messages to work_dir/perf.log.
  /// REQUIRES: work_dir exists.
  PerfSampler(pid_t pid, const std::filesystem::path& work_dir, PerfSamplerOptions options = {});
  /// Stops perf if stop() was not called. Never throws.
  ~PerfSampler();
  PerfSampler(const PerfSampler&) = delete;
  PerfSampler& operator=(const PerfSampler&) = delete;

  /// SIGINT to perf, which then writes its data and exits; SIGKILL after
  /// 10 s. Throws when perf failed (exited with an error before, or had to
  /// be killed). Idempotent.
  void stop();

  /// After stop(): runs `perf script` on the data and folds its samples.
  /// Throws std::runtime_error when perf script fails, or does not finish
  /// within options.script_timeout (it is then killed, with its process
  /// group).
  CpuStacks collect();

  /// After stop(): what the caller should know about the profile (perf.data
  /// reached its cap, so the samples stop early); empty when nothing.
  std::vector<std::string> warnings() const;

  /// The last lines perf printed (for error messages).
  std::string log_tail() const;

 private:
  pid_t perf_pid_ = -1;
  std::filesystem::path work_dir_;
  PerfSamplerOptions options_;
  std::optional<int> status_;  // waitpid status once perf has ended
};

/// Folds the output of `perf script -F comm,tid,ip,sym,dso` into stacks, root
/// first. Unknown symbols become the module's file name in brackets
/// ("[libc.so.6]") or "[unknown]"; inlined frames are kept; at most the
/// innermost kMaxCpuFrames frames of a sample are kept.
CpuStacks fold_perf_script(std::istream& in);

}  // namespace perflab::cli
