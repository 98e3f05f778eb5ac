// The request path allocates nothing: a run of ten times as many requests
// makes no more heap allocations than a short one (perflab::alloc counts every
// malloc and operator new in this process, the load threads' included).
#include <gtest/gtest.h>

#include "load_test_server.hpp"
#include "perflab/alloc.hpp"
#include "perflab/load.hpp"

namespace perflab {
namespace {

using perflab::testing::LoadTestServer;

std::uint64_t allocations_of_a_run(const LoadTestServer& server, std::uint64_t requests, bool mix) {
  LoadSpec spec;
  spec.url = parse_http_url(server.url("/"));
  RequestSpec templated;
  templated.name = "write";
  templated.method = "POST";
  templated.target = "/rpc/{conn}";
  templated.body = R"(["stream.write", "account-{rand:1000}", {"id": "{uuid}", "seq": {seq}}])";
  spec.requests.push_back(templated);
  if (mix) {
    RequestSpec plain;
    plain.name = "read";
    plain.weight = 3;
    spec.requests.push_back(plain);
  }
  spec.mode = LoadMode::kOpen;
  spec.threads = 2;
  spec.connections = 4;
  const double busy_s = static_cast<double>(requests) / 2000.0;
  spec.schedule = RateSchedule({{busy_s, 2000, 2000}, {0.5, 0, 0}});
  const AllocCounts before = process_alloc_counts();
  const LoadResult result = run_load(spec, LoadRunOptions{nullptr, 0.1, nullptr});
  const AllocCounts after = process_alloc_counts();
  EXPECT_EQ(result.completed, requests) << format_load_report(result);
  return (after - before).allocs;
}

TEST(LoadAllocTest, TheRequestPathAllocatesNothing) {
  ASSERT_TRUE(alloc_counting_active());
  LoadTestServer server({});
  for (const bool mix : {false, true}) {
    const std::uint64_t short_run = allocations_of_a_run(server, 100, mix);
    const std::uint64_t long_run = allocations_of_a_run(server, 1000, mix);
    // 900 more requests, 30 more intervals: no more allocations (a few of
    // slack for the thread start-up that the C++ runtime does lazily).
    EXPECT_LE(long_run, short_run + 8) << "mix " << mix << ": " << short_run << " vs " << long_run;
    EXPECT_LT(long_run, 900u);
  }
}

}  // namespace
}  // namespace perflab
