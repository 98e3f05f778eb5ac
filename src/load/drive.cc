// drive(): N threads call a function at a target rate (open loop) or back to
// back (closed loop). Each thread records into its own histograms and
// counters, merged after join, so the call path takes no lock and allocates
// nothing; the only shared writes are the closed loop's batched claims
// against max_calls and the flags that stop a run.
#include "perflab/drive.hpp"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <exception>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace perflab {

Histogram make_latency_histogram() {
  return Histogram(1, kLatencyHighestTrackableNs, kLatencySignificantFigures);
}

namespace detail {
namespace {

constexpr int kMaxThreads = 1024;
constexpr std::int64_t kNsPerSecond = 1'000'000'000;
// Below this a sleep would overshoot by more than the wait itself (a wakeup
// costs tens of microseconds), so the thread spins on the clock instead.
constexpr std::int64_t kSpinBelowNs = 20'000;
// Long waits are cut into sleeps of at most this, so a stop request ends a
// slow open-loop run promptly instead of after the next due time.
constexpr std::int64_t kMaxSleepNs = 20'000'000;
// Closed loop with max_calls: each thread claims this many calls at a time,
// so the shared counter is touched once per batch, not once per call.
constexpr std::uint64_t kClaimBatch = 64;

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

void sleep_until_ns(std::int64_t when_ns) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(when_ns / kNsPerSecond);
  ts.tv_nsec = static_cast<long>(when_ns % kNsPerSecond);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// What every thread shares. Written before the threads start or through
// atomics only.
struct RunState {
  const DriveOptions& options;
  DriveCallee callee;
  void* context;
  std::latch ready;  // each thread counts down once it has allocated its histograms
  std::latch go{1};  // the starter counts down once start_ns is set
  std::atomic<std::int64_t> start_ns{0};
  std::atomic<bool> abort{false};  // an exception, or a thread failed to start
  // Closed loop with max_calls. On its own cache line: claiming a batch must
  // not evict the line holding `abort`, which every thread reads every call.
  alignas(64) std::atomic<std::uint64_t> claimed_calls{0};
  std::atomic<bool> error_taken{false};  // the first exception wins
  std::exception_ptr error;              // written by its winner, read after join

  RunState(const DriveOptions& o, DriveCallee c, void* ctx, int threads)
      : options(o), callee(c), context(ctx), ready(threads) {}

  bool should_stop() const noexcept {
    return abort.load(std::memory_order_relaxed) ||
           (options.stop != nullptr && options.stop->load(std::memory_order_relaxed));
  }

  void fail(std::exception_ptr e) noexcept {
    if (!error_taken.exchange(true, std::memory_order_acq_rel)) error = std::move(e);
    abort.store(true, std::memory_order_relaxed);
  }
};

// One thread's measurements; last_end_ns is the end of its last call.
struct ThreadResult {
  DriveResult result;
  std::int64_t last_end_ns = 0;
};

std::int64_t due_offset_ns(const RateSchedule& schedule, std::uint64_t index) noexcept {
  return std::llround(schedule.due_time_s(index) * static_cast<double>(kNsPerSecond));
}

// Returns the clock once it has reached due_ns, or earlier when the run is
// told to stop while waiting.
std::int64_t wait_until_due(const RunState& run, std::int64_t due_ns) noexcept {
  for (;;) {
    std::int64_t now = now_ns();
    const std::int64_t remaining = due_ns - now;
    if (remaining <= 0) return now;
    if (remaining < kSpinBelowNs) {
      while (now < due_ns) now = now_ns();
      return now;
    }
    if (run.should_stop()) return now;
    sleep_until_ns(remaining > kMaxSleepNs ? now + kMaxSleepNs : due_ns);
  }
}

// Calls thread `thread` did not start although they were due by
// `stop_offset_ns`: indices first, first + step, ... below count. Due times
// never decrease with the index, so a binary search over the thread's own
// indices finds how many there are.
std::uint64_t count_unsent(const RateSchedule& schedule, std::uint64_t first, std::uint64_t step,
                           std::int64_t stop_offset_ns) noexcept {
  const std::uint64_t count = schedule.request_count();
  if (first >= count) return 0;
  std::uint64_t low = 0;                                // due: [0, low)
  std::uint64_t high = (count - first - 1) / step + 1;  // not due: [high, ...)
  while (low < high) {
    const std::uint64_t mid = low + (high - low) / 2;
    if (due_offset_ns(schedule, first + mid * step) <= stop_offset_ns) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return low;
}

void run_open_loop(RunState& run, int thread, ThreadResult& out) {
  const RateSchedule& schedule = *run.options.schedule;
  const std::int64_t start = run.start_ns.load(std::memory_order_acquire);
  const auto step = static_cast<std::uint64_t>(run.options.threads);
  const std::uint64_t count = schedule.request_count();
  DriveResult& r = out.result;
  // Timer slack is per thread and defaults to 50 us, which would make every
  // sleep overshoot its due time by that much.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  std::uint64_t index = static_cast<std::uint64_t>(thread);
  while (index < count) {
    if (run.should_stop()) break;
    const std::int64_t due = start + due_offset_ns(schedule, index);
    std::int64_t begin = now_ns();
    if (begin < due) {
      begin = wait_until_due(run, due);
      if (begin < due) continue;  // told to stop while waiting; the check above ends it
    }
    const DriveCall call{index, thread};
    const bool ok = run.callee(run.context, call);
    const std::int64_t end = now_ns();
    ++r.calls;
    const std::int64_t lag = begin - due;
    if (lag > r.max_lag_ns) r.max_lag_ns = lag;
    if (lag > kLateThresholdNs) ++r.late_calls;
    if (ok) {
      r.latency.record_value(end - due);
      r.service.record_value(end - begin);
    } else {
      ++r.errors;
    }
    out.last_end_ns = end;
    index += step;
  }
  if (index < count) {
    r.unsent_calls = count_unsent(schedule, index, step, now_ns() - start);
  }
}

void run_closed_loop(RunState& run, int thread, ThreadResult& out) {
  const std::int64_t start = run.start_ns.load(std::memory_order_acquire);
  const DriveOptions& options = run.options;
  const std::int64_t deadline =
      start + std::llround(std::min(options.duration_s, 1e9) * static_cast<double>(kNsPerSecond));
  const auto threads = static_cast<std::uint64_t>(options.threads);
  DriveResult& r = out.result;

  std::uint64_t next_claimed = 0;  // [next_claimed, end_claimed) is this thread's to call
  std::uint64_t end_claimed = 0;
  std::uint64_t local_calls = 0;
  for (;;) {
    if (run.should_stop()) break;
    std::uint64_t sequence;
    if (options.max_calls != 0) {
      if (next_claimed == end_claimed) {
        const std::uint64_t first =
            run.claimed_calls.fetch_add(kClaimBatch, std::memory_order_relaxed);
        if (first >= options.max_calls) break;
        next_claimed = first;
        end_claimed = first + std::min(kClaimBatch, options.max_calls - first);
      }
      sequence = next_claimed++;
    } else {
      // Unique without any shared counter: threads interleave their sequences.
      sequence = local_calls * threads + static_cast<std::uint64_t>(thread);
    }
    ++local_calls;
    const DriveCall call{sequence, thread};
    const std::int64_t begin = now_ns();
    const bool ok = run.callee(run.context, call);
    const std::int64_t end = now_ns();
    ++r.calls;
    if (ok) {
      r.latency.record_value(end - begin);
      r.service.record_value(end - begin);
    } else {
      ++r.errors;
    }
    out.last_end_ns = end;
    if (end >= deadline) break;
  }
}

void thread_main(RunState& run, int thread, std::optional<ThreadResult>& slot) {
  // Histograms are allocated here, before the start barrier, so the
  // allocation neither counts as lag nor runs one thread at a time.
  try {
    slot.emplace();
  } catch (...) {
    run.fail(std::current_exception());
  }
  run.ready.count_down();
  run.go.wait();
  if (!slot || run.abort.load(std::memory_order_relaxed)) return;
  try {
    if (run.options.schedule) {
      run_open_loop(run, thread, *slot);
    } else {
      run_closed_loop(run, thread, *slot);
    }
  } catch (...) {
    run.fail(std::current_exception());
  }
}

void validate(const DriveOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads) {
    throw std::invalid_argument("perflab::drive: threads must be in 1.." +
                                std::to_string(kMaxThreads) + " (got " +
                                std::to_string(options.threads) + ")");
  }
  if (!options.schedule && !(std::isfinite(options.duration_s) && options.duration_s > 0)) {
    throw std::invalid_argument(
        "perflab::drive: closed-loop duration_s must be finite and > 0 (got " +
        std::to_string(options.duration_s) + ")");
  }
}

}  // namespace

DriveResult drive_erased(const DriveOptions& options, DriveCallee callee, void* context) {
  validate(options);
  const int thread_count = options.threads;
  RunState run(options, callee, context, thread_count);
  std::vector<std::optional<ThreadResult>> slots(static_cast<std::size_t>(thread_count));
  std::vector<std::thread> threads;
  threads.reserve(slots.size());

  // Releases the threads (with abort set they return at once) and joins them.
  auto release_and_join = [&] {
    run.go.count_down();
    for (std::thread& t : threads) t.join();
  };
  try {
    for (int i = 0; i < thread_count; ++i) {
      threads.emplace_back(thread_main, std::ref(run), i,
                           std::ref(slots[static_cast<std::size_t>(i)]));
    }
  } catch (...) {
    run.abort.store(true, std::memory_order_relaxed);
    release_and_join();
    throw;
  }
  // One start time for all, taken once every thread is ready, so thread
  // start-up counts neither as lag nor as elapsed time.
  run.ready.wait();
  const std::int64_t start = now_ns();
  run.start_ns.store(start, std::memory_order_release);
  release_and_join();
  if (run.error) std::rethrow_exception(run.error);

  DriveResult merged;
  std::int64_t last_end = 0;
  for (std::optional<ThreadResult>& slot : slots) {
    const DriveResult& r = slot->result;
    merged.latency.add(r.latency);
    merged.service.add(r.service);
    merged.calls += r.calls;
    merged.errors += r.errors;
    merged.late_calls += r.late_calls;
    merged.unsent_calls += r.unsent_calls;
    merged.max_lag_ns = std::max(merged.max_lag_ns, r.max_lag_ns);
    last_end = std::max(last_end, slot->last_end_ns);
    slot.reset();  // frees this thread's histograms before the next merge
  }
  if (options.schedule) {
    const RateSchedule& schedule = *options.schedule;
    merged.open_loop = true;
    const std::int64_t first_due = start + due_offset_ns(schedule, 0);
    if (merged.calls != 0) {
      merged.elapsed_s =
          static_cast<double>(std::max<std::int64_t>(0, last_end - first_due)) / kNsPerSecond;
    }
    merged.target_rate = schedule.mean_rate();
    merged.achieved_rate = static_cast<double>(merged.calls) / schedule.duration_s();
  } else {
    if (merged.calls != 0) {
      merged.elapsed_s = static_cast<double>(last_end - start) / kNsPerSecond;
    }
    merged.achieved_rate =
        merged.elapsed_s > 0 ? static_cast<double>(merged.calls) / merged.elapsed_s : 0;
  }
  return merged;
}

}  // namespace detail
}  // namespace perflab
