// Google Benchmark's MemoryManager on top of a process-wide AllocScope.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>

#include "perflab/alloc.hpp"
#include "perflab/alloc_benchmark.hpp"

namespace perflab {

void AllocMemoryManager::Start() {
  // A fresh scope per run: precise peak mode is on only while it exists, so
  // the timed runs around it pay nothing for it.
  scope_.reset();
  scope_.emplace(AllocScope::Of::kProcess);
}

void AllocMemoryManager::Stop(Result& result) {
  if (!scope_) return;  // Stop without Start: leave Google Benchmark's defaults
  const AllocCounts counts = scope_->counts();
  scope_.reset();
  result.num_allocs = static_cast<std::int64_t>(counts.allocs);
  result.max_bytes_used = counts.peak_live_bytes;
  result.total_allocated_bytes = static_cast<std::int64_t>(counts.bytes_allocated);
  result.net_heap_growth = counts.live_bytes;
}

void AllocMemoryManager::Stop(Result* result) {
  if (result != nullptr) Stop(*result);
}

void register_alloc_memory_manager() {
  if (!alloc_counting_active()) {
    std::fputs(
        "perflab: allocation counting is not active (another malloc replacement is in use); "
        "benchmarks will not report allocations\n",
        stderr);
    return;
  }
  static AllocMemoryManager manager;
  benchmark::RegisterMemoryManager(&manager);
}

}  // namespace perflab
