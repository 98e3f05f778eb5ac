# Tests of perflab::compare: statistics (incl. A/A false-positive rates and
# power on synthetic samples with known noise), criteria, verdicts.
perflab_add_test(compare_statistics_test
  SOURCES compare_statistics_test.cc
  LIBS perflab::compare
  LABELS sanitize)

# Tail latency from the per-request histograms: the bootstrap's calibration
# (A/A, power, a stalled interval) and compare end to end on latency.hlog.
perflab_add_test(compare_histogram_test
  SOURCES compare_histogram_test.cc
  LIBS perflab::compare
  LABELS sanitize)

perflab_add_test(compare_criteria_test
  SOURCES compare_criteria_test.cc
  LIBS perflab::compare
  LABELS sanitize)

perflab_add_test(compare_test
  SOURCES compare_test.cc
  LIBS perflab::compare
  LABELS sanitize)

# The perflab compare command: exit codes and formats.
if(TARGET perflab_cli)
  add_test(NAME compare_cli
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compare_cli_test.sh $<TARGET_FILE:perflab_cli>)
  set_tests_properties(compare_cli PROPERTIES LABELS "integration;cli" TIMEOUT 60)
endif()

# report.html: plots, no network, escaping (in memory), then rendered in a real
# headless Chromium (skipped when /usr/bin/chromium is absent).
perflab_add_test(compare_html_test
  SOURCES compare_html_test.cc
  LIBS perflab::compare
  LABELS sanitize)

add_executable(compare_html_render compare_html_render.cc)
target_link_libraries(compare_html_render PRIVATE perflab::compare perflab_warnings)
add_test(NAME compare_html_chromium
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/compare_html_chromium_test.sh
                 $<TARGET_FILE:compare_html_render>)
set_tests_properties(compare_html_chromium PROPERTIES LABELS "integration" TIMEOUT 120)
