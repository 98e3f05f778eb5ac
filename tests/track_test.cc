// perflab track on real processes: a program with known allocations, run
// through the perflab command, checked through the profile it writes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "perflab/profile.hpp"

namespace perflab {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

RunResult run_command(const std::string& command) {
  RunResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> chunk{};
  while (std::fgets(chunk.data(), chunk.size(), pipe) != nullptr) result.output += chunk.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class TrackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("perflab-track-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunResult track(const std::string& options, const std::string& program_args,
                  const std::string& name = "p") {
    return run_command(std::string(PERFLAB_CLI) + " track -q " + options + " -o " +
                       (dir_ / name).string() + " -- " + program_args);
  }
  fs::path profile(const std::string& name = "p") const { return dir_ / name; }

  fs::path dir_;
};

// The site whose frames include `function` (the known program's noinline work).
const AllocSite* site_in(const AllocProfile& p, const std::string& function) {
  for (const AllocSite& site : p.sites)
    for (std::uint32_t f : site.frames)
      if (p.frames[f].function == function) return &site;
  return nullptr;
}

std::string known() { return KNOWN_ALLOCS; }

// The timeline's cumulative counts never go back, and the last sample, taken
// as the process ends, reaches the totals exactly.
void expect_timeline_adds_up(const AllocProfile& p) {
  ASSERT_FALSE(p.timeline.empty());
  for (std::size_t i = 1; i < p.timeline.size(); ++i) {
    EXPECT_GE(p.timeline[i].allocs, p.timeline[i - 1].allocs) << "sample " << i;
    EXPECT_GE(p.timeline[i].alloc_bytes, p.timeline[i - 1].alloc_bytes) << "sample " << i;
  }
  EXPECT_EQ(p.timeline.back().allocs, p.allocs);
  EXPECT_EQ(p.timeline.back().alloc_bytes, p.bytes);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

TEST_F(TrackTest, SaysSoWhenTheProgramDefinesMallocItself) {
  // The executable's malloc comes before the recorder's in symbol lookup: the
  // program runs as it would, and the profile says why it saw so little.
  const RunResult r = track("", OWN_MALLOC);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("own allocations: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("defines malloc itself"), std::string::npos) << r.output;
  const nlohmann::json summary = read_summary(profile());
  EXPECT_EQ(fs::path(summary["track"]["malloc_defined_by"].get<std::string>()).filename(),
            fs::path(OWN_MALLOC).filename());
  EXPECT_LT(summary["alloc"]["allocs"].get<std::uint64_t>(), 100u);
}

TEST_F(TrackTest, CountsThroughALinkedAllocatorLibraryAndNamesIt) {
  // An allocator library the program links (jemalloc, tcmalloc) comes after
  // the recorder: every call is counted, and served by glibc.
  const RunResult r = track("", LINKED_ALLOCATOR);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bypassed"), std::string::npos) << r.output;
  const nlohmann::json summary = read_summary(profile());
  EXPECT_TRUE(same_file(summary["track"]["allocator_bypassed"].get<std::string>(), FAKE_ALLOCATOR));
  const AllocProfile p = read_alloc_profile(profile());
  const AllocSite* site = site_in(p, "allocate_from_linked(unsigned long)");
  ASSERT_NE(site, nullptr);
  EXPECT_EQ(site->allocs, 100u);
  EXPECT_EQ(site->leaked_objects, 10u);
}

TEST_F(TrackTest, CountsEachKnownCallSiteExactlyWithItsFunctionName) {
  const RunResult r = track("", known());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const AllocProfile p = read_alloc_profile(profile());
  const AllocSite* mallocs = site_in(p, "malloc_free_1000");
  ASSERT_NE(mallocs, nullptr);
  EXPECT_EQ(mallocs->allocs, 1000u);
  EXPECT_EQ(mallocs->bytes, 100'000u);
  EXPECT_EQ(mallocs->leaked_objects, 0u);
  const AllocSite* news = site_in(p, "new_delete_500");
  ASSERT_NE(news, nullptr);
  EXPECT_EQ(news->allocs, 500u);
  EXPECT_EQ(news->bytes, 500u * 10 * sizeof(int));
  const AllocSite* leaks = site_in(p, "leak_ten");
  ASSERT_NE(leaks, nullptr);
  EXPECT_EQ(leaks->leaked_objects, 10u);
  EXPECT_EQ(leaks->leaked_bytes, 640u);
}

TEST_F(TrackTest, EveryAllocationFunctionIsSeen) {
  ASSERT_EQ(track("", known()).exit_code, 0);
  const AllocProfile p = read_alloc_profile(profile());
  std::uint64_t allocs = 0;
  for (const AllocSite& site : p.sites) {
    for (std::uint32_t f : site.frames) {
      if (p.frames[f].function == "every_kind_once") {
        allocs += site.allocs;
        break;
      }
    }
  }
  // calloc, realloc, posix_memalign, aligned_alloc, nothrow new, aligned new[].
  EXPECT_EQ(allocs, 6u);
}

TEST_F(TrackTest, CountingModeAgreesWithStackModeOnTotals) {
  ASSERT_EQ(track("--mode stacks", known(), "stacks").exit_code, 0);
  ASSERT_EQ(track("--mode count", known(), "count").exit_code, 0);
  const nlohmann::json a = read_summary(profile("stacks"));
  const nlohmann::json b = read_summary(profile("count"));
  EXPECT_EQ(a["alloc"]["allocs"], b["alloc"]["allocs"]);
  EXPECT_EQ(a["alloc"]["bytes"], b["alloc"]["bytes"]);
  EXPECT_EQ(a["alloc"]["frees"], b["alloc"]["frees"]);
  EXPECT_EQ(a["alloc"]["leaked_objects"], b["alloc"]["leaked_objects"]);
  // Counting mode keeps no header, so it measures the live heap in glibc's
  // usable sizes: each small leaked block rounds up by less than 24 bytes.
  const auto requested = a["alloc"]["leaked_bytes"].get<std::uint64_t>();
  const auto usable = b["alloc"]["leaked_bytes"].get<std::uint64_t>();
  EXPECT_GE(usable, requested);
  EXPECT_LT(usable, requested + 24 * b["alloc"]["leaked_objects"].get<std::uint64_t>());
  EXPECT_GE(b["alloc"]["allocs"].get<std::uint64_t>(), 1516u);
  EXPECT_EQ(b["track"]["mode"], "count");
  EXPECT_EQ(a["track"]["heap_bytes_measure"], "requested");
  EXPECT_EQ(b["track"]["heap_bytes_measure"], "usable");
}

TEST_F(TrackTest, TimelineCountsBytesAllocatedSoFarUpToTheTotalsInBothModes) {
  for (const std::string mode : {"stacks", "count"}) {
    SCOPED_TRACE(mode);
    ASSERT_EQ(track("--interval-ms 5 --mode " + mode, known() + " paced", mode).exit_code, 0);
    const AllocProfile p = read_alloc_profile(profile(mode));
    // Requested bytes in both modes: malloc_free_1000, new_delete_500,
    // leak_ten and paced_500k alone request this much.
    EXPECT_GE(p.bytes, 100'000u + 500u * 10 * sizeof(int) + 640 + 500'000);
    expect_timeline_adds_up(p);
    // Some 100 ms of paced allocation at 5 ms: samples from the middle of it.
    ASSERT_GE(p.timeline.size(), 3u);
    EXPECT_LT(p.timeline.front().alloc_bytes, p.bytes);
  }
  const AllocSite* paced = site_in(read_alloc_profile(profile("stacks")), "paced_500k");
  ASSERT_NE(paced, nullptr);
  EXPECT_EQ(paced->bytes, 500'000u);
}

TEST_F(TrackTest, ThreadsAreMergedIntoOneSite) {
  ASSERT_EQ(track("", known() + " threads").exit_code, 0);
  const AllocProfile p = read_alloc_profile(profile());
  const AllocSite* worker = site_in(p, "thread_worker");
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->allocs, 4u * 250);
  EXPECT_EQ(worker->leaked_objects, 0u);
  expect_timeline_adds_up(p);  // every thread's counters are in the samples
}

TEST_F(TrackTest, ForkedChildGetsItsOwnProfileOrNoneByFlag) {
  ASSERT_EQ(track("--fork follow", known() + " fork", "follow").exit_code, 0);
  const fs::path processes = profile("follow") / "processes";
  ASSERT_TRUE(fs::is_directory(processes));
  int children = 0;
  for (const auto& entry : fs::directory_iterator(processes)) {
    ++children;
    const AllocProfile child = read_alloc_profile(entry.path());
    const AllocSite* work = site_in(child, "child_work");
    ASSERT_NE(work, nullptr);
    EXPECT_EQ(work->allocs, 77u);
    EXPECT_EQ(site_in(child, "malloc_free_1000"), nullptr)
        << "the parent's work is not the child's";
    expect_timeline_adds_up(child);  // the child's timeline starts from zero too
  }
  EXPECT_EQ(children, 1);
  const AllocProfile parent = read_alloc_profile(profile("follow"));
  EXPECT_EQ(site_in(parent, "child_work"), nullptr);
  expect_timeline_adds_up(parent);

  ASSERT_EQ(track("--fork ignore", known() + " fork", "ignore").exit_code, 0);
  EXPECT_FALSE(fs::exists(profile("ignore") / "processes"));
}

TEST_F(TrackTest, ExecKeepsTheProfileOfTheImageBeforeIt) {
  ASSERT_EQ(track("", known() + " exec").exit_code, 0);
  // The traced pid's last image (/bin/true) is the main profile; the image
  // that called exec is kept beside it.
  const fs::path processes = profile() / "processes";
  ASSERT_TRUE(fs::is_directory(processes));
  bool found = false;
  for (const auto& entry : fs::directory_iterator(processes)) {
    const AllocProfile image = read_alloc_profile(entry.path());
    if (const AllocSite* s = site_in(image, "malloc_free_1000")) {
      EXPECT_EQ(s->allocs, 1000u);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(TrackTest, CrashingProgramStillLeavesItsProfileAndItsStatus) {
  const RunResult r = track("", known() + " crash");
  EXPECT_EQ(r.exit_code, 128 + SIGSEGV) << r.output;
  const AllocProfile p = read_alloc_profile(profile());
  const AllocSite* s = site_in(p, "malloc_free_1000");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->allocs, 1000u);
  EXPECT_EQ(read_summary(profile())["run"]["ended_by"], "signal");
}

TEST_F(TrackTest, ProgramKilledBySigtermStillLeavesItsProfile) {
  const RunResult r = track("", known() + " term");
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.output;
  const AllocSite* s = site_in(read_alloc_profile(profile()), "leak_ten");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->leaked_objects, 10u);
}

TEST_F(TrackTest, QuickExitIsRecordedAndItsStatusKept) {
  const RunResult r = track("", known() + " quick-exit");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_EQ(read_summary(profile())["run"]["ended_by"], "_exit");
  EXPECT_NE(site_in(read_alloc_profile(profile()), "new_delete_500"), nullptr);
}

TEST_F(TrackTest, DlopenedAndUnloadedLibraryIsStillSymbolized) {
  ASSERT_EQ(track("", known() + " dlopen " + PLUGIN).exit_code, 0);
  const AllocSite* s = site_in(read_alloc_profile(profile()), "plugin_allocate");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->allocs, 33u);
}

TEST_F(TrackTest, EnvironmentIsNeverWrittenIntoTheProfile) {
  ASSERT_EQ(run_command("PERFLAB_TEST_SECRET=hunter2-do-not-store " + std::string(PERFLAB_CLI) +
                        " track -q -o " + profile().string() + " -- " + known())
                .exit_code,
            0);
  for (const auto& entry : fs::recursive_directory_iterator(profile())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().find("hunter2-do-not-store"), std::string::npos) << entry.path();
  }
}

TEST_F(TrackTest, CommandNotFoundIsAUsageError) {
  const RunResult r = track("", "/no/such/program");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("perflab: error: cannot run /no/such/program"), std::string::npos)
      << r.output;
  const RunResult r2 = track("", "no-such-program-in-path");
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.output.find("command not found"), std::string::npos) << r2.output;
  EXPECT_FALSE(fs::exists(profile()));
}

TEST_F(TrackTest, StaticBinaryIsRefusedWithTheReason) {
  const RunResult r = track("", STATIC_HELLO);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("statically linked"), std::string::npos) << r.output;
}

TEST_F(TrackTest, UnwritableOrExistingOutputIsAUsageErrorBeforeRunning) {
  const RunResult r =
      run_command(std::string(PERFLAB_CLI) + " track -o /dev/null/profile -- " + known());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/dev/null"), std::string::npos) << r.output;
  fs::create_directories(profile());
  const RunResult again = track("", known());
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
}

TEST_F(TrackTest, ReportReprintsTheTopSites) {
  ASSERT_EQ(track("", known()).exit_code, 0);
  const RunResult r = run_command(std::string(PERFLAB_CLI) + " report " + profile().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("malloc_free_1000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("leak_ten"), std::string::npos) << r.output;
  const RunResult bad =
      run_command(std::string(PERFLAB_CLI) + " report " + (dir_ / "missing").string());
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace perflab
