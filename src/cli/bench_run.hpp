// Running Google Benchmark binaries for `perflab bench` and
// `perflab compare --binaries`: one run with repetitions, or two binaries
// interleaved (A B A B ...) so that a machine's drift hits both sides alike.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace perflab::cli {

/// How one run of a benchmark binary went.
struct BenchmarkRun {
  nlohmann::json output;    // the binary's --benchmark_out document, parsed
  std::string output_text;  // the same, byte for byte
  double duration_s = 0;    // wall time of the run
};

/// Runs `command` (a benchmark binary and its own arguments) with
/// `extra_arguments` appended and `--benchmark_out=<out_file>
/// --benchmark_out_format=json`, then reads `out_file`.
/// `show_output`: the binary's stdout and stderr pass through to ours;
/// otherwise stdout is discarded and stderr kept only for error messages.
/// Throws std::runtime_error with a message naming the binary when it is
/// missing or not executable, cannot be started, exits non-zero or by a signal
/// (with its status and the last lines of its stderr), or writes no Google
/// Benchmark JSON with at least one iteration result.
/// REQUIRES: `command` is not empty; out_file's directory exists.
BenchmarkRun run_benchmark_binary(const std::vector<std::string>& command,
                                  const std::vector<std::string>& extra_arguments,
                                  const std::filesystem::path& out_file, bool show_output);

/// The two sides of an interleaved run: Google Benchmark JSON documents
/// holding only iteration entries, `rounds` per benchmark, in run order.
struct InterleavedRuns {
  std::filesystem::path base_json, candidate_json;
  int rounds;
};

/// Runs base, candidate, base, candidate ... `rounds` times each, every run
/// with --benchmark_repetitions=1 (and --benchmark_filter=`filter` unless it
/// is empty), the binaries' output hidden. Writes work_dir/base.json and
/// work_dir/candidate.json: each side's "benchmarks" arrays concatenated
/// (iteration entries only, aggregates dropped) under the first run's
/// "context", so the i-th sample of a benchmark on each side ran next to each
/// other in time and the two form a pair for a paired test. The per-run files
/// (work_dir/base-<i>.json ...) are removed once merged.
/// Throws std::runtime_error when a run fails (see run_benchmark_binary), when
/// the two sides do not run the same benchmarks the same number of times, or
/// when work_dir cannot be written. REQUIRES: rounds >= 1; both commands not
/// empty; work_dir exists.
InterleavedRuns run_interleaved(const std::vector<std::string>& base_command,
                                const std::vector<std::string>& candidate_command, int rounds,
                                const std::string& filter, const std::filesystem::path& work_dir);

/// The Google Benchmark JSON of a `perflab bench` profile directory:
/// dir/benchmarks.json when `dir` is a directory holding that file, nullopt
/// otherwise (a plain profile, or not a directory). For compare: such a
/// directory compares as a benchmark set. Never throws.
std::optional<std::filesystem::path> benchmark_json_of(const std::filesystem::path& dir);

}  // namespace perflab::cli
