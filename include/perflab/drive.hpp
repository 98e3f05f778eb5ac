// perflab::drive: call a function at a target rate (open loop) or as fast as
// it returns (closed loop) from N threads, and measure its latency the way
// `perflab load` measures an HTTP service: from when each call was due, not
// when it started (coordinated omission), with the service time beside it.
//
// Shared with perflab load (include/perflab/load.hpp): RateSchedule, the
// latency histogram shape, and the notion of lag behind schedule.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "perflab/histogram.hpp"

namespace perflab {

// ---------------------------------------------------------------------------
// Rate schedules
// ---------------------------------------------------------------------------

/// A piece of a rate schedule: `duration_s` seconds during which the target
/// rate goes linearly from `start_rate` to `end_rate` (requests per second).
/// start_rate == end_rate is a constant rate; both 0 is a pause.
struct RateSegment {
  double duration_s = 0;
  double start_rate = 0;
  double end_rate = 0;

  friend bool operator==(const RateSegment&, const RateSegment&) = default;
};

/// When each request of an open-loop run is due. Request i (0-based, counted
/// over the whole run and all threads) is due at the time the integral of the
/// rate reaches i: constant rates space requests exactly 1/rate apart, ramps
/// accelerate smoothly, and steps change rate at their boundaries. Immutable
/// after construction; safe to share between threads.
class RateSchedule {
 public:
  /// Throws std::invalid_argument (naming the segment) unless there is at
  /// least one segment, every duration is finite and > 0, every rate is finite
  /// and >= 0, and the whole schedule holds at least one request.
  explicit RateSchedule(std::vector<RateSegment> segments);

  /// `rate` requests per second for `duration_s` seconds.
  static RateSchedule constant(double rate, double duration_s);
  /// From `from_rate` to `to_rate` linearly over `duration_s` seconds.
  static RateSchedule ramp(double from_rate, double to_rate, double duration_s);

  const std::vector<RateSegment>& segments() const noexcept { return segments_; }
  double duration_s() const noexcept { return duration_s_; }
  /// floor of the rate's integral over the whole schedule: the requests it holds.
  std::uint64_t request_count() const noexcept { return request_count_; }
  /// request_count() / duration_s(): the mean target rate.
  double mean_rate() const noexcept;
  /// The target rate at `time_s` seconds after the start (0 outside the schedule).
  double rate_at(double time_s) const noexcept;
  /// Seconds after the start at which request `index` is due; index must be
  /// < request_count() (REQUIRES), later indices return duration_s().
  double due_time_s(std::uint64_t index) const noexcept;

 private:
  std::vector<RateSegment> segments_;
  std::vector<double> segment_start_s_;      // cumulative start time of each segment
  std::vector<double> segment_start_count_;  // rate integral up to each segment's start
  double duration_s_ = 0;
  std::uint64_t request_count_ = 0;
};

// ---------------------------------------------------------------------------
// Latency histograms
// ---------------------------------------------------------------------------

/// Latencies are recorded in nanoseconds, three significant figures, up to
/// one hour (longer values count in overflow_count()): HdrHistogram's
/// conventions, so latency.hlog reads in its own tools with Interval_Max in
/// milliseconds.
inline constexpr std::int64_t kLatencyHighestTrackableNs = 3'600'000'000'000;
inline constexpr int kLatencySignificantFigures = 3;

/// A histogram of the shape above (about 300 KB of counts).
Histogram make_latency_histogram();

/// A call (or request) counts as late when it starts more than this after it
/// was due; `late` figures use it.
inline constexpr std::int64_t kLateThresholdNs = 1'000'000;

// ---------------------------------------------------------------------------
// drive
// ---------------------------------------------------------------------------

/// How drive() calls the function.
struct DriveOptions {
  /// Threads that call the function; >= 1. In closed loop this is the
  /// concurrency.
  int threads = 1;
  /// Open loop when set: calls are due on this schedule (over all threads;
  /// thread k takes calls k, k + threads, ...), and the run lasts the
  /// schedule's duration. A thread that falls behind calls back to back until
  /// it catches up; its latency counts from each call's due time.
  std::optional<RateSchedule> schedule;
  /// Closed loop only: how long each thread calls back to back. > 0.
  double duration_s = 1.0;
  /// Closed loop only: stop once this many calls were made in all (0: no limit).
  std::uint64_t max_calls = 0;
  /// When non-null, the run stops early once *stop is true (checked between calls).
  const std::atomic<bool>* stop = nullptr;
};

/// What one call is told.
struct DriveCall {
  std::uint64_t sequence = 0;  // unique over the run: the schedule index in open loop
  int thread = 0;              // 0 .. threads-1
};

/// What drive() measured. Latencies in nanoseconds.
struct DriveResult {
  Histogram latency = make_latency_histogram();  // from due time (open) / start (closed)
  Histogram service = make_latency_histogram();  // from the call's actual start
  std::uint64_t calls = 0;                       // calls made, including failed ones
  std::uint64_t errors = 0;        // calls that returned false (not in the histograms)
  std::uint64_t late_calls = 0;    // open loop: started > kLateThresholdNs after due
  std::uint64_t unsent_calls = 0;  // open loop: due before the end but never started
  std::int64_t max_lag_ns = 0;     // open loop: largest start - due
  double elapsed_s = 0;            // from the first due time to the last call's end
  double target_rate = 0;          // open loop: schedule.mean_rate(); 0 in closed loop
  double achieved_rate = 0;        // calls / schedule duration (open) or / elapsed (closed)
  bool open_loop = false;
};

namespace detail {
/// Type-erased callee: returns false when the call failed.
using DriveCallee = bool (*)(void* context, const DriveCall& call);
DriveResult drive_erased(const DriveOptions& options, DriveCallee callee, void* context);
}  // namespace detail

/// Calls `fn(const DriveCall&)` as `options` says, from options.threads
/// threads at once, and returns the merged measurements. `fn` returns void
/// (every call succeeds) or something convertible to bool (false counts as an
/// error). Each thread records into its own histograms; they are merged after
/// the threads join, so the call path takes no locks and allocates nothing.
///
/// Errors: throws std::invalid_argument for bad options (threads < 1, a
/// closed-loop duration <= 0), std::system_error when a thread cannot start.
/// An exception thrown by `fn` stops the run and is rethrown here after every
/// thread has joined.
/// Thread-safety: `fn` is called concurrently from all threads.
template <class F>
DriveResult drive(const DriveOptions& options, F&& fn) {
  using Fn = std::remove_reference_t<F>;
  auto callee = [](void* context, const DriveCall& call) -> bool {
    Fn& f = *static_cast<Fn*>(context);
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const DriveCall&>>) {
      f(call);
      return true;
    } else {
      return static_cast<bool>(f(call));
    }
  };
  return detail::drive_erased(options, callee,
                              const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
}

}  // namespace perflab
