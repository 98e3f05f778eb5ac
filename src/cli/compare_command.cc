// perflab compare BASE CANDIDATE: the side-by-side table, the criteria
// verdict and its exit code. Glue: the statistics and reports are
// perflab::compare's (src/compare).
#include <fmt/core.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "bench_run.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "perflab/compare.hpp"

namespace perflab::cli {
namespace {

struct CompareCommandOptions {
  std::string base;
  std::string candidate;
  std::vector<std::string> criteria;
  std::string format = "text";
  double alpha = 0.05;
  bool paired = false;
  bool allow_different_loads = false;
  std::string inconclusive = "inconclusive";
  std::size_t top = 10;
  std::string report;  // also write the HTML report here
  bool calibrate = false;
  bool binaries = false;
  int rounds = 10;
};

// A `perflab bench` directory compares as the benchmark set inside it.
CompareInput read_input(const std::string& path) {
  if (std::optional<std::filesystem::path> json = benchmark_json_of(path)) {
    CompareInput input = read_compare_input(*json);
    input.path = path;  // reports name the directory, not the file inside it
    return input;
  }
  return read_compare_input(path);
}

// A temporary directory for interleaved runs, removed however compare ends.
class WorkDir {
 public:
  WorkDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "perflab-compare-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory (" +
                               std::string(std::strerror(errno)) + ")");
    }
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

int run_compare(const CompareCommandOptions& o) {
  const std::vector<Criterion> criteria = parse_criteria(o.criteria);
  std::optional<WorkDir> work;
  CompareInput base;
  CompareInput candidate;
  bool paired = o.paired;
  if (o.binaries) {
    // A B A B ...: each round's runs are neighbours in time, compared in pairs.
    work.emplace();
    const InterleavedRuns runs =
        run_interleaved({o.base}, {o.candidate}, o.rounds, "", work->path());
    base = read_compare_input(runs.base_json);
    candidate = read_compare_input(runs.candidate_json);
    base.path = o.base;
    candidate.path = o.candidate;
    paired = true;
  } else {
    base = read_input(o.base);
    candidate = read_input(o.candidate);
  }
  if (base.kind != candidate.kind) {
    throw CompareError("cannot compare a profile directory with a benchmark JSON file (" + o.base +
                       ", " + o.candidate + ")");
  }
  CompareOptions options;
  options.alpha = o.alpha;
  options.paired = paired;
  options.allow_different_loads = o.allow_different_loads;
  options.top_sites = o.top;
  if (o.calibrate) {
    // Two runs of one build: the criteria are checked against the noise, not judged.
    const Comparison calibration = compare_inputs(base, candidate, {}, options);
    const std::vector<NoiseFloor> floors = noise_floors(calibration);
    const std::vector<std::string> warnings = criteria_below_noise(floors, criteria);
    fmt::print("{}", format_calibration_text(calibration, floors, warnings));
    return warnings.empty() ? kExitPass : kExitInconclusive;
  }
  const Comparison comparison = compare_inputs(base, candidate, criteria, options);
  if (!o.report.empty()) {
    std::ofstream out(o.report, std::ios::binary | std::ios::trunc);
    out << format_comparison_html(comparison, base, candidate);
    if (!out.flush()) throw CompareError("cannot write the report to " + o.report);
  }
  if (o.format == "json") {
    fmt::print("{}\n", comparison_json(comparison).dump(2));
  } else if (o.format == "html") {
    fmt::print("{}", format_comparison_html(comparison, base, candidate));
  } else if (o.format == "markdown") {
    fmt::print("{}", format_comparison_markdown(comparison));
  } else {
    fmt::print("{}", format_comparison_text(comparison));
  }
  const int inconclusive_exit = o.inconclusive == "pass"   ? kExitPass
                                : o.inconclusive == "fail" ? kExitFail
                                                           : kExitInconclusive;
  return verdict_exit_code(comparison.verdict, inconclusive_exit);
}

void add_compare_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CompareCommandOptions>();
  CLI::App* compare = app.add_subcommand(
      "compare", "Compare two runs (profile directories or Google Benchmark JSON) with a verdict");
  compare->footer(
      "Example:\n"
      "  perflab compare profiles/before profiles/after \\\n"
      "      --criteria 'allocs_per_op <= -30%' 'throughput_rps >= +10%' 'latency_p99_us <= 2000'\n"
      "A relative criterion passes when the whole confidence interval of the change satisfies\n"
      "it, fails when the whole interval violates it, and is inconclusive otherwise.\n"
      "Exit codes: 0 pass, 1 fail, 2 bad input, 3 inconclusive (see --inconclusive).");
  compare->add_option("base", o->base, "The base run: a profile directory or benchmark JSON")
      ->required();
  compare->add_option("candidate", o->candidate, "The candidate run, of the same kind")->required();
  compare->add_option("--criteria", o->criteria, "METRIC OP VALUE, e.g. 'allocs_per_op <= -30%'")
      ->expected(1, -1);
  compare->add_option("--format", o->format, "text, markdown, json or html (on stdout)")
      ->check(CLI::IsMember({"text", "markdown", "json", "html"}))
      ->capture_default_str();
  compare->add_option("--alpha", o->alpha, "Significance level; intervals at 1 - alpha")
      ->check(CLI::Range(0.0001, 0.5))
      ->capture_default_str();
  compare->add_flag("--paired", o->paired,
                    "The runs were interleaved (A B A B ...): compare them pair by pair");
  compare->add_flag("--allow-different-loads", o->allow_different_loads,
                    "Compare profiles even though their loads differ");
  compare
      ->add_option("--inconclusive", o->inconclusive,
                   "Exit code of an inconclusive verdict: inconclusive (3), pass (0), fail (1)")
      ->check(CLI::IsMember({"inconclusive", "pass", "fail"}))
      ->capture_default_str();
  compare->add_option("--report", o->report,
                      "Also write the self-contained HTML report (plots, verdicts) to this file");
  compare->add_flag("--calibrate", o->calibrate,
                    "BASE and CANDIDATE are two runs of the same build: print each metric's\n"
                    "noise floor, and flag criteria tighter than it (exit 3 when any is)");
  compare->add_flag("--binaries", o->binaries,
                    "BASE and CANDIDATE are Google Benchmark binaries: run them interleaved\n"
                    "(A B A B ..., --rounds times each) and compare the runs in pairs");
  compare->add_option("--rounds", o->rounds, "Rounds of A B for --binaries")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  compare->add_option("--top", o->top, "Allocation sites that changed, in the report")
      ->capture_default_str();
  compare->callback([o, &exit_code] { exit_code = run_compare(*o); });
}

}  // namespace

void register_compare_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_compare_command);
}

}  // namespace perflab::cli
