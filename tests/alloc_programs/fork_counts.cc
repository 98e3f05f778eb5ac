// fork() in a process whose other threads allocate and exit, linked against
// perflab::alloc. Each child checks its counters and reports through its exit
// status; the parent waits for it with a deadline, so a child stuck in
// process_alloc_counts() (a thread was half-way through folding its slot at
// the fork) is killed and reported instead of hanging the test. Prints
//   quiet child=<status>
//   mid_fold child=<status>
//   busy forks=<n> hung=<n> failed=<n> first_failure=<status>
// which programs_test.cc checks.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

#include "perflab/alloc.hpp"

namespace {

constexpr int kOwnBlocks = 10;
constexpr int kBusyForks = 200;
constexpr int kChurners = 2;
constexpr auto kChildDeadline = std::chrono::seconds(5);

// What a fork reports: the child's exit status, or what the parent saw.
enum ChildStatus : int {
  kOk = 0,
  kCountsWentBack = 1,   // the child's process totals are below the parent's before fork
  kNotTheParents = 2,    // quiet fork: the child's totals differ from the parent's
  kOwnCallsInexact = 3,  // the child's own calls are not counted exactly
  kThreadInexact = 4,    // a thread started in the child does not count from zero
  kThreadFailed = 5,
  kForkFailed = 6,   // reported by the parent
  kSeamMissing = 7,  // no thread reached perflab_alloc_test_mid_fold()
  kHung = 100,       // reported by the parent: killed at the deadline
};

template <class T>
T opaque(T value) {
  asm volatile("" : "+r"(value) : : "memory");
  return value;
}

void allocate_and_free(int blocks) {
  for (int i = 0; i < blocks; ++i) opaque (&free)(opaque(&malloc)(48));
}

void* count_own_blocks(void* result) {
  allocate_and_free(kOwnBlocks);
  const perflab::AllocCounts own = perflab::thread_alloc_counts();
  *static_cast<bool*>(result) = own.allocs == kOwnBlocks && own.frees == kOwnBlocks;
  return nullptr;
}

// Runs in the child: only the thread that called fork() exists.
int check_child(const perflab::AllocCounts& parent_before, bool quiet) {
  const perflab::AllocCounts inherited = perflab::process_alloc_counts();  // must return
  if (quiet && !(inherited == parent_before)) return kNotTheParents;
  if (inherited.allocs < parent_before.allocs || inherited.frees < parent_before.frees) {
    return kCountsWentBack;
  }
  allocate_and_free(kOwnBlocks);
  const perflab::AllocCounts own = perflab::process_alloc_counts() - inherited;
  if (own.allocs != kOwnBlocks || own.frees != kOwnBlocks || own.live_bytes != 0) {
    return kOwnCallsInexact;
  }
  // A new thread may take a slot a parent's thread left behind: it must start at zero.
  bool thread_exact = false;
  pthread_t thread;
  if (pthread_create(&thread, nullptr, count_own_blocks, &thread_exact) != 0) return kThreadFailed;
  pthread_join(thread, nullptr);
  return thread_exact ? kOk : kThreadInexact;
}

// Forks, runs check_child in the child and returns its status, or kHung.
// `before`: the parent's process counts, read before the fork.
int fork_and_check(const perflab::AllocCounts& before, bool quiet) {
  const pid_t child = fork();
  if (child == 0) _exit(check_child(before, quiet));
  if (child < 0) return kForkFailed;
  const auto deadline = std::chrono::steady_clock::now() + kChildDeadline;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return kHung;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The seam in counters.cc: an exiting thread calls it half-way through
// folding its slot. Once armed, the next caller stays there until released,
// or for kMidFoldLimit at most: a fork() waits for the fold to finish.
constexpr auto kMidFoldLimit = std::chrono::milliseconds(200);
std::atomic<bool> mid_fold_armed{false};
std::atomic<bool> mid_fold_reached{false};
std::atomic<bool> mid_fold_released{false};

}  // namespace

extern "C" void perflab_alloc_test_mid_fold() noexcept {
  bool armed = true;
  if (!mid_fold_armed.compare_exchange_strong(armed, false)) return;
  mid_fold_reached.store(true);
  const auto limit = std::chrono::steady_clock::now() + kMidFoldLimit;
  while (!mid_fold_released.load() && std::chrono::steady_clock::now() < limit) {
    const timespec pause{0, 50'000};
    nanosleep(&pause, nullptr);
  }
}

namespace {

// Forks while another thread is held half-way through folding its slot. The
// parent reads its counts before: a read now would wait for the fold.
int fork_mid_fold() {
  const perflab::AllocCounts before = perflab::process_alloc_counts();
  mid_fold_released.store(false);
  mid_fold_reached.store(false);
  mid_fold_armed.store(true);
  std::thread exiting([] { allocate_and_free(1); });  // has a slot, so its exit folds it
  const auto deadline = std::chrono::steady_clock::now() + kChildDeadline;
  while (!mid_fold_reached.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  const int status = mid_fold_reached.load() ? fork_and_check(before, false) : kSeamMissing;
  mid_fold_released.store(true);
  exiting.join();
  return status;
}

}  // namespace

int main() {
  // Quiet: another thread is alive with counts of its own, nothing runs.
  std::atomic<int> stage{0};
  std::thread parked([&] {
    allocate_and_free(kOwnBlocks);
    void* kept = opaque(&malloc)(100);
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
    opaque (&free)(kept);
  });
  while (stage.load() != 1) std::this_thread::yield();
  std::printf("quiet child=%d\n", fork_and_check(perflab::process_alloc_counts(), true));
  std::fflush(stdout);
  stage = 2;
  parked.join();

  std::printf("mid_fold child=%d\n", fork_mid_fold());
  std::fflush(stdout);

  // Busy: threads keep starting, allocating and exiting while the main thread forks.
  std::atomic<bool> stop{false};
  std::vector<std::thread> churners;
  for (int i = 0; i < kChurners; ++i) {
    churners.emplace_back([&] {
      while (!stop.load()) std::thread([] { allocate_and_free(4); }).join();
    });
  }
  int forks = 0;
  int hung = 0;
  int failed = 0;
  int first_failure = 0;
  for (; forks < kBusyForks && hung == 0; ++forks) {
    const int status = fork_and_check(perflab::process_alloc_counts(), false);
    if (status == kHung) ++hung;
    if (status != kOk && status != kHung) ++failed;
    if (status != kOk && first_failure == 0) first_failure = status;
  }
  stop = true;
  for (std::thread& churner : churners) churner.join();
  std::printf("busy forks=%d hung=%d failed=%d first_failure=%d\n", forks, hung, failed,
              first_failure);
  return 0;
}
