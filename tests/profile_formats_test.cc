// The text formats of a profile directory, byte for byte: allocs.folded,
// allocs_bytes.folded and timeline.csv.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "perflab/profile.hpp"
#include "scratch_dir.hpp"

// Designated initializers name only the fields a test cares about; GCC 12
// warns about the others (which take their defaults), clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace perflab {
namespace {

namespace fs = std::filesystem;

class ProfileFormatsTest : public ::testing::Test {
 protected:
  fs::path write(const AllocProfile& profile) {
    ProfileWriter writer(scratch_.path() / "run");
    writer.write_alloc_profile(profile);
    return writer.commit();
  }

  static std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  perflab::testing::ScratchDir scratch_{"profile_formats"};
};

AllocProfile folded_profile() {
  AllocProfile p;
  p.modules = {{.path = "/usr/lib/libfoo.so.1",
                .start = 0x7f0000,
                .limit = 0x7f8000,
                .file_offset = 0x2000}};
  p.frames = {
      {.address = 0x10, .function = "malloc"},
      {.address = 0x20, .function = "std::vector<int, std::allocator<int> >::push_back(int&&)"},
      {.address = 0x30, .function = "main"},
      {.address = 0x7f0100, .module = "/usr/lib/libfoo.so.1"},  // range known: offset in file
      {.address = 0x9999, .module = "/opt/libbar.so"},          // range unknown
      {.address = 0xabc},                                       // nothing known
      {.address = 0x40, .function = "weird;name\nwith\tcontrol"},
  };
  p.sites = {
      {.frames = {0, 1, 2}, .allocs = 7, .bytes = 700},
      {.frames = {0, 3, 4, 5}, .allocs = 2, .bytes = 48},
      {.frames = {6, 2}, .allocs = 1, .bytes = 0},  // zero bytes: left out of the bytes file
      {.frames = {}, .allocs = 3, .bytes = 24},
      {.frames = {0, 2}, .allocs = 0, .bytes = 0},  // nothing to draw
  };
  return p;
}

TEST_F(ProfileFormatsTest, FoldedStacksAreRootFirstWithAllocationCounts) {
  const fs::path dir = write(folded_profile());
  EXPECT_EQ(slurp(dir / kAllocsFoldedFile),
            "main;std::vector<int, std::allocator<int> >::push_back(int&&);malloc 7\n"
            "0xabc;libbar.so@0x9999;libfoo.so.1+0x2100;malloc 2\n"
            "main;weird:name with control 1\n"
            "[no stack] 3\n");
}

TEST_F(ProfileFormatsTest, BytesFoldedStacksCarryBytes) {
  const fs::path dir = write(folded_profile());
  EXPECT_EQ(slurp(dir / kAllocsBytesFoldedFile),
            "main;std::vector<int, std::allocator<int> >::push_back(int&&);malloc 700\n"
            "0xabc;libbar.so@0x9999;libfoo.so.1+0x2100;malloc 48\n"
            "[no stack] 24\n");
}

TEST_F(ProfileFormatsTest, EveryFoldedLineEndsInASpaceAndANumber) {
  const std::string folded = slurp(write(folded_profile()) / kAllocsFoldedFile);
  std::istringstream lines(folded);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    const std::size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_EQ(line.find_first_not_of("0123456789", space + 1), std::string::npos) << line;
  }
  EXPECT_EQ(count, 4);
}

TEST_F(ProfileFormatsTest, TimelineCsvHasTheHeaderAndOneRowPerSample) {
  AllocProfile p;
  p.timeline = {{.time_s = 0, .heap_bytes = 0, .rss_bytes = 1048576, .allocs = 0},
                {.time_s = 0.25,
                 .heap_bytes = 4096,
                 .rss_bytes = 2097152,
                 .allocs = 12,
                 .requests_per_s = 999.5,
                 .alloc_bytes = 6144},
                {.time_s = 1.1,
                 .heap_bytes = 18446744073709551615ull,
                 .rss_bytes = 3,
                 .allocs = 4000000000,
                 .requests_per_s = 1e6,
                 .alloc_bytes = 18446744073709551615ull}};
  const fs::path dir = write(p);
  EXPECT_EQ(slurp(dir / kTimelineFile),
            "time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes\n"
            "0,0,1048576,0,0,0\n"
            "0.25,4096,2097152,12,999.5,6144\n"
            "1.1,18446744073709551615,3,4000000000,1000000,18446744073709551615\n");
  EXPECT_EQ(read_alloc_profile(dir).timeline, p.timeline);
}

TEST_F(ProfileFormatsTest, AnEmptyTimelineIsJustTheHeader) {
  EXPECT_EQ(slurp(write(AllocProfile{}) / kTimelineFile),
            "time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes\n");
}

TEST_F(ProfileFormatsTest, ATimelineWrittenBeforeAllocBytesReadsWithAllocBytesZero) {
  const fs::path dir = write(AllocProfile{});
  std::ofstream(dir / kTimelineFile, std::ios::trunc)
      << "time_s,heap_bytes,rss_bytes,allocs,requests_per_s\n0,0,4096,0,0\n0.5,64,8192,7,2.5\n";
  const std::vector<TimelineSample> expected = {
      {.time_s = 0, .rss_bytes = 4096},
      {.time_s = 0.5, .heap_bytes = 64, .rss_bytes = 8192, .allocs = 7, .requests_per_s = 2.5}};
  EXPECT_EQ(read_alloc_profile(dir).timeline, expected);
}

TEST_F(ProfileFormatsTest, AMalformedTimelineIsReportedWithItsLine) {
  const fs::path dir = write(AllocProfile{});
  const fs::path csv = dir / kTimelineFile;
  const std::pair<std::string, std::string> cases[] = {
      {"time,heap\n", "line 1: expected the header"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s\n1,2,3\n", "line 2: expected 5 fields"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes\n1,2,3,4,5\n",
       "line 2: expected 6 fields, found 5"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s\n1,2,3,4,5,6\n",
       "line 2: expected 5 fields, found 6"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s\n0,1,2,3,4\n1,x,3,4,5\n",
       "line 3: a field is not a number"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s\n1,-2,3,4,5\n",
       "line 2: a field is not a number"},
      {"time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes\n1,2,3,4,5,-6\n",
       "line 2: a field is not a number"},
      {"time_s,heap_bytes,rss_bytes,alloc_bytes,allocs,requests_per_s\n",
       "line 1: expected the header"},
      {"", "empty"},
  };
  for (const auto& [content, expected] : cases) {
    std::ofstream(csv, std::ios::trunc) << content;
    try {
      read_alloc_profile(dir);
      ADD_FAILURE() << "no error for: " << content;
    } catch (const ProfileError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(csv.string()), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
  }
}

TEST_F(ProfileFormatsTest, ATimelineWithCrLfLineEndsReads) {
  const fs::path dir = write(AllocProfile{});
  std::ofstream(dir / kTimelineFile, std::ios::trunc)
      << "time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes\r\n2,1,2,3,4.5,9\r\n";
  const std::vector<TimelineSample> expected = {{.time_s = 2,
                                                 .heap_bytes = 1,
                                                 .rss_bytes = 2,
                                                 .allocs = 3,
                                                 .requests_per_s = 4.5,
                                                 .alloc_bytes = 9}};
  EXPECT_EQ(read_alloc_profile(dir).timeline, expected);
}

}  // namespace
}  // namespace perflab
