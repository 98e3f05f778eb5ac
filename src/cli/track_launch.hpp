// Starting a program, traced or not: checks that it can be tracked, runs it
// with the recorder preloaded, forwards termination signals, and reports how
// it ended. `perflab track` runs a program to its end (launch_and_wait);
// `perflab baseline` starts a server, drives it, and stops it
// (start_program, try_wait_program, stop_program).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace perflab::cli {

struct LaunchPlan {
  std::string executable;         // resolved path
  std::vector<std::string> argv;  // as given
  std::string preload;            // path of libperflab_track.so; empty when not tracked
};

/// Whether the program will run under the recorder.
enum class Tracking { kTracked, kUntracked };

/// Resolves the command (PATH search like execvp), refuses what cannot be
/// tracked, and finds the recorder library. Throws std::runtime_error with a
/// message saying what to do: command not found, not executable, statically
/// linked (LD_PRELOAD cannot reach it), recorder library missing. With
/// Tracking::kUntracked only the first two are checked and `preload` stays
/// empty: a static program and a build without the recorder are fine.
LaunchPlan plan_launch(const std::vector<std::string>& command,
                       Tracking tracking = Tracking::kTracked);

struct LaunchEnv {
  std::string dump_dir;
  std::string mode;
  std::string unwind;
  std::string fork;
  int interval_ms = 100;
};

struct ChildResult {
  pid_t pid = -1;
  int exit_code = 0;        // the program's status, 128+N for signal N
  std::string status_text;  // "exited with status 0", "was killed by SIGTERM"
};

/// How a started program relates to perflab.
enum class ProgramRole {
  /// In perflab's process group (a terminal's Ctrl-C reaches both), living
  /// on should perflab die: what `perflab track` runs.
  kForeground,
  /// A server perflab drives and stops: in a process group of its own (led
  /// by it), so Ctrl-C reaches perflab alone and stop_program() reaches any
  /// process it forked (workers, or the server a wrapper script started);
  /// sent SIGTERM by the kernel when perflab's thread that started it ends
  /// (PR_SET_PDEATHSIG), so a killed perflab leaves no server behind.
  kService,
};

/// Starts the plan's program and returns its pid once it has exec'd. `env`
/// null runs it untracked (no LD_PRELOAD added); otherwise REQUIRES a plan
/// with a preload library. `output_fd` >= 0 becomes the child's stdout and
/// stderr; -1 leaves them shared with perflab. Throws std::runtime_error when
/// it cannot be started, after reaping it: fork fails, or exec fails (the
/// error is reported from the child). The caller must reap the pid
/// (wait_program, try_wait_program or stop_program). Installs no signal
/// handlers.
pid_t start_program(const LaunchPlan& plan, const LaunchEnv* env, int output_fd = -1,
                    ProgramRole role = ProgramRole::kForeground);

/// Waits for `pid` (a child) to end, retrying on EINTR, and reports how.
/// Throws std::runtime_error when `pid` is not a child of perflab.
ChildResult wait_program(pid_t pid);

/// Reaps `pid` if it has ended (then returns how), else returns std::nullopt
/// at once. Throws std::runtime_error when `pid` is not a child of perflab.
std::optional<ChildResult> try_wait_program(pid_t pid);

/// Ends `pid`: SIGTERM, then SIGKILL when it is still running `grace_s`
/// seconds later, and reaps it. A program started as ProgramRole::kService
/// is signalled with its whole process group. Never hangs: should the program not be gone
/// 5 s after SIGKILL (stuck in the kernel), it is left as it is and the
/// result's status_text says so (exit_code -1). A program that had already
/// ended is just reaped.
ChildResult stop_program(pid_t pid, double grace_s);

/// Runs the plan and waits. SIGTERM and SIGHUP sent to perflab are passed on
/// to the program; SIGINT and SIGQUIT from the terminal reach it directly and
/// perflab waits for it to finish. Throws std::runtime_error when the program
/// cannot be started (the exec error is reported from the child).
ChildResult launch_and_wait(const LaunchPlan& plan, const LaunchEnv& env);

}  // namespace perflab::cli
