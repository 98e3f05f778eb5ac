# perflab bench: a tiny Google Benchmark binary of the tests' own, run through
# the command (the profile it writes, failures exit 2, interleaved rounds).
find_package(benchmark REQUIRED)
add_executable(tiny_bench ${CMAKE_CURRENT_LIST_DIR}/bench_programs/tiny_bench.cc)
target_link_libraries(tiny_bench PRIVATE benchmark::benchmark perflab_warnings)
# No allocation counts under the sanitizers, which replace malloc themselves.
if(TARGET perflab_alloc_benchmark)
  target_link_libraries(tiny_bench PRIVATE perflab::alloc_benchmark)
  target_compile_definitions(tiny_bench PRIVATE TINY_BENCH_HAVE_ALLOC)
  set(_tiny_bench_counts_allocs 1)
else()
  set(_tiny_bench_counts_allocs 0)
endif()

add_test(NAME bench_cli
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/bench_cli_test.sh
                 $<TARGET_FILE:perflab_cli> $<TARGET_FILE:tiny_bench> ${_tiny_bench_counts_allocs})
# Alone: it must see a slower build as slower, which parallel tests can blur.
set_tests_properties(bench_cli PROPERTIES LABELS "integration;cli" TIMEOUT 120 RUN_SERIAL TRUE)
