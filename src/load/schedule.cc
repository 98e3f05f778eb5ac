// RateSchedule: validation, the cumulative request count of each segment, and
// the inverse of the rate's integral that says when each request is due.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "perflab/drive.hpp"

namespace perflab {
namespace {

// Indices travel through doubles (the integral is a double), so a schedule may
// hold no more requests than a double counts exactly: 2^53, about 285 years
// at 1e6 requests per second.
constexpr double kMaxRequestCount = 9007199254740992.0;

// Round-off in the summed integral must not lose the last request of a
// schedule whose integral is an exact integer on paper (e.g. 0.1 s at 30 rps).
constexpr double kCountTolerance = 1e-9;

[[noreturn]] void throw_segment_error(std::size_t index, const std::string& problem, double got) {
  std::ostringstream message;
  message.precision(17);
  message << "rate schedule segment " << index << ": " << problem << " (got " << got << ")";
  throw std::invalid_argument(message.str());
}

// Requests held by one segment: the area of a trapezoid.
double segment_count(const RateSegment& segment) {
  return segment.duration_s * (segment.start_rate + segment.end_rate) / 2;
}

// Seconds into `segment` at which the rate's integral from the segment's
// start reaches `count` (0 <= count <= segment_count(segment)).
double segment_time_for_count(const RateSegment& segment, double count) {
  if (count <= 0) return 0;  // also the 0/0 of a ramp starting at rate 0
  const double a = segment.start_rate;
  double t;
  if (segment.start_rate == segment.end_rate) {
    t = count / a;
  } else {
    // a*t + b*t^2/2 = count. The textbook root (-a + sqrt(a^2 + 2bc)) / b
    // cancels catastrophically when the ramp is gentle (b small against a);
    // multiplying through by its conjugate gives a form with no subtraction
    // that also covers a == 0 and decreasing ramps (b < 0), where
    // a^2 + 2bc = rate(t)^2 stays >= 0 inside the segment.
    const double b = (segment.end_rate - segment.start_rate) / segment.duration_s;
    const double discriminant = std::max(0.0, a * a + 2 * b * count);
    t = 2 * count / (a + std::sqrt(discriminant));
  }
  // Round-off at the segment's end must not spill into the next segment.
  return std::clamp(t, 0.0, segment.duration_s);
}

}  // namespace

RateSchedule::RateSchedule(std::vector<RateSegment> segments) : segments_(std::move(segments)) {
  if (segments_.empty()) throw std::invalid_argument("rate schedule: no segments");
  segment_start_s_.reserve(segments_.size());
  segment_start_count_.reserve(segments_.size());
  double time_s = 0;
  double count = 0;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const RateSegment& segment = segments_[i];
    if (!std::isfinite(segment.duration_s) || segment.duration_s <= 0) {
      throw_segment_error(i, "duration must be finite and > 0 seconds", segment.duration_s);
    }
    if (!std::isfinite(segment.start_rate) || segment.start_rate < 0) {
      throw_segment_error(i, "start rate must be finite and >= 0 per second", segment.start_rate);
    }
    if (!std::isfinite(segment.end_rate) || segment.end_rate < 0) {
      throw_segment_error(i, "end rate must be finite and >= 0 per second", segment.end_rate);
    }
    segment_start_s_.push_back(time_s);
    segment_start_count_.push_back(count);
    time_s += segment.duration_s;
    count += segment_count(segment);
    if (!std::isfinite(time_s)) {
      throw_segment_error(i, "schedule duration overflows", time_s);
    }
    if (!(count <= kMaxRequestCount)) {
      throw_segment_error(i, "schedule holds more than 2^53 requests", count);
    }
  }
  duration_s_ = time_s;
  const double total = std::floor(count + kCountTolerance);
  if (total < 1) {
    std::ostringstream message;
    message << "rate schedule: holds no request (the rate's integral over " << time_s << " s is "
            << count << ", below 1)";
    throw std::invalid_argument(message.str());
  }
  request_count_ = static_cast<std::uint64_t>(total);
}

RateSchedule RateSchedule::constant(double rate, double duration_s) {
  return RateSchedule({RateSegment{duration_s, rate, rate}});
}

RateSchedule RateSchedule::ramp(double from_rate, double to_rate, double duration_s) {
  return RateSchedule({RateSegment{duration_s, from_rate, to_rate}});
}

double RateSchedule::mean_rate() const noexcept {
  return static_cast<double>(request_count_) / duration_s_;
}

double RateSchedule::rate_at(double time_s) const noexcept {
  if (!(time_s >= 0) || time_s >= duration_s_) return 0;  // also NaN
  // The last segment starting at or before time_s.
  const auto next = std::upper_bound(segment_start_s_.begin(), segment_start_s_.end(), time_s);
  const auto i = static_cast<std::size_t>(next - segment_start_s_.begin()) - 1;
  const RateSegment& segment = segments_[i];
  const double fraction = std::min(1.0, (time_s - segment_start_s_[i]) / segment.duration_s);
  return segment.start_rate + (segment.end_rate - segment.start_rate) * fraction;
}

double RateSchedule::due_time_s(std::uint64_t index) const noexcept {
  if (index >= request_count_) return duration_s_;
  // The last segment whose cumulative count is <= index. A pause has the same
  // cumulative count as the segment after it, so it is never chosen: no
  // request is due inside a pause. index < 2^53 converts exactly.
  const auto position = static_cast<double>(index);
  const auto next =
      std::upper_bound(segment_start_count_.begin(), segment_start_count_.end(), position);
  const auto i = static_cast<std::size_t>(next - segment_start_count_.begin()) - 1;
  // The count into the segment: subtracting the integer part of the start
  // count in integers keeps full precision when both are ~1e11 and the
  // remainder small (24 hours at 1e6 per second needs nanoseconds at 86400 s).
  const double start_count = segment_start_count_[i];
  const double start_whole = std::floor(start_count);
  const double local = static_cast<double>(index - static_cast<std::uint64_t>(start_whole)) -
                       (start_count - start_whole);
  return segment_start_s_[i] + segment_time_for_count(segments_[i], local);
}

}  // namespace perflab
