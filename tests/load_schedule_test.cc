// RateSchedule: request counts, due times (constant spacing, ramps both ways,
// pauses, segment boundaries), rate_at, validation messages, and nanosecond
// precision over a day at a million requests per second.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "perflab/drive.hpp"

namespace perflab {
namespace {

// The message of the std::invalid_argument that constructing `segments`
// throws; empty (and a test failure) when it does not throw.
std::string construction_error(std::vector<RateSegment> segments) {
  try {
    RateSchedule schedule(std::move(segments));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return {};
}

TEST(LoadScheduleTest, ConstantRateSpacesRequestsExactly) {
  const RateSchedule schedule = RateSchedule::constant(1000, 2);
  EXPECT_EQ(schedule.request_count(), 2000u);
  EXPECT_DOUBLE_EQ(schedule.duration_s(), 2);
  EXPECT_DOUBLE_EQ(schedule.mean_rate(), 1000);
  for (std::uint64_t i = 0; i < schedule.request_count(); ++i) {
    ASSERT_DOUBLE_EQ(schedule.due_time_s(i), static_cast<double>(i) / 1000) << i;
  }
  EXPECT_EQ(schedule.due_time_s(0), 0.0);
  // Past the last request: the schedule's end.
  EXPECT_DOUBLE_EQ(schedule.due_time_s(2000), 2);
  EXPECT_DOUBLE_EQ(schedule.due_time_s(1'000'000), 2);
}

TEST(LoadScheduleTest, RequestCountIsTheFloorOfTheIntegral) {
  EXPECT_EQ(RateSchedule::constant(3, 1.5).request_count(), 4u);   // 4.5
  EXPECT_EQ(RateSchedule::constant(30, 0.1).request_count(), 3u);  // 3 despite round-off
  EXPECT_EQ(RateSchedule::constant(0.5, 3).request_count(), 1u);   // 1.5
  EXPECT_EQ(RateSchedule::ramp(0, 1000, 10).request_count(), 5000u);
  EXPECT_EQ(RateSchedule::ramp(100, 300, 3).request_count(), 600u);
  const RateSchedule steps({{10, 1000, 1000}, {20, 1000, 4000}, {5, 0, 0}});
  EXPECT_EQ(steps.request_count(), 10'000u + 50'000u);
  EXPECT_DOUBLE_EQ(steps.duration_s(), 35);
  EXPECT_DOUBLE_EQ(steps.mean_rate(), 60'000.0 / 35);
  EXPECT_EQ(steps.segments().size(), 3u);
  EXPECT_EQ(steps.segments()[1], (RateSegment{20, 1000, 4000}));
}

TEST(LoadScheduleTest, RampFromZeroFollowsTheIntegral) {
  // rate(t) = 100 t, integral 50 t^2: request n is due at sqrt(n / 50).
  const RateSchedule schedule = RateSchedule::ramp(0, 1000, 10);
  EXPECT_EQ(schedule.due_time_s(0), 0.0);
  EXPECT_NEAR(schedule.due_time_s(1250), 5, 1e-12);
  EXPECT_NEAR(schedule.due_time_s(50), 1, 1e-12);
  EXPECT_NEAR(schedule.due_time_s(4999), std::sqrt(4999.0 / 50), 1e-12);
  for (std::uint64_t n = 1; n < 5000; n += 37) {
    EXPECT_NEAR(schedule.due_time_s(n), std::sqrt(static_cast<double>(n) / 50), 1e-12) << n;
  }
}

TEST(LoadScheduleTest, DecreasingRampFollowsTheIntegral) {
  // rate(t) = 1000 - 100 t, integral 1000 t - 50 t^2 = n:
  // t = 10 - sqrt(100 - n / 50).
  const RateSchedule schedule = RateSchedule::ramp(1000, 0, 10);
  EXPECT_EQ(schedule.request_count(), 5000u);
  EXPECT_EQ(schedule.due_time_s(0), 0.0);
  EXPECT_NEAR(schedule.due_time_s(1), 0.001000050005, 1e-12);
  EXPECT_NEAR(schedule.due_time_s(3750), 5, 1e-12);
  for (std::uint64_t n = 0; n < 5000; n += 41) {
    const double expected = 10 - std::sqrt(100 - static_cast<double>(n) / 50);
    EXPECT_NEAR(schedule.due_time_s(n), expected, 1e-9) << n;
  }
  // The last request is due as the rate reaches 0 at the end, within the schedule.
  EXPECT_NEAR(schedule.due_time_s(4999), 10 - std::sqrt(0.02), 1e-9);
  EXPECT_LE(schedule.due_time_s(4999), 10);
}

TEST(LoadScheduleTest, NoRequestIsDueInAPause) {
  // 1 s paused, 1 s at 10/s, 2 s paused, 1 s at 10/s, 1 s paused.
  const RateSchedule schedule({{1, 0, 0}, {1, 10, 10}, {2, 0, 0}, {1, 10, 10}, {1, 0, 0}});
  ASSERT_EQ(schedule.request_count(), 20u);
  for (std::uint64_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(schedule.due_time_s(i), 1 + 0.1 * static_cast<double>(i), 1e-12) << i;
    EXPECT_NEAR(schedule.due_time_s(10 + i), 4 + 0.1 * static_cast<double>(i), 1e-12) << i;
  }
  EXPECT_DOUBLE_EQ(schedule.due_time_s(20), 6);
}

TEST(LoadScheduleTest, DueTimesIncreaseAcrossSegmentBoundaries) {
  const RateSchedule schedule({{0.5, 0, 200},
                               {0.25, 200, 200},
                               {0.25, 200, 50},
                               {0.5, 0, 0},
                               {0.3, 1000, 10},
                               {0.7, 3, 3000}});
  double previous = -1;
  for (std::uint64_t i = 0; i < schedule.request_count(); ++i) {
    const double due = schedule.due_time_s(i);
    ASSERT_GT(due, previous) << i;
    ASSERT_LT(due, schedule.duration_s()) << i;
    // Never inside the pause [1, 1.5).
    ASSERT_FALSE(due > 1 + 1e-9 && due < 1.5 - 1e-9) << i << " at " << due;
    previous = due;
  }
  // Exactly at each boundary the next segment's first request is due.
  // Segment 0 holds 50 requests; segment 1 holds 50 more.
  EXPECT_NEAR(schedule.due_time_s(50), 0.5, 1e-12);
  EXPECT_NEAR(schedule.due_time_s(100), 0.75, 1e-12);
  // Segments 0-2 hold 50 + 50 + 31.25, so request 131 is the last before the
  // pause and request 132 is 0.75 requests into the ramp 1000 -> 10 over 0.3 s
  // (slope -3300): 0.75 = 1000 t - 1650 t^2.
  EXPECT_LT(schedule.due_time_s(131), 1);
  EXPECT_NEAR(schedule.due_time_s(132), 1.5 + 1.5 / (1000 + std::sqrt(1e6 - 2 * 3300 * 0.75)),
              1e-12);
}

TEST(LoadScheduleTest, RateAtInterpolatesEachSegment) {
  const RateSchedule schedule({{10, 1000, 1000}, {20, 1000, 4000}, {5, 0, 0}});
  EXPECT_DOUBLE_EQ(schedule.rate_at(0), 1000);
  EXPECT_DOUBLE_EQ(schedule.rate_at(9.99), 1000);
  EXPECT_DOUBLE_EQ(schedule.rate_at(10), 1000);
  EXPECT_DOUBLE_EQ(schedule.rate_at(20), 2500);
  EXPECT_NEAR(schedule.rate_at(29.999), 3999.85, 1e-6);
  EXPECT_DOUBLE_EQ(schedule.rate_at(30), 0);
  EXPECT_DOUBLE_EQ(schedule.rate_at(34), 0);
  // Outside the schedule.
  EXPECT_DOUBLE_EQ(schedule.rate_at(-0.5), 0);
  EXPECT_DOUBLE_EQ(schedule.rate_at(35), 0);
  EXPECT_DOUBLE_EQ(schedule.rate_at(1e9), 0);
  EXPECT_DOUBLE_EQ(schedule.rate_at(std::nan("")), 0);
  const RateSchedule down = RateSchedule::ramp(500, 100, 4);
  EXPECT_DOUBLE_EQ(down.rate_at(1), 400);
  EXPECT_DOUBLE_EQ(down.rate_at(3), 200);
}

TEST(LoadScheduleTest, InvalidSegmentsThrowNamingTheSegment) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::nan("");
  EXPECT_NE(construction_error({}).find("no segments"), std::string::npos);

  std::string message = construction_error({{1, 10, 10}, {0, 10, 10}});
  EXPECT_NE(message.find("segment 1"), std::string::npos) << message;
  EXPECT_NE(message.find("duration"), std::string::npos) << message;

  message = construction_error({{-1, 10, 10}});
  EXPECT_NE(message.find("segment 0"), std::string::npos) << message;
  EXPECT_NE(message.find("duration"), std::string::npos) << message;

  message = construction_error({{1, 10, 10}, {1, 10, 10}, {inf, 10, 10}});
  EXPECT_NE(message.find("segment 2: duration"), std::string::npos) << message;
  message = construction_error({{nan, 10, 10}});
  EXPECT_NE(message.find("segment 0: duration"), std::string::npos) << message;

  message = construction_error({{1, 10, 10}, {1, -5, 10}});
  EXPECT_NE(message.find("segment 1: start rate"), std::string::npos) << message;
  message = construction_error({{1, 10, nan}});
  EXPECT_NE(message.find("segment 0: end rate"), std::string::npos) << message;
  message = construction_error({{1, 10, 10}, {1, 10, inf}});
  EXPECT_NE(message.find("segment 1: end rate"), std::string::npos) << message;

  // Valid segments that hold no request at all.
  message = construction_error({{1, 0, 0}, {10, 0, 0}});
  EXPECT_NE(message.find("no request"), std::string::npos) << message;
  message = construction_error({{1, 0.5, 0.5}});
  EXPECT_NE(message.find("no request"), std::string::npos) << message;

  EXPECT_THROW(RateSchedule::constant(-1, 10), std::invalid_argument);
  EXPECT_THROW(RateSchedule::constant(100, 0), std::invalid_argument);
  EXPECT_THROW(RateSchedule::ramp(0, 100, -1), std::invalid_argument);
  EXPECT_THROW(RateSchedule::ramp(0, 0, 10), std::invalid_argument);
  // More requests than a double indexes exactly.
  message = construction_error({{1, 10, 10}, {1e10, 1e9, 1e9}});
  EXPECT_NE(message.find("segment 1"), std::string::npos) << message;
}

// Expected due time of request i at a constant `rate` starting at `start_s`
// with `start_count` requests before, in long double so that the expectation
// is more precise than the code under test.
long double exact_constant_due(std::uint64_t i, long double start_s, long double start_count,
                               long double rate) {
  return start_s + (static_cast<long double>(i) - start_count) / rate;
}

TEST(LoadScheduleTest, DayAtAMillionPerSecondKeepsNanosecondPrecision) {
  const RateSchedule schedule = RateSchedule::constant(1e6, 86'400);
  ASSERT_EQ(schedule.request_count(), 86'400'000'000u);
  const std::uint64_t count = schedule.request_count();
  double previous = schedule.due_time_s(count - 100'001);
  for (std::uint64_t i = count - 100'000; i < count; ++i) {
    const double due = schedule.due_time_s(i);
    ASSERT_GT(due, previous) << i;
    ASSERT_LT(std::fabs(static_cast<long double>(due) - exact_constant_due(i, 0, 0, 1e6)), 1e-9L)
        << i;
    previous = due;
  }
  EXPECT_DOUBLE_EQ(schedule.due_time_s(count), 86'400);
}

TEST(LoadScheduleTest, DayAfterARampKeepsNanosecondPrecision) {
  // 60 s ramp 0 -> 1e6 (3e7 requests), then a day less a minute at 1e6 per second.
  const RateSchedule schedule({{60, 0, 1e6}, {86'340, 1e6, 1e6}});
  ASSERT_EQ(schedule.request_count(), 30'000'000u + 86'340'000'000u);
  const std::uint64_t count = schedule.request_count();
  double previous = schedule.due_time_s(count - 50'001);
  for (std::uint64_t i = count - 50'000; i < count; ++i) {
    const double due = schedule.due_time_s(i);
    ASSERT_GT(due, previous) << i;
    ASSERT_LT(std::fabs(static_cast<long double>(due) - exact_constant_due(i, 60, 3e7L, 1e6)),
              1e-9L)
        << i;
    previous = due;
  }
  // Across the ramp's end: the ramp's due times are sqrt(n / 1e6 * 120).
  previous = schedule.due_time_s(30'000'000 - 10'001);
  for (std::uint64_t i = 30'000'000 - 10'000; i < 30'000'000 + 10'000; ++i) {
    const double due = schedule.due_time_s(i);
    ASSERT_GT(due, previous) << i;
    const long double expected = i < 30'000'000
                                     ? std::sqrt(static_cast<long double>(i) * 120 / 1e6L)
                                     : exact_constant_due(i, 60, 3e7L, 1e6);
    ASSERT_LT(std::fabs(static_cast<long double>(due) - expected), 1e-9L) << i;
    previous = due;
  }
}

}  // namespace
}  // namespace perflab
