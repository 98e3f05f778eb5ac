// perflab::drive: call counts, sequences and thread ids in closed and open
// loop, failed calls, exceptions, the stop flag, option checks, and the
// coordinated-omission property (latency from the due time, service from the
// start). Every assertion is on counts or on lower bounds that sleeping
// guarantees, never on how fast this machine is: these tests run on shared,
// sanitized, two-core machines.
#include "perflab/drive.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace perflab {
namespace {

constexpr std::int64_t kTenMsNs = 10'000'000;

// Values recorded in buckets lying wholly at or above `value`.
std::int64_t count_at_or_above(const Histogram& histogram, std::int64_t value) {
  std::int64_t count = 0;
  for (const HistogramBucket& bucket : histogram.recorded_buckets()) {
    if (bucket.lowest_value >= value) count += bucket.count;
  }
  return count;
}

// Per-thread sequence lists: thread k only ever appends to lists[k], so no
// lock is needed (and ThreadSanitizer would flag two OS threads sharing an id).
class SequenceRecorder {
 public:
  SequenceRecorder(int threads, std::size_t reserve) : lists_(static_cast<std::size_t>(threads)) {
    for (auto& list : lists_) list.reserve(reserve);
  }

  void record(const DriveCall& call) {
    if (call.thread < 0 || call.thread >= static_cast<int>(lists_.size())) {
      bad_thread_ids_.fetch_add(1);
      return;
    }
    // Each OS thread must keep one id for the whole run (drive() starts new
    // threads for every run, so thread_local starts afresh).
    thread_local int first_id = -1;
    if (first_id == -1) {
      first_id = call.thread;
    } else if (first_id != call.thread) {
      changed_thread_ids_.fetch_add(1);
    }
    lists_[static_cast<std::size_t>(call.thread)].push_back(call.sequence);
  }

  // Every sequence recorded, sorted.
  std::vector<std::uint64_t> sorted() const {
    std::vector<std::uint64_t> all;
    for (const auto& list : lists_) all.insert(all.end(), list.begin(), list.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  int bad_thread_ids() const { return bad_thread_ids_.load(); }
  int changed_thread_ids() const { return changed_thread_ids_.load(); }

 private:
  std::vector<std::vector<std::uint64_t>> lists_;
  std::atomic<int> bad_thread_ids_{0};
  std::atomic<int> changed_thread_ids_{0};
};

bool all_unique(const std::vector<std::uint64_t>& sorted) {
  return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
}

TEST(DriveTest, ClosedLoopWithMaxCallsMakesExactlyThatManyUniqueCalls) {
  constexpr std::uint64_t kCalls = 10'000;
  SequenceRecorder recorder(4, kCalls);
  DriveOptions options;
  options.threads = 4;
  options.duration_s = 60;  // never reached: max_calls ends the run
  options.max_calls = kCalls;
  const DriveResult result = drive(options, [&](const DriveCall& call) { recorder.record(call); });

  EXPECT_EQ(result.calls, kCalls);
  EXPECT_EQ(result.errors, 0u);
  EXPECT_EQ(result.latency.total_count(), static_cast<std::int64_t>(kCalls));
  EXPECT_EQ(result.service.total_count(), static_cast<std::int64_t>(kCalls));
  EXPECT_FALSE(result.open_loop);
  EXPECT_EQ(result.target_rate, 0);
  EXPECT_EQ(result.unsent_calls, 0u);
  EXPECT_EQ(result.late_calls, 0u);
  EXPECT_GT(result.elapsed_s, 0);
  EXPECT_DOUBLE_EQ(result.achieved_rate, static_cast<double>(kCalls) / result.elapsed_s);

  EXPECT_EQ(recorder.bad_thread_ids(), 0);
  EXPECT_EQ(recorder.changed_thread_ids(), 0);
  const std::vector<std::uint64_t> sequences = recorder.sorted();
  EXPECT_EQ(sequences.size(), kCalls);
  EXPECT_TRUE(all_unique(sequences));
}

TEST(DriveTest, ClosedLoopForADurationMakesUniqueCalls) {
  SequenceRecorder recorder(3, 1 << 16);
  DriveOptions options;
  options.threads = 3;
  options.duration_s = 0.05;
  const DriveResult result = drive(options, [&](const DriveCall& call) { recorder.record(call); });

  EXPECT_GT(result.calls, 0u);
  EXPECT_EQ(result.latency.total_count(), static_cast<std::int64_t>(result.calls));
  EXPECT_EQ(recorder.bad_thread_ids(), 0);
  EXPECT_EQ(recorder.changed_thread_ids(), 0);
  const std::vector<std::uint64_t> sequences = recorder.sorted();
  EXPECT_EQ(sequences.size(), result.calls);
  EXPECT_TRUE(all_unique(sequences));
  // Each thread stops at its first call ending after the duration.
  EXPECT_GE(result.elapsed_s, 0.05);
}

TEST(DriveTest, FailedCallsCountAsErrorsOutsideTheHistograms) {
  std::atomic<std::uint64_t> made{0};
  DriveOptions options;
  options.threads = 4;
  options.duration_s = 60;
  options.max_calls = 7000;
  const DriveResult result =
      drive(options, [&](const DriveCall&) { return made.fetch_add(1) % 7 != 6; });

  EXPECT_EQ(made.load(), 7000u);
  EXPECT_EQ(result.calls, 7000u);
  EXPECT_EQ(result.errors, 1000u);
  EXPECT_EQ(result.latency.total_count(), 6000);
  EXPECT_EQ(result.service.total_count(), 6000);
}

TEST(DriveTest, VoidCalleeCallsAllSucceed) {
  std::atomic<int> made{0};
  DriveOptions options;
  options.threads = 2;
  options.max_calls = 500;
  const DriveResult result = drive(options, [&](const DriveCall&) { made.fetch_add(1); });
  EXPECT_EQ(made.load(), 500);
  EXPECT_EQ(result.calls, 500u);
  EXPECT_EQ(result.errors, 0u);
  EXPECT_EQ(result.service.total_count(), 500);
}

TEST(DriveTest, OpenLoopMakesEveryScheduledCallOnce) {
  constexpr int kThreads = 4;
  const RateSchedule schedule = RateSchedule::constant(10'000, 0.2);
  ASSERT_EQ(schedule.request_count(), 2000u);
  std::vector<std::atomic<int>> hits(2000);
  std::atomic<int> out_of_range{0};
  std::atomic<int> wrong_thread{0};
  DriveOptions options;
  options.threads = kThreads;
  options.schedule = schedule;
  const DriveResult result = drive(options, [&](const DriveCall& call) {
    if (call.sequence >= hits.size()) {
      out_of_range.fetch_add(1);
      return;
    }
    hits[call.sequence].fetch_add(1);
    // Thread k takes calls k, k + threads, ...
    if (call.sequence % kThreads != static_cast<std::uint64_t>(call.thread)) {
      wrong_thread.fetch_add(1);
    }
  });

  EXPECT_EQ(result.calls, 2000u);
  EXPECT_EQ(result.errors, 0u);
  EXPECT_EQ(result.unsent_calls, 0u);
  EXPECT_EQ(result.latency.total_count(), 2000);
  EXPECT_EQ(result.service.total_count(), 2000);
  EXPECT_EQ(out_of_range.load(), 0);
  EXPECT_EQ(wrong_thread.load(), 0);
  for (std::size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].load(), 1) << "sequence " << i;
  EXPECT_TRUE(result.open_loop);
  EXPECT_DOUBLE_EQ(result.target_rate, schedule.mean_rate());
  EXPECT_DOUBLE_EQ(result.achieved_rate, 2000 / 0.2);
  EXPECT_LE(result.late_calls, result.calls);
  EXPECT_GE(result.max_lag_ns, 0);
  // The last call is due at 0.1999 s and ends after it.
  EXPECT_GE(result.elapsed_s, 0.1999);
}

TEST(DriveTest, OpenLoopLatencyCountsFromTheDueTimeServiceFromTheStart) {
  // 2000 calls per second from one thread; call 100 (due at 50 ms) stalls
  // for 50 ms. The ~100 calls due during the stall start late, so their
  // latency from the due time is up to 50 ms, while their own service time is
  // short: a closed-loop measurement would hide them (coordinated omission).
  const RateSchedule schedule = RateSchedule::constant(2000, 0.3);
  DriveOptions options;
  options.threads = 1;
  options.schedule = schedule;
  const DriveResult result = drive(options, [](const DriveCall& call) {
    if (call.sequence == 100) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });

  ASSERT_EQ(result.calls, 600u);
  EXPECT_EQ(result.latency.total_count(), 600);
  // Calls 100..180 are due at 50..90 ms and none can end before 100 ms: at
  // least 81 latencies of 10 ms and more, whatever the machine's speed.
  EXPECT_GE(count_at_or_above(result.latency, kTenMsNs), 50);
  // Only the stalled call itself takes that long to serve (margin for a
  // descheduled thread on a busy machine).
  const std::int64_t slow_services = count_at_or_above(result.service, kTenMsNs);
  EXPECT_GE(slow_services, 1);
  EXPECT_LE(slow_services, 3);
  // Call 101 is due at 50.5 ms and starts at 100 ms at the earliest.
  EXPECT_GE(result.max_lag_ns, 49'000'000);
  EXPECT_GE(result.late_calls, 50u);
  EXPECT_GE(result.latency.max(), 49'000'000);
}

struct CalleeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Counts the calls that start after `flag` was set: drive() checks its stop
// conditions before every call, so each thread other than the one that set
// the flag can start at most one (the one it had already decided to make).
// Counting from the flag rather than from a call counter keeps this true when
// the setting thread is descheduled between counting and setting.
struct LateStarts {
  std::atomic<bool> flag{false};
  std::atomic<int> count{0};
  void on_call_start() {
    if (flag.load()) count.fetch_add(1);
  }
};

TEST(DriveTest, ClosedLoopExceptionIsRethrownAfterJoin) {
  // The other threads keep calling while the exception unwinds (which takes
  // long on first use), so only the end of the run is certain: it would
  // otherwise last 60 s.
  std::atomic<int> made{0};
  DriveOptions options;
  options.threads = 4;
  options.duration_s = 60;
  try {
    drive(options, [&](const DriveCall&) {
      if (made.fetch_add(1) == 100) throw CalleeError("call 100 failed");
    });
    ADD_FAILURE() << "drive() did not throw";
  } catch (const CalleeError& e) {
    EXPECT_STREQ(e.what(), "call 100 failed");
  }
  EXPECT_GT(made.load(), 100);
}

TEST(DriveTest, OpenLoopExceptionIsRethrownAfterJoin) {
  std::atomic<int> made{0};
  DriveOptions options;
  options.threads = 2;
  options.schedule = RateSchedule::constant(1000, 60);
  try {
    drive(options, [&](const DriveCall& call) {
      made.fetch_add(1);
      if (call.sequence == 10) throw CalleeError("call 10 failed");
    });
    ADD_FAILURE() << "drive() did not throw";
  } catch (const CalleeError& e) {
    EXPECT_STREQ(e.what(), "call 10 failed");
  }
  EXPECT_LT(made.load(), 60'000);
}

TEST(DriveTest, StopFlagEndsAClosedLoopRunEarly) {
  constexpr int kThreads = 2;
  std::atomic<int> made{0};
  LateStarts late;
  DriveOptions options;
  options.threads = kThreads;
  options.duration_s = 60;
  options.stop = &late.flag;
  const DriveResult result = drive(options, [&](const DriveCall&) {
    late.on_call_start();
    if (made.fetch_add(1) + 1 == 1000) late.flag.store(true);
  });
  EXPECT_EQ(result.calls, static_cast<std::uint64_t>(made.load()));
  EXPECT_GE(made.load(), 1000);
  EXPECT_LE(late.count.load(), kThreads - 1);
}

TEST(DriveTest, StopFlagEndsAnOpenLoopRunEarly) {
  std::atomic<int> made{0};
  LateStarts late;
  DriveOptions options;
  options.threads = 2;
  options.schedule = RateSchedule::constant(1000, 60);
  options.stop = &late.flag;
  const DriveResult result = drive(options, [&](const DriveCall&) {
    late.on_call_start();
    if (made.fetch_add(1) + 1 == 50) late.flag.store(true);
  });
  EXPECT_EQ(result.calls, static_cast<std::uint64_t>(made.load()));
  EXPECT_GE(result.calls, 50u);
  EXPECT_LE(late.count.load(), 1);
  // Calls due before the stop but never started (none on an idle machine)
  // are counted, the other ~60000 are not.
  EXPECT_LT(result.calls + result.unsent_calls, 60'000u);
  EXPECT_DOUBLE_EQ(result.achieved_rate, static_cast<double>(result.calls) / 60);
}

TEST(DriveTest, StopFlagAlreadySetMakesNoCalls) {
  const std::atomic<bool> stop{true};
  std::atomic<int> made{0};
  DriveOptions options;
  options.threads = 3;
  options.duration_s = 60;
  options.stop = &stop;
  DriveResult result = drive(options, [&](const DriveCall&) { made.fetch_add(1); });
  EXPECT_EQ(result.calls, 0u);
  EXPECT_EQ(result.elapsed_s, 0);
  EXPECT_EQ(result.achieved_rate, 0);

  options.schedule = RateSchedule::constant(100, 60);
  result = drive(options, [&](const DriveCall&) { made.fetch_add(1); });
  EXPECT_EQ(result.calls, 0u);
  EXPECT_EQ(result.latency.total_count(), 0);
  // Call 0 was due at the start.
  EXPECT_GE(result.unsent_calls, 1u);
  EXPECT_EQ(made.load(), 0);
}

TEST(DriveTest, InvalidOptionsThrowBeforeAnyCall) {
  std::atomic<int> made{0};
  auto callee = [&](const DriveCall&) { made.fetch_add(1); };
  for (int threads : {0, -3, 1025}) {
    DriveOptions options;
    options.threads = threads;
    options.max_calls = 1;
    EXPECT_THROW(drive(options, callee), std::invalid_argument) << threads;
    options.schedule = RateSchedule::constant(100, 0.01);
    EXPECT_THROW(drive(options, callee), std::invalid_argument) << threads;
  }
  for (double duration : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    DriveOptions options;
    options.duration_s = duration;
    options.max_calls = 1;
    EXPECT_THROW(drive(options, callee), std::invalid_argument) << duration;
  }
  EXPECT_EQ(made.load(), 0);
  // duration_s is not used in open loop.
  DriveOptions open;
  open.duration_s = 0;
  open.schedule = RateSchedule::constant(1000, 0.001);
  EXPECT_EQ(drive(open, callee).calls, 1u);
}

}  // namespace
}  // namespace perflab
