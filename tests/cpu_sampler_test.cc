// Tests of --cpu-profile's samplers: the built-in ptrace sampler on children
// this test forks (where their samples land, threads started meanwhile,
// signals passed on, job control, letting go), how a refused ptrace is
// explained, the choice between perf and the built-in sampler, and perf
// script's deadline (with a fake perf). Counts only: no timing assertions.
#include "cpu_sampler.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu_profile.hpp"
#include "cpu_sampler_fold.hpp"
#include "cpu_sampler_perf.hpp"
#include "cpu_sampler_programs/refuse_ptrace.hpp"
#include "scratch_dir.hpp"

namespace perflab::cli {
namespace {

// Hermetic: no network lookups of debug info, whatever the host sets.
[[maybe_unused]] const bool kNoDebuginfod = (::unsetenv("DEBUGINFOD_URLS"), true);

// ---- the children's code: functions the samples must land in -------------------

volatile std::uint64_t g_sink = 0;

__attribute__((noinline)) void spin_here() {
  for (;;) {
    for (int i = 0; i < 1000; ++i) g_sink = g_sink + static_cast<std::uint64_t>(i);
  }
}

__attribute__((noinline)) void spin_caller() {
  spin_here();
  asm volatile("");  // not a tail call: spin_caller stays on the stack
}

__attribute__((noinline)) void spin_in_thread() {
  for (;;) {
    for (int i = 0; i < 1000; ++i) g_sink = g_sink + static_cast<std::uint64_t>(i);
  }
}

// ---- helpers ---------------------------------------------------------------------

// A forked child running `body`, killed and reaped at the end of the test
// (declare it before the sampler, so the sampler lets go of it first).
class Child {
 public:
  explicit Child(const std::function<void()>& body) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      body();
      ::_exit(0);
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void set_reaped() { reaped_ = true; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// A counter the child increments and the test reads (shared memory).
class SharedCounter {
 public:
  SharedCounter()
      : value_(static_cast<std::atomic<std::uint64_t>*>(
            ::mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    new (value_) std::atomic<std::uint64_t>(0);
  }
  ~SharedCounter() { ::munmap(value_, sizeof(std::uint64_t)); }
  SharedCounter(const SharedCounter&) = delete;
  SharedCounter& operator=(const SharedCounter&) = delete;
  std::atomic<std::uint64_t>& operator*() { return *value_; }

 private:
  std::atomic<std::uint64_t>* value_;
};

std::string proc_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

char process_state(pid_t pid) {
  const std::string stat = proc_text("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

// TracerPid of every thread of `pid`: all 0 once nobody traces it.
std::vector<int> tracers_of(pid_t pid) {
  std::vector<int> tracers;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(task)) {
    const std::string status = proc_text(entry.path() / "status");
    const std::size_t at = status.find("TracerPid:");
    if (at != std::string::npos) tracers.push_back(std::atoi(status.c_str() + at + 10));
  }
  return tracers;
}

// Waits (a few seconds at most: a bound, not an assertion) until `done`.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Samples until `wanted` stacks are in (each check suspends the sampler).
void sample_at_least(PtraceSampler& sampler, std::uint64_t wanted) {
  ASSERT_TRUE(eventually([&] {
    sampler.suspend();
    const bool enough = sampler.counts().samples >= wanted;
    sampler.resume();
    if (!enough) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return enough;
  })) << "fewer than "
      << wanted << " samples";
}

std::uint64_t total(const CpuStacks& stacks) {
  std::uint64_t sum = 0;
  for (const auto& [stack, count] : stacks) sum += count;
  return sum;
}

std::uint64_t count_containing(const CpuStacks& stacks, const std::string& name) {
  std::uint64_t sum = 0;
  for (const auto& [stack, count] : stacks) {
    if (stack.find(name) != std::string::npos) sum += count;
  }
  return sum;
}

std::string dump(const CpuStacks& stacks) {
  std::string text;
  for (const auto& [stack, count] : stacks) text += stack + " " + std::to_string(count) + "\n";
  return text;
}

// ---- the built-in sampler ------------------------------------------------------

TEST(PtraceSamplerTest, MostSamplesOfASpinningChildAreInItsSpinningFunction) {
  Child child([] { spin_caller(); });
  PtraceSampler sampler(child.pid());
  sample_at_least(sampler, 50);
  const CpuStacks stacks = sampler.collect();
  const std::uint64_t all = total(stacks);
  ASSERT_GE(all, 50u) << dump(stacks);
  const PtraceSamplerCounts counts = sampler.counts();
  RecordProperty("mean_stop_us", std::to_string(counts.stopped_ns / 1000 / counts.samples));
  EXPECT_GE(count_containing(stacks, "spin_here"), all * 9 / 10) << dump(stacks);
  // Unwound past the leaf: the caller is the next frame up.
  const auto heaviest = std::max_element(stacks.begin(), stacks.end(),
                                         [](auto& a, auto& b) { return a.second < b.second; });
  const std::string& stack = heaviest->first;
  const std::size_t caller = stack.find("spin_caller");
  ASSERT_NE(caller, std::string::npos) << dump(stacks);
  EXPECT_EQ(stack.find(';', caller), stack.rfind(';')) << "spin_here is not right below: " << stack;
  EXPECT_NE(stack.rfind("spin_here"), std::string::npos);
  EXPECT_GT(stack.rfind("spin_here"), caller) << stack;
}

TEST(PtraceSamplerTest, FollowsThreadsStartedWhileSampling) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  Child child([&] {
    char byte = 0;
    (void)!::read(go[0], &byte, 1);
    std::thread spinner(spin_in_thread);
    spinner.join();
  });
  ::close(go[0]);
  PtraceSampler sampler(child.pid());
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  sample_at_least(sampler, 30);
  const CpuStacks stacks = sampler.collect();
  EXPECT_GE(count_containing(stacks, "spin_in_thread"), total(stacks) * 9 / 10) << dump(stacks);
  EXPECT_GE(sampler.counts().threads, 2u);
}

int g_signal_pipe = -1;

extern "C" void on_usr1(int) {
  const char byte = 's';
  (void)!::write(g_signal_pipe, &byte, 1);
}

TEST(PtraceSamplerTest, PassesTheSignalsTheProcessReceivesOn) {
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  Child child([&] {
    g_signal_pipe = acks[1];
    struct sigaction action {};
    action.sa_handler = &on_usr1;
    ::sigaction(SIGUSR1, &action, nullptr);
    (void)!::write(ready[1], "r", 1);
    spin_caller();
  });
  ::close(acks[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  PtraceSampler sampler(child.pid());
  constexpr int kSignals = 5;
  for (int i = 0; i < kSignals; ++i) {
    ASSERT_EQ(::kill(child.pid(), SIGUSR1), 0);
    pollfd ack{acks[0], POLLIN, 0};
    ASSERT_EQ(::poll(&ack, 1, 20'000), 1) << "signal " << i << " was not delivered";
    ASSERT_EQ(::read(acks[0], &byte, 1), 1);
  }
  sample_at_least(sampler, 10);
  sampler.stop();
  ::close(acks[0]);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(PtraceSamplerTest, AStopSignalStopsTheProcessAndSigcontResumesIt) {
  SharedCounter progress;
  Child child([&] {
    for (;;) (*progress).fetch_add(1, std::memory_order_relaxed);
  });
  PtraceSampler sampler(child.pid());
  ASSERT_EQ(::kill(child.pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] {
    const char state = process_state(child.pid());
    return state == 't' || state == 'T';
  }));
  const std::uint64_t stopped_at = (*progress).load();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ((*progress).load(), stopped_at) << "ran on while stopped";
  ASSERT_EQ(::kill(child.pid(), SIGCONT), 0);
  EXPECT_TRUE(eventually([&] { return (*progress).load() > stopped_at; }));

  // Stopped when perflab lets go, it stays stopped, untraced.
  ASSERT_EQ(::kill(child.pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] {
    const char state = process_state(child.pid());
    return state == 't' || state == 'T';
  }));
  sampler.stop();
  EXPECT_TRUE(eventually([&] { return process_state(child.pid()) == 'T'; }))
      << process_state(child.pid());
  ASSERT_EQ(::kill(child.pid(), SIGCONT), 0);
  const std::uint64_t continued_at = (*progress).load();
  EXPECT_TRUE(eventually([&] { return (*progress).load() > continued_at; }));
}

TEST(PtraceSamplerTest, WhileSuspendedWaitpidSeesNoStopAndThenTheExit) {
  Child child([] { spin_caller(); });
  PtraceSampler sampler(child.pid());
  for (int i = 0; i < 30; ++i) {
    sampler.suspend();
    int status = 0;
    ASSERT_EQ(::waitpid(child.pid(), &status, WNOHANG), 0) << "a stop was reported: " << status;
    for (const int tracer : tracers_of(child.pid())) EXPECT_EQ(tracer, 0);
    sampler.resume();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sampler.suspend();
  ASSERT_EQ(::kill(child.pid(), SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid(), &status, 0), child.pid());
  child.set_reaped();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  sampler.resume();  // the process is gone: nothing to attach to, and no error
  sampler.stop();
}

TEST(PtraceSamplerTest, StopLeavesTheProcessUntracedAndRunning) {
  SharedCounter progress;
  Child child([&] {
    for (;;) (*progress).fetch_add(1, std::memory_order_relaxed);
  });
  {
    PtraceSampler sampler(child.pid());
    sample_at_least(sampler, 5);
    sampler.stop();
    for (const int tracer : tracers_of(child.pid())) EXPECT_EQ(tracer, 0);
  }
  const std::uint64_t after = (*progress).load();
  EXPECT_TRUE(eventually([&] { return (*progress).load() > after; }));
  ASSERT_EQ(::kill(child.pid(), SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid(), &status, 0), child.pid());
  child.set_reaped();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
}

TEST(PtraceSamplerTest, AProcessThatIsNotRunningIsRefused) {
  Child child([] {});
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid(), &status, 0), child.pid());
  child.set_reaped();
  EXPECT_THROW(PtraceSampler sampler(child.pid()), std::runtime_error);
  EXPECT_THROW(PtraceSampler sampler(::getpid(), 0), std::invalid_argument);
}

// In a child, so the filter stays there: what the sampler says when ptrace
// is refused (EPERM), as a container's seccomp profile may do.
TEST(PtraceSamplerTest, ARefusedPtraceIsExplained) {
  EXPECT_EQ(PtraceSampler::unavailable_reason(), std::nullopt) << "ptrace must work here";
  int said[2];
  ASSERT_EQ(::pipe(said), 0);
  Child child([&] {
    std::string text = "no filter";
    if (testing::refuse_ptrace()) text = PtraceSampler::unavailable_reason().value_or("allowed");
    (void)!::write(said[1], text.data(), text.size());
  });
  ::close(said[1]);
  std::string text;
  char buffer[512];
  for (ssize_t got; (got = ::read(said[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(said[0]);
  EXPECT_NE(text.find("ptrace is refused (Operation not permitted)"), std::string::npos) << text;
  EXPECT_NE(text.find("seccomp"), std::string::npos) << text;
}

TEST(PtraceRefusalTest, NamesTheCauseOfEachError) {
  EXPECT_NE(ptrace_refusal_reason(ENOSYS).find("seccomp"), std::string::npos);
  EXPECT_NE(ptrace_refusal_reason(EPERM).find("CAP_SYS_PTRACE"), std::string::npos);
  EXPECT_EQ(ptrace_refusal_reason(ESRCH), "ptrace is refused (No such process)");
}

// ---- folding -----------------------------------------------------------------

TEST(FoldSampledStacksTest, NamesAddressesRootFirstAndAddsUpEqualStacks) {
  const std::string maps = proc_text("/proc/self/maps");
  const auto leaf = reinterpret_cast<std::uint64_t>(&spin_here);
  const auto caller = reinterpret_cast<std::uint64_t>(&spin_caller);
  SampledStacks stacks;
  stacks[{leaf + 1, caller + 1}] = 3;
  stacks[{leaf + 2, caller + 1}] = 4;  // another address, the same names
  stacks[{0x10}] = 2;                  // in no mapping
  const CpuStacks folded = fold_sampled_stacks(stacks, maps);
  ASSERT_EQ(folded.size(), 2u) << dump(folded);
  const auto named = folded.begin()->first.find("spin_caller") != std::string::npos
                         ? folded.begin()
                         : std::next(folded.begin());
  EXPECT_EQ(named->second, 7u);
  EXPECT_LT(named->first.find("spin_caller"), named->first.find("spin_here")) << named->first;
  EXPECT_EQ(folded.at("[unknown]"), 2u);
}

TEST(FoldSampledStacksTest, KeepsTheInnermostFramesOfADeepStack) {
  const std::string maps = proc_text("/proc/self/maps");
  const auto leaf = reinterpret_cast<std::uint64_t>(&spin_here);
  std::vector<std::uint64_t> deep(kMaxCpuFrames + 10, 0x20);  // unknown callers
  deep[0] = leaf + 1;
  const CpuStacks folded = fold_sampled_stacks({{deep, 1}}, maps);
  ASSERT_EQ(folded.size(), 1u);
  const std::string& stack = folded.begin()->first;
  EXPECT_EQ(static_cast<std::size_t>(std::count(stack.begin(), stack.end(), ';')),
            kMaxCpuFrames - 1);
  EXPECT_NE(stack.rfind("spin_here"), std::string::npos) << stack;
}

// ---- choosing a sampler, and perf's side -------------------------------------

// PATH set to one directory for the test's length.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) : old_(std::getenv("PATH")) {
    ::setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() { ::setenv("PATH", old_.c_str(), 1); }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;

 private:
  std::string old_;
};

TEST(CpuSamplerChoiceTest, AutoFallsBackToTheBuiltinSamplerWithoutPerf) {
  testing::ScratchDir empty("cpu_sampler");
  ScopedPath path(empty.path().string());
  const CpuSamplerChoice choice = choose_cpu_sampler(CpuSamplerRequest::kAuto);
  EXPECT_EQ(choice.kind, CpuSamplerKind::kBuiltin);
  EXPECT_NE(choice.reason.find("perf is not installed"), std::string::npos) << choice.reason;
  try {
    choose_cpu_sampler(CpuSamplerRequest::kPerf);
    ADD_FAILURE() << "--cpu-sampler perf without perf was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("perf is not installed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(choose_cpu_sampler(CpuSamplerRequest::kBuiltin).kind, CpuSamplerKind::kBuiltin);
  EXPECT_EQ(parse_cpu_sampler("builtin"), CpuSamplerRequest::kBuiltin);
  EXPECT_THROW(parse_cpu_sampler("gdb"), std::invalid_argument);
}

TEST(PerfSamplerTest, PerfScriptPastItsDeadlineIsKilledWithAClearError) {
  testing::ScratchDir dir("cpu_sampler");
  const std::filesystem::path bin = dir.path() / "bin";
  std::filesystem::create_directories(bin);
  // A perf whose record waits for SIGINT, and whose script hangs.
  {
    std::ofstream perf(bin / "perf");
    perf << "#!/bin/sh\n"
            "case \"$1\" in\n"
            "  record) trap 'exit 0' INT; while :; do sleep 0.05; done ;;\n"
            "  script) exec sleep 60 ;;\n"
            "esac\n";
  }
  std::filesystem::permissions(bin / "perf", std::filesystem::perms::owner_all);
  const std::string path = bin.string() + ":" + std::getenv("PATH");
  ScopedPath scoped(path);
  Child child([] { ::pause(); });
  PerfSamplerOptions options;
  options.script_timeout = std::chrono::seconds(1);
  PerfSampler perf(child.pid(), dir.path(), options);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the trap be set
  perf.stop();
  try {
    perf.collect();
    ADD_FAILURE() << "a perf script that hangs was waited for";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("perf script did not finish within 1 s"),
              std::string::npos)
        << e.what();
  }
}

TEST(PerfSamplerTest, APerfDataThatReachedItsCapIsWarnedAbout) {
  testing::ScratchDir dir("cpu_sampler");
  const std::filesystem::path bin = dir.path() / "bin";
  std::filesystem::create_directories(bin);
  // What perf record prints when --max-size stops it, and then it exits 0.
  {
    std::ofstream perf(bin / "perf");
    perf << "#!/bin/sh\n"
            "echo '[ perf record: perf size limit reached (1112 KB), stopping session ]' >&2\n";
  }
  std::filesystem::permissions(bin / "perf", std::filesystem::perms::owner_all);
  ScopedPath scoped(bin.string() + ":" + std::getenv("PATH"));
  Child child([] { ::pause(); });
  PerfSamplerOptions options;
  options.max_data_bytes = std::uint64_t{1} << 20;
  PerfSampler perf(child.pid(), dir.path(), options);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  perf.stop();
  const std::vector<std::string> warnings = perf.warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("perf.data reached its 1 MiB cap"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace perflab::cli
