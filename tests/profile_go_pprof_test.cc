// Cross-check with pprof itself: `go tool pprof` must read the allocs.pb.gz we
// write and show our figures. The go executable is found by CMake
// (tests/profile.cmake); without it the test skips.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "perflab/profile.hpp"

// Designated initializers name only the fields a test cares about; GCC 12
// warns about the others (which take their defaults), clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace perflab {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGo = PERFLAB_GO_EXECUTABLE;

class GoToolPprofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    if (kGo[0] == '\0' || !fs::exists(kGo, ec)) {
      GTEST_SKIP() << "go is not available (found: '" << kGo
                   << "'); install the Debian package golang-go, then re-run cmake";
    }
    scratch_ = fs::temp_directory_path() / ("perflab_profile_go_" + std::to_string(::getpid()));
    fs::remove_all(scratch_);
    fs::create_directories(scratch_ / "home");

    AllocProfile p;
    p.modules = {{.path = "/usr/bin/perflab_fake_server", .start = 0x400000, .limit = 0x500000}};
    p.frames = {
        {.address = 0x401000, .function = "malloc", .module = "/usr/bin/perflab_fake_server"},
        {.address = 0x402000,
         .function = "Server::parse_request(Request&)",
         .file = "/src/server.cc",
         .line = 42,
         .module = "/usr/bin/perflab_fake_server"},
        {.address = 0x403000,
         .function = "main",
         .file = "/src/main.cc",
         .line = 9,
         .module = "/usr/bin/perflab_fake_server"},
        {.address = 0x404000,
         .function = "Cache::insert(Key const&)",
         .file = "/src/cache.cc",
         .line = 120,
         .module = "/usr/bin/perflab_fake_server"},
    };
    p.sites = {{.frames = {0, 1, 2}, .allocs = 120, .bytes = 11520},
               {.frames = {0, 3, 2},
                .allocs = 30,
                .bytes = 96000,
                .leaked_objects = 2,
                .leaked_bytes = 6400}};
    p.allocs = 150;
    p.bytes = 107520;
    p.duration_s = 1;
    ProfileWriter writer(scratch_ / "run");
    writer.write_alloc_profile(p);
    file_ = writer.commit() / kAllocsPprofFile;
  }

  void TearDown() override {
    std::error_code ec;
    if (!scratch_.empty()) fs::remove_all(scratch_, ec);
  }

  // Runs `go tool pprof <args> <file>` offline, with a private HOME and caches.
  // Returns stdout and stderr together; `status` gets the exit status.
  std::string pprof(const std::string& args, int& status) {
    const std::string home = (scratch_ / "home").string();
    const std::string command = "env HOME='" + home + "' GOCACHE='" + home + "/gocache' GOPATH='" +
                                home + "/gopath' PPROF_TMPDIR='" + home +
                                "' GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off '" + kGo +
                                "' tool pprof " + args + " '" + file_.string() + "' 2>&1";
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      status = -1;
      return "popen failed";
    }
    char buffer[4096];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
    const int raw = ::pclose(pipe);
    status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return output;
  }

  fs::path scratch_;
  fs::path file_;
};

TEST_F(GoToolPprofTest, RawShowsOurSampleTypesAndValues) {
  int status = 0;
  const std::string out = pprof("-raw", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count "
                     "inuse_space/bytes"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("120      11520          0          0: 1 2 3"), std::string::npos) << out;
  EXPECT_NE(out.find("30      96000          2       6400: 1 4 3"), std::string::npos) << out;
}

TEST_F(GoToolPprofTest, TopRanksFunctionsByAllocationCount) {
  int status = 0;
  const std::string out = pprof("-top -sample_index=alloc_objects", status);
  ASSERT_EQ(status, 0) << out;
  // malloc is the leaf of every stack: all 150 allocations are flat there.
  EXPECT_NE(out.find("150   100%   100%        150   100%  malloc"), std::string::npos) << out;
  EXPECT_NE(out.find("120 80.00%  Server::parse_request"), std::string::npos) << out;
  EXPECT_NE(out.find("30 20.00%  Cache::insert"), std::string::npos) << out;
}

TEST_F(GoToolPprofTest, TopByInuseSpaceShowsTheLeak) {
  int status = 0;
  const std::string out = pprof("-top -sample_index=inuse_space", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("6.25kB"), std::string::npos) << out;
  EXPECT_NE(out.find("Cache::insert"), std::string::npos) << out;
}

TEST_F(GoToolPprofTest, TracesShowWholeStacksWithSourceLines) {
  int status = 0;
  const std::string out = pprof("-traces -lines", status);
  ASSERT_EQ(status, 0) << out;
  // pprof drops C++ parameter lists from names.
  EXPECT_NE(out.find("Server::parse_request /src/server.cc:42"), std::string::npos) << out;
  EXPECT_NE(out.find("main /src/main.cc:9"), std::string::npos) << out;
}

}  // namespace
}  // namespace perflab
