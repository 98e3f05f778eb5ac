// perflab bench -- BENCHMARK_BINARY: runs a Google Benchmark binary with
// repetitions and keeps its JSON in a profile directory that compare reads as
// a benchmark set. Glue: the runs are bench_run.cc's, the files ProfileWriter's.
#include <fmt/core.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "bench_run.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "perflab/profile.hpp"
#include "perflab/version.hpp"
#include "run_support.hpp"

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  std::string output;
  std::string name;
  int repeat = 10;
  std::string filter;
  std::string min_time;
  std::string interleave_with;
  int rounds = 10;
  bool quiet = false;
  std::vector<std::string> command;
};

// A private directory for the binaries' --benchmark_out files, removed on
// every way out: the profile keeps copies.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "perflab-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory in " +
                               fs::temp_directory_path().string());
    }
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// Per benchmark, the medians of its repetitions: a quick look at the run.
// compare reads the samples from benchmarks.json itself, so nothing here is
// canonical.
nlohmann::json bench_summary_json(const nlohmann::json& output) {
  std::map<std::string, std::map<std::string, std::vector<double>>> samples;
  for (const nlohmann::json& run : output["benchmarks"]) {
    if (!run.is_object() || run.value("run_type", std::string("iteration")) != "iteration") {
      continue;
    }
    const std::string name = run.value("run_name", run.value("name", std::string()));
    // Times in nanoseconds, whatever unit the benchmark chose.
    const std::string unit = run.value("time_unit", std::string("ns"));
    const double scale = unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "us" ? 1e3 : 1.0;
    auto& metrics = samples[name];
    if (run.contains("real_time") && run["real_time"].is_number()) {
      metrics["real_time_ns"].push_back(run["real_time"].get<double>() * scale);
    }
    if (run.contains("cpu_time") && run["cpu_time"].is_number()) {
      metrics["cpu_time_ns"].push_back(run["cpu_time"].get<double>() * scale);
    }
    if (run.contains("allocs_per_iter") && run["allocs_per_iter"].is_number()) {
      metrics["allocs_per_iteration"].push_back(run["allocs_per_iter"].get<double>());
    }
    metrics["repetitions"].push_back(1);
  }
  nlohmann::json bench = nlohmann::json::object();
  for (const auto& [name, metrics] : samples) {
    nlohmann::json figures = nlohmann::json::object();
    for (const auto& [metric, values] : metrics) {
      if (metric == "repetitions") {
        figures[metric] = values.size();
      } else {
        figures[metric] = median_of(values);
      }
    }
    bench[name] = figures;
  }
  return bench;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::string utc_stamp(std::time_t when) {
  char text[32];
  std::tm utc{};
  gmtime_r(&when, &utc);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

nlohmann::json run_json(std::time_t started, double duration_s, int repetitions) {
  return {{"tool", "perflab bench"},     {"command", invocation()},  {"host", host_name()},
          {"start", utc_stamp(started)}, {"duration_s", duration_s}, {"repetitions", repetitions},
          {"perflab_version", kVersion}};
}

std::string readme(const std::string& files) {
  return fmt::format(
      "# perflab bench profile\n\n    {}\n\n- perflab {}\n\n{}\n"
      "Compare two such directories: perflab compare BASE_DIR CANDIDATE_DIR (see docs/bench.md).\n",
      joined(invocation()), kVersion, files);
}

// -o, else profiles/NAME, else a timestamped name; its parent is created.
std::unique_ptr<ProfileWriter> open_writer(const BenchOptions& o) {
  const std::string output = !o.output.empty() ? o.output
                             : !o.name.empty() ? "profiles/" + o.name
                                               : timestamped_profile_path("bench");
  const fs::path parent = fs::path(output).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  return std::make_unique<ProfileWriter>(output);
}

int run_bench(const BenchOptions& o) {
  // Opened first, so an existing directory fails before minutes of benchmarks.
  std::unique_ptr<ProfileWriter> writer = open_writer(o);
  ScratchDirectory scratch;
  std::vector<std::string> extra = {"--benchmark_repetitions=" + std::to_string(o.repeat)};
  if (!o.filter.empty()) extra.push_back("--benchmark_filter=" + o.filter);
  if (!o.min_time.empty()) extra.push_back("--benchmark_min_time=" + o.min_time);

  const std::time_t started = std::time(nullptr);
  const BenchmarkRun run =
      run_benchmark_binary(o.command, extra, scratch.path() / "benchmarks.json", !o.quiet);

  writer->write_text("benchmarks.json", run.output_text);
  writer->write_summary({{"run", run_json(started, run.duration_s, o.repeat)},
                         {"bench", bench_summary_json(run.output)}});
  writer->write_text("README.md",
                     readme("Files: benchmarks.json (the binary's --benchmark_out JSON, as it "
                            "wrote it: the samples),\nsummary.json (the run, and per benchmark "
                            "the medians of its repetitions: the `bench` group).\n"));
  const fs::path written = writer->commit();
  if (!o.quiet) fmt::print("profile written to {}\n", written.string());
  return kExitPass;
}

// --interleave-with: base and candidate alternate, and the directory keeps
// each side's merged JSON (what compare --binaries compares as pairs).
int run_bench_interleaved(const BenchOptions& o) {
  std::unique_ptr<ProfileWriter> writer = open_writer(o);
  ScratchDirectory scratch;
  std::vector<std::string> base = o.command;
  if (!o.min_time.empty()) base.push_back("--benchmark_min_time=" + o.min_time);
  // The candidate gets the base's arguments: the same benchmarks, another build.
  std::vector<std::string> candidate = base;
  candidate.front() = o.interleave_with;

  if (!o.quiet) {
    fmt::print(stderr, "perflab bench: {} rounds of {} and {}, interleaved\n", o.rounds,
               o.command.front(), o.interleave_with);
  }
  const std::time_t started = std::time(nullptr);
  const auto clock_start = std::chrono::steady_clock::now();
  const InterleavedRuns runs = run_interleaved(base, candidate, o.rounds, o.filter, scratch.path());
  const double duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count();

  for (const fs::path& file : {runs.base_json, runs.candidate_json}) {
    std::optional<std::string> text = read_file(file.string());
    if (!text) throw std::runtime_error("cannot read " + file.string());
    writer->write_text(file.filename().string(), *text);
  }
  writer->write_summary(
      {{"run", run_json(started, duration_s, o.rounds)},
       {"interleaved",
        {{"base", base}, {"candidate", candidate}, {"rounds", o.rounds}, {"filter", o.filter}}}});
  writer->write_text("README.md",
                     readme("Files: base.json and candidate.json (each side's runs merged, one "
                            "iteration entry\nper benchmark and round, in run order: the i-th "
                            "of each side ran next to each other).\n"));
  const fs::path written = writer->commit();
  if (!o.quiet) fmt::print("profile written to {}\n", written.string());
  return kExitPass;
}

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand(
      "bench", "Run a Google Benchmark binary with repetitions and keep its results as a profile");
  bench->footer(
      "Examples:\n"
      "  perflab bench -o profiles/before -- ./build/my_bench\n"
      "  perflab bench --name after --repeat 20 --filter 'BM_Parse.*' -- ./build/my_bench\n"
      "  perflab compare profiles/before profiles/after\n"
      "Exit codes: 0 ok; 2 bad usage, or the binary is missing, fails or writes no JSON.");
  auto* name = bench->add_option("--name", o->name, "Write profiles/NAME");
  bench->add_option("-o,--output", o->output, "Profile directory (default profiles/bench-<time>)")
      ->excludes(name);
  bench->add_option("--repeat", o->repeat, "Repetitions (--benchmark_repetitions)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  bench->add_option("--filter", o->filter, "Only benchmarks matching REGEX (--benchmark_filter)");
  bench->add_option("--min-time", o->min_time,
                    "Seconds per repetition, at least (--benchmark_min_time)");
  auto* interleave = bench->add_option(
      "--interleave-with", o->interleave_with,
      "Also run this candidate binary, alternating with the base (A B A B ...); writes "
      "base.json and candidate.json");
  bench->add_option("--rounds", o->rounds, "With --interleave-with: runs of each binary")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str()
      ->needs(interleave);
  bench->add_flag("-q,--quiet", o->quiet, "Hide the binary's output and perflab's messages");
  bench->add_option("benchmark_binary", o->command, "-- BENCHMARK_BINARY [ARGS...]")->required();
  bench->callback([o, &exit_code] {
    exit_code = o->interleave_with.empty() ? run_bench(*o) : run_bench_interleaved(*o);
  });
}

}  // namespace

std::optional<fs::path> benchmark_json_of(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return std::nullopt;
  fs::path json = dir / "benchmarks.json";
  if (!fs::is_regular_file(json, error)) return std::nullopt;
  return json;
}

void register_bench_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_bench_command);
}

}  // namespace perflab::cli
