# The reference event store (examples/eventstore): storage semantics and
# durability, the RPC methods in both pool modes, the HTTP server, and a short
# baseline + compare on it end to end. Under the sanitizers only the storage
# (its committer and checkpointer threads) is built and tested.
if(TARGET eventstore_store)
  perflab_add_test(eventstore_store_test
    SOURCES eventstore_store_test.cc
    LIBS eventstore_store
    LABELS sanitize)
  # A process of its own: the page cache is installed before SQLite starts.
  perflab_add_test(eventstore_page_cache_test
    SOURCES eventstore_page_cache_test.cc
    LIBS eventstore_store
    LABELS sanitize)
endif()

if(TARGET eventstore_service)
  # The RPC layer in both pool modes, in-process on a real Store. perflab::alloc
  # counts the pooled mode's allocations against the store's own.
  perflab_add_test(eventstore_rpc_test
    SOURCES eventstore_rpc_test.cc
    LIBS eventstore_service perflab::alloc)

  # The eventstore binary over real HTTP in both modes: keep-alive, concurrency,
  # limits, garbage, metrics, SIGTERM and durability across SIGKILL.
  add_test(NAME eventstore_server_test
           COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/eventstore_server_test.py
                   $<TARGET_FILE:eventstore>)
  set_tests_properties(eventstore_server_test PROPERTIES LABELS integration TIMEOUT 300)

  # The main job in small: baselines of both pool modes under the bundled load
  # file, then compare (counts only; no timing is asserted).
  if(TARGET perflab_cli AND TARGET perflab_track_preload)
    add_test(NAME eventstore_loop
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/eventstore_loop_test.sh
                     $<TARGET_FILE:perflab_cli> $<TARGET_FILE:eventstore>
                     ${PROJECT_SOURCE_DIR}/examples/eventstore/load.json)
    set_tests_properties(eventstore_loop PROPERTIES LABELS "integration;cli" TIMEOUT 300)
  endif()
endif()
