// A Google Benchmark binary for perflab bench's tests: BM_Vector allocates,
// BM_Sum does not. TINY_BENCH_SLOWER=1 makes BM_Sum do twice the work,
// standing in for a candidate build that regressed.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#ifdef TINY_BENCH_HAVE_ALLOC
#include "perflab/alloc_benchmark.hpp"
#endif

namespace {

constexpr int kSumLength = 1000;

bool slower_build() {
  const char* flag = std::getenv("TINY_BENCH_SLOWER");
  return flag != nullptr && std::strcmp(flag, "1") == 0;
}

void BM_Vector(benchmark::State& state) {
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    std::vector<int> values(length);  // one allocation per iteration
    benchmark::DoNotOptimize(values.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Vector)->Arg(1024);

void BM_Sum(benchmark::State& state) {
  std::vector<std::int64_t> values(kSumLength * 2);
  std::iota(values.begin(), values.end(), 1);
  // 2000 elements instead of 1000: the "slower build". Twice the work, so
  // the test that must see it as a regression does so on a busy machine too.
  const std::size_t length = slower_build() ? values.size() : kSumLength;
  for (auto _ : state) {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < length; ++i) {
      benchmark::DoNotOptimize(sum += values[i]);  // kept as a loop, not vectorized away
    }
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_Sum);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifdef TINY_BENCH_HAVE_ALLOC
  perflab::register_alloc_memory_manager();
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
