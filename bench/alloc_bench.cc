// What counting costs: a malloc/free pair through perflab::alloc's
// replacement against the same pair made directly on glibc's allocator
// (__libc_malloc/__libc_free, the functions the replacement forwards to), in
// one binary and one run. The difference is exactly the counting: one more
// call level, reading the usable size from glibc's chunk header, and a few
// plain stores into the thread's slot. Budgets of 1.6x leave room for noise
// on small shared machines; measured about 1.3x.
//
// A second binary without perflab::alloc would measure the same anchor but
// lose the side-by-side run; calling glibc's exported entry points directly
// keeps both in one process, same heap state, same CPU frequency.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include "perflab/alloc.hpp"
#include "perflab/alloc_benchmark.hpp"
#include "ratio_report.hpp"

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void __libc_free(void* block) noexcept;
}

namespace {

constexpr std::size_t kSize = 64;

void BM_GlibcMallocFree(benchmark::State& state) {
  for (auto _ : state) {
    void* block = __libc_malloc(kSize);
    benchmark::DoNotOptimize(block);
    __libc_free(block);
  }
}

void BM_CountedMallocFree(benchmark::State& state) {
  for (auto _ : state) {
    void* block = std::malloc(kSize);
    benchmark::DoNotOptimize(block);
    std::free(block);
  }
}

void BM_CountedNewDelete(benchmark::State& state) {
  for (auto _ : state) {
    void* block = ::operator new(kSize);
    benchmark::DoNotOptimize(block);
    ::operator delete(block);
  }
}

// Precise peak mode on (a process-wide AllocScope exists), as during a
// memory-manager run: one shared atomic add per call, plus a peak update.
void BM_CountedMallocFreePrecise(benchmark::State& state) {
  perflab::AllocScope scope(perflab::AllocScope::Of::kProcess);
  for (auto _ : state) {
    void* block = std::malloc(kSize);
    benchmark::DoNotOptimize(block);
    std::free(block);
  }
}

// Many live blocks: frees out of allocation order, less cache-friendly for
// glibc and for the counters alike.
template <bool kCounted>
void batch(benchmark::State& state) {
  std::vector<void*> blocks(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    for (void*& block : blocks) block = kCounted ? std::malloc(kSize) : __libc_malloc(kSize);
    benchmark::DoNotOptimize(blocks.data());
    for (void* block : blocks) kCounted ? std::free(block) : __libc_free(block);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_GlibcBatch(benchmark::State& state) { batch<false>(state); }
void BM_CountedBatch(benchmark::State& state) { batch<true>(state); }

void BM_ThreadAllocCounts(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(perflab::thread_alloc_counts());
}

void BM_ProcessAllocCounts(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(perflab::process_alloc_counts());
}

BENCHMARK(BM_GlibcMallocFree)->Threads(1)->Threads(2);
BENCHMARK(BM_CountedMallocFree)->Threads(1)->Threads(2);
BENCHMARK(BM_CountedNewDelete)->Threads(1);
BENCHMARK(BM_CountedMallocFreePrecise)->Threads(1);
BENCHMARK(BM_GlibcBatch)->Arg(1000);
BENCHMARK(BM_CountedBatch)->Arg(1000);
BENCHMARK(BM_ThreadAllocCounts);
BENCHMARK(BM_ProcessAllocCounts);

}  // namespace

int main(int argc, char** argv) {
  // The memory-manager rows double as a check: 1 allocation per iteration for
  // the counted pairs, 0 for the glibc anchor (it bypasses the counter).
  perflab::register_alloc_memory_manager();
  using perflab::bench::Budget;
  return perflab::bench::run_with_budgets(
      argc, argv,
      {
          Budget{"counted malloc/free vs glibc, 1 thread", "BM_CountedMallocFree/threads:1",
                 "BM_GlibcMallocFree/threads:1", 1.6},
          Budget{"counted malloc/free vs glibc, 2 threads", "BM_CountedMallocFree/threads:2",
                 "BM_GlibcMallocFree/threads:2", 1.6},
          Budget{"counted new/delete vs glibc malloc/free", "BM_CountedNewDelete/threads:1",
                 "BM_GlibcMallocFree/threads:1", 1.6},
          Budget{"counted 1000 mallocs then frees vs glibc", "BM_CountedBatch/1000",
                 "BM_GlibcBatch/1000", 1.6},
          Budget{"2 threads cost no more per pair than 1 (counted)",
                 "BM_CountedMallocFree/threads:2", "BM_CountedMallocFree/threads:1", 1.25},
      });
}
