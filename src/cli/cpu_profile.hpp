// perflab baseline --cpu-profile: samples a running server's call stacks with
// Linux perf (the cpu-clock software event, so it works in VMs and containers
// without hardware counters) and folds perf's samples into stacks.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <istream>
#include <optional>
#include <string>

#include "perflab/profile.hpp"

namespace perflab::cli {

/// "root;...;leaf" -> samples (perflab::FoldedStacks).
using CpuStacks = FoldedStacks;

/// Samples per second per thread on CPU; odd, so it does not beat with timers.
inline constexpr int kCpuSampleHz = 999;
/// What summary.json's cpu.profile.tool says.
inline constexpr const char* kCpuProfileTool = "perf cpu-clock 999 Hz";

/// One `perf record` of one process, from construction to stop(). Not
/// thread-safe; neither copyable nor movable. Throws std::runtime_error with
/// the reason (and the end of perf's output) when perf cannot be started or
/// its data cannot be read.
class CpuProfiler {
 public:
  /// Why perf (found on PATH) cannot sample on this machine, or nullopt when
  /// it can: runs one short `perf record` of `true`. Takes a fraction of a
  /// second; never throws but for std::bad_alloc.
  static std::optional<std::string> unavailable_reason();

  /// Starts `perf record -e cpu-clock -F 999 --call-graph dwarf -p PID` in
  /// the background, in a process group of its own, writing work_dir/perf.data
  /// and its messages to work_dir/perf.log. REQUIRES: work_dir exists.
  CpuProfiler(pid_t pid, const std::filesystem::path& work_dir);
  /// Stops perf if stop() was not called. Never throws.
  ~CpuProfiler();
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  /// SIGINT to perf, which then writes its data and exits; SIGKILL after
  /// 10 s. Throws when perf failed (exited with an error before, or had to
  /// be killed). Idempotent.
  void stop();

  /// After stop(): runs `perf script` on the data and folds its samples.
  CpuStacks collect();

  /// The last lines perf printed (for error messages).
  std::string log_tail() const;

 private:
  pid_t perf_pid_ = -1;
  std::filesystem::path work_dir_;
  std::optional<int> status_;  // waitpid status once perf has ended
};

/// Folds the output of `perf script -F comm,tid,ip,sym,dso` into stacks, root
/// first. Unknown symbols become the module's file name in brackets
/// ("[libc.so.6]") or "[unknown]"; inlined frames are kept; at most the
/// innermost kMaxCpuFrames frames of a sample are kept.
CpuStacks fold_perf_script(std::istream& in);
inline constexpr std::size_t kMaxCpuFrames = 64;

}  // namespace perflab::cli
