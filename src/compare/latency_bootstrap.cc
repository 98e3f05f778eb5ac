// Tail latency from per-request histograms: each side's percentile over all
// its requests, and a bootstrap over the units (repetitions or intervals) that
// carry the correlation between requests, for the interval and the p-value.
//
// Resampling is the cost: B resamples, each merging n units and finding
// several percentiles. Merging histograms bucket by bucket would cost
// n * buckets per resample; instead every unit's cumulative counts are laid
// out once on the side's grid of distinct bucket values, and a percentile of
// a weighted merge is a binary search over that grid where each probe is one
// dot product of the n unit counts with the resample's weights.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "perflab/compare.hpp"
#include "statistics_internal.hpp"

namespace perflab {

const char* LatencyUnits::kind_name() const noexcept {
  return kind_ == Kind::kRepetition ? "repetitions" : "intervals";
}

std::int64_t LatencyUnits::total_count() const noexcept {
  std::int64_t total = 0;
  for (const std::int64_t count : totals_) total += count;
  return total;
}

std::span<const LatencyUnits::Bucket> LatencyUnits::unit(std::size_t i) const noexcept {
  return {buckets_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
}

void LatencyUnits::add_unit(const Histogram& histogram) {
  if (histogram.total_count() == 0) return;
  for (const HistogramBucket& bucket : histogram.recorded_buckets()) {
    buckets_.push_back({bucket.highest_value, bucket.count});
  }
  offsets_.push_back(buckets_.size());
  totals_.push_back(histogram.total_count());
}

void LatencyUnits::regroup(std::span<const std::size_t> starts) {
  std::vector<Bucket> buckets;
  buckets.reserve(buckets_.size());
  std::vector<std::size_t> offsets{0};
  std::vector<std::int64_t> totals;
  std::vector<Bucket> group;
  for (std::size_t g = 0; g < starts.size(); ++g) {
    const std::size_t first = starts[g];
    const std::size_t last = g + 1 < starts.size() ? starts[g + 1] : size();
    group.assign(buckets_.begin() + static_cast<std::ptrdiff_t>(offsets_[first]),
                 buckets_.begin() + static_cast<std::ptrdiff_t>(offsets_[last]));
    std::sort(group.begin(), group.end(),
              [](const Bucket& a, const Bucket& b) { return a.value < b.value; });
    std::int64_t total = 0;
    for (const Bucket& bucket : group) {
      if (buckets.size() > offsets.back() && buckets.back().value == bucket.value) {
        buckets.back().count += bucket.count;
      } else {
        buckets.push_back(bucket);
      }
      total += bucket.count;
    }
    offsets.push_back(buckets.size());
    totals.push_back(total);
  }
  buckets_ = std::move(buckets);
  offsets_ = std::move(offsets);
  totals_ = std::move(totals);
}

namespace {

using compare_detail::normal_cdf;
using compare_detail::normal_quantile;
using compare_detail::student_t_cdf;
using compare_detail::student_t_quantile;

// One side laid out for fast weighted percentiles: row k holds, per unit, the
// requests at or below values[k], so a row is contiguous across units.
struct SideTable {
  std::size_t units = 0;
  std::vector<std::int64_t> values;      // distinct bucket values, ascending
  std::vector<std::int64_t> cumulative;  // values.size() rows of `units` counts
  std::vector<std::int64_t> totals;      // requests per unit
};

SideTable make_table(const LatencyUnits& side) {
  SideTable table;
  table.units = side.size();
  for (std::size_t u = 0; u < side.size(); ++u) {
    for (const LatencyUnits::Bucket& bucket : side.unit(u)) table.values.push_back(bucket.value);
    table.totals.push_back(side.unit_count(u));
  }
  std::sort(table.values.begin(), table.values.end());
  table.values.erase(std::unique(table.values.begin(), table.values.end()), table.values.end());
  table.cumulative.assign(table.values.size() * table.units, 0);
  for (std::size_t u = 0; u < side.size(); ++u) {
    const std::span<const LatencyUnits::Bucket> buckets = side.unit(u);
    std::size_t b = 0;
    std::int64_t running = 0;
    for (std::size_t k = 0; k < table.values.size(); ++k) {
      for (; b < buckets.size() && buckets[b].value <= table.values[k]; ++b) {
        running += buckets[b].count;
      }
      table.cumulative[k * table.units + u] = running;
    }
  }
  return table;
}

// The rank HdrHistogram's value_at_percentile looks for among `total`
// requests (Histogram::value_at_percentile does the same arithmetic, so a
// merge of every unit gives exactly the merged histogram's percentile).
std::int64_t percentile_rank(double lowered_percentile, std::int64_t total) {
  const double wanted = std::ceil(lowered_percentile * static_cast<double>(total) / 100.0);
  return std::max<std::int64_t>(static_cast<std::int64_t>(wanted), 1);
}

// The value at `rank` of the units merged with these multiplicities: the
// lowest grid value whose weighted cumulative count reaches it. The weighted
// cumulative count rises with k, so binary search applies.
std::int64_t weighted_value(const SideTable& table, const std::vector<std::int64_t>& weights,
                            std::int64_t rank) {
  std::size_t lo = 0;
  std::size_t hi = table.values.size() - 1;  // always reaches: its row holds the totals
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::int64_t* row = table.cumulative.data() + mid * table.units;
    std::int64_t count = 0;
    for (std::size_t u = 0; u < table.units; ++u) count += weights[u] * row[u];
    if (count >= rank) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return table.values[lo];
}

// A latency of 0 ns (possible only in a hand-made log) has no logarithm; 1 ns
// is below any real latency's resolution.
double log_latency(std::int64_t value) {
  return std::log(static_cast<double>(std::max<std::int64_t>(value, 1)));
}

// Draws `units` indices with replacement into per-unit multiplicities. Plain
// modulo keeps the mapping the same everywhere; its bias is below units / 2^64.
void draw(std::mt19937_64& engine, std::vector<std::int64_t>& weights) {
  std::fill(weights.begin(), weights.end(), 0);
  const std::uint64_t units = weights.size();
  for (std::uint64_t i = 0; i < units; ++i) ++weights[engine() % units];
}

std::int64_t weighted_total(const SideTable& table, const std::vector<std::int64_t>& weights) {
  std::int64_t total = 0;
  for (std::size_t u = 0; u < table.units; ++u) total += weights[u] * table.totals[u];
  return total;
}

double variance(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  double mean = 0;
  for (const double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double sum = 0;
  for (const double v : values) sum += (v - mean) * (v - mean);
  return sum / static_cast<double>(values.size() - 1);
}

// The order statistic below which a share `tail` of the sorted bootstrap
// values lies, and its mirror from the top.
double lower_quantile(const std::vector<double>& sorted, double tail) {
  const double index = std::floor(tail * static_cast<double>(sorted.size()));
  return sorted[static_cast<std::size_t>(
      std::clamp(index, 0.0, static_cast<double>(sorted.size() - 1)))];
}
double upper_quantile(const std::vector<double>& sorted, double tail) {
  const double index = std::floor(tail * static_cast<double>(sorted.size()));
  return sorted[sorted.size() - 1 -
                static_cast<std::size_t>(
                    std::clamp(index, 0.0, static_cast<double>(sorted.size() - 1)))];
}

// The share in each tail of the bootstrap distribution that makes an
// interval at confidence 1 - alpha: the percentile interval widened from the
// normal's quantile to Student's t with `df` degrees of freedom.
double tail_share(double alpha, double df) {
  return normal_cdf(-student_t_quantile(1 - alpha / 2, df));
}

void check_alpha(double alpha) {
  if (!(alpha > 0 && alpha < 1)) {
    char text[64];
    std::snprintf(text, sizeof text, "%g", alpha);
    throw CompareError(std::string("compare: alpha must be between 0 and 1 (exclusive), got ") +
                       text);
  }
}

std::string percentile_name(double percentile) {
  char text[32];
  std::snprintf(text, sizeof text, "p%g", percentile);
  return text;
}

}  // namespace

LatencyBootstrap::LatencyBootstrap(const LatencyUnits& base, const LatencyUnits& candidate,
                                   std::vector<double> percentiles, LatencyBootstrapOptions options)
    : percentiles_(std::move(percentiles)),
      options_(options),
      n_base_(base.size()),
      n_candidate_(candidate.size()) {
  if (base.empty() || candidate.empty()) {
    throw CompareError("compare: the histogram bootstrap needs latency histograms on both sides");
  }
  if (options_.resamples < 100) {
    throw CompareError("compare: the histogram bootstrap needs at least 100 resamples, not " +
                       std::to_string(options_.resamples));
  }
  for (const double p : percentiles_) {
    if (!(p > 0 && p < 100)) {
      throw CompareError("compare: a percentile must be in (0, 100), not " + std::to_string(p));
    }
  }
  units_ = base.kind() == candidate.kind() ? base.kind_name() : "units";

  const SideTable base_table = make_table(base);
  const SideTable candidate_table = make_table(candidate);
  const std::size_t count = percentiles_.size();
  const std::size_t resamples = options_.resamples;
  std::vector<double> lowered(count);  // as Histogram::value_at_percentile lowers it
  for (std::size_t i = 0; i < count; ++i) {
    lowered[i] = std::nextafter(percentiles_[i], -std::numeric_limits<double>::infinity());
  }

  results_.resize(count);
  std::vector<std::int64_t> base_weights(base_table.units, 1);
  std::vector<std::int64_t> candidate_weights(candidate_table.units, 1);
  const std::int64_t base_total = weighted_total(base_table, base_weights);
  const std::int64_t candidate_total = weighted_total(candidate_table, candidate_weights);
  for (std::size_t i = 0; i < count; ++i) {
    Percentile& result = results_[i];
    result.base_value =
        weighted_value(base_table, base_weights, percentile_rank(lowered[i], base_total));
    result.candidate_value = weighted_value(candidate_table, candidate_weights,
                                            percentile_rank(lowered[i], candidate_total));
    result.base_log = log_latency(result.base_value);
    result.candidate_log = log_latency(result.candidate_value);
    result.base_deviations.resize(resamples);
    result.candidate_deviations.resize(resamples);
    result.changes.resize(resamples);
  }

  // Each side's bootstrap variance falls short of the estimator's by
  // (n - 1) / n (the plug-in variance of the units); scaling the deviations
  // by sqrt(n / (n - 1)) restores it, as a t interval's divisor n - 1 does.
  const auto inflation = [](std::size_t n) {
    return n > 1 ? std::sqrt(static_cast<double>(n) / static_cast<double>(n - 1)) : 1.0;
  };
  const double base_scale = inflation(base_table.units);
  const double candidate_scale = inflation(candidate_table.units);

  std::mt19937_64 engine(options_.seed);
  for (std::size_t r = 0; r < resamples; ++r) {
    draw(engine, base_weights);
    draw(engine, candidate_weights);
    const std::int64_t base_n = weighted_total(base_table, base_weights);
    const std::int64_t candidate_n = weighted_total(candidate_table, candidate_weights);
    for (std::size_t i = 0; i < count; ++i) {
      Percentile& result = results_[i];
      const double base_log = log_latency(
          weighted_value(base_table, base_weights, percentile_rank(lowered[i], base_n)));
      const double candidate_log = log_latency(weighted_value(
          candidate_table, candidate_weights, percentile_rank(lowered[i], candidate_n)));
      result.base_deviations[r] = base_scale * (base_log - result.base_log);
      result.candidate_deviations[r] = candidate_scale * (candidate_log - result.candidate_log);
      result.changes[r] = (result.candidate_log - result.base_log) +
                          result.candidate_deviations[r] - result.base_deviations[r];
    }
  }

  const double nb = static_cast<double>(base_table.units);
  const double nc = static_cast<double>(candidate_table.units);
  for (std::size_t i = 0; i < count; ++i) {
    Percentile& result = results_[i];
    // Welch-Satterthwaite: how many degrees of freedom the two bootstrap
    // variances are worth, between the smaller side's n - 1 and n_b + n_c - 2.
    const double vb = variance(result.base_deviations);
    const double vc = variance(result.candidate_deviations);
    const double most = std::max(1.0, nb + nc - 2);
    const double least = std::max(1.0, std::min(nb, nc) - 1);
    double df = most;
    if (vb + vc > 0 && nb > 1 && nc > 1) {
      df = std::clamp((vb + vc) * (vb + vc) / (vb * vb / (nb - 1) + vc * vc / (nc - 1)), least,
                      most);
    }
    result.degrees_of_freedom = df;
    std::sort(result.base_deviations.begin(), result.base_deviations.end());
    std::sort(result.candidate_deviations.begin(), result.candidate_deviations.end());
    std::sort(result.changes.begin(), result.changes.end());

    if (n_base_ < options_.min_units || n_candidate_ < options_.min_units) {
      result.unusable = std::to_string(n_base_) + " base and " + std::to_string(n_candidate_) +
                        " candidate " + units_ + " (at least " +
                        std::to_string(options_.min_units) + " per side needed)";
    } else {
      const double share = 1 - percentiles_[i] / 100;
      const double base_tail = share * static_cast<double>(base_total);
      const double candidate_tail = share * static_cast<double>(candidate_total);
      if (std::min(base_tail, candidate_tail) < options_.min_tail_count) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "too few requests beyond %s (%.0f base, %.0f candidate; at least %g needed)",
                      percentile_name(percentiles_[i]).c_str(), base_tail, candidate_tail,
                      options_.min_tail_count);
        result.unusable = text;
      }
    }
  }
}

double LatencyBootstrap::base_value(std::size_t which) const noexcept {
  return static_cast<double>(results_[which].base_value);
}

double LatencyBootstrap::candidate_value(std::size_t which) const noexcept {
  return static_cast<double>(results_[which].candidate_value);
}

std::string LatencyBootstrap::unusable_reason(std::size_t which) const {
  return results_[which].unusable;
}

ShiftEstimate LatencyBootstrap::change(std::size_t which, double alpha) const {
  check_alpha(alpha);
  const Percentile& result = results_[which];
  const std::vector<double>& changes = result.changes;
  const double resamples = static_cast<double>(changes.size());
  ShiftEstimate estimate;
  estimate.scale = ChangeScale::kRatio;
  estimate.n_base = n_base_;
  estimate.n_candidate = n_candidate_;
  estimate.paired = false;
  estimate.method = "histogram bootstrap";
  estimate.units = units_;
  estimate.estimate = static_cast<double>(std::max<std::int64_t>(result.candidate_value, 1)) /
                      static_cast<double>(std::max<std::int64_t>(result.base_value, 1));
  estimate.min_p_value = min_p_value_bootstrap(n_base_, n_candidate_, changes.size());

  // The share of resamples on each side of "no change" (an exact 0 counts on
  // both: a tie is no evidence either way), read on the t scale like the
  // interval, so "p < alpha" and "the interval excludes 1" agree.
  const auto at_or_below =
      static_cast<double>(std::upper_bound(changes.begin(), changes.end(), 0.0) - changes.begin());
  const auto below =
      static_cast<double>(std::lower_bound(changes.begin(), changes.end(), 0.0) - changes.begin());
  double share = std::min(at_or_below, resamples - below) / resamples;
  share = std::clamp(share, 0.5 / resamples, 0.5);
  const double p = 2 * student_t_cdf(normal_quantile(share), result.degrees_of_freedom);
  estimate.p_value = std::clamp(p, 1 / resamples, 1.0);

  estimate.feasible = result.unusable.empty() && estimate.min_p_value <= alpha;
  if (estimate.feasible) {
    const double tail = tail_share(alpha, result.degrees_of_freedom);
    estimate.low = std::exp(lower_quantile(changes, tail));
    estimate.high = std::exp(upper_quantile(changes, tail));
    estimate.confidence = 1 - alpha;
  } else {
    // As the rank tests do: the widest interval there is, never significant.
    estimate.low = std::exp(changes.front());
    estimate.high = std::exp(changes.back());
    estimate.confidence = std::max(0.0, 1 - estimate.min_p_value);
    estimate.p_value = std::max(estimate.p_value, estimate.min_p_value);
  }
  return estimate;
}

MedianInterval LatencyBootstrap::candidate_interval(std::size_t which, double alpha) const {
  check_alpha(alpha);
  const Percentile& result = results_[which];
  const double df = std::max(1.0, static_cast<double>(n_candidate_) - 1);
  const double tail = tail_share(alpha, df);
  MedianInterval interval;
  interval.median = static_cast<double>(result.candidate_value);
  interval.low = std::exp(result.candidate_log + lower_quantile(result.candidate_deviations, tail));
  interval.high =
      std::exp(result.candidate_log + upper_quantile(result.candidate_deviations, tail));
  return interval;
}

double min_p_value_bootstrap(std::size_t n_base, std::size_t n_candidate, std::size_t resamples) {
  if (n_base < 2 || n_candidate < 2 || resamples == 0) return 1;
  const double b = static_cast<double>(resamples);
  // The most extreme share a bootstrap can show is none of B on one side,
  // counted as half a resample.
  const double z = normal_quantile(1 - 0.5 / b);
  const double df = static_cast<double>(n_base + n_candidate - 2);
  return std::clamp(2 * student_t_cdf(-z, df), 1 / b, 1.0);
}

}  // namespace perflab
