// perflab::AllocMemoryManager checked through real Google Benchmark runs:
// benchmarks with a known number of allocations per iteration, a reporter
// that captures what Google Benchmark reports, exact expectations.
#include "perflab/alloc_benchmark.hpp"

#include <benchmark/benchmark.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kIterations = 16;  // Google Benchmark's memory run does min(16, iterations)

// Every benchmark body adds its iterations here, so the memory manager below
// knows how many iterations (summed over threads) ran between Start and Stop.
std::atomic<std::int64_t> body_iterations{0};

// Memory allocated on a thread other than the benchmark's: a helper thread
// allocates and frees one block each time the benchmark asks.
class HelperThread {
 public:
  HelperThread()
      : thread_([this] {
          for (int done = 0;; ++done) {
            while (requests_.load() == done) std::this_thread::yield();
            if (requests_.load() < 0) return;
            void* block = std::malloc(200);
            benchmark::DoNotOptimize(block);
            std::free(block);
            completed_.store(done + 1);
          }
        }) {}
  ~HelperThread() {
    requests_.store(-1);
    thread_.join();
  }
  void allocate_once() {
    const int target = requests_.load() + 1;
    requests_.store(target);
    while (completed_.load() != target) std::this_thread::yield();
  }

 private:
  std::atomic<int> requests_{0};
  std::atomic<int> completed_{0};
  std::thread thread_;
};

HelperThread* helper = nullptr;

void BM_NoAllocation(benchmark::State& state) {
  int value = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(++value);
    body_iterations.fetch_add(1);
  }
}
BENCHMARK(BM_NoAllocation)->Iterations(kIterations);

void BM_OneAllocation(benchmark::State& state) {
  for (auto _ : state) {
    int* value = new int(1);
    benchmark::DoNotOptimize(value);
    delete value;
    body_iterations.fetch_add(1);
  }
}
BENCHMARK(BM_OneAllocation)->Iterations(kIterations);

void BM_ThreeAllocations(benchmark::State& state) {
  for (auto _ : state) {
    std::string text(64, 'x');               // 1: longer than the small-string buffer
    std::vector<std::int64_t> numbers(100);  // 2
    void* block = std::malloc(1000);         // 3
    benchmark::DoNotOptimize(text.data());
    benchmark::DoNotOptimize(numbers.data());
    benchmark::DoNotOptimize(block);
    std::free(block);
    body_iterations.fetch_add(1);
  }
}
BENCHMARK(BM_ThreeAllocations)->Iterations(kIterations);

void BM_OneAllocationPerThread(benchmark::State& state) {
  for (auto _ : state) {
    int* value = new int(1);
    benchmark::DoNotOptimize(value);
    delete value;
    body_iterations.fetch_add(1);
  }
}
BENCHMARK(BM_OneAllocationPerThread)->Iterations(kIterations)->Threads(2);

void BM_OneAllocationOnAHelperThread(benchmark::State& state) {
  for (auto _ : state) {
    helper->allocate_once();
    body_iterations.fetch_add(1);
  }
}
BENCHMARK(BM_OneAllocationOnAHelperThread)->Iterations(kIterations);

// Remembers how many body iterations the last memory run executed.
class ObservedMemoryManager : public perflab::AllocMemoryManager {
 public:
  void Start() override {
    iterations_at_start_ = body_iterations.load();
    AllocMemoryManager::Start();
  }
  void Stop(Result& result) override {
    AllocMemoryManager::Stop(result);
    last_iterations_ = body_iterations.load() - iterations_at_start_;
  }
  void Stop(Result* result) override { Stop(*result); }
  std::int64_t last_iterations() const { return last_iterations_; }

 private:
  std::int64_t iterations_at_start_ = 0;
  std::int64_t last_iterations_ = 0;
};

struct Captured {
  bool has_memory = false;
  double allocs_per_iter = 0;
  std::int64_t num_allocs = 0;
  std::int64_t max_bytes_used = 0;
  std::int64_t total_allocated_bytes = 0;
  std::int64_t net_heap_growth = 0;
  std::int64_t memory_run_iterations = 0;  // body iterations, summed over threads
};

class CapturingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CapturingReporter(const ObservedMemoryManager* manager) : manager_(manager) {}
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      Captured& c = captured_[run.run_name.function_name];
      c.has_memory = run.memory_result != nullptr;
      c.allocs_per_iter = run.allocs_per_iter;
      if (run.memory_result != nullptr) {
        c.num_allocs = run.memory_result->num_allocs;
        c.max_bytes_used = run.memory_result->max_bytes_used;
        c.total_allocated_bytes = run.memory_result->total_allocated_bytes;
        c.net_heap_growth = run.memory_result->net_heap_growth;
      }
      if (manager_ != nullptr) c.memory_run_iterations = manager_->last_iterations();
    }
  }
  const std::map<std::string, Captured>& captured() const { return captured_; }

 private:
  const ObservedMemoryManager* manager_;
  std::map<std::string, Captured> captured_;
};

std::map<std::string, Captured> run_benchmarks(benchmark::MemoryManager* manager,
                                               const ObservedMemoryManager* observer,
                                               const std::string& filter) {
  static bool initialized = [] {
    static char name[] = "alloc_benchmark_test";
    static char* argv[] = {name, nullptr};
    int argc = 1;
    benchmark::Initialize(&argc, argv);
    return true;
  }();
  (void)initialized;
  if (manager != nullptr) benchmark::RegisterMemoryManager(manager);
  CapturingReporter reporter(observer);
  HelperThread helper_thread;
  helper = &helper_thread;
  benchmark::RunSpecifiedBenchmarks(&reporter, filter);
  helper = nullptr;
  benchmark::RegisterMemoryManager(nullptr);
  return reporter.captured();
}

// All benchmarks, run once per test process with the observing manager.
const std::map<std::string, Captured>& results() {
  static ObservedMemoryManager manager;
  static const std::map<std::string, Captured> captured =
      run_benchmarks(&manager, &manager, "BM_.*");
  return captured;
}

const Captured& result(const std::string& name) {
  const auto it = results().find(name);
  EXPECT_NE(it, results().end()) << name << " did not run";
  static const Captured missing;
  return it == results().end() ? missing : it->second;
}

// Whatever Google Benchmark allocates itself between Start and Stop.
std::int64_t runner_allocs() { return result("BM_NoAllocation").num_allocs; }

// Checks one benchmark: `per_iteration` allocations per body iteration,
// on top of the runner's own.
void expect_allocations(const std::string& name, std::int64_t per_iteration) {
  SCOPED_TRACE(name);
  const Captured& c = result(name);
  ASSERT_TRUE(c.has_memory);
  EXPECT_GT(c.memory_run_iterations, 0);
  EXPECT_EQ(c.num_allocs, runner_allocs() + per_iteration * c.memory_run_iterations);
  EXPECT_DOUBLE_EQ(c.allocs_per_iter, static_cast<double>(c.num_allocs) / kIterations);
  EXPECT_EQ(c.net_heap_growth, 0);  // everything allocated was freed
}

TEST(AllocBenchmarkTest, ReportsNoAllocationsBeyondTheRunnersOwn) {
  const Captured& c = result("BM_NoAllocation");
  ASSERT_TRUE(c.has_memory);
  EXPECT_EQ(c.memory_run_iterations, kIterations);
  // Google Benchmark 1.7.1 allocates its ThreadManager after Start: one block.
  EXPECT_GE(c.num_allocs, 0);
  EXPECT_LE(c.num_allocs, 1);
  EXPECT_EQ(c.net_heap_growth, 0);
}

TEST(AllocBenchmarkTest, ReportsOneAllocationPerIteration) {
  expect_allocations("BM_OneAllocation", 1);
  const Captured& one = result("BM_OneAllocation");
  const Captured& none = result("BM_NoAllocation");
  EXPECT_EQ(one.total_allocated_bytes - none.total_allocated_bytes,
            static_cast<std::int64_t>(sizeof(int)) * kIterations);
  EXPECT_DOUBLE_EQ(one.allocs_per_iter - none.allocs_per_iter, 1.0);
}

TEST(AllocBenchmarkTest, ReportsThreeAllocationsPerIteration) {
  expect_allocations("BM_ThreeAllocations", 3);
  const Captured& three = result("BM_ThreeAllocations");
  const Captured& none = result("BM_NoAllocation");
  EXPECT_DOUBLE_EQ(three.allocs_per_iter - none.allocs_per_iter, 3.0);
  EXPECT_EQ(three.total_allocated_bytes - none.total_allocated_bytes,
            (65 + 100 * 8 + 1000) * kIterations);
}

TEST(AllocBenchmarkTest, CountsEveryThreadOfAThreadedBenchmark) {
  expect_allocations("BM_OneAllocationPerThread", 1);
}

TEST(AllocBenchmarkTest, CountsAllocationsMadeOnOtherThreads) {
  expect_allocations("BM_OneAllocationOnAHelperThread", 1);
  EXPECT_DOUBLE_EQ(result("BM_OneAllocationOnAHelperThread").allocs_per_iter -
                       result("BM_NoAllocation").allocs_per_iter,
                   1.0);
}

TEST(AllocBenchmarkTest, MaxBytesUsedIsThePeakAboveTheStart) {
  // All three blocks of an iteration are alive together, one iteration at a time.
  void* text = std::malloc(65);
  void* numbers = std::malloc(800);
  void* block = std::malloc(1000);
  const auto together = static_cast<std::int64_t>(
      malloc_usable_size(text) + malloc_usable_size(numbers) + malloc_usable_size(block));
  std::free(text);
  std::free(numbers);
  std::free(block);
  const std::int64_t peak =
      result("BM_ThreeAllocations").max_bytes_used - result("BM_NoAllocation").max_bytes_used;
  // glibc may hand out a chunk up to 31 bytes larger than usual for a request
  // (a leftover too small to split off stays with the block).
  EXPECT_GE(peak, together);
  EXPECT_LT(peak, together + 3 * 32);
}

TEST(AllocBenchmarkTest, RegisterAllocMemoryManagerReportsAllocations) {
  ASSERT_TRUE(perflab::alloc_counting_active());
  perflab::register_alloc_memory_manager();
  const auto captured = run_benchmarks(nullptr, nullptr, "^BM_(No|One)Allocation/");
  ASSERT_EQ(captured.count("BM_OneAllocation"), 1u);
  ASSERT_EQ(captured.count("BM_NoAllocation"), 1u);
  const Captured& one = captured.at("BM_OneAllocation");
  const Captured& none = captured.at("BM_NoAllocation");
  EXPECT_TRUE(one.has_memory);
  EXPECT_DOUBLE_EQ(one.allocs_per_iter - none.allocs_per_iter, 1.0);
}

}  // namespace
