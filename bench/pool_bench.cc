// ObjectPool against its anchors, measured side by side in one run:
// glibc malloc/free of the same size, and std::pmr's pool resources.
// Budgets (DESIGN.md): get+put <= 0.5x malloc/free on one thread; two threads
// cost no more per operation than one; >= 20x faster than
// std::pmr::synchronized_pool_resource at two threads.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory_resource>
#include <thread>
#include <vector>

#include "perflab/pool.hpp"
#include "pool_bench_support.hpp"
#include "ratio_report.hpp"

namespace {

using perflab::bench::Request;

perflab::ObjectPool<Request>& shared_pool() {
  static perflab::ObjectPool<Request> pool(perflab::bench::bench_pool_options());
  return pool;
}

void BM_MallocFree(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(sizeof(Request));
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}

void BM_PoolGetPut(benchmark::State& state) {
  auto& pool = shared_pool();
  const perflab::PoolStats before = pool.stats();
  for (auto _ : state) {
    auto request = pool.get();
    benchmark::DoNotOptimize(request.get());
  }
  if (state.thread_index() == 0) {
    const perflab::PoolStats after = pool.stats();
    const double gets = static_cast<double>(after.gets - before.gets);
    state.counters["hit_rate"] =
        gets > 0 ? static_cast<double>(after.hits - before.hits) / gets : 0;
  }
}

void BM_PmrSynchronizedPool(benchmark::State& state) {
  static std::pmr::synchronized_pool_resource resource;
  for (auto _ : state) {
    void* p = resource.allocate(sizeof(Request), alignof(Request));
    benchmark::DoNotOptimize(p);
    resource.deallocate(p, sizeof(Request), alignof(Request));
  }
}

void BM_PmrUnsynchronizedPool(benchmark::State& state) {
  std::pmr::unsynchronized_pool_resource resource;
  for (auto _ : state) {
    void* p = resource.allocate(sizeof(Request), alignof(Request));
    benchmark::DoNotOptimize(p);
    resource.deallocate(p, sizeof(Request), alignof(Request));
  }
}

BENCHMARK(BM_MallocFree)->Threads(1)->Threads(2);
BENCHMARK(BM_PoolGetPut)->Threads(1)->Threads(2);
BENCHMARK(BM_PmrSynchronizedPool)->Threads(1)->Threads(2);
BENCHMARK(BM_PmrUnsynchronizedPool)->Threads(1);

// Idle memory after trim(): churn on two threads that then exit, trim, and
// compare what stays with the configured floor.
void report_trim_floor() {
  constexpr std::size_t kFloor = 32;
  perflab::PoolOptions options = perflab::bench::bench_pool_options();
  options.min_idle = kFloor;
  perflab::ObjectPool<Request> pool(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&pool] {
      std::vector<perflab::ObjectPool<Request>::Handle> held;
      for (int round = 0; round < 1000; ++round) {
        for (int i = 0; i < 200; ++i) held.push_back(pool.get());
        held.clear();
      }
    });
  }
  for (auto& th : threads) th.join();
  const perflab::PoolStats before = pool.stats();
  pool.trim();
  const perflab::PoolStats after = pool.stats();
  std::printf("  %-58s %llu B -> %llu B (floor %zu B)  %s\n", "idle memory before -> after trim()",
              static_cast<unsigned long long>(before.idle_bytes),
              static_cast<unsigned long long>(after.idle_bytes), kFloor * sizeof(Request),
              after.idle_bytes == kFloor * sizeof(Request) ? "ok" : "MISSED");
  std::printf("  %-58s %.4f  %s\n", "hit rate of that churn (400k gets)", after.hit_rate(),
              after.hit_rate() >= 0.99 ? "ok" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  using perflab::bench::Budget;
  const std::vector<Budget> budgets = {
      {"get+put vs glibc malloc/free (64 B), 1 thread", "BM_PoolGetPut/threads:1",
       "BM_MallocFree/threads:1", 0.5},
      {"get+put CPU per op, 2 threads vs 1 thread", "BM_PoolGetPut/threads:2",
       "BM_PoolGetPut/threads:1", 1.05},  // equal work; 5% for timer noise
      {"get+put vs pmr::synchronized_pool_resource, 2 threads", "BM_PoolGetPut/threads:2",
       "BM_PmrSynchronizedPool/threads:2", 1.0 / 20},
      {"get+put vs pmr::unsynchronized_pool_resource, 1 thread", "BM_PoolGetPut/threads:1",
       "BM_PmrUnsynchronizedPool/threads:1", 1.0},
  };
  const int status = perflab::bench::run_with_budgets(argc, argv, budgets);
  if (status != 2) report_trim_floor();
  return status;
}
