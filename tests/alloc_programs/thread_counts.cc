// A multi-threaded program with known allocation counts, linked against
// perflab::alloc: 4 threads, started before measuring, each allocate and free
// 250 blocks of 64 bytes while a process-wide scope is open.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "perflab/alloc.hpp"
#include "print_counts.hpp"

namespace {

constexpr int kThreads = 4;
constexpr int kBlocksPerThread = 250;

template <class T>
T opaque(T value) {
  asm volatile("" : "+r"(value) : : "memory");
  return value;
}

void wait_until(const std::atomic<int>& value, int target) {
  while (value.load() < target) std::this_thread::yield();
}

}  // namespace

int main() {
  std::atomic<int> go{0};
  std::atomic<int> done{0};
  std::vector<perflab::AllocCounts> per_thread(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      wait_until(go, 1);
      perflab::AllocScope scope;
      for (int i = 0; i < kBlocksPerThread; ++i) opaque (&free)(opaque(&malloc)(64));
      per_thread[static_cast<std::size_t>(t)] = scope.counts();
      done.fetch_add(1);
      wait_until(go, 2);  // frees std::thread's state only after the scope is read
    });
  }

  const perflab::AllocCounts before_threads_exit = perflab::process_alloc_counts();
  perflab::AllocScope process(perflab::AllocScope::Of::kProcess);
  go = 1;
  wait_until(done, kThreads);
  const perflab::AllocCounts measured = process.counts();
  go = 2;
  for (std::thread& thread : threads) thread.join();
  const perflab::AllocCounts after_join = perflab::process_alloc_counts();

  print_counts("process", measured);
  for (int t = 0; t < kThreads; ++t) {
    char name[32];
    std::snprintf(name, sizeof name, "thread%d", t);
    print_counts(name, per_thread[static_cast<std::size_t>(t)]);
  }
  // Exited threads stay in the process totals: nothing may go missing on join.
  print_counts("joined", after_join - before_threads_exit);
  return 0;
}
