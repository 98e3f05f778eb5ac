# Tests of perflab::load: schedules and drive(), URL/template/load-file parsing,
# and the load generator against a real HTTP server of the tests' own
# (load_programs/test_http_server.cc) that can stall, close, reset and garble.
add_executable(load_test_server load_programs/test_http_server.cc)
target_link_libraries(load_test_server PRIVATE HttpParser::HttpParser perflab_warnings)

perflab_add_test(load_spec_test
  SOURCES load_spec_test.cc
  LIBS perflab::load
  LABELS sanitize)

perflab_add_test(drive_test
  SOURCES drive_test.cc load_schedule_test.cc
  LIBS perflab::load Threads::Threads
  LABELS sanitize)

perflab_add_test(load_test_server_test
  SOURCES load_test_server_test.cc
  LIBS Threads::Threads)
target_compile_definitions(load_test_server_test PRIVATE
  PERFLAB_LOAD_TEST_SERVER="$<TARGET_FILE:load_test_server>")
add_dependencies(load_test_server_test load_test_server)

# The engine against the test server: counts by error kind, the stall that
# only corrected latency shows, short writes and resets through the syscall seam.
perflab_add_test(load_engine_test
  SOURCES load_engine_test.cc
  LIBS perflab::load Threads::Threads
  LABELS sanitize)
target_include_directories(load_engine_test PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(load_engine_test PRIVATE
  PERFLAB_LOAD_TEST_SERVER="$<TARGET_FILE:load_test_server>")
add_dependencies(load_engine_test load_test_server)

# http_get (what baseline asks of a server besides its load) against the test server.
perflab_add_test(load_http_get_test
  SOURCES load_http_get_test.cc
  LIBS perflab::load Threads::Threads
  LABELS sanitize)
target_compile_definitions(load_http_get_test PRIVATE
  PERFLAB_LOAD_TEST_SERVER="$<TARGET_FILE:load_test_server>")
add_dependencies(load_http_get_test load_test_server)

# The perflab load command: exit codes, the profile it writes, a load file.
if(TARGET perflab_cli)
  add_test(NAME load_cli
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/load_cli_test.sh
                   $<TARGET_FILE:perflab_cli> $<TARGET_FILE:load_test_server>)
  set_tests_properties(load_cli PROPERTIES LABELS "integration;cli" TIMEOUT 120)
endif()

# No heap allocation per request: counted by perflab::alloc (not under the
# sanitizers, which replace malloc themselves).
if(PERFLAB_BUILD_ALLOC)
  perflab_add_test(load_alloc_test
    SOURCES load_alloc_test.cc
    LIBS perflab::load perflab::alloc Threads::Threads)
  target_compile_definitions(load_alloc_test PRIVATE
    PERFLAB_LOAD_TEST_SERVER="$<TARGET_FILE:load_test_server>")
  add_dependencies(load_alloc_test load_test_server)
endif()
