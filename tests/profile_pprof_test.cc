// allocs.pb.gz: what write_alloc_profile() writes, read_alloc_profile() reads
// back; pprof files from elsewhere read too; corrupt files are errors, never
// crashes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

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

// One scratch directory per test, named after the suite.
struct ScratchDir : perflab::testing::ScratchDir {
  ScratchDir() : perflab::testing::ScratchDir("profile_pprof") {}
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void spit(const fs::path& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(content.data(), static_cast<std::streamsize>(content.size()));
}

// gzip and gunzip for the test's own use (one member, whole buffers).
std::string gzip(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string gunzip(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 31), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// A minimal protobuf encoder, to build pprof files perflab did not write.
class Proto {
 public:
  Proto& varint(int field, std::uint64_t value) {
    key(field, 0);
    put_varint(value);
    return *this;
  }
  Proto& bytes(int field, std::string_view value) {
    key(field, 2);
    put_varint(value.size());
    data_ += value;
    return *this;
  }
  Proto& message(int field, const Proto& value) { return bytes(field, value.data_); }
  const std::string& data() const { return data_; }

 private:
  void key(int field, int wire_type) {
    put_varint(static_cast<std::uint64_t>(field) << 3 | static_cast<unsigned>(wire_type));
  }
  void put_varint(std::uint64_t value) {
    while (value >= 0x80) {
      data_ += static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    data_ += static_cast<char>(value);
  }
  std::string data_;
};

Proto value_type(std::uint64_t type, std::uint64_t unit) {
  return Proto().varint(1, type).varint(2, unit);
}

// The ProfileError message of `action`, or "" when it throws none.
template <typename Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const ProfileError& error) {
    return error.what();
  }
  return "";
}

AllocProfile sample_profile() {
  AllocProfile p;
  p.modules = {
      {.path = "/usr/bin/server",
       .start = 0x55550000,
       .limit = 0x55560000,
       .file_offset = 0x1000,
       .build_id = "abc123"},
      {.path = "/lib/x86_64-linux-gnu/libc.so.6", .start = 0x7f000000, .limit = 0x7f100000}};
  p.frames = {
      {.address = 0x7f000100, .function = "malloc", .module = "/lib/x86_64-linux-gnu/libc.so.6"},
      {.address = 0x55551234,
       .function = "Server::parse_request(Request&)",
       .file = "/src/server.cc",
       .line = 42,
       .module = "/usr/bin/server"},
      {.address = 0x55552000,
       .function = "main",
       .file = "/src/main.cc",
       .line = 9,
       .module = "/usr/bin/server"},
      {.address = 0x55553000,
       .function = "Cache::insert(Key const&)",
       .file = "/src/cache.cc",
       .line = 120,
       .module = "/usr/bin/server"},
      {.address = 0x12345678, .module = "/opt/lib/libmystery.so"},  // unsymbolized, no range
      {.address = 0xdead0000},                                      // nothing known
      {.address = 0x55554000, .file = "/src/anon.cc", .line = 3, .module = "/usr/bin/server"},
  };
  p.sites = {
      {.frames = {0, 1, 2}, .allocs = 120, .bytes = 11520, .temporary = 100},
      {.frames = {0, 3, 1, 2},
       .allocs = 30,
       .bytes = 96000,
       .leaked_objects = 2,
       .leaked_bytes = 6400},
      {.frames = {4, 5}, .allocs = 1, .bytes = 64, .leaked_objects = 1, .leaked_bytes = 64},
      {.frames = {6, 2}, .allocs = 5, .bytes = 50, .temporary = 5},
      {.frames = {}, .allocs = 2, .bytes = 16},
  };
  p.timeline = {
      {.time_s = 0.5, .heap_bytes = 1000, .rss_bytes = 4096, .allocs = 10, .alloc_bytes = 3200},
      {.time_s = 1.0,
       .heap_bytes = 2000,
       .rss_bytes = 8192,
       .allocs = 158,
       .requests_per_s = 1500.25,
       .alloc_bytes = 107650}};
  p.allocs = 158;
  p.frees = 155;
  p.bytes = 107650;
  p.temporary = 105;
  p.peak_heap_bytes = 50000;
  p.leaked_objects = 3;
  p.leaked_bytes = 6464;
  p.peak_rss_bytes = 8192;
  p.duration_s = 2.5;
  return p;
}

fs::path write_profile(const fs::path& dir, const AllocProfile& profile) {
  ProfileWriter writer(dir);
  writer.write_alloc_profile(profile);
  return writer.commit();
}

TEST(ProfilePprofTest, RoundTripKeepsFramesSitesModulesAndTotals) {
  ScratchDir scratch;
  const AllocProfile written = sample_profile();
  const AllocProfile read = read_alloc_profile(write_profile(scratch.path() / "run", written));

  EXPECT_EQ(read.frames, written.frames);
  EXPECT_EQ(read.sites, written.sites);
  EXPECT_EQ(read.timeline, written.timeline);
  // The given modules first, then one per module only frames named.
  ASSERT_EQ(read.modules.size(), 3u);
  EXPECT_EQ(read.modules[0], written.modules[0]);
  EXPECT_EQ(read.modules[1], written.modules[1]);
  EXPECT_EQ(read.modules[2], ProfileModule{.path = "/opt/lib/libmystery.so"});
  EXPECT_EQ(read.allocs, written.allocs);
  EXPECT_EQ(read.frees, written.frees);
  EXPECT_EQ(read.bytes, written.bytes);
  EXPECT_EQ(read.temporary, written.temporary);
  EXPECT_EQ(read.peak_heap_bytes, written.peak_heap_bytes);
  EXPECT_EQ(read.leaked_objects, written.leaked_objects);
  EXPECT_EQ(read.leaked_bytes, written.leaked_bytes);
  EXPECT_EQ(read.peak_rss_bytes, written.peak_rss_bytes);
  EXPECT_DOUBLE_EQ(read.duration_s, written.duration_s);
}

TEST(ProfilePprofTest, ACountingOnlyProfileKeepsItsTotals) {
  ScratchDir scratch;
  AllocProfile written;
  written.allocs = 1'000'000;
  written.frees = 999'000;
  written.bytes = 64'000'000;
  written.peak_heap_bytes = 123456;
  const AllocProfile read = read_alloc_profile(write_profile(scratch.path() / "run", written));
  EXPECT_TRUE(read.sites.empty());
  EXPECT_TRUE(read.frames.empty());
  EXPECT_TRUE(read.timeline.empty());
  EXPECT_EQ(read.allocs, 1'000'000u);
  EXPECT_EQ(read.frees, 999'000u);
  EXPECT_EQ(read.bytes, 64'000'000u);
  EXPECT_EQ(read.peak_heap_bytes, 123456u);
}

TEST(ProfilePprofTest, WritingIsDeterministic) {
  ScratchDir scratch;
  const AllocProfile profile = sample_profile();
  const fs::path a = write_profile(scratch.path() / "a", profile);
  const fs::path b = write_profile(scratch.path() / "b", profile);
  EXPECT_EQ(slurp(a / kAllocsPprofFile), slurp(b / kAllocsPprofFile));
}

// A profile in the shape Go's runtime writes: sample types in another order,
// an inlined location, no perflab comments.
TEST(ProfilePprofTest, AForeignHeapProfileWithInlinedFramesReads) {
  Proto profile;
  profile
      .message(1, value_type(5, 2))   // inuse_objects/count
      .message(1, value_type(6, 4))   // inuse_space/bytes
      .message(1, value_type(1, 2))   // alloc_objects/count
      .message(1, value_type(3, 4));  // alloc_space/bytes
  profile.message(
      2, Proto().varint(1, 5).varint(1, 6).varint(2, 1).varint(2, 100).varint(2, 4).varint(2, 400));
  profile.message(3, Proto().varint(1, 1).varint(2, 0x400000).varint(3, 0x500000).varint(5, 10));
  profile.message(4, Proto()
                         .varint(1, 5)
                         .varint(2, 1)
                         .varint(3, 0x401000)
                         .message(4, Proto().varint(1, 1).varint(2, 10))
                         .message(4, Proto().varint(1, 2).varint(2, 20)));
  profile.message(4, Proto().varint(1, 6).varint(2, 1).varint(3, 0x402000));
  profile.message(5, Proto().varint(1, 1).varint(2, 7).varint(4, 9));
  profile.message(5, Proto().varint(1, 2).varint(2, 8).varint(4, 9));
  for (const char* text : {"", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects",
                           "inuse_space", "inlined_callee", "caller", "a.go", "/bin/app"}) {
    profile.bytes(6, text);
  }
  profile.varint(10, 3'000'000'000);

  ScratchDir scratch;
  spit(scratch.path() / kAllocsPprofFile, gzip(profile.data()));
  const AllocProfile read = read_alloc_profile(scratch.path());

  ASSERT_EQ(read.modules.size(), 1u);
  EXPECT_EQ(read.modules[0],
            (ProfileModule{.path = "/bin/app", .start = 0x400000, .limit = 0x500000}));
  const std::vector<ProfileFrame> frames = {
      {.address = 0x401000,
       .function = "inlined_callee",
       .file = "a.go",
       .line = 10,
       .module = "/bin/app"},
      {.address = 0x401000, .function = "caller", .file = "a.go", .line = 20, .module = "/bin/app"},
      {.address = 0x402000, .module = "/bin/app"}};
  EXPECT_EQ(read.frames, frames);
  const std::vector<AllocSite> sites = {
      {.frames = {0, 1, 2}, .allocs = 4, .bytes = 400, .leaked_objects = 1, .leaked_bytes = 100}};
  EXPECT_EQ(read.sites, sites);
  EXPECT_EQ(read.allocs, 4u);
  EXPECT_EQ(read.bytes, 400u);
  EXPECT_EQ(read.frees, 3u);
  EXPECT_EQ(read.leaked_bytes, 100u);
  EXPECT_DOUBLE_EQ(read.duration_s, 3.0);
}

class PprofErrorTest : public ::testing::Test {
 protected:
  std::string error_for_proto(const std::string& proto) { return error_for_file(gzip(proto)); }
  std::string error_for_file(std::string_view content) {
    spit(scratch_.path() / kAllocsPprofFile, content);
    return error_of([&] { read_alloc_profile(scratch_.path()); });
  }
  std::string file() const { return (scratch_.path() / kAllocsPprofFile).string(); }

  // A valid allocation profile's string table and sample types.
  static Proto alloc_header() {
    Proto p;
    p.message(1, value_type(1, 2)).message(1, value_type(3, 4));
    p.message(1, value_type(5, 2)).message(1, value_type(6, 4));
    for (const char* text :
         {"", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects", "inuse_space"}) {
      p.bytes(6, text);
    }
    return p;
  }

  ScratchDir scratch_;
};

TEST_F(PprofErrorTest, AMissingFileIsNamed) {
  const std::string message = error_of([&] { read_alloc_profile(scratch_.path()); });
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, AFileThatIsNotGzipIsNamed) {
  const std::string message = error_for_file("this is not gzip");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("not gzip-compressed"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ATruncatedGzipStreamIsReported) {
  const std::string whole = gzip(alloc_header().data());
  const std::string message = error_for_file(whole.substr(0, whole.size() - 3));
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("truncated gzip stream"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ACorruptGzipStreamIsReported) {
  std::string content = gzip(std::string(1000, 'x'));
  content[content.size() - 6] ^= 0x01;  // inside the CRC-32
  const std::string message = error_for_file(content);
  EXPECT_NE(message.find("corrupt gzip stream"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, TrailingGarbageAfterTheGzipStreamIsReported) {
  const std::string message = error_for_file(gzip(alloc_header().data()) + "junk");
  EXPECT_NE(message.find("trailing data"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ConcatenatedGzipMembersAreOneStream) {
  const std::string proto = alloc_header().data();
  const std::string half = proto.substr(0, proto.size() / 2);
  EXPECT_EQ(error_for_file(gzip(half) + gzip(proto.substr(half.size()))), "");
}

TEST_F(PprofErrorTest, GzippedGarbageIsNotAPprofProfile) {
  const std::string message = error_for_file(gzip("\xff\xff\xff\xff garbage"));
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("not a pprof profile"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ACpuProfileIsNotAnAllocationProfile) {
  Proto p;
  p.message(1, value_type(1, 2)).bytes(6, "").bytes(6, "cpu").bytes(6, "nanoseconds");
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("no alloc_objects sample type (it has cpu/nanoseconds)"),
            std::string::npos)
      << message;
}

TEST_F(PprofErrorTest, AStringIndexOutOfRangeIsReported) {
  Proto p = alloc_header();
  p.message(3, Proto().varint(1, 1).varint(5, 99));
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("mapping.filename refers to string 99"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ASampleWithAnUnknownLocationIsReported) {
  Proto p = alloc_header();
  p.message(2, Proto().varint(1, 42).varint(2, 1).varint(2, 2).varint(2, 3).varint(2, 4));
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("refers to location 42, which does not exist"), std::string::npos)
      << message;
}

TEST_F(PprofErrorTest, ASampleWithTheWrongNumberOfValuesIsReported) {
  Proto p = alloc_header();
  p.message(2, Proto().varint(2, 1).varint(2, 2));
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("has 2 values for 4 sample types"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, ANegativeValueIsReported) {
  Proto p = alloc_header();
  p.message(
      2, Proto().varint(2, 1).varint(2, static_cast<std::uint64_t>(-5)).varint(2, 0).varint(2, 0));
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("negative value -5"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, DuplicateLocationIdsAreReported) {
  Proto p = alloc_header();
  p.message(4, Proto().varint(1, 3)).message(4, Proto().varint(1, 3));
  const std::string message = error_for_proto(p.data());
  EXPECT_NE(message.find("location id 3 appears twice"), std::string::npos) << message;
}

TEST_F(PprofErrorTest, TheTotalsCommentSkipsUnknownNamesAndRefusesBadCounts) {
  Proto p = alloc_header();
  p.bytes(6, "perflab: allocs=12 from_the_future=7 frees=5").varint(13, 7);
  spit(scratch_.path() / kAllocsPprofFile, gzip(p.data()));
  const AllocProfile read = read_alloc_profile(scratch_.path());
  EXPECT_EQ(read.allocs, 12u);
  EXPECT_EQ(read.frees, 5u);

  Proto bad = alloc_header();
  bad.bytes(6, "perflab: allocs=12x").varint(13, 7);
  const std::string message = error_for_proto(bad.data());
  EXPECT_NE(message.find("'allocs=12x' is not a count"), std::string::npos) << message;
}

// Random damage to a real profile: every outcome is a profile or a
// ProfileError. Run under the sanitizer builds, this also proves no invalid
// memory access on the way.
class PprofFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProfileWriter writer(scratch_.path() / "good");
    writer.write_alloc_profile(sample_profile());
    good_ = slurp(writer.commit() / kAllocsPprofFile);
    fs::create_directory(dir());
  }
  fs::path dir() const { return scratch_.path() / "damaged"; }

  // Reads `content` as allocs.pb.gz; false when something other than a
  // profile or a ProfileError came out.
  bool reads_or_reports(std::string_view content) {
    spit(dir() / kAllocsPprofFile, content);
    try {
      read_alloc_profile(dir());
    } catch (const ProfileError&) {
    } catch (...) {
      return false;
    }
    return true;
  }

  static std::string flip_bits(std::string data, std::mt19937& random, int flips) {
    std::uniform_int_distribution<std::size_t> byte(0, data.size() - 1);
    std::uniform_int_distribution<int> bit(0, 7);
    for (int i = 0; i < flips; ++i) data[byte(random)] ^= static_cast<char>(1 << bit(random));
    return data;
  }

  ScratchDir scratch_;
  std::string good_;
};

TEST_F(PprofFuzzTest, EveryTruncationOfTheFileIsAnError) {
  ASSERT_GT(good_.size(), 100u);
  for (std::size_t size = 0; size < good_.size(); ++size) {
    spit(dir() / kAllocsPprofFile, std::string_view(good_).substr(0, size));
    EXPECT_THROW(read_alloc_profile(dir()), ProfileError) << "truncated to " << size << " bytes";
  }
}

TEST_F(PprofFuzzTest, BitFlipsInTheFileNeverCrash) {
  std::mt19937 random(1234);
  for (int round = 0; round < 300; ++round) {
    EXPECT_TRUE(reads_or_reports(flip_bits(good_, random, 1 + round % 4))) << "round " << round;
  }
}

TEST_F(PprofFuzzTest, DamagedProtobufInsideValidGzipNeverCrashes) {
  const std::string proto = gunzip(good_);
  ASSERT_GT(proto.size(), 100u);
  std::mt19937 random(5678);
  std::uniform_int_distribution<std::size_t> cut(0, proto.size());
  int reported = 0;
  for (int round = 0; round < 400; ++round) {
    std::string damaged =
        round % 2 == 0 ? flip_bits(proto, random, 1 + round % 5) : proto.substr(0, cut(random));
    spit(dir() / kAllocsPprofFile, gzip(damaged));
    try {
      read_alloc_profile(dir());
    } catch (const ProfileError&) {
      ++reported;
    } catch (...) {
      ADD_FAILURE() << "round " << round << ": an exception other than ProfileError";
    }
  }
  EXPECT_GT(reported, 100) << "damage this heavy should mostly be detected";
}

}  // namespace
}  // namespace perflab
