#include "ratio_report.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace perflab::bench {
namespace {

struct Median {
  double cpu_ns = 0;
  double real_ns = 0;
  double allocs_per_iter = -1;  // < 0 when no MemoryManager was registered
  double allocs_per_op = -1;    // the "allocs_per_op" user counter, when a benchmark sets it
};

// Keeps Google Benchmark's console output and remembers the median of each run.
class MedianCollector : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal: logs and greps get plain text.
  MedianCollector() : ConsoleReporter(isatty(STDOUT_FILENO) != 0 ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    // Every run comes here (so the MemoryManager figures, which only
    // per-repetition runs carry, are seen); the console shows the aggregates.
    std::vector<Run> shown;
    for (const Run& run : runs) {
      const bool single = repetitions_ == 1 && run.run_type == Run::RT_Iteration;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (single || run.run_type == Run::RT_Aggregate) shown.push_back(run);
      Median& m = medians_[run.run_name.str()];
      if (run.run_type == Run::RT_Iteration && run.memory_result != nullptr)
        m.allocs_per_iter = std::max(m.allocs_per_iter, run.allocs_per_iter);
      if (!single && !median) continue;
      m.cpu_ns = run.GetAdjustedCPUTime();
      m.real_ns = run.GetAdjustedRealTime();
      if (auto c = run.counters.find("allocs_per_op"); c != run.counters.end())
        m.allocs_per_op = c->second.value;
    }
    if (!shown.empty()) ConsoleReporter::ReportRuns(shown);
  }
  void set_repetitions(int n) { repetitions_ = n; }
  const std::map<std::string, Median>& medians() const { return medians_; }

 private:
  int repetitions_ = 5;
  std::map<std::string, Median> medians_;
};

double pick(const Median& m, TimeKind kind) {
  return kind == TimeKind::kCpu ? m.cpu_ns : m.real_ns;
}

}  // namespace

int run_with_budgets(int argc, char** argv, const std::vector<Budget>& budgets) {
  // Our own flag is removed before Google Benchmark sees the rest.
  bool strict = false;
  int repetitions = 5;
  std::vector<char*> args;
  bool has_repetitions = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perflab_strict") == 0) {
      strict = true;
      continue;
    }
    if (std::strncmp(argv[i], "--benchmark_repetitions=", 24) == 0) {
      has_repetitions = true;
      repetitions = std::atoi(argv[i] + 24);
    }
    args.push_back(argv[i]);
  }
  static char default_repetitions[] = "--benchmark_repetitions=5";
  if (!has_repetitions) args.push_back(default_repetitions);
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;

  MedianCollector collector;
  collector.set_repetitions(repetitions);
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  const auto& medians = collector.medians();
  bool missed = false;
  std::printf("\nperflab budgets (median of %d repetition%s, same run):\n", repetitions,
              repetitions == 1 ? "" : "s");
  for (const Budget& b : budgets) {
    auto cand = medians.find(b.candidate);
    auto anch = b.anchor.empty() ? medians.end() : medians.find(b.anchor);
    if (cand == medians.end() || (!b.anchor.empty() && anch == medians.end())) {
      std::printf("  %-58s not run\n", b.what.c_str());
      continue;
    }
    const double c = pick(cand->second, b.time);
    const bool ok_line = [&] {
      if (b.anchor.empty()) {
        std::printf("  %-58s %8.2f ns   (budget <= %.2f ns)", b.what.c_str(), c, b.limit);
        return c <= b.limit;
      }
      const double a = pick(anch->second, b.time);
      const double ratio = a > 0 ? c / a : 0;
      std::printf("  %-58s %8.3fx      (budget <= %.3fx; %.2f ns vs %.2f ns)", b.what.c_str(),
                  ratio, b.limit, c, a);
      return ratio <= b.limit;
    }();
    std::printf("  %s\n", ok_line ? "ok" : "MISSED");
    missed |= !ok_line;
  }
  for (const auto& [name, m] : medians) {
    if (m.allocs_per_op >= 0)
      std::printf("  heap allocations per operation (timed loop), %-32s %.6f\n", name.c_str(),
                  m.allocs_per_op);
    if (m.allocs_per_iter >= 0)
      std::printf("  heap allocations per iteration (MemoryManager pass), %-24s %.4f\n",
                  name.c_str(), m.allocs_per_iter);
  }
  return strict && missed ? 1 : 0;
}

}  // namespace perflab::bench
