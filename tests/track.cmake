# perflab track on real processes: test programs with known allocations, and
# programs nobody here wrote (sqlite3, python3, nginx) in track_programs_test.
add_executable(track_known_allocs ${CMAKE_CURRENT_LIST_DIR}/track_programs/known_allocs.cc)
target_link_libraries(track_known_allocs PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
target_compile_options(track_known_allocs PRIVATE -O1 -g -fno-omit-frame-pointer)
add_library(track_plugin SHARED ${CMAKE_CURRENT_LIST_DIR}/track_programs/plugin.cc)
target_compile_options(track_plugin PRIVATE -O1 -g)
add_executable(track_static_hello ${CMAKE_CURRENT_LIST_DIR}/track_programs/static_hello.cc)
target_link_options(track_static_hello PRIVATE -static)
# Programs that bring their own malloc: in the executable, or in a library.
add_executable(track_own_malloc ${CMAKE_CURRENT_LIST_DIR}/track_programs/own_malloc.cc)
add_library(track_fake_allocator SHARED ${CMAKE_CURRENT_LIST_DIR}/track_programs/fake_allocator.cc)
add_executable(track_linked_allocator ${CMAKE_CURRENT_LIST_DIR}/track_programs/linked_allocator.cc)
target_link_libraries(track_linked_allocator PRIVATE track_fake_allocator)
foreach(target track_own_malloc track_fake_allocator track_linked_allocator)
  target_compile_options(${target} PRIVATE -O1 -g -fno-omit-frame-pointer -fno-builtin)
endforeach()

perflab_add_test(track_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/track_test.cc LIBS perflab::profile
                 LABELS integration)
target_compile_definitions(track_test PRIVATE
  PERFLAB_CLI="$<TARGET_FILE:perflab_cli>"
  KNOWN_ALLOCS="$<TARGET_FILE:track_known_allocs>"
  PLUGIN="$<TARGET_FILE:track_plugin>"
  STATIC_HELLO="$<TARGET_FILE:track_static_hello>"
  OWN_MALLOC="$<TARGET_FILE:track_own_malloc>"
  LINKED_ALLOCATOR="$<TARGET_FILE:track_linked_allocator>"
  FAKE_ALLOCATOR="$<TARGET_FILE:track_fake_allocator>")
add_dependencies(track_test perflab_cli perflab_track_preload track_known_allocs track_plugin
                 track_static_hello track_own_malloc track_linked_allocator)

perflab_add_test(track_real_programs_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/track_real_programs_test.cc LIBS perflab::profile
  LABELS integration)
target_compile_definitions(track_real_programs_test PRIVATE PERFLAB_CLI="$<TARGET_FILE:perflab_cli>"
                           KNOWN_ALLOCS="$<TARGET_FILE:track_known_allocs>")
add_dependencies(track_real_programs_test perflab_cli perflab_track_preload track_known_allocs)
