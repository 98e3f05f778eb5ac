# Tests of perflab::histogram. Everything here runs under the sanitizer builds.
perflab_add_test(histogram_test
  SOURCES
    histogram_test.cc
    histogram_encoding_test.cc
    histogram_concurrency_test.cc
    hlog_test.cc
  LIBS perflab::histogram Threads::Threads
  LABELS sanitize)

# Cross-check against HdrHistogram's own Java tools (Debian: libhdrhistogram-java,
# default-jre-headless). Found at configure time; the test skips when absent.
find_program(PERFLAB_JAVA_EXECUTABLE java)
find_file(PERFLAB_HDRHISTOGRAM_JAR NAMES hdrhistogram.jar HdrHistogram.jar
          PATHS /usr/share/java NO_DEFAULT_PATH
          DOC "HdrHistogram jar used by histogram_java_test")
perflab_add_test(histogram_java_test
  SOURCES histogram_java_test.cc
  LIBS perflab::histogram
  LABELS sanitize)
target_compile_definitions(histogram_java_test PRIVATE
  PERFLAB_JAVA_EXECUTABLE="$<$<BOOL:${PERFLAB_JAVA_EXECUTABLE}>:${PERFLAB_JAVA_EXECUTABLE}>"
  PERFLAB_HDRHISTOGRAM_JAR="$<$<BOOL:${PERFLAB_HDRHISTOGRAM_JAR}>:${PERFLAB_HDRHISTOGRAM_JAR}>")
