// perflab::Histogram benchmarks. The budget (DESIGN.md): record <= 3 ns,
// absolute. Values come from a pre-generated array of realistic latencies so
// the index computation cannot be constant-folded.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "perflab/histogram.hpp"
#include "ratio_report.hpp"

namespace {

constexpr std::size_t kValueCount = 1 << 16;  // a power of two: the index wraps with a mask
constexpr std::int64_t kHighestTrackable = 3'600'000'000'000;  // an hour in nanoseconds

// Service latencies in nanoseconds: median ~700 us, long tail into seconds.
const std::vector<std::int64_t>& latencies() {
  static const std::vector<std::int64_t> values = [] {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(std::log(700'000.0), 1.2);
    std::vector<std::int64_t> v(kValueCount);
    for (auto& x : v) x = static_cast<std::int64_t>(dist(rng));
    return v;
  }();
  return values;
}

perflab::Histogram filled_histogram() {
  perflab::Histogram h(1, kHighestTrackable, 3);
  for (std::int64_t v : latencies()) h.record_value(v);
  return h;
}

// One record per iteration: the figure the budget compares.
void BM_HistogramRecord(benchmark::State& state) {
  perflab::Histogram h(1, kHighestTrackable, static_cast<int>(state.range(0)));
  const std::int64_t* values = latencies().data();
  // Escaping the histogram keeps every increment observable, so none is
  // dropped; nothing else sits inside the timed loop.
  benchmark::DoNotOptimize(&h);
  std::size_t i = 0;
  for (auto _ : state) {
    h.record_value(values[i]);
    i = (i + 1) & (kValueCount - 1);
  }
  benchmark::DoNotOptimize(h.total_count());
  if (h.total_count() != static_cast<std::int64_t>(state.iterations())) {
    state.SkipWithError("records were lost");
  }
}
BENCHMARK(BM_HistogramRecord)->Arg(3)->ArgName("figures");
BENCHMARK(BM_HistogramRecord)->Arg(2)->ArgName("figures");

// The same records in batches of the whole array, for a throughput view.
void BM_HistogramRecordBatch(benchmark::State& state) {
  perflab::Histogram h(1, kHighestTrackable, 3);
  const std::vector<std::int64_t>& values = latencies();
  for (auto _ : state) {
    for (std::int64_t v : values) h.record_value(v);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(values.size()));
}
BENCHMARK(BM_HistogramRecordBatch);

void BM_HistogramRecordCorrected(benchmark::State& state) {
  perflab::Histogram h(1, kHighestTrackable, 3);
  const std::int64_t* values = latencies().data();
  benchmark::DoNotOptimize(&h);
  std::size_t i = 0;
  for (auto _ : state) {
    // 10 ms expected interval: only the tail back-fills.
    h.record_corrected_value(values[i], 10'000'000);
    i = (i + 1) & (kValueCount - 1);
  }
  benchmark::DoNotOptimize(h.total_count());
}
BENCHMARK(BM_HistogramRecordCorrected);

void BM_HistogramValueAtPercentile(benchmark::State& state) {
  const perflab::Histogram h = filled_histogram();
  for (auto _ : state) benchmark::DoNotOptimize(h.value_at_percentile(99.9));
}
BENCHMARK(BM_HistogramValueAtPercentile);

void BM_HistogramAdd(benchmark::State& state) {
  const perflab::Histogram source = filled_histogram();
  perflab::Histogram target(1, kHighestTrackable, 3);
  for (auto _ : state) {
    target.add(source);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_HistogramAdd);

void BM_HistogramEncodeBase64(benchmark::State& state) {
  const perflab::Histogram h = filled_histogram();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = perflab::encode_histogram_base64(h);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["base64_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_HistogramEncodeBase64);

void BM_HistogramDecodeBase64(benchmark::State& state) {
  const std::string text = perflab::encode_histogram_base64(filled_histogram());
  for (auto _ : state) {
    perflab::Histogram h = perflab::decode_histogram_base64(text);
    benchmark::DoNotOptimize(h.total_count());
  }
}
BENCHMARK(BM_HistogramDecodeBase64);

}  // namespace

int main(int argc, char** argv) {
  const std::vector<perflab::bench::Budget> budgets = {
      {"histogram record_value, 3 figures, realistic latencies", "BM_HistogramRecord/figures:3", "",
       3.0, perflab::bench::TimeKind::kCpu},
  };
  return perflab::bench::run_with_budgets(argc, argv, budgets);
}
