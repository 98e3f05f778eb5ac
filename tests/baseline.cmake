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

# --cpu-profile's samplers: the built-in ptrace sampler on children the test
# forks, perf script's deadline, the choice between perf and the built-in
# sampler; and baseline with the built-in sampler on the test server, or with
# ptrace refused (no_ptrace runs perflab under a seccomp filter).
if(TARGET perflab_cli_cpu)
  perflab_add_test(cpu_sampler_test
    SOURCES cpu_sampler_test.cc
    LIBS perflab_cli_cpu Threads::Threads)
  target_include_directories(cpu_sampler_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  add_executable(no_ptrace cpu_sampler_programs/no_ptrace.cc)
  target_link_libraries(no_ptrace PRIVATE perflab_warnings)
  add_test(NAME cpu_sampler_cli
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/cpu_sampler_cli_test.sh
                   $<TARGET_FILE:perflab_cli> $<TARGET_FILE:load_test_server>
                   $<TARGET_FILE:no_ptrace>)
  set_tests_properties(cpu_sampler_cli PROPERTIES LABELS "integration;cli" TIMEOUT 240)
endif()
