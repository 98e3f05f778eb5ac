// Runs the Google Benchmark suites of bench/ and judges them against the
// performance budgets of DESIGN.md: every ratio compares a candidate with its
// anchor measured in the same process run, using the median of repetitions.
#pragma once

#include <string>
#include <vector>

namespace perflab::bench {

/// Which per-iteration time a budget compares.
enum class TimeKind {
  kCpu,   // CPU time per operation, summed over threads (cost per op)
  kReal,  // wall time per operation as Google Benchmark reports it
};

/// One line of the verdict table.
struct Budget {
  std::string what;       // what a reader sees, e.g. "get+put vs malloc/free, 1 thread"
  std::string candidate;  // run name, e.g. "BM_PoolGetPut/threads:1"
  std::string anchor;     // run name of the anchor; empty for an absolute budget in ns
  double limit = 1.0;     // candidate/anchor (or candidate ns) must be <= limit
  TimeKind time = TimeKind::kCpu;
};

/// Runs every registered benchmark (5 repetitions unless the command line says
/// otherwise), prints Google Benchmark's console table, then one line per
/// budget with the median ratio and "ok" or "MISSED".
/// Returns the process exit code: 0, or 1 when --perflab_strict was given and a
/// budget was missed; 2 for an unknown command-line flag. A budget whose runs
/// are absent (filtered out) is reported as "not run" and never fails.
int run_with_budgets(int argc, char** argv, const std::vector<Budget>& budgets);

}  // namespace perflab::bench
