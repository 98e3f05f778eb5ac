// Private: lets the codec in src/histogram/ read and fill a Histogram's
// counts by index, and size one before building it, without widening the
// public interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "perflab/histogram.hpp"

namespace perflab::detail {

struct HistogramAccess {
  static std::span<const std::int64_t> counts(const Histogram& h) noexcept { return h.counts_; }
  static std::span<std::int64_t> counts(Histogram& h) noexcept { return h.counts_; }
  // REQUIRES: total equals the sum of counts(h); the decoder computes it.
  static void set_total_count(Histogram& h, std::int64_t total) noexcept { h.total_count_ = total; }
  // counts_length() of Histogram(lowest, highest, figures), without allocating;
  // throws std::invalid_argument exactly as that constructor would.
  static std::size_t counts_length_for(std::int64_t lowest_discernible_value,
                                       std::int64_t highest_trackable_value,
                                       int significant_figures);
};

}  // namespace perflab::detail
