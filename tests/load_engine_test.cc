// perflab::run_load against a real HTTP server of the tests' own
// (load_programs/test_http_server.cc) on 127.0.0.1: counts of requests,
// responses and errors by kind, never timings of the test machine.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "load/run_load_internal.hpp"
#include "load_test_server.hpp"
#include "perflab/load.hpp"
#include "scratch_dir.hpp"

namespace perflab {
namespace {

using perflab::testing::LoadTestServer;
using perflab::testing::ScratchDir;
using perflab::testing::unused_local_port;

std::int64_t count_at_or_above(const Histogram& histogram, std::int64_t threshold) {
  std::int64_t count = 0;
  for (const HistogramBucket& bucket : histogram.recorded_buckets()) {
    if (bucket.lowest_value >= threshold) count += bucket.count;
  }
  return count;
}

std::uint64_t errors_of(const LoadResult& result, LoadErrorKind kind) {
  return result.errors[static_cast<std::size_t>(kind)];
}

LoadSpec closed_spec(const LoadTestServer& server, int threads, int connections, double seconds) {
  LoadSpec spec;
  spec.url = parse_http_url(server.url("/"));
  spec.requests.emplace_back();
  spec.mode = LoadMode::kClosed;
  spec.threads = threads;
  spec.connections = connections;
  spec.duration_s = seconds;
  return spec;
}

// `count` requests at `rate` per second: small enough for any test machine.
// A pause follows them, so a slow (sanitized, shared) machine still sends the
// last ones before the run ends: the counts below are then exact.
LoadSpec open_spec(const LoadTestServer& server, int connections, double rate,
                   std::uint64_t count) {
  LoadSpec spec = closed_spec(server, 1, connections, 1);
  spec.mode = LoadMode::kOpen;
  const double busy_s = static_cast<double>(count) / rate;
  spec.schedule = RateSchedule({{busy_s, rate, rate}, {1.0, 0, 0}});
  spec.duration_s = spec.schedule->duration_s();
  return spec;
}

TEST(LoadEngineTest, ClosedLoopGetsAnAnswerToEveryRequestItSends) {
  LoadTestServer server({});
  const LoadResult result = run_load(closed_spec(server, 2, 4, 0.3));
  server.stop();
  EXPECT_GT(result.completed, 0u);
  EXPECT_EQ(result.error_count(), 0u);
  EXPECT_EQ(result.sent, result.completed);  // drained: nothing left in flight
  EXPECT_EQ(result.connects, 4u);
  EXPECT_EQ(result.service.total_count(), static_cast<std::int64_t>(result.completed));
  EXPECT_EQ(result.latency, result.service);  // closed loop: no schedule to be behind
  EXPECT_NE(server.stats().find("requests=" + std::to_string(result.completed) + " "),
            std::string::npos)
      << server.stats();
  ASSERT_EQ(result.requests.size(), 1u);
  EXPECT_EQ(result.requests[0].completed, result.completed);
}

TEST(LoadEngineTest, OpenLoopSendsExactlyTheScheduledRequests) {
  LoadTestServer server({});
  const LoadResult result = run_load(open_spec(server, 4, 500, 200));
  server.stop();
  EXPECT_EQ(result.sent, 200u);
  EXPECT_EQ(result.completed, 200u);
  EXPECT_EQ(result.unsent, 0u);
  EXPECT_EQ(result.latency.total_count(), 200);
  EXPECT_EQ(result.service.total_count(), 200);
  EXPECT_DOUBLE_EQ(result.target_rate, 200 / 1.4);    // the schedule's mean, pause included
  EXPECT_DOUBLE_EQ(result.achieved_rate, 200 / 1.4);  // completed / planned duration
  EXPECT_NE(server.stats().find("requests=200 "), std::string::npos) << server.stats();
}

// wrk2's point: a server that stalls once holds up every request due during
// the stall. From due time those requests are late by up to the stall; from
// send, only the few already in flight are.
TEST(LoadEngineTest, CorrectedLatencyShowsAStallThatServiceTimeHides) {
  LoadTestServer server({"--stall-after", "300", "--stall-ms", "500"});
  const LoadResult result = run_load(open_spec(server, 4, 1000, 1500));
  server.stop();
  ASSERT_EQ(result.completed, 1500u);
  constexpr std::int64_t k100ms = 100'000'000;
  // About 400 requests were due in the last 400 ms of the stall.
  EXPECT_GE(count_at_or_above(result.latency, k100ms), 300);
  EXPECT_GE(result.latency.value_at_percentile(99), k100ms);
  // Only requests already sent when the server froze waited that long after
  // send (4 connections; slack for a test machine that pauses the client too).
  EXPECT_LE(count_at_or_above(result.service, k100ms), 12);
  EXPECT_LT(result.service.value_at_percentile(99), k100ms);
  EXPECT_GT(result.late, 300u);
  EXPECT_GE(result.max_lag_ns, k100ms);
}

TEST(LoadEngineTest, MixAndTemplatesReachTheServerExactly) {
  LoadTestServer server({});
  LoadSpec spec = open_spec(server, 3, 1000, 400);
  spec.requests.clear();
  RequestSpec write;
  write.name = "write";
  write.weight = 3;
  write.method = "POST";
  write.target = "/rpc";
  write.body = R"(["stream.write", "seq-{seq}"])";
  RequestSpec read;
  read.name = "read";
  read.target = "/read/{seq}";
  spec.requests = {write, read};
  const LoadResult result = run_load(spec);
  server.stop();
  ASSERT_EQ(result.requests.size(), 2u);
  EXPECT_EQ(result.requests[0].completed, 300u);
  EXPECT_EQ(result.requests[1].completed, 100u);
  EXPECT_EQ(result.requests[0].latency.total_count() + result.requests[1].latency.total_count(),
            result.latency.total_count());

  std::istringstream log(server.request_log());
  std::set<std::string> seqs;
  std::string line;
  int writes = 0;
  int reads = 0;
  while (std::getline(log, line)) {
    if (line.rfind("POST /rpc ", 0) == 0) {
      ++writes;
      const std::size_t at = line.find("seq-");
      ASSERT_NE(at, std::string::npos) << line;
      seqs.insert(line.substr(at + 4, line.find('"', at) - at - 4));
    } else if (line.rfind("GET /read/", 0) == 0) {
      ++reads;
      seqs.insert(line.substr(10, line.find(' ', 10) - 10));
    }
  }
  EXPECT_EQ(writes, 300);
  EXPECT_EQ(reads, 100);
  EXPECT_EQ(seqs.size(), 400u);  // {seq} is unique over the run
  EXPECT_EQ(*seqs.begin(), "0");
}

struct FaultCase {
  const char* flag;
  const char* value;
  LoadErrorKind kind;
};

class LoadFaultTest : public ::testing::TestWithParam<FaultCase> {};

// Every 5th request fails the same way; 200 requests give exactly 40 errors
// of the one kind, and the other 160 responses still count.
TEST_P(LoadFaultTest, CountsEveryFailedRequestUnderItsKind) {
  LoadTestServer server({GetParam().flag, GetParam().value});
  const LoadResult result = run_load(open_spec(server, 4, 1000, 200));
  server.stop();
  EXPECT_EQ(errors_of(result, GetParam().kind), 40u)
      << load_error_kind_name(GetParam().kind) << "\n"
      << format_load_report(result);
  EXPECT_EQ(result.error_count(), 40u) << format_load_report(result);
  EXPECT_EQ(result.completed, 160u);
  EXPECT_EQ(result.latency.total_count(), 160);  // failed requests have no latency
}

INSTANTIATE_TEST_SUITE_P(Faults, LoadFaultTest,
                         ::testing::Values(FaultCase{"--close-every", "5", LoadErrorKind::kRead},
                                           FaultCase{"--reset-every", "5", LoadErrorKind::kRead},
                                           FaultCase{"--truncate-every", "5", LoadErrorKind::kRead},
                                           FaultCase{"--garbage-every", "5", LoadErrorKind::kParse},
                                           FaultCase{"--status-every", "5:503",
                                                     LoadErrorKind::kStatus}),
                         [](const ::testing::TestParamInfo<FaultCase>& param_info) {
                           std::string name = param_info.param.flag + 2;
                           name.erase(name.find('-'), 1);
                           return name;
                         });

TEST(LoadEngineTest, ARequestTheServerNeverAnswersTimesOut) {
  LoadTestServer server({"--silent-every", "50"});
  LoadSpec spec = open_spec(server, 8, 1000, 200);
  spec.timeout_s = 0.8;  // the schedule's pause gives the 4 silent requests time to time out
  const LoadResult result = run_load(spec);
  server.stop();
  EXPECT_EQ(errors_of(result, LoadErrorKind::kTimeout), 4u) << format_load_report(result);
  EXPECT_EQ(result.completed, 196u);
}

TEST(LoadEngineTest, AServerWithoutKeepAliveIsNotAnError) {
  LoadTestServer server({"--connection-close"});
  const LoadResult result = run_load(open_spec(server, 2, 1000, 100));
  server.stop();
  EXPECT_EQ(result.completed, 100u);
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);
  EXPECT_GE(result.connects, 100u);  // one connection per request
}

TEST(LoadEngineTest, ChunkedAndLargeBodiesAreReadWhole) {
  LoadTestServer chunked({"--chunked"});
  LoadResult result = run_load(open_spec(chunked, 2, 1000, 50));
  EXPECT_EQ(result.completed, 50u);
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);

  LoadTestServer large({"--body-size", "300000"});  // several reads per response
  result = run_load(open_spec(large, 2, 1000, 50));
  EXPECT_EQ(result.completed, 50u);
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);
  EXPECT_GT(result.bytes_read, 50u * 300000u);
}

TEST(LoadEngineTest, HeadResponsesHaveNoBody) {
  LoadTestServer server({"--body-size", "1000"});
  LoadSpec spec = open_spec(server, 2, 1000, 50);
  spec.requests[0].method = "HEAD";
  const LoadResult result = run_load(spec);
  EXPECT_EQ(result.completed, 50u);
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);
}

TEST(LoadEngineTest, BodyCheckFailsResponsesWithoutTheText) {
  LoadTestServer server({});
  LoadSpec spec = open_spec(server, 2, 1000, 50);
  spec.expect.body_contains = "ok";
  LoadResult result = run_load(spec);
  EXPECT_EQ(result.completed, 50u);
  spec.expect.body_contains = "not in the body";
  result = run_load(spec);
  EXPECT_EQ(result.completed, 0u);
  EXPECT_EQ(errors_of(result, LoadErrorKind::kStatus), 50u);
}

TEST(LoadEngineTest, NoServerAtTheUrlIsAClearErrorBeforeTheRun) {
  const std::optional<std::uint16_t> port = unused_local_port();
  ASSERT_TRUE(port.has_value());
  LoadSpec spec;
  spec.url = parse_http_url("http://127.0.0.1:" + std::to_string(*port) + "/");
  spec.requests.emplace_back();
  spec.duration_s = 0.2;
  try {
    run_load(spec);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to 127.0.0.1:"), std::string::npos)
        << e.what();
  }
}

TEST(LoadEngineTest, AServerThatGoesAwayMidRunIsCountedAndTheRunEndsOnTime) {
  LoadTestServer server({});
  LoadSpec spec = closed_spec(server, 1, 2, 0.8);
  spec.connect_timeout_s = 0.2;
  std::thread killer([&server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    server.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const LoadResult result = run_load(spec);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  killer.join();
  EXPECT_GT(result.completed, 0u);
  EXPECT_GT(errors_of(result, LoadErrorKind::kConnect), 0u) << format_load_report(result);
  // Bounded, not timed: the run ends within its duration plus the timeouts.
  EXPECT_LT(took, 0.8 + spec.timeout_s + 5);
}

TEST(LoadEngineTest, StopFlagEndsTheRunEarlyAndSaysSo) {
  LoadTestServer server({});
  std::atomic<bool> stop{false};
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  const LoadResult result =
      run_load(closed_spec(server, 1, 2, 60), LoadRunOptions{nullptr, 1.0, &stop});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stopper.join();
  EXPECT_TRUE(result.interrupted);
  EXPECT_GT(result.completed, 0u);
  EXPECT_LT(took, 30);  // of a 60 s run
}

// The system-call seam: the kernel may take a request a few bytes at a time,
// and say "try again later" (EAGAIN) in between: the EPOLLOUT path.
std::atomic<int> g_writes{0};
ssize_t write_three_bytes_or_eagain(int fd, const void* buffer, std::size_t length) {
  if (g_writes.fetch_add(1) % 2 == 1) {
    errno = EAGAIN;
    return -1;
  }
  return load_detail::real_syscalls().write(fd, buffer, length < 3 ? length : 3);
}

std::atomic<int> g_reads{0};
ssize_t read_reset_every_tenth(int fd, void* buffer, std::size_t length) {
  if (g_reads.fetch_add(1) % 10 == 9) {
    errno = ECONNRESET;
    return -1;
  }
  return load_detail::real_syscalls().read(fd, buffer, length);
}

TEST(LoadEngineTest, ShortWritesStillSendWholeRequests) {
  LoadTestServer server({});
  LoadSpec spec = open_spec(server, 2, 1000, 100);
  spec.requests[0].method = "POST";
  spec.requests[0].body = std::string(200, 'b');
  load_detail::Syscalls syscalls = load_detail::real_syscalls();
  syscalls.write = &write_three_bytes_or_eagain;
  g_writes = 0;
  const LoadResult result = load_detail::run_load_with(spec, {}, syscalls);
  server.stop();
  EXPECT_EQ(result.completed, 100u);
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);
  EXPECT_EQ(result.bytes_written % 100, 0u);
  EXPECT_GT(result.bytes_written, 100u * 200u);
  EXPECT_GT(g_writes.load(), 2 * 100 * 200 / 3);  // every other call wrote at most 3 bytes
}

// One connection, a server that takes 5 ms per answer, 1000 requests/s due:
// the run falls behind, and says by how much.
TEST(LoadEngineTest, ARunThatFallsBehindCountsLateAndUnsentRequests) {
  LoadTestServer server({"--delay-us", "5000"});
  LoadSpec spec = closed_spec(server, 1, 1, 1);
  spec.mode = LoadMode::kOpen;
  spec.schedule = RateSchedule::constant(1000, 0.3);
  spec.duration_s = 0.3;
  const LoadResult result = run_load(spec);
  server.stop();
  EXPECT_EQ(result.error_count(), 0u) << format_load_report(result);
  EXPECT_EQ(result.sent, result.completed);
  EXPECT_EQ(result.sent + result.unsent, 300u);
  EXPECT_GE(result.unsent, 200u);  // at most 0.3 s / 5 ms = 60 answers fit
  EXPECT_GE(result.late + 2, result.sent);
  EXPECT_GE(result.max_lag_ns, 100'000'000);
  EXPECT_LT(result.achieved_rate, 0.5 * result.target_rate);
}

TEST(LoadEngineTest, InjectedResetsAreReadErrors) {
  LoadTestServer server({});
  load_detail::Syscalls syscalls = load_detail::real_syscalls();
  syscalls.read = &read_reset_every_tenth;
  g_reads = 0;
  const LoadResult result =
      load_detail::run_load_with(open_spec(server, 2, 1000, 200), {}, syscalls);
  server.stop();
  EXPECT_GT(errors_of(result, LoadErrorKind::kRead), 0u);
  EXPECT_EQ(result.completed + errors_of(result, LoadErrorKind::kRead), 200u)
      << format_load_report(result);
}

// The interval log holds every recorded response once.
class CountingObserver : public LoadObserver {
 public:
  void on_interval(const LoadInterval& interval) override {
    intervals += 1;
    completed += interval.completed;
    latency_count += interval.latency.total_count();
  }
  int intervals = 0;
  std::uint64_t completed = 0;
  std::int64_t latency_count = 0;
};

TEST(LoadEngineTest, IntervalsAddUpToTheTotals) {
  LoadTestServer server({});
  CountingObserver observer;
  const LoadResult result =
      run_load(open_spec(server, 2, 1000, 300), LoadRunOptions{&observer, 0.1, nullptr});
  EXPECT_EQ(observer.completed, 300u);
  EXPECT_EQ(observer.latency_count, 300);
  EXPECT_GE(observer.intervals, 3);
  EXPECT_EQ(result.completed, 300u);
}

TEST(LoadEngineTest, LatencyLogHoldsBothSeriesAndReadsBack) {
  LoadTestServer server({});
  ScratchDir scratch("load_engine_test");
  const auto dir = scratch.path() / "profile";
  LoadResult result;
  {
    ProfileWriter writer(dir);
    LatencyLogRecorder log(writer, LoadMode::kOpen);
    result = run_load(open_spec(server, 2, 1000, 300), LoadRunOptions{&log, 0.1, nullptr});
    log.finish();
    writer.commit();
  }
  std::ifstream in(dir / kLatencyLogFile);
  const HistogramLog log = read_histogram_log(in);
  std::int64_t corrected = 0;
  std::int64_t service = 0;
  for (const HistogramLogInterval& interval : log.intervals) {
    (interval.tag.empty() ? corrected : service) += interval.histogram.total_count();
    if (!interval.tag.empty()) {
      EXPECT_EQ(interval.tag, "service");
    }
  }
  EXPECT_EQ(corrected, 300);
  EXPECT_EQ(service, 300);
  EXPECT_TRUE(log.start_time_s.has_value());
}

}  // namespace
}  // namespace perflab
