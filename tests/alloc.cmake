# perflab::alloc tests. Every binary here links perflab::alloc, so its whole
# process is counted; the programs in alloc_programs/ print their own counts.
find_package(benchmark REQUIRED)

perflab_add_test(alloc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alloc_test.cc
  LIBS perflab::alloc Threads::Threads)

# Clang 14 declares the sized operator delete forms only with this flag.
target_compile_options(alloc_test PRIVATE $<$<CXX_COMPILER_ID:Clang>:-fsized-deallocation>)

perflab_add_test(alloc_benchmark_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alloc_benchmark_test.cc
  LIBS perflab::alloc_benchmark Threads::Threads)

foreach(program known_counts thread_counts fork_counts)
  add_executable(alloc_${program} ${CMAKE_CURRENT_LIST_DIR}/alloc_programs/${program}.cc)
  target_link_libraries(alloc_${program} PRIVATE perflab::alloc Threads::Threads perflab_warnings)
endforeach()

# Another malloc for LD_PRELOAD; --as-needed keeps libstdc++ out of it, so it
# drags no second operator new ahead of perflab's.
add_library(alloc_foreign_malloc SHARED ${CMAKE_CURRENT_LIST_DIR}/alloc_programs/foreign_malloc.cc)
target_link_libraries(alloc_foreign_malloc PRIVATE perflab_warnings)
# No exceptions: a noexcept function calling write() would need libstdc++'s
# personality routine.
target_compile_options(alloc_foreign_malloc PRIVATE -fno-exceptions)
target_link_options(alloc_foreign_malloc PRIVATE -Wl,--as-needed)

# known_counts built with AddressSanitizer: ASan's malloc wins, and perflab
# must load without handing glibc's blocks to ASan's functions.
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_FLAGS -fsanitize=address)
set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=address)
check_cxx_source_compiles("int main() { return 0; }" PERFLAB_HAVE_ASAN)
cmake_pop_check_state()
if(PERFLAB_HAVE_ASAN)
  add_executable(alloc_known_counts_asan ${CMAKE_CURRENT_LIST_DIR}/alloc_programs/known_counts.cc)
  target_link_libraries(alloc_known_counts_asan PRIVATE perflab::alloc perflab_warnings)
  target_compile_options(alloc_known_counts_asan PRIVATE -fsanitize=address)
  target_link_options(alloc_known_counts_asan PRIVATE -fsanitize=address)
endif()

perflab_add_test(alloc_programs_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alloc_programs/programs_test.cc
  LIBS perflab::headers ${CMAKE_DL_LIBS})
target_compile_definitions(alloc_programs_test PRIVATE
  PERFLAB_ALLOC_KNOWN_COUNTS="$<TARGET_FILE:alloc_known_counts>"
  PERFLAB_ALLOC_THREAD_COUNTS="$<TARGET_FILE:alloc_thread_counts>"
  PERFLAB_ALLOC_FORK_COUNTS="$<TARGET_FILE:alloc_fork_counts>"
  PERFLAB_ALLOC_FOREIGN_MALLOC="$<TARGET_FILE:alloc_foreign_malloc>")
add_dependencies(alloc_programs_test
  alloc_known_counts alloc_thread_counts alloc_fork_counts alloc_foreign_malloc)
if(PERFLAB_HAVE_ASAN)
  target_compile_definitions(alloc_programs_test PRIVATE
    PERFLAB_ALLOC_KNOWN_COUNTS_ASAN="$<TARGET_FILE:alloc_known_counts_asan>")
  add_dependencies(alloc_programs_test alloc_known_counts_asan)
endif()
