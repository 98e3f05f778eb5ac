# The event store's SQLite page cache against SQLite's default one.
add_executable(eventstore_page_cache_bench eventstore_page_cache_bench.cc)
target_link_libraries(eventstore_page_cache_bench PRIVATE eventstore_store perflab_bench_support
                      perflab_warnings)
