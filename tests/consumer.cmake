# Installs perflab into a scratch prefix and builds a tiny project against it
# with find_package(perflab): proves the package config and exported targets.
add_test(NAME consumer_find_package
  COMMAND ${CMAKE_COMMAND}
    -DPERFLAB_BUILD_DIR=${PROJECT_BINARY_DIR}
    -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-work
    -DGENERATOR=${CMAKE_GENERATOR}
    -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer_test.cmake)
set_tests_properties(consumer_find_package PROPERTIES LABELS integration TIMEOUT 300)
