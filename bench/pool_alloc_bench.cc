// Heap allocations per get+put in steady state, counted by perflab's own
// allocation counter (perflab::alloc) in two ways:
//  - inside each benchmark, an AllocScope around the whole timed loop
//    (millions of operations; the "allocs_per_op" counter), and
//  - through Google Benchmark's MemoryManager, as any benchmark binary linked
//    with perflab::alloc_benchmark gets it. Its pass runs only a few
//    iterations and includes Google Benchmark's own bookkeeping allocations
//    (about one per pass), so it reads slightly above zero for a loop that
//    allocates nothing.
// Timings here include the counter's own cost; the timed anchors are in pool_bench.
#include <benchmark/benchmark.h>

#include <string>

#include "perflab/alloc.hpp"
#include "perflab/alloc_benchmark.hpp"
#include "perflab/pool.hpp"
#include "pool_bench_support.hpp"
#include "ratio_report.hpp"

namespace {

using perflab::bench::Request;

// Runs `op` in the timed loop and reports this thread's allocations per op.
template <class Op>
void count_allocs_per_op(benchmark::State& state, Op op) {
  op();  // this thread's first use of a pool allocates its cache: not steady state
  perflab::AllocScope scope;
  for (auto _ : state) op();
  const double ops = static_cast<double>(state.iterations());
  state.counters["allocs_per_op"] = benchmark::Counter(
      static_cast<double>(scope.counts().allocs) / ops, benchmark::Counter::kAvgThreads);
}

void BM_PoolGetPutAllocs(benchmark::State& state) {
  static perflab::ObjectPool<Request> pool(perflab::bench::bench_pool_options());
  count_allocs_per_op(state, [&] {
    auto request = pool.get();
    benchmark::DoNotOptimize(request.get());
  });
}

void BM_StringPoolAllocs(benchmark::State& state) {
  static perflab::ObjectPool<std::string, perflab::ClearReset> pool(
      perflab::bench::bench_pool_options());
  count_allocs_per_op(state, [&] {
    auto text = pool.get();
    text->append(200, 'x');  // reused capacity: no allocation once warm
    benchmark::DoNotOptimize(text->data());
  });
}

void BM_BufferPoolAllocs(benchmark::State& state) {
  static perflab::BufferPool pool;
  count_allocs_per_op(state, [&] {
    perflab::Buffer buffer = pool.get(1024);
    buffer.append("{\"stream\":\"account-123\",\"position\":42}");
    benchmark::DoNotOptimize(buffer.data());
  });
}

// The anchor: the same string work without a pool allocates every time.
void BM_StringNoPoolAllocs(benchmark::State& state) {
  count_allocs_per_op(state, [] {
    std::string text;
    text.append(200, 'x');
    benchmark::DoNotOptimize(text.data());
  });
}

BENCHMARK(BM_PoolGetPutAllocs)->Threads(1)->Threads(2);
BENCHMARK(BM_StringPoolAllocs)->Threads(1)->Threads(2);
BENCHMARK(BM_BufferPoolAllocs)->Threads(1)->Threads(2);
BENCHMARK(BM_StringNoPoolAllocs)->Threads(1);

}  // namespace

int main(int argc, char** argv) {
  perflab::register_alloc_memory_manager();
  return perflab::bench::run_with_budgets(argc, argv, {});
}
