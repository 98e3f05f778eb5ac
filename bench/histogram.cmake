# histogram_bench: record cost against DESIGN.md's budget (record <= 3 ns),
# plus percentile queries, merge and encoding cost for information.
add_executable(histogram_bench histogram_bench.cc)
target_link_libraries(histogram_bench PRIVATE perflab::histogram perflab_bench_support
                      perflab_warnings)
