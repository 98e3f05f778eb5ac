# perflab track's overhead against untracked runs and heaptrack: the workload
# program, and track_bench.sh which runs it all three ways.
add_executable(track_workload track_workload.cc)
target_link_libraries(track_workload PRIVATE Threads::Threads)
target_compile_options(track_workload PRIVATE -O2 -g -fno-omit-frame-pointer)
configure_file(track_bench.sh ${CMAKE_CURRENT_BINARY_DIR}/track_bench.sh COPYONLY)
