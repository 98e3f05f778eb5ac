// Uses the installed perflab: a pool, its stats, a histogram percentile.
#include <cstdio>
#include <perflab/perflab.hpp>
#include <string>

int main() {
  perflab::PoolOptions options;
  options.name = "consumer";
  perflab::ObjectPool<std::string, perflab::ClearReset> pool(options);
  for (int i = 0; i < 10; ++i) pool.get()->assign("hello");
  const perflab::PoolStats stats = pool.stats();

  perflab::Histogram latency(1, 3'600'000'000, 3);
  for (int v = 1; v <= 1000; ++v) latency.record_value(v);

  std::printf("perflab %s: pool gets=%llu hits=%llu, p50=%lld\n", perflab::kVersion,
              static_cast<unsigned long long>(stats.gets),
              static_cast<unsigned long long>(stats.hits),
              static_cast<long long>(latency.value_at_percentile(50)));
  const bool ok = stats.gets == 10 && stats.hits == 9 && latency.value_at_percentile(50) == 500;
  std::printf(ok ? "consumer ok\n" : "consumer FAILED\n");
  return ok ? 0 : 1;
}
