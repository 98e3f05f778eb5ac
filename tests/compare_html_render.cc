// Writes a demo report.html (a comparison built in memory, with every plot
// filled and hostile names in it) to the file named by argv[1]: what
// compare_html_chromium_test.sh renders in a real headless browser.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "perflab/compare.hpp"

namespace {

using namespace perflab;

// Latencies around `median_ms` with a long tail, in nanoseconds as latency.hlog holds them.
Histogram latencies(double median_ms, double spread, std::uint64_t seed) {
  Histogram histogram(1, 3'600'000'000'000, 3);
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal(0.0, spread);
  for (int i = 0; i < 20000; ++i) {
    histogram.record_value(static_cast<std::int64_t>(median_ms * 1e6 * std::exp(normal(random))));
  }
  return histogram;
}

CompareInput side(const char* path, double rps, double heap_mb, double median_ms,
                  std::uint64_t seed) {
  CompareInput input;
  input.path = path;
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> noise(0.97, 1.03);
  MetricSamples throughput{"", "throughput_rps", {}};
  MetricSamples p99{"", "latency_p99_us", {}};
  for (int i = 0; i < 10; ++i) {
    throughput.values.push_back(rps * noise(random));
    p99.values.push_back(median_ms * 1000 * 8 * noise(random));
  }
  input.metrics = {throughput, p99};
  input.latency = latencies(median_ms, 0.6, seed);
  for (int i = 0; i <= 60; ++i) {
    const double t = i * 0.5;
    input.timeline.push_back(TimelineSample{
        t, static_cast<std::uint64_t>(heap_mb * 1e6 * (1 - std::exp(-t / 5)) + 1e5 * (i % 7)), 0, 0,
        rps});
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.html\n", argv[0]);
    return 2;
  }
  const CompareInput base = side("profiles/<script>alert(1)</script>", 10000, 48, 2.0, 1);
  const CompareInput candidate = side("profiles/a\"b'c&d", 12500, 30, 1.5, 2);
  Comparison c = compare_inputs(
      base, candidate, parse_criteria({"throughput_rps >= +10%", "latency_p99_us <= +0%"}), {});
  c.sites = {
      {"parse_request(std::string_view) (src/http.cc:42)", 9000, 2000, 900000, 200000},
      {"<script>alert(1)</script> (evil.cc:1)", 1500, 4200, 150000, 420000},
      {"std::vector<char>::_M_realloc_insert (a\"b'c&d)", 3000, 3000, 96000, 96000},
      {"json::parse (https://example.com/x.json)", 800, 100, 64000, 8000},
  };
  std::ofstream(argv[1]) << format_comparison_html(c, base, candidate);
  return 0;
}
