// Allocation figures for Google Benchmark runs (target perflab::alloc_benchmark).
//
//   int main(int argc, char** argv) {
//     benchmark::Initialize(&argc, argv);
//     perflab::register_alloc_memory_manager();
//     benchmark::RunSpecifiedBenchmarks();
//   }
//
// Google Benchmark then runs each benchmark once more, after its timed runs,
// for a few iterations (min(16, iterations)) between MemoryManager::Start and
// Stop, and reports allocs_per_iter and max_bytes_used (JSON output shows
// both). The timed runs are not slowed down: precise process-wide tracking is
// on only between Start and Stop.
//
// Counting is process-wide, so allocations made by other threads during the
// memory run (worker pools, ->Threads(n) benchmarks) are included. Anything
// Google Benchmark itself allocates between Start and Stop is included too:
// version 1.7.1 allocates one ThreadManager there, which shows as
// 1/memory_iterations extra allocations per iteration (0.0625 for 16), and
// one more block for benchmarks with arguments (its copy of them). Compare
// with an empty loop of the same shape to read a loop's own figure.
#pragma once

#include <benchmark/benchmark.h>

#include <optional>

#include "perflab/alloc.hpp"

namespace perflab {

/// A benchmark::MemoryManager backed by perflab's allocation counters.
/// Stop fills:
///   num_allocs            allocations between Start and Stop, every thread
///   max_bytes_used        highest rise of the process's live (usable) bytes
///                         above the level at Start
///   total_allocated_bytes bytes requested by those allocations
///   net_heap_growth       usable bytes allocated minus usable bytes freed
/// Thread-safety: Start and Stop are called by Google Benchmark's runner
/// thread, one run at a time. REQUIRES: alloc_counting_active(); otherwise
/// the figures are zeros (register_alloc_memory_manager() checks this).
class AllocMemoryManager : public benchmark::MemoryManager {
 public:
  void Start() override;
  void Stop(Result& result) override;
  // The pointer form is what Google Benchmark 1.7.1 calls; it forwards.
  void Stop(Result* result) override;

 private:
  std::optional<AllocScope> scope_;  // engaged between Start and Stop
};

/// Registers a process-lifetime AllocMemoryManager with Google Benchmark, so
/// every benchmark run afterwards reports allocations. Call it once, before
/// benchmark::RunSpecifiedBenchmarks. When allocation counting is not active
/// (alloc_counting_active() is false, e.g. under a sanitizer) it registers
/// nothing and prints one line to stderr saying so, rather than report zeros.
/// Thread-safety: not thread-safe; call from main.
void register_alloc_memory_manager();

}  // namespace perflab
