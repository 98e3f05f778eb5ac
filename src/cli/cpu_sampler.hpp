// perflab baseline --cpu-profile where perf cannot sample (not installed, or
// perf_event_open refused: perf_event_paranoid, a container's seccomp
// filter): perflab's own sampler. It traces the server with ptrace, which a
// parent may do to its child under Yama's default ptrace_scope 1, stops each
// thread that is on CPU a couple of hundred times a second, unwinds its stack
// remotely and lets it go on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cpu_profile.hpp"

namespace perflab::cli {

/// Samples per second per thread on CPU. Lower than perf's 999: each sample
/// stops the thread for some 30-70 us (the stop, the stack walk, the
/// restart). Odd, so it does not beat with timers.
inline constexpr int kBuiltinSampleHz = 199;

/// What a PtraceSampler did.
struct PtraceSamplerCounts {
  std::uint64_t samples = 0;     // stacks taken
  std::uint64_t missed = 0;      // threads on CPU not stopped within 50 ms, or not unwound
  std::uint64_t threads = 0;     // threads traced, over the whole run (pauses re-count them)
  std::uint64_t stopped_ns = 0;  // from each stop seen to the restart: the stack walks
};

/// Samples the call stacks of every thread of one process (a child of
/// perflab's, or one it may otherwise ptrace), from construction to stop().
///
/// A thread of perflab's own, the tracer, attaches to each of the process's
/// threads with PTRACE_SEIZE (new threads follow, PTRACE_O_TRACECLONE), and
/// every 1/sample_hz s interrupts each thread that is running or runnable
/// (state R in /proc/PID/task/TID/stat: a CPU profile, not a wall-clock
/// one), waits for it to stop, unwinds its stack (RemoteUnwinder) and
/// restarts it. Signals the process receives meanwhile are passed on (a
/// thread is restarted with the signal it stopped for); a stop signal stops
/// it as it would untraced (PTRACE_LISTEN). Addresses are symbolized once
/// sampling has ended (collect()), from the process's memory map as read
/// when tracing began and ended.
///
/// While traced, the process's ptrace stops are visible to every wait of
/// perflab's on it: waitpid(pid) may report a stop rather than an exit.
/// Wait for the process only between suspend() and resume(), or after
/// stop().
///
/// Process-wide side effects: an empty handler for SIGRTMIN+6 (a timer of
/// the tracer's sends it to end a wait for a thread that does not stop),
/// installed once unless the signal is handled already (the tracer then
/// polls); the tracer thread runs at nice -10 where the process may raise
/// its priority.
///
/// Not thread-safe: one thread (the owner) calls every member; the tracer
/// is internal. Neither copyable nor movable.
class PtraceSampler {
 public:
  /// Why this process cannot ptrace a child of its own, or nullopt when it
  /// can: forks a child that waits, PTRACE_SEIZEs it, kills it. Never throws
  /// but for std::bad_alloc.
  static std::optional<std::string> unavailable_reason();

  /// Attaches to every thread of `pid` and starts sampling `sample_hz` times
  /// a second. Returns once attached. Throws std::invalid_argument when
  /// sample_hz is not positive, std::runtime_error with the reason when the
  /// process cannot be traced (ptrace_refusal_reason(): EPERM from
  /// ptrace_scope, a missing CAP_SYS_PTRACE, a tracer already attached) or
  /// its stacks cannot be read; nothing stays attached then.
  explicit PtraceSampler(pid_t pid, int sample_hz = kBuiltinSampleHz);
  /// stop(). Never throws.
  ~PtraceSampler();
  PtraceSampler(const PtraceSampler&) = delete;
  PtraceSampler& operator=(const PtraceSampler&) = delete;

  /// Lets go of the process: returns once no thread of it is traced by
  /// perflab (each is left running as it was, or stopped if it was stopped
  /// by a signal), so that waitpid on it reports its exit only. Sampling
  /// stops until resume(). A no-op when suspended or stopped already.
  void suspend();
  /// Attaches again (the same process only: a pid reused after the process
  /// was reaped is left alone) and samples on. Returns without waiting for
  /// the attach. A no-op when not suspended, or stopped.
  void resume();

  /// Ends sampling and lets go of the process, as suspend(). Idempotent.
  void stop();

  /// stop(), then the samples folded (fold_sampled_stacks). Throws
  /// std::runtime_error should the symbolizer fail to initialise.
  CpuStacks collect();

  /// The counts so far. REQUIRES: suspended or stopped.
  PtraceSamplerCounts counts() const;

  int sample_hz() const;

  struct Shared;  // with the tracer thread

 private:
  void start_tracer();
  void end_tracer();

  std::unique_ptr<Shared> shared_;
  std::thread tracer_;
  bool stopped_ = false;
};

/// Why ptrace failed with `error` (an errno from PTRACE_SEIZE or
/// PTRACE_ATTACH), with the likely cause and the remedy: for EPERM the Yama
/// ptrace_scope setting read from /proc/sys/kernel/yama/ptrace_scope (2:
/// CAP_SYS_PTRACE needed; 3: ptrace disabled), else a seccomp filter or
/// security module. Never throws but std::bad_alloc.
std::string ptrace_refusal_reason(int error);

}  // namespace perflab::cli
