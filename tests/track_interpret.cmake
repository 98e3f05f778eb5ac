# perflab_track_interpret tests: /proc/PID/maps parsing and symbolization
# (PkgConfig::LIBDW also for the test itself: it reads libc's build-id).
# The fixture program (PIE and non-PIE), the library it links and the one it
# dlopen()s are built -g -O0, so calls sit on the lines the test expects.
set(_fixtures ${CMAKE_CURRENT_LIST_DIR}/track_symbolizer_fixtures)

add_library(track_symbolizer_fixture_lib SHARED ${_fixtures}/linked_lib.cc)
add_library(track_symbolizer_fixture_plugin MODULE ${_fixtures}/plugin.cc)
add_executable(track_symbolizer_fixture_pie ${_fixtures}/main.cc)
add_executable(track_symbolizer_fixture_nopie ${_fixtures}/main.cc)
foreach(target track_symbolizer_fixture_lib track_symbolizer_fixture_plugin
               track_symbolizer_fixture_pie track_symbolizer_fixture_nopie)
  # No sanitizer flags (PERFLAB_SANITIZE adds them to every target): the
  # fixtures must call libc's qsort, not a sanitizer's interceptor.
  set_target_properties(${target} PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")
  target_compile_options(${target} PRIVATE -g -O0)
  target_link_libraries(${target} PRIVATE perflab_warnings)
endforeach()
# Linked at 0x10000000 (like a prelinked library): its segments' p_vaddr differ
# from their p_offset, so its load bias is not merely start - file offset.
target_link_options(track_symbolizer_fixture_plugin PRIVATE -Wl,-Ttext-segment=0x10000000)
# And without .debug_aranges, as Clang builds it: its CUs are found by their ranges.
add_custom_command(TARGET track_symbolizer_fixture_plugin POST_BUILD
  COMMAND ${CMAKE_OBJCOPY} --remove-section=.debug_aranges
          $<TARGET_FILE:track_symbolizer_fixture_plugin>)
target_compile_options(track_symbolizer_fixture_pie PRIVATE -fPIE)
target_link_options(track_symbolizer_fixture_pie PRIVATE -pie)
target_compile_options(track_symbolizer_fixture_nopie PRIVATE -fno-pie)
target_link_options(track_symbolizer_fixture_nopie PRIVATE -no-pie)
foreach(program track_symbolizer_fixture_pie track_symbolizer_fixture_nopie)
  target_link_libraries(${program} PRIVATE track_symbolizer_fixture_lib ${CMAKE_DL_LIBS})
endforeach()

perflab_add_test(track_symbolizer_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/track_symbolizer_test.cc
  LIBS perflab_track_interpret PkgConfig::LIBDW
  LABELS sanitize)
target_compile_definitions(track_symbolizer_test PRIVATE
  PERFLAB_FIXTURE_PIE="$<TARGET_FILE:track_symbolizer_fixture_pie>"
  PERFLAB_FIXTURE_NOPIE="$<TARGET_FILE:track_symbolizer_fixture_nopie>"
  PERFLAB_FIXTURE_LIB="$<TARGET_FILE:track_symbolizer_fixture_lib>"
  PERFLAB_FIXTURE_PLUGIN="$<TARGET_FILE:track_symbolizer_fixture_plugin>")
add_dependencies(track_symbolizer_test track_symbolizer_fixture_pie track_symbolizer_fixture_nopie
                 track_symbolizer_fixture_plugin)
