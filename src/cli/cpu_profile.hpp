// perflab baseline --cpu-profile: samples a running server's call stacks
// with Linux perf where it can sample, else with perflab's own ptrace
// sampler, and folds the samples into stacks (cpu.folded, cpu.pb.gz).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perflab/profile.hpp"

namespace perflab::cli {

/// "root;...;leaf" -> samples (perflab::FoldedStacks).
using CpuStacks = FoldedStacks;

/// At most this many frames of a sample, the innermost, are kept.
inline constexpr std::size_t kMaxCpuFrames = 64;

/// --cpu-sampler: which sampler a run asks for.
enum class CpuSamplerRequest { kAuto, kPerf, kBuiltin };

/// The samplers: `perf record` (cpu-clock, DWARF stacks), or perflab's own
/// ptrace sampler (cpu_sampler.hpp).
enum class CpuSamplerKind { kPerf, kBuiltin };

/// The sampler a run uses, and why: what README.md and summary.json say.
struct CpuSamplerChoice {
  CpuSamplerKind kind = CpuSamplerKind::kPerf;
  /// "perf can sample here", "--cpu-sampler builtin", or (auto) "perf
  /// cannot sample here (perf is not installed (not found on PATH))".
  std::string reason;
};

/// "auto", "perf" or "builtin". Throws std::invalid_argument otherwise.
CpuSamplerRequest parse_cpu_sampler(std::string_view text);

/// Checks that the requested sampler can sample on this machine, before any
/// server starts: kPerf, perf (PerfSampler::unavailable_reason); kBuiltin,
/// ptrace (PtraceSampler::unavailable_reason); kAuto, perf if it can, else
/// the built-in sampler. Throws std::runtime_error naming every reason (and
/// the remedies) when the sampler asked for, or for kAuto neither, can.
/// Takes a fraction of a second (it runs `perf record` of `true`).
CpuSamplerChoice choose_cpu_sampler(CpuSamplerRequest request);

class PerfSampler;
class PtraceSampler;

/// One CPU profile of one process, from construction to stop(), with the
/// chosen sampler. Not thread-safe; neither copyable nor movable.
class CpuProfiler {
 public:
  /// While it lives, the profiled process is free of perflab's ptrace (the
  /// built-in sampler pauses, and resumes when it is destroyed), so a
  /// waitpid on it reports its exit and never a ptrace stop. Without the
  /// built-in sampler, or once stopped, it does nothing. Movable.
  class Pause {
   public:
    Pause() = default;
    Pause(Pause&& other) noexcept : sampler_(std::exchange(other.sampler_, nullptr)) {}
    Pause& operator=(Pause&&) = delete;
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;
    ~Pause();

   private:
    friend class CpuProfiler;
    explicit Pause(PtraceSampler* sampler) : sampler_(sampler) {}
    PtraceSampler* sampler_ = nullptr;
  };

  /// Starts sampling process `pid` with `choice`'s sampler. perf writes its
  /// data and log under work_dir (REQUIRES: it exists); the built-in sampler
  /// keeps its samples in memory. Throws std::runtime_error with the reason
  /// when sampling cannot start.
  CpuProfiler(const CpuSamplerChoice& choice, pid_t pid, const std::filesystem::path& work_dir);
  /// Stops sampling if stop() was not called. Never throws.
  ~CpuProfiler();
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  /// Wrap every wait on the profiled process in one (baseline's poll of the
  /// server): a ptrace stop would read as the server's end. REQUIRES: no
  /// other Pause of this profiler lives; it does not outlive the profiler.
  [[nodiscard]] Pause pause();

  /// Ends sampling, leaving the process as it was. Call it before stopping
  /// the process. Throws std::runtime_error when perf failed. Idempotent.
  void stop();

  /// stop(), then the samples folded. Throws std::runtime_error when they
  /// cannot be read (perf script failed or timed out).
  CpuStacks collect();

  /// After collect(): what the caller should know about the profile (perf
  /// stopped early at its size cap, samples the built-in sampler missed).
  std::vector<std::string> warnings() const;

  /// Samples per second per thread on CPU (the pprof period).
  int sample_hz() const;
  /// summary.json's cpu.profile.tool: "perf cpu-clock 999 Hz" or
  /// "builtin ptrace 199 Hz".
  std::string tool() const;

 private:
  std::unique_ptr<PerfSampler> perf_;
  std::unique_ptr<PtraceSampler> builtin_;
};

}  // namespace perflab::cli
