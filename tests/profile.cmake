# Tests of perflab::profile. All of them run under the sanitizer builds.
# `go tool pprof` (Debian: golang-go) cross-checks allocs.pb.gz; found at
# configure time, the check skips when absent.
find_program(PERFLAB_GO_EXECUTABLE go DOC "go, whose 'go tool pprof' reads profile_test's output")
perflab_add_test(profile_test
  SOURCES
    profile_writer_test.cc
    profile_pprof_test.cc
    profile_go_pprof_test.cc
    profile_formats_test.cc
    profile_summary_test.cc
    profile_report_test.cc
  LIBS perflab::profile ZLIB::ZLIB
  LABELS sanitize)
target_compile_definitions(profile_test PRIVATE
  PERFLAB_GO_EXECUTABLE="$<$<BOOL:${PERFLAB_GO_EXECUTABLE}>:${PERFLAB_GO_EXECUTABLE}>")
