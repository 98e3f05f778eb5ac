add_executable(pool_bench pool_bench.cc)
target_link_libraries(pool_bench PRIVATE perflab::pool perflab_bench_support perflab_warnings)

if(TARGET perflab_alloc_benchmark)
  # Same pool loop, with perflab's allocation counter as Google Benchmark's
  # MemoryManager: shows zero heap allocations per get+put in steady state.
  # A separate binary, so the timed anchors above run on plain glibc malloc.
  add_executable(pool_alloc_bench pool_alloc_bench.cc)
  target_link_libraries(pool_alloc_bench PRIVATE perflab::pool perflab::alloc_benchmark
                        perflab_bench_support perflab_warnings)
endif()
