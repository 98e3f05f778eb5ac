# alloc_bench: the cost of a counted malloc/free pair against glibc's own
# (__libc_malloc/__libc_free called directly in the same binary and run).
add_executable(alloc_bench ${CMAKE_CURRENT_LIST_DIR}/alloc_bench.cc)
target_link_libraries(alloc_bench PRIVATE perflab::alloc_benchmark perflab_bench_support
                      perflab_warnings)
