# Tests of perflab::compare: statistics (incl. A/A false-positive rates and
# power on synthetic samples with known noise), criteria, verdicts.
perflab_add_test(compare_statistics_test
  SOURCES compare_statistics_test.cc
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
