// The documented pattern — one Histogram per thread, merged after join —
// gives exactly the single-threaded result. Run under ThreadSanitizer.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "perflab/histogram.hpp"

namespace perflab {
namespace {

std::vector<std::int64_t> latencies(std::size_t n) {
  std::mt19937_64 rng(2024);
  std::lognormal_distribution<double> dist(9.0, 1.3);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(dist(rng));
  return values;
}

TEST(HistogramConcurrencyTest, PerThreadHistogramsMergedEqualSingleThreadedRecording) {
  constexpr int kThreads = 8;
  const std::vector<std::int64_t> values = latencies(80'000);

  Histogram single(1, 3'600'000'000, 3);
  for (std::size_t i = 0; i < values.size(); ++i) {
    single.record_corrected_value(values[i], i % 7 == 0 ? 20'000 : 0);
  }

  std::vector<Histogram> per_thread(kThreads, Histogram(1, 3'600'000'000, 3));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Histogram& mine = per_thread[static_cast<std::size_t>(t)];
      for (std::size_t i = static_cast<std::size_t>(t); i < values.size(); i += kThreads) {
        mine.record_corrected_value(values[i], i % 7 == 0 ? 20'000 : 0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  Histogram merged(1, 3'600'000'000, 3);
  for (const Histogram& h : per_thread) merged.add(h);
  EXPECT_EQ(merged, single);
  EXPECT_GT(merged.total_count(), static_cast<std::int64_t>(values.size()));  // back-fill happened
  EXPECT_EQ(merged.value_at_percentile(99.9), single.value_at_percentile(99.9));
}

TEST(HistogramConcurrencyTest, ConstQueriesMayRunConcurrently) {
  Histogram h(1, 3'600'000'000, 3);
  for (std::int64_t v : latencies(10'000)) h.record_value(v);
  const std::int64_t expected = h.value_at_percentile(99);
  std::vector<std::thread> threads;
  std::vector<std::int64_t> seen(4);
  for (std::size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] { seen[t] = h.value_at_percentile(99) + h.max() - h.max(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::int64_t v : seen) EXPECT_EQ(v, expected);
}

}  // namespace
}  // namespace perflab
