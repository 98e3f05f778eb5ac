perflab_add_test(pool_test SOURCES pool_test.cc LIBS perflab::pool LABELS sanitize)
perflab_add_test(buffer_pool_test SOURCES buffer_pool_test.cc LIBS perflab::pool LABELS sanitize)
perflab_add_test(pool_registry_test SOURCES pool_registry_test.cc LIBS perflab::pool nlohmann_json::nlohmann_json LABELS sanitize)
perflab_add_test(pool_concurrency_test SOURCES pool_concurrency_test.cc LIBS perflab::pool LABELS sanitize)
if(PERFLAB_BUILD_ALLOC AND TARGET perflab_alloc)
  # Steady-state zero-allocation checks need perflab's allocation counter.
  perflab_add_test(pool_alloc_test SOURCES pool_alloc_test.cc LIBS perflab::pool perflab::alloc)
endif()
