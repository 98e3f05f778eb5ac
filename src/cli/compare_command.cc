// perflab compare BASE CANDIDATE: the side-by-side table, the criteria
// verdict and its exit code. Glue: the statistics and reports are
// perflab::compare's (src/compare).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <fstream>

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
};

int run_compare(const CompareCommandOptions& o) {
  const std::vector<Criterion> criteria = parse_criteria(o.criteria);
  const CompareInput base = read_compare_input(o.base);
  const CompareInput candidate = read_compare_input(o.candidate);
  if (base.kind != candidate.kind) {
    throw CompareError("cannot compare a profile directory with a benchmark JSON file (" + o.base +
                       ", " + o.candidate + ")");
  }
  CompareOptions options;
  options.alpha = o.alpha;
  options.paired = o.paired;
  options.allow_different_loads = o.allow_different_loads;
  options.top_sites = o.top;
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
  compare->add_option("--top", o->top, "Allocation sites that changed, in the report")
      ->capture_default_str();
  compare->callback([o, &exit_code] { exit_code = run_compare(*o); });
}

}  // namespace

void register_compare_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_compare_command);
}

}  // namespace perflab::cli
