// Histogram configuration, queries, merge and iteration. The recording fast
// path lives inline in include/perflab/histogram.hpp.
#include "perflab/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "histogram_access.hpp"

namespace perflab {
namespace {

constexpr int kMinSignificantFigures = 1;
constexpr int kMaxSignificantFigures = 5;

[[noreturn]] void throw_config_error(const std::string& what) {
  throw std::invalid_argument("perflab::Histogram: " + what);
}

std::int64_t power_of_ten(int exponent) {
  std::int64_t result = 1;
  for (int i = 0; i < exponent; ++i) result *= 10;
  return result;
}

// How many power-of-two buckets it takes for the top of the last one to
// exceed highest_trackable_value.
int buckets_needed(std::int64_t highest_trackable_value, std::int64_t sub_bucket_count,
                   int unit_magnitude) {
  auto smallest_untrackable = static_cast<std::uint64_t>(sub_bucket_count) << unit_magnitude;
  int buckets = 1;
  while (smallest_untrackable <= static_cast<std::uint64_t>(highest_trackable_value)) {
    if (smallest_untrackable >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / 2) {
      return buckets + 1;  // the next doubling reaches 2^63: one more bucket covers int64
    }
    smallest_untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

// What a configuration implies, computed without allocating so that the
// decoder can size a histogram before it builds one.
struct Layout {
  int unit_magnitude;
  int sub_bucket_half_count_magnitude;
  int bucket_count;
  std::int64_t sub_bucket_half_count;
  std::size_t counts_length;
};

// Throws std::invalid_argument naming the first bad parameter.
Layout layout_for(std::int64_t lowest_discernible_value, std::int64_t highest_trackable_value,
                  int significant_figures) {
  if (lowest_discernible_value < 1) {
    throw_config_error("lowest_discernible_value must be >= 1 (got " +
                       std::to_string(lowest_discernible_value) + ")");
  }
  if (highest_trackable_value / 2 < lowest_discernible_value) {
    throw_config_error("highest_trackable_value must be >= 2 * lowest_discernible_value (got " +
                       std::to_string(highest_trackable_value) + " and " +
                       std::to_string(lowest_discernible_value) + ")");
  }
  if (significant_figures < kMinSignificantFigures ||
      significant_figures > kMaxSignificantFigures) {
    throw_config_error("significant_figures must be in 1..5 (got " +
                       std::to_string(significant_figures) + ")");
  }
  Layout layout{};
  // Single-unit resolution up to 2 * 10^s keeps the relative error of any
  // bucket below 10^-s; the sub-bucket count is that rounded up to a power of two.
  const std::int64_t largest_single_unit_value = 2 * power_of_ten(significant_figures);
  const int sub_bucket_count_magnitude =
      std::bit_width(static_cast<std::uint64_t>(largest_single_unit_value - 1));
  layout.sub_bucket_half_count_magnitude = std::max(sub_bucket_count_magnitude, 1) - 1;
  layout.unit_magnitude = std::bit_width(static_cast<std::uint64_t>(lowest_discernible_value)) - 1;
  if (layout.unit_magnitude + layout.sub_bucket_half_count_magnitude > 61) {
    throw_config_error("lowest_discernible_value " + std::to_string(lowest_discernible_value) +
                       " leaves no room for " + std::to_string(significant_figures) +
                       " significant figures in 63 bits");
  }
  layout.sub_bucket_half_count = std::int64_t{1} << layout.sub_bucket_half_count_magnitude;
  layout.bucket_count = buckets_needed(highest_trackable_value, 2 * layout.sub_bucket_half_count,
                                       layout.unit_magnitude);
  layout.counts_length = static_cast<std::size_t>(layout.bucket_count + 1) *
                         static_cast<std::size_t>(layout.sub_bucket_half_count);
  return layout;
}

}  // namespace

std::size_t detail::HistogramAccess::counts_length_for(std::int64_t lowest_discernible_value,
                                                       std::int64_t highest_trackable_value,
                                                       int significant_figures) {
  return layout_for(lowest_discernible_value, highest_trackable_value, significant_figures)
      .counts_length;
}

Histogram::Histogram(std::int64_t lowest_discernible_value, std::int64_t highest_trackable_value,
                     int significant_figures)
    : lowest_discernible_value_(lowest_discernible_value),
      highest_trackable_value_(highest_trackable_value),
      significant_figures_(significant_figures) {
  const Layout layout =
      layout_for(lowest_discernible_value, highest_trackable_value, significant_figures);
  unit_magnitude_ = layout.unit_magnitude;
  sub_bucket_half_count_magnitude_ = layout.sub_bucket_half_count_magnitude;
  bucket_count_ = layout.bucket_count;
  sub_bucket_half_count_ = layout.sub_bucket_half_count;
  sub_bucket_mask_ = static_cast<std::uint64_t>(2 * sub_bucket_half_count_ - 1) << unit_magnitude_;
  leading_zero_count_base_ = 64 - unit_magnitude_ - sub_bucket_half_count_magnitude_ - 1;
  counts_.assign(layout.counts_length, 0);
}

std::int64_t Histogram::value_from_index(std::size_t index) const noexcept {
  int bucket = static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1;
  auto sub_bucket = static_cast<std::uint64_t>(
      (static_cast<std::int64_t>(index) & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_);
  if (bucket < 0) {  // the lower half of bucket 0 sits below every other bucket
    sub_bucket -= static_cast<std::uint64_t>(sub_bucket_half_count_);
    bucket = 0;
  }
  return static_cast<std::int64_t>(sub_bucket << (bucket + unit_magnitude_));
}

std::int64_t Histogram::size_of_equivalent_value_range(std::int64_t value) const noexcept {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(value, 0));
  const int bucket = leading_zero_count_base_ - std::countl_zero(v | sub_bucket_mask_);
  return std::int64_t{1} << (unit_magnitude_ + bucket);
}

std::int64_t Histogram::lowest_equivalent_value(std::int64_t value) const noexcept {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(value, 0));
  const int bucket = leading_zero_count_base_ - std::countl_zero(v | sub_bucket_mask_);
  const int shift = bucket + unit_magnitude_;
  return static_cast<std::int64_t>((v >> shift) << shift);
}

std::int64_t Histogram::highest_equivalent_value(std::int64_t value) const noexcept {
  return lowest_equivalent_value(value) + (size_of_equivalent_value_range(value) - 1);
}

std::int64_t Histogram::median_equivalent_value(std::int64_t value) const noexcept {
  return lowest_equivalent_value(value) + (size_of_equivalent_value_range(value) >> 1);
}

std::int64_t Histogram::count_at_value(std::int64_t value) const noexcept {
  if (value < 0) return 0;
  const std::size_t index = counts_index(value);
  return index < counts_.size() ? counts_[index] : 0;
}

void Histogram::back_fill(std::int64_t value, std::int64_t count,
                          std::int64_t expected_interval) noexcept {
  // Each missing value is below `value`, so it is in range too.
  for (std::int64_t missing = value - expected_interval; missing >= expected_interval;
       missing -= expected_interval) {
    record_values(missing, count);
  }
}

void Histogram::add(const Histogram& other) noexcept {
  // other may be *this: read its overflow before writing ours.
  const std::int64_t other_overflow = other.overflow_count_;
  if (unit_magnitude_ == other.unit_magnitude_ &&
      sub_bucket_half_count_magnitude_ == other.sub_bucket_half_count_magnitude_) {
    // Same index -> value mapping. Indexes up to that of highest_trackable_value_
    // are exactly the buckets whose lowest value record_value() would accept;
    // the counts array runs on to the top of the last bucket, so stop there.
    const std::size_t n =
        std::min(other.counts_.size(), counts_index(highest_trackable_value_) + 1);
    std::int64_t added = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t c = other.counts_[i];
      counts_[i] += c;
      added += c;
    }
    std::int64_t above = 0;
    for (std::size_t i = n; i < other.counts_.size(); ++i) above += other.counts_[i];
    total_count_ += added;
    overflow_count_ += above;
  } else {
    // Different layouts cannot alias, so other is not *this here.
    for (std::size_t i = 0; i < other.counts_.size(); ++i) {
      if (other.counts_[i] != 0) record_values(other.value_from_index(i), other.counts_[i]);
    }
  }
  overflow_count_ += other_overflow;
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  overflow_count_ = 0;
}

bool Histogram::operator==(const Histogram& other) const noexcept {
  return lowest_discernible_value_ == other.lowest_discernible_value_ &&
         highest_trackable_value_ == other.highest_trackable_value_ &&
         significant_figures_ == other.significant_figures_ && total_count_ == other.total_count_ &&
         overflow_count_ == other.overflow_count_ && counts_ == other.counts_;
}

std::int64_t Histogram::min() const noexcept {
  const auto it =
      std::find_if(counts_.begin(), counts_.end(), [](std::int64_t c) { return c != 0; });
  if (it == counts_.end()) return 0;
  return value_from_index(static_cast<std::size_t>(it - counts_.begin()));
}

std::int64_t Histogram::max() const noexcept {
  const auto it =
      std::find_if(counts_.rbegin(), counts_.rend(), [](std::int64_t c) { return c != 0; });
  if (it == counts_.rend()) return 0;
  const auto index = static_cast<std::size_t>(counts_.rend() - it) - 1;
  return highest_equivalent_value(value_from_index(index));
}

double Histogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  double total = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    total += static_cast<double>(median_equivalent_value(value_from_index(i))) *
             static_cast<double>(counts_[i]);
  }
  return total / static_cast<double>(total_count_);
}

double Histogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double m = mean();
  double sum_of_squares = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double deviation = static_cast<double>(median_equivalent_value(value_from_index(i))) - m;
    sum_of_squares += deviation * deviation * static_cast<double>(counts_[i]);
  }
  return std::sqrt(sum_of_squares / static_cast<double>(total_count_));
}

std::int64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_count_ == 0) return 0;
  // Lowering by one ulp keeps e.g. 99.9% of 1000 at 999, not 999.0000000001 -> 1000.
  double p = std::nextafter(percentile, -std::numeric_limits<double>::infinity());
  p = std::isnan(p) ? 0.0 : std::clamp(p, 0.0, 100.0);
  const double wanted = std::ceil(p * static_cast<double>(total_count_) / 100.0);
  const std::int64_t count_at_percentile =
      std::max<std::int64_t>(static_cast<std::int64_t>(wanted), 1);
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    if (cumulative >= count_at_percentile) {
      const std::int64_t value = value_from_index(i);
      return percentile > 0.0 ? highest_equivalent_value(value) : lowest_equivalent_value(value);
    }
  }
  return 0;  // unreachable while total_count_ matches the counts
}

Histogram::RecordedBucketIterator::RecordedBucketIterator(const Histogram* histogram,
                                                          std::size_t index) noexcept
    : histogram_(histogram), index_(index) {
  settle();
}

Histogram::RecordedBucketIterator& Histogram::RecordedBucketIterator::operator++() noexcept {
  ++index_;
  settle();
  return *this;
}

void Histogram::RecordedBucketIterator::settle() noexcept {
  const std::vector<std::int64_t>& counts = histogram_->counts_;
  while (index_ < counts.size() && counts[index_] == 0) ++index_;
  if (index_ >= counts.size()) {
    index_ = counts.size();
    return;
  }
  const std::int64_t value = histogram_->value_from_index(index_);
  bucket_.lowest_value = value;
  bucket_.highest_value = histogram_->highest_equivalent_value(value);
  bucket_.count = counts[index_];
  bucket_.cumulative_count += bucket_.count;
  bucket_.percentile = 100.0 * static_cast<double>(bucket_.cumulative_count) /
                       static_cast<double>(histogram_->total_count_);
}

}  // namespace perflab
