// format_alloc_report() and the choice of the frame that names a call site.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "perflab/profile.hpp"

// Designated initializers name only the fields a test cares about; GCC 12
// warns about the others (which take their defaults), clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace perflab {
namespace {

AllocProfile report_profile() {
  AllocProfile p;
  p.frames = {
      {.address = 1, .function = "malloc"},
      {.address = 2, .function = "operator new(unsigned long)"},
      {.address = 3,
       .function = "std::__new_allocator<Request>::allocate(unsigned long, void const*)",
       .file = "/usr/include/c++/12/bits/new_allocator.h",
       .line = 137},
      {.address = 4, .function = "perflab::track::record_malloc(unsigned long)"},
      {.address = 5,
       .function = "Server::parse_request(Request&)",
       .file = "/src/server.cc",
       .line = 42},
      {.address = 6, .function = "main", .file = "/src/main.cc", .line = 9},
      {.address = 7,
       .function = "std::vector<int, std::allocator<int> >::_M_realloc_insert(int&&)",
       .file = "/usr/include/c++/12/bits/vector.tcc",
       .line = 439},
      {.address = 8, .function = "Cache::insert(Key const&)", .file = "/src/cache.cc", .line = 120},
      {.address = 9, .function = "__libc_calloc"},
  };
  p.sites = {
      {.frames = {3, 0, 1, 2, 4, 5}, .allocs = 1200, .bytes = 115200, .temporary = 1000},
      {.frames = {0, 1, 6, 7, 5},
       .allocs = 30,
       .bytes = 960000,
       .leaked_objects = 2,
       .leaked_bytes = 6400},
      {.frames = {8}, .allocs = 5, .bytes = 500},
  };
  p.allocs = 1235;
  p.frees = 1233;
  p.bytes = 1075700;
  p.temporary = 1000;
  p.peak_heap_bytes = 65536;
  p.leaked_objects = 2;
  p.leaked_bytes = 6400;
  p.duration_s = 2;
  return p;
}

TEST(AllocatorFrameTest, RecognizesTheAllocatorAndItsHelpers) {
  for (const char* name :
       {"malloc", "calloc", "realloc", "operator new(unsigned long)",
        "operator new[](unsigned long)", "__libc_malloc", "perflab::track::on_alloc()",
        "posix_memalign", "std::allocator<char>::allocate(unsigned long)",
        "std::allocator_traits<std::allocator<int> >::allocate(std::allocator<int>&, unsigned "
        "long)",
        "__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)"}) {
    EXPECT_TRUE(is_allocator_frame({.function = name})) << name;
  }
  for (const char* name : {"main", "Server::malloc_heavy()", "std::vector<int>::push_back", ""}) {
    EXPECT_FALSE(is_allocator_frame({.function = name})) << name;
  }
}

TEST(AllocatorFrameTest, TheMostUsefulFrameSkipsAllocatorAndLibraryFrames) {
  const AllocProfile p = report_profile();
  EXPECT_EQ(most_useful_frame(p, p.sites[0]), 4u);  // Server::parse_request
  EXPECT_EQ(most_useful_frame(p, p.sites[1]), 7u);  // Cache::insert, past vector internals
}

TEST(AllocatorFrameTest, AnAllocatorOnlyStackFallsBackToItsLeaf) {
  const AllocProfile p = report_profile();
  EXPECT_EQ(most_useful_frame(p, p.sites[2]), 8u);
  EXPECT_EQ(most_useful_frame(p, AllocSite{}), std::nullopt);
  EXPECT_EQ(most_useful_frame(p, AllocSite{.frames = {99}}), std::nullopt);
}

TEST(AllocatorFrameTest, ALibraryFrameIsUsedWhenNothingElseIs) {
  const AllocProfile p = report_profile();
  EXPECT_EQ(most_useful_frame(p, AllocSite{.frames = {0, 6}}), 6u);
}

TEST(AllocReportTest, ShowsTotalsAndSitesByCountBytesAndLeaks) {
  EXPECT_EQ(format_alloc_report(report_profile()), R"(Allocations
  allocs        1,235
  frees         1,233
  bytes         1,075,700 (1.0 MiB)
  peak heap     65,536 bytes (64.0 KiB)
  leaked        6,400 bytes (6.2 KiB) in 2 objects
  temporary     1,000 (81.0% of allocs)
  rate          618 allocs/s over 2 s

Top call sites by allocation count
       allocs      bytes     leaked   share  site
        1,200  112.5 KiB        0 B   97.2%  Server::parse_request(Request&)  server.cc:42
           30  937.5 KiB    6.2 KiB    2.4%  Cache::insert(Key const&)  cache.cc:120
            5      500 B        0 B    0.4%  __libc_calloc

Top call sites by bytes
       allocs      bytes     leaked   share  site
           30  937.5 KiB    6.2 KiB   89.2%  Cache::insert(Key const&)  cache.cc:120
        1,200  112.5 KiB        0 B   10.7%  Server::parse_request(Request&)  server.cc:42
            5      500 B        0 B    0.0%  __libc_calloc

Top call sites by leaked bytes
       allocs      bytes     leaked   share  site
           30  937.5 KiB    6.2 KiB  100.0%  Cache::insert(Key const&)  cache.cc:120
)");
}

TEST(AllocReportTest, TopLimitsTheSitesShown) {
  const std::string report = format_alloc_report(report_profile(), 1);
  EXPECT_EQ(report.find("__libc_calloc"), std::string::npos) << report;
  EXPECT_NE(report.find("Server::parse_request"), std::string::npos) << report;
}

TEST(AllocReportTest, NoLeaksSaysSo) {
  AllocProfile p = report_profile();
  p.sites[1].leaked_bytes = 0;
  EXPECT_NE(format_alloc_report(p).find("Top call sites by leaked bytes: none\n"),
            std::string::npos);
}

TEST(AllocReportTest, ACountingOnlyProfileShowsTotalsOnly) {
  AllocProfile p;
  p.allocs = 10;
  const std::string report = format_alloc_report(p);
  EXPECT_NE(report.find("  allocs        10\n"), std::string::npos) << report;
  EXPECT_NE(report.find("No call stacks recorded"), std::string::npos) << report;
  EXPECT_EQ(report.find("rate"), std::string::npos) << report;
}

TEST(AllocReportTest, EveryLineFitsIn100Columns) {
  AllocProfile p = report_profile();
  p.frames[4].function = "ns::very_long_template<" + std::string(200, 'T') + ">::method()";
  p.frames[4].file = "/very/deep/" + std::string(80, 'd') + "/source_file_with_a_long_name.cc";
  p.sites[0].allocs = 18'000'000'000'000'000'000ull;
  const std::string report = format_alloc_report(p);
  std::istringstream lines(report);
  std::string line;
  while (std::getline(lines, line)) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_NE(report.find("1.8e+19"), std::string::npos) << report;
  // The function keeps most of the room; the file name gives up its start.
  EXPECT_NE(report.find("  ns::very_long_template<TTT...  ...ith_a_long_name.cc:42\n"),
            std::string::npos)
      << report;
}

}  // namespace
}  // namespace perflab
