// An allocation-heavy program for perflab track's overhead benchmark: small
// new/delete of mixed sizes, std::map churn and strings, on 1 or more threads.
//   track_workload THREADS ITERATIONS
// Prints a checksum so the work cannot be optimized away. Built with frame
// pointers, as a service being profiled would be.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

unsigned long work(int seed, long iterations) {
  unsigned long checksum = 0;
  std::map<long, std::string> index;
  std::vector<char*> held;
  for (long i = 0; i < iterations; ++i) {
    // Mixed-size raw allocations, some held for a while.
    const std::size_t size = 16u << ((i + seed) % 6);
    char* block = new char[size];
    block[0] = static_cast<char>(i);
    held.push_back(block);
    if (held.size() > 64) {
      for (char* b : held) {
        checksum += static_cast<unsigned char>(b[0]);
        delete[] b;
      }
      held.clear();
    }
    // Strings long enough to live on the heap, kept in a map that churns.
    std::string key =
        "request-key-" + std::to_string(i % 1024) + "-of-tenant-" + std::to_string(seed);
    index[i % 4096] = std::move(key);
    if (i % 3 == 0) index.erase((i * 7) % 4096);
    checksum += index.size();
  }
  for (char* b : held) delete[] b;
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const long iterations = argc > 2 ? std::atol(argv[2]) : 1'000'000;
  if (threads < 1 || iterations < 1) {
    std::fprintf(stderr, "usage: track_workload THREADS ITERATIONS\n");
    return 2;
  }
  std::vector<unsigned long> sums(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back(
        [&sums, t, iterations] { sums[static_cast<std::size_t>(t)] = work(t, iterations); });
  for (auto& w : workers) w.join();
  unsigned long total = 0;
  for (unsigned long s : sums) total += s;
  std::printf("%lu\n", total);
  return 0;
}
