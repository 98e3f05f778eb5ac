# install(EXPORT) and a package config, so find_package(perflab) works.
include(CMakePackageConfigHelpers)

get_property(_perflab_targets GLOBAL PROPERTY PERFLAB_EXPORTED_TARGETS)
install(TARGETS perflab_headers perflab_warnings ${_perflab_targets}
  EXPORT perflabTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/perflab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/perflab/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/perflab)
if(TARGET perflab_cli)
  install(TARGETS perflab_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(_perflab_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/perflab)
install(EXPORT perflabTargets NAMESPACE perflab:: DESTINATION ${_perflab_cmake_dir})
configure_package_config_file(cmake/perflabConfig.cmake.in
  ${PROJECT_BINARY_DIR}/perflabConfig.cmake INSTALL_DESTINATION ${_perflab_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/perflabConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/perflabConfig.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindHttpParser.cmake
              ${PROJECT_BINARY_DIR}/perflabConfigVersion.cmake
        DESTINATION ${_perflab_cmake_dir})
