// Starting the traced program: checks that it can be tracked, runs it with the
// recorder preloaded, forwards termination signals, and reports how it ended.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace perflab::cli {

struct LaunchPlan {
  std::string executable;         // resolved path
  std::vector<std::string> argv;  // as given
  std::string preload;            // path of libperflab_track.so
};

/// Resolves the command (PATH search like execvp), refuses what cannot be
/// tracked, and finds the recorder library. Throws std::runtime_error with a
/// message saying what to do: command not found, not executable, statically
/// linked (LD_PRELOAD cannot reach it), recorder library missing.
LaunchPlan plan_launch(const std::vector<std::string>& command);

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

/// Runs the plan and waits. SIGTERM and SIGHUP sent to perflab are passed on
/// to the program; SIGINT and SIGQUIT from the terminal reach it directly and
/// perflab waits for it to finish. Throws std::runtime_error when the program
/// cannot be started (the exec error is reported from the child).
ChildResult launch_and_wait(const LaunchPlan& plan, const LaunchEnv& env);

}  // namespace perflab::cli
