// pool_demo: the same request handler run plain and pooled, side by side, with
// allocations counted by perflab's allocation counter and latencies in
// perflab's histogram; then the pools' own stats as a service would expose them.
//
//   pool_demo [REQUESTS_PER_THREAD] [THREADS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "perflab/alloc.hpp"
#include "perflab/histogram.hpp"
#include "perflab/pool.hpp"
#include "request.hpp"

namespace {

struct RunResult {
  perflab::AllocCounts allocs;
  double seconds = 0;
  std::uint64_t checksum = 0;
  perflab::Histogram latency_ns{1, 10'000'000'000, 3};
};

std::vector<std::string> make_bodies() {
  std::vector<std::string> bodies;
  for (int i = 0; i < 1000; ++i) {
    bodies.push_back("stream=account-" + std::to_string(i % 97) +
                     "-of-the-demo-tenant;type=Deposited;" + "amount=" + std::to_string(1000 + i) +
                     ";currency=EUR;" + "note=a note long enough to need the heap #" +
                     std::to_string(i) + ";" + "correlation=c0ffee-" + std::to_string(i * 7919) +
                     "-deadbeef-cafe");
  }
  return bodies;
}

// Runs `handle(body, position)` over the bodies on `threads` threads and
// returns a checksum of the responses (identical for both handlers).
RunResult run(int threads, long per_thread, const std::vector<std::string>& bodies,
              const std::function<std::size_t(const std::string&, long)>& handle) {
  RunResult result;
  std::vector<std::uint64_t> sums(static_cast<std::size_t>(threads));
  std::vector<perflab::Histogram> latencies(static_cast<std::size_t>(threads),
                                            perflab::Histogram(1, 10'000'000'000, 3));
  perflab::AllocScope scope(perflab::AllocScope::Of::kProcess);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t sum = 0;
      auto& histogram = latencies[static_cast<std::size_t>(t)];
      for (long i = 0; i < per_thread; ++i) {
        const auto begin = std::chrono::steady_clock::now();
        sum += handle(bodies[static_cast<std::size_t>(i) % bodies.size()], i);
        histogram.record_value(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - begin)
                                   .count());
      }
      sums[static_cast<std::size_t>(t)] = sum;
    });
  }
  for (auto& w : workers) w.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.allocs = scope.counts();
  for (std::size_t t = 0; t < sums.size(); ++t) {
    result.checksum += sums[t];
    result.latency_ns.add(latencies[t]);
  }
  return result;
}

std::uint64_t digest(std::string_view response) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: a content check, not security
  for (unsigned char c : response) h = (h ^ c) * 1099511628211ull;
  return h;
}

void print_row(const char* what, double plain, double pooled, const char* format) {
  const double change = plain != 0 ? (pooled - plain) / plain * 100 : 0;
  std::printf("  %-22s ", what);
  std::printf(format, plain);
  std::printf("  ");
  std::printf(format, pooled);
  std::printf("   %+7.1f%%\n", change);
}

}  // namespace

int main(int argc, char** argv) {
  const long per_thread = argc > 1 ? std::atol(argv[1]) : 200000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  if (per_thread <= 0 || threads <= 0 || threads > 256) {
    std::fprintf(stderr,
                 "pool_demo: error: usage: pool_demo [REQUESTS_PER_THREAD > 0] [THREADS 1..256]\n");
    return 2;
  }
  if (!perflab::alloc_counting_active()) {
    std::fprintf(stderr,
                 "pool_demo: error: perflab's allocation counter is not active "
                 "(is another malloc replacement or a sanitizer loaded?)\n");
    return 2;
  }
  const std::vector<std::string> bodies = make_bodies();

  const RunResult plain =
      run(threads, per_thread, bodies, [](const std::string& body, long position) {
        return static_cast<std::size_t>(digest(demo::handle_plain(body, position)));
      });

  perflab::PoolOptions request_options;
  request_options.name = "demo.requests";
  request_options.track_sites = false;
  perflab::ObjectPool<demo::Request, perflab::ClearReset> requests(request_options);
  perflab::BufferPoolOptions buffer_options;
  buffer_options.name = "demo.responses";
  buffer_options.track_sites = false;
  buffer_options.max_class_bytes = 1024;
  perflab::BufferPool responses(buffer_options);
  const RunResult pooled =
      run(threads, per_thread, bodies, [&](const std::string& body, long position) {
        perflab::Buffer out = responses.get(256);
        demo::handle_pooled(body, position, requests, out);
        return static_cast<std::size_t>(digest(out.view()));
      });

  const double n = static_cast<double>(per_thread) * threads;
  std::printf(
      "perflab pool demo: %.0f requests on %d thread%s, plain handler vs pooled handler\n\n", n,
      threads, threads == 1 ? "" : "s");
  std::printf("  %-22s %12s  %12s   %8s\n", "", "plain", "pooled", "change");
  print_row("allocations/request", static_cast<double>(plain.allocs.allocs) / n,
            static_cast<double>(pooled.allocs.allocs) / n, "%12.3f");
  print_row("bytes/request", static_cast<double>(plain.allocs.bytes_allocated) / n,
            static_cast<double>(pooled.allocs.bytes_allocated) / n, "%12.1f");
  print_row("requests/s", n / plain.seconds, n / pooled.seconds, "%12.0f");
  print_row("latency p50 (ns)", static_cast<double>(plain.latency_ns.value_at_percentile(50)),
            static_cast<double>(pooled.latency_ns.value_at_percentile(50)), "%12.0f");
  print_row("latency p99 (ns)", static_cast<double>(plain.latency_ns.value_at_percentile(99)),
            static_cast<double>(pooled.latency_ns.value_at_percentile(99)), "%12.0f");
  std::printf(
      "\n  (allocation counts are exact and repeatable; timings vary with the machine's load)\n");

  const perflab::PoolStats rs = requests.stats();
  std::printf(
      "\nrequest pool: gets=%llu hits=%llu misses=%llu drops=%llu hit rate=%.4f idle=%llu B\n",
      static_cast<unsigned long long>(rs.gets), static_cast<unsigned long long>(rs.hits),
      static_cast<unsigned long long>(rs.misses), static_cast<unsigned long long>(rs.drops),
      rs.hit_rate(), static_cast<unsigned long long>(rs.idle_bytes));
  requests.trim();
  responses.trim();
  std::printf("\nPool metrics after trim(), as a service would serve them on GET /metrics:\n\n%s",
              perflab::PoolRegistry::global().openmetrics().c_str());

  if (plain.checksum != pooled.checksum) {
    std::fprintf(stderr, "pool_demo: error: pooled responses differ from plain ones\n");
    return 1;
  }
  std::printf("\nresponses identical in both modes (checksum %016llx)\n",
              static_cast<unsigned long long>(plain.checksum));
  return 0;
}
