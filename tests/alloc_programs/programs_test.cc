// Runs the programs of tests/alloc_programs/ and checks the numbers they
// print against counts worked out by hand from what each program does.
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

namespace {

using Section = std::map<std::string, std::int64_t>;

struct Output {
  int exit_status = -1;
  std::map<std::string, std::string> values;  // "active" -> "1"
  std::map<std::string, Section> sections;    // "strings" -> {"allocs": 1000, ...}
};

// Parses "<section> key=value ..." lines and "key=value" lines.
Output run(const std::string& command) {
  Output out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (const auto eq = first.find('='); eq != std::string::npos) {
      out.values[first.substr(0, eq)] = first.substr(eq + 1);
      continue;
    }
    std::string pair;
    while (words >> pair) {
      const auto eq = pair.find('=');
      if (eq == std::string::npos) continue;
      out.sections[first][pair.substr(0, eq)] = std::stoll(pair.substr(eq + 1));
    }
  }
  out.exit_status = pclose(pipe);
  return out;
}

std::int64_t usable_size_of(std::size_t request) {
  void* block = std::malloc(request);
  const auto size = static_cast<std::int64_t>(malloc_usable_size(block));
  std::free(block);
  return size;
}

// glibc hands out a chunk whole when the leftover would be too small to be a
// chunk of its own, so a block's usable size can exceed the usual one for its
// request by less than the smallest chunk (32 bytes). Sums of usable sizes
// are therefore checked within that slack.
constexpr std::int64_t kChunkSlack = 32;

void expect_usable_sum(std::int64_t actual, std::int64_t blocks, std::size_t request) {
  EXPECT_GE(actual, blocks * usable_size_of(request));
  EXPECT_LT(actual, blocks * (usable_size_of(request) + kChunkSlack));
}

TEST(AllocProgramsTest, KnownCountsProgramPrintsTheExpectedCounts) {
  Output out = run(PERFLAB_ALLOC_KNOWN_COUNTS);
  ASSERT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.values["active"], "1");

  // 1000 strings of 100 characters, each past the small-string buffer.
  Section& strings = out.sections["strings"];
  EXPECT_EQ(strings["allocs"], 1000);
  EXPECT_EQ(strings["frees"], 0);
  EXPECT_EQ(strings["bytes_allocated"], 1000 * 101);
  expect_usable_sum(strings["live_bytes"], 1000, 101);
  EXPECT_EQ(strings["peak_live_bytes"], strings["live_bytes"]);
  Section& cleared = out.sections["strings_cleared"];
  EXPECT_EQ(cleared["allocs"], 0);
  EXPECT_EQ(cleared["frees"], 1000);
  EXPECT_EQ(cleared["bytes_freed"], strings["live_bytes"]);  // the same blocks
  EXPECT_EQ(cleared["live_bytes"], -strings["live_bytes"]);

  // push_back of 1000 ints doubles the capacity: 1, 2, 4, ..., 1024 ints,
  // 11 blocks; each growth frees the previous block, the end frees the last.
  Section& growth = out.sections["vector_growth"];
  EXPECT_EQ(growth["allocs"], 11);
  EXPECT_EQ(growth["frees"], 11);
  EXPECT_EQ(growth["bytes_allocated"], 4 * (2048 - 1));
  EXPECT_EQ(growth["live_bytes"], 0);
  // At the last growth the 512-int and the 1024-int blocks are both alive.
  EXPECT_GE(growth["peak_live_bytes"], usable_size_of(2048) + usable_size_of(4096));
  EXPECT_LT(growth["peak_live_bytes"],
            usable_size_of(2048) + usable_size_of(4096) + 2 * kChunkSlack);

  // One tree node per inserted key.
  EXPECT_EQ(out.sections["map_nodes"]["allocs"], 500);
  EXPECT_EQ(out.sections["map_nodes"]["frees"], 0);

  // malloc, calloc, malloc + realloc (one free, one alloc), aligned_alloc,
  // posix_memalign, realloc(nullptr), reallocarray(nullptr): 8 allocations;
  // 7 frees + the realloc's old block; free(nullptr) not counted.
  Section& family = out.sections["malloc_family"];
  EXPECT_EQ(family["allocs"], 8);
  EXPECT_EQ(family["frees"], 8);
  EXPECT_EQ(family["bytes_allocated"], 10 + 20 + 30 + 40 + 64 + 50 + 60 + 70);
  EXPECT_EQ(family["live_bytes"], 0);
}

TEST(AllocProgramsTest, ThreadCountsProgramCountsEveryThread) {
  Output out = run(PERFLAB_ALLOC_THREAD_COUNTS);
  ASSERT_EQ(out.exit_status, 0);

  // 4 threads x 250 blocks of 64 bytes, all inside the process scope.
  Section& process = out.sections["process"];
  EXPECT_EQ(process["allocs"], 1000);
  EXPECT_EQ(process["frees"], 1000);
  EXPECT_EQ(process["bytes_allocated"], 64000);
  expect_usable_sum(process["bytes_freed"], 1000, 64);
  EXPECT_EQ(process["live_bytes"], 0);
  // Between one block alive (threads one after another) and four (all at once).
  EXPECT_GE(process["peak_live_bytes"], usable_size_of(64));
  EXPECT_LT(process["peak_live_bytes"], 4 * (usable_size_of(64) + kChunkSlack));

  for (const char* name : {"thread0", "thread1", "thread2", "thread3"}) {
    SCOPED_TRACE(name);
    Section& thread = out.sections[name];
    EXPECT_EQ(thread["allocs"], 250);
    EXPECT_EQ(thread["frees"], 250);
    EXPECT_EQ(thread["bytes_allocated"], 16000);
    EXPECT_EQ(thread["live_bytes"], 0);
    EXPECT_GE(thread["peak_live_bytes"], usable_size_of(64));
    EXPECT_LT(thread["peak_live_bytes"], usable_size_of(64) + kChunkSlack);
  }

  // After join the process totals still hold the exited threads' 1000 blocks,
  // plus the 4 frees of std::thread's per-thread state.
  Section& joined = out.sections["joined"];
  EXPECT_GE(joined["allocs"], 1000);
  EXPECT_GE(joined["frees"], 1004);
}

// The foreign malloc aborts when handed a block it did not allocate, through
// free or malloc_usable_size, as ASan's and libc_malloc_debug's do.
TEST(AllocProgramsTest, CountingIsInactiveWhenAnotherMallocWins) {
  const std::string command = std::string("LD_PRELOAD=") + PERFLAB_ALLOC_FOREIGN_MALLOC + " " +
                              PERFLAB_ALLOC_KNOWN_COUNTS + " 2>&1";
  Output out = run(command);
  ASSERT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.values["active"], "0");
}

// glibc's debugging malloc, shipped in libc6 next to libc.so.6 since glibc 2.34.
std::string libc_malloc_debug_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&gnu_get_libc_version), &info) == 0 ||
      info.dli_fname == nullptr) {
    return {};
  }
  const std::string libc = info.dli_fname;
  return libc.substr(0, libc.rfind('/') + 1) + "libc_malloc_debug.so.0";
}

TEST(AllocProgramsTest, CountingIsInactiveUnderGlibcsMallocCheck) {
  const std::string debug_malloc = libc_malloc_debug_path();
  if (debug_malloc.empty() || access(debug_malloc.c_str(), R_OK) != 0) {
    GTEST_SKIP() << "no libc_malloc_debug.so.0 next to libc (glibc before 2.34?)";
  }
  const std::string command =
      "LD_PRELOAD=" + debug_malloc + " MALLOC_CHECK_=3 " + PERFLAB_ALLOC_KNOWN_COUNTS + " 2>&1";
  Output out = run(command);
  ASSERT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.values["active"], "0");
}

TEST(AllocProgramsTest, CountingIsInactiveUnderAddressSanitizer) {
#ifdef PERFLAB_ALLOC_KNOWN_COUNTS_ASAN
  // LeakSanitizer needs ptrace, which containers often forbid.
  Output out =
      run(std::string("ASAN_OPTIONS=detect_leaks=0 ") + PERFLAB_ALLOC_KNOWN_COUNTS_ASAN + " 2>&1");
  ASSERT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.values["active"], "0");
#else
  GTEST_SKIP() << "the compiler cannot build with -fsanitize=address";
#endif
}

// A child forked while another thread exits, even half-way through folding
// its slot, must read its counters without waiting forever, start from the
// parent's totals and count its own calls exactly (fork_counts.cc lists the
// child statuses).
TEST(AllocProgramsTest, ForkedChildrenCountFromTheParentsTotals) {
  Output out = run(PERFLAB_ALLOC_FORK_COUNTS);
  ASSERT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.sections["quiet"]["child"], 0);
  EXPECT_EQ(out.sections["mid_fold"]["child"], 0);
  Section& busy = out.sections["busy"];
  EXPECT_EQ(busy["forks"], 200);
  EXPECT_EQ(busy["hung"], 0);
  EXPECT_EQ(busy["failed"], 0);
  EXPECT_EQ(busy["first_failure"], 0);
}

}  // namespace
