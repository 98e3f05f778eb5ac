# perflab baseline, the command: a server (the load tests' own HTTP server)
# started, driven K times and stopped, under each tracking mode; and servers
# that exit at once or never listen.
add_test(NAME baseline_cli
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/baseline_cli_test.sh
                 $<TARGET_FILE:perflab_cli> $<TARGET_FILE:load_test_server>)
set_tests_properties(baseline_cli PROPERTIES LABELS "integration;cli" TIMEOUT 180)

# The whole loop: baseline two builds of a server, compare them with criteria.
add_test(NAME baseline_compare
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/baseline_compare_test.sh
                 $<TARGET_FILE:perflab_cli> $<TARGET_FILE:load_test_server>)
# Alone: CPU per request measured beside other heavy tests is noisier than the
# 20% it must detect.
set_tests_properties(baseline_compare PROPERTIES LABELS "integration;cli" TIMEOUT 180 RUN_SERIAL TRUE)

# The pools baseline reads from a server's /metrics: a real registry's text
# parsed back, deltas between scrapes.
perflab_add_test(baseline_pools_test
  SOURCES baseline_pools_test.cc ${PROJECT_SOURCE_DIR}/src/cli/server_metrics.cc
  LIBS perflab::load perflab::pool nlohmann_json::nlohmann_json)
target_include_directories(baseline_pools_test PRIVATE ${PROJECT_SOURCE_DIR}/src)
