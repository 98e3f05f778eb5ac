// Statistics on repeated samples: how much did the candidate change from the
// base, with a confidence interval that assumes nothing about the shape of
// the noise, and could the samples tell at all.
//
// Ratios are compared as differences of logarithms, so "10% slower" is the
// same shift whether a run takes 1 ms or 1 s and multiplicative noise becomes
// additive. The estimate is Hodges-Lehmann (the median of the pairwise
// differences, or of the Walsh averages when paired); the interval inverts
// the rank test (Mann-Whitney U or Wilcoxon signed-rank) through its critical
// value, so the interval excludes "no change" essentially when the test
// rejects it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "perflab/compare.hpp"
#include "statistics_internal.hpp"

namespace perflab {

namespace compare_detail {

namespace {

// Rows of a matrix sorted ascending along each row, given implicitly:
// row i holds columns [begin(i), end(i)) with values value(i, j).
struct PairwiseDifferences {
  std::span<const double> base;
  std::span<const double> candidate;
  std::size_t rows() const { return base.size(); }
  std::size_t begin(std::size_t) const { return 0; }
  std::size_t end(std::size_t) const { return candidate.size(); }
  double value(std::size_t i, std::size_t j) const { return candidate[j] - base[i]; }
};

struct WalshAverages {
  std::span<const double> sorted;
  std::size_t rows() const { return sorted.size(); }
  std::size_t begin(std::size_t i) const { return i; }
  std::size_t end(std::size_t) const { return sorted.size(); }
  // Rounding is monotonic, so each row stays sorted in floating point too.
  double value(std::size_t i, std::size_t j) const { return (sorted[i] + sorted[j]) / 2; }
};

// splitmix64: a fixed sequence, so the same input always takes the same path.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Quickselect over the implicit matrix: each round picks a random remaining
// value as pivot and narrows every row to the columns that can still hold
// the answer, so memory stays O(rows) however many values there are.
template <class Matrix>
double select_kth(const Matrix& matrix, std::uint64_t k, std::size_t materialize_limit) {
  const std::size_t rows = matrix.rows();
  std::vector<std::size_t> lo(rows);  // columns before lo[i] are below the answer
  std::vector<std::size_t> hi(rows);  // columns from hi[i] on are above it
  for (std::size_t i = 0; i < rows; ++i) {
    lo[i] = matrix.begin(i);
    hi[i] = matrix.end(i);
  }
  std::uint64_t rank = k;  // the answer's rank among the remaining columns
  std::uint64_t random_state = 0x5eed;
  std::vector<std::size_t> below(rows);
  std::vector<std::size_t> not_above(rows);
  while (true) {
    std::uint64_t remaining = 0;
    for (std::size_t i = 0; i < rows; ++i) remaining += hi[i] - lo[i];
    if (remaining <= materialize_limit) {
      std::vector<double> values;
      values.reserve(static_cast<std::size_t>(remaining));
      for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = lo[i]; j < hi[i]; ++j) values.push_back(matrix.value(i, j));
      }
      const auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
      std::nth_element(values.begin(), nth, values.end());
      return *nth;
    }
    std::uint64_t pick = next_random(random_state) % remaining;
    double pivot = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t width = hi[i] - lo[i];
      if (pick < width) {
        pivot = matrix.value(i, lo[i] + static_cast<std::size_t>(pick));
        break;
      }
      pick -= width;
    }
    // Columns before lo[i] are below the pivot and columns from hi[i] on are
    // above it, so searching [lo, hi) counts the whole row.
    std::uint64_t count_below = 0;
    std::uint64_t count_not_above = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      std::size_t first = lo[i];
      std::size_t last = hi[i];
      while (first < last) {
        const std::size_t mid = first + (last - first) / 2;
        if (matrix.value(i, mid) < pivot) {
          first = mid + 1;
        } else {
          last = mid;
        }
      }
      below[i] = first;
      last = hi[i];
      while (first < last) {
        const std::size_t mid = first + (last - first) / 2;
        if (matrix.value(i, mid) <= pivot) {
          first = mid + 1;
        } else {
          last = mid;
        }
      }
      not_above[i] = first;
      count_below += below[i] - lo[i];
      count_not_above += not_above[i] - lo[i];
    }
    if (rank <= count_below) {
      hi = below;
    } else if (rank <= count_not_above) {
      return pivot;
    } else {
      rank -= count_not_above;
      lo = not_above;
    }
  }
}

}  // namespace

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  // Bisection: called a few times per comparison, so simplicity beats speed,
  // and it is as accurate as normal_cdf itself.
  double lo = -40;
  double hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = (lo + hi) / 2;
    if (normal_cdf(mid) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return (lo + hi) / 2;
}

namespace {

// The continued fraction of I_x(a, b) (DLMF 8.17.22), evaluated by the
// modified Lentz method; it converges fast for x < (a + 1) / (a + b + 2).
double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
  double fraction = d;
  for (int m = 1; m <= 1000; ++m) {
    const double md = m;
    // The even step d_{2m}, then the odd step d_{2m+1}.
    for (const double term : {md * (b - md) * x / ((a + 2 * md - 1) * (a + 2 * md)),
                              -(a + md) * (a + b + md) * x / ((a + 2 * md) * (a + 2 * md + 1))}) {
      d = 1 + term * d;
      d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
      c = 1 + term / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      fraction *= c * d;
      if (std::fabs(c * d - 1) < kEpsilon) return fraction;
    }
  }
  return fraction;
}

// The regularized incomplete beta function I_x(a, b), 0 <= x <= 1.
double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  // The fraction converges on the side of the mode; the symmetry
  // I_x(a, b) = 1 - I_{1-x}(b, a) covers the other.
  if (x < (a + 1) / (a + b + 2)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1 - front * incomplete_beta_fraction(b, a, 1 - x) / b;
}

}  // namespace

double student_t_cdf(double t, double df) {
  // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const double tail = 0.5 * regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t));
  return t < 0 ? tail : 1 - tail;
}

double student_t_quantile(double p, double df) {
  // Bisection, like normal_quantile: a few calls per comparison.
  double lo = -1e6;
  double hi = 1e6;
  for (int i = 0; i < 300 && hi - lo > 1e-13 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = (lo + hi) / 2;
    if (student_t_cdf(mid, df) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return (lo + hi) / 2;
}

std::vector<double> mann_whitney_cdf(std::size_t m, std::size_t n) {
  // counts[j][u]: orderings of i values of the first sample and j of the
  // second with U = u (U counts pairs where the first-sample value is the
  // larger). The largest value is either a first-sample value, above all j
  // second-sample values (adds j), or a second-sample value (adds nothing).
  // Only additions of non-negative numbers: no cancellation in floating point.
  std::vector<std::vector<double>> counts(n + 1, std::vector<double>{1.0});
  for (std::size_t i = 1; i <= m; ++i) {
    for (std::size_t j = 1; j <= n; ++j) {
      std::vector<double> previous = std::move(counts[j]);  // i - 1 first-sample values
      std::vector<double>& current = counts[j];
      current.assign(i * j + 1, 0.0);
      for (std::size_t u = 0; u < previous.size(); ++u) current[u + j] += previous[u];
      const std::vector<double>& fewer_second = counts[j - 1];  // already at i
      for (std::size_t u = 0; u < fewer_second.size(); ++u) current[u] += fewer_second[u];
    }
  }
  std::vector<double> cdf = std::move(counts[n]);
  const double total = std::accumulate(cdf.begin(), cdf.end(), 0.0);
  double running = 0;
  for (double& c : cdf) {
    running += c;
    c = running / total;
  }
  return cdf;
}

std::vector<double> signed_rank_cdf(std::size_t n) {
  const std::size_t max_sum = n * (n + 1) / 2;
  // Subset sums of {1..n}: the ranks that carry a plus sign.
  std::vector<double> counts(max_sum + 1, 0.0);
  counts[0] = 1;
  for (std::size_t rank = 1; rank <= n; ++rank) {
    for (std::size_t v = rank * (rank + 1) / 2; v >= rank; --v) counts[v] += counts[v - rank];
  }
  const double total = std::ldexp(1.0, static_cast<int>(n));
  double running = 0;
  for (double& c : counts) {
    running += c;
    c = running / total;
  }
  return counts;
}

double kth_pairwise_difference(std::span<const double> sorted_base,
                               std::span<const double> sorted_candidate, std::uint64_t k,
                               std::size_t materialize_limit) {
  return select_kth(PairwiseDifferences{sorted_base, sorted_candidate}, k, materialize_limit);
}

double kth_walsh_average(std::span<const double> sorted, std::uint64_t k,
                         std::size_t materialize_limit) {
  return select_kth(WalshAverages{sorted}, k, materialize_limit);
}

}  // namespace compare_detail

namespace {

using compare_detail::kth_pairwise_difference;
using compare_detail::kth_walsh_average;
using compare_detail::normal_cdf;
using compare_detail::normal_quantile;

// Exact distributions below this many values per side, as R's wilcox.test
// does: the dynamic programme costs O(m^2 n^2), and by 50 the normal
// approximation is within about 1e-3 of the exact p-value.
constexpr std::size_t kExactLimit = 50;

// alpha / 2 can equal an exact tail probability (2 / C(n1 + n2, n1) for some
// alpha); rounding must not turn "<=" into ">".
constexpr double kTailTolerance = 1e-12;

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

void check_alpha(double alpha) {
  if (!(alpha > 0 && alpha < 1)) {
    throw CompareError("compare: alpha must be between 0 and 1 (exclusive), got " +
                       format_number(alpha));
  }
}

// `what` names the sample ("base sample"); `index` is 0-based.
void check_finite(double value, std::size_t index, const std::string& what) {
  if (!std::isfinite(value)) {
    throw CompareError("compare: " + what + " " + std::to_string(index + 1) + " is " +
                       format_number(value) + ", not a finite number");
  }
}

// The samples on the scale the statistics work on: logarithms for ratios.
std::vector<double> to_working_scale(std::span<const double> values, const char* side,
                                     ChangeScale scale) {
  if (values.empty()) throw CompareError(std::string("compare: the ") + side + " sample is empty");
  std::vector<double> out;
  out.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double value = values[i];
    check_finite(value, i, std::string(side) + " sample");
    if (scale == ChangeScale::kRatio) {
      if (value <= 0) {
        throw CompareError(std::string("compare: ") + side + " sample " + std::to_string(i + 1) +
                           " is " + format_number(value) +
                           "; ratio metrics need positive values (figures that can be 0 or "
                           "negative are compared as differences)");
      }
      out.push_back(std::log(value));
    } else {
      out.push_back(value);
    }
  }
  return out;
}

double from_working_scale(double value, ChangeScale scale) {
  return scale == ChangeScale::kRatio ? std::exp(value) : value;
}

// The tie correction's sum of t^3 - t over groups of equal values.
double tie_term(std::span<const double> sorted) {
  double term = 0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i + 1;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    term += t * t * t - t;
    i = j;
  }
  return term;
}

// Two-sided p-value of a statistic symmetric about count / 2.
double exact_two_sided(const std::vector<double>& cdf, std::uint64_t statistic,
                       std::uint64_t count) {
  const double lower = cdf[statistic];          // P(S <= s)
  const double upper = cdf[count - statistic];  // P(S >= s), by symmetry
  return std::min(1.0, 2 * std::min(lower, upper));
}

double normal_two_sided(double statistic, double mean, double sigma) {
  if (sigma <= 0) return 1;
  double z = statistic - mean;
  // Continuity correction towards the mean: the statistic moves in steps of 1.
  z -= z > 0 ? 0.5 : (z < 0 ? -0.5 : 0.0);
  z /= sigma;
  return std::min(1.0, 2 * std::min(normal_cdf(z), normal_cdf(-z)));
}

// The interval [S_(k), S_(count - k + 1)] of the sorted pairwise statistics.
struct Critical {
  std::uint64_t k = 1;
  double confidence = 0;
  bool reachable = false;  // P(S <= k - 1) <= alpha / 2 for some k >= 1
};

// Middle of the order: past it the "interval" would be inverted.
std::uint64_t max_critical(std::uint64_t count) { return (count + 1) / 2; }

Critical critical_exact(const std::vector<double>& cdf, std::uint64_t count, double alpha) {
  const double half = alpha / 2 * (1 + kTailTolerance);
  std::uint64_t k = 0;  // cdf[k] = P(S <= k): count the values with P(S <= k - 1) <= alpha / 2
  while (k < cdf.size() && cdf[k] <= half) ++k;
  Critical critical;
  critical.reachable = k >= 1;
  critical.k = std::clamp<std::uint64_t>(k, 1, max_critical(count));
  critical.confidence = std::max(0.0, 1 - 2 * cdf[critical.k - 1]);
  return critical;
}

Critical critical_normal(std::uint64_t count, double sigma, double alpha) {
  const double mean = static_cast<double>(count) / 2;
  // P(S <= k - 1) ~ Phi((k - 1 + 0.5 - mean) / sigma) <= alpha / 2.
  const double k = std::floor(mean + 0.5 + normal_quantile(alpha / 2) * sigma);
  Critical critical;
  critical.reachable = k >= 1;
  critical.k = k < 1 ? 1 : std::min(static_cast<std::uint64_t>(k), max_critical(count));
  const double tail = normal_cdf((static_cast<double>(critical.k) - 0.5 - mean) / sigma);
  critical.confidence = std::max(0.0, 1 - 2 * tail);
  return critical;
}

template <class Select>
double median_of_order(std::uint64_t count, Select select) {
  if (count % 2 == 1) return select(count / 2 + 1);
  return (select(count / 2) + select(count / 2 + 1)) / 2;
}

// Fills in the estimate and interval from the working-scale order statistics
// and decides feasibility: the interval is the widest available and the
// p-value at least the smallest these counts can give, so an infeasible
// comparison is never significant.
template <class Select>
void finish_estimate(ShiftEstimate& result, Critical critical, std::uint64_t count, double alpha,
                     Select select) {
  result.feasible = critical.reachable && result.min_p_value <= alpha;
  if (!result.feasible && critical.k != 1) {
    critical.k = 1;  // only when the normal approximation is more optimistic than the exact count
    critical.confidence = std::max(0.0, 1 - result.min_p_value);
  }
  result.estimate = from_working_scale(median_of_order(count, select), result.scale);
  result.low = from_working_scale(select(critical.k), result.scale);
  result.high = from_working_scale(select(count - critical.k + 1), result.scale);
  result.confidence = critical.confidence;
  result.p_value = std::max(result.p_value, result.min_p_value);
}

}  // namespace

ShiftEstimate compare_independent(std::span<const double> base, std::span<const double> candidate,
                                  double alpha, ChangeScale scale) {
  check_alpha(alpha);
  std::vector<double> x = to_working_scale(base, "base", scale);
  std::vector<double> y = to_working_scale(candidate, "candidate", scale);
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  const std::size_t m = x.size();
  const std::size_t n = y.size();
  const std::uint64_t count = std::uint64_t{m} * n;
  const double pooled = static_cast<double>(m + n);

  ShiftEstimate result;
  result.scale = scale;
  result.n_base = m;
  result.n_candidate = n;
  result.paired = false;
  result.min_p_value = min_p_value_independent(m, n);

  // Midranks of the pooled sample, walked in merged order.
  double candidate_rank_sum = 0;
  double pooled_ties = 0;
  double assigned = 0;
  for (std::size_t i = 0, j = 0; i < m || j < n;) {
    const double value = i == m ? y[j] : (j == n ? x[i] : std::min(x[i], y[j]));
    std::size_t from_base = 0;
    std::size_t from_candidate = 0;
    for (; i < m && x[i] == value; ++i) ++from_base;
    for (; j < n && y[j] == value; ++j) ++from_candidate;
    const double t = static_cast<double>(from_base + from_candidate);
    candidate_rank_sum += static_cast<double>(from_candidate) * (assigned + (t + 1) / 2);
    pooled_ties += t * t * t - t;
    assigned += t;
  }
  // U: pairs where the candidate is larger, ties counting one half.
  const double nd = static_cast<double>(n);
  const double u = candidate_rank_sum - nd * (nd + 1) / 2;
  const double mean = static_cast<double>(count) / 2;
  const double base_variance = static_cast<double>(count) / 12;

  // Ties within one sample survive every shift; ties across the samples
  // only exist at shift 0. So the test at 0 corrects for all of them and the
  // interval (the shifts the test would not reject) only for the former.
  const double within_ties = tie_term(x) + tie_term(y);
  const bool small = m < kExactLimit && n < kExactLimit;
  const bool exact_test = small && pooled_ties == 0;
  const bool exact_interval = small && within_ties == 0;
  std::vector<double> cdf;
  if (exact_test || exact_interval) cdf = compare_detail::mann_whitney_cdf(m, n);

  if (exact_test) {
    result.p_value = exact_two_sided(cdf, static_cast<std::uint64_t>(std::llround(u)), count);
    result.method = "hodges-lehmann/mann-whitney, exact";
  } else {
    const double sigma =
        std::sqrt(base_variance * ((pooled + 1) - pooled_ties / (pooled * (pooled - 1))));
    result.p_value = normal_two_sided(u, mean, sigma);
    result.method = pooled_ties > 0 ? "hodges-lehmann/mann-whitney, normal approximation (ties)"
                                    : "hodges-lehmann/mann-whitney, normal approximation";
  }

  Critical critical;
  if (exact_interval) {
    critical = critical_exact(cdf, count, alpha);
  } else {
    const double sigma =
        std::sqrt(base_variance * ((pooled + 1) - within_ties / (pooled * (pooled - 1))));
    critical = critical_normal(count, sigma, alpha);
  }
  finish_estimate(result, critical, count, alpha,
                  [&](std::uint64_t k) { return kth_pairwise_difference(x, y, k); });
  return result;
}

ShiftEstimate compare_paired(std::span<const double> base, std::span<const double> candidate,
                             double alpha, ChangeScale scale) {
  check_alpha(alpha);
  if (base.size() != candidate.size()) {
    throw CompareError("compare: paired samples need equal lengths, but base has " +
                       std::to_string(base.size()) + " and candidate " +
                       std::to_string(candidate.size()));
  }
  const std::vector<double> x = to_working_scale(base, "base", scale);
  const std::vector<double> y = to_working_scale(candidate, "candidate", scale);
  const std::size_t n = x.size();
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = y[i] - x[i];
  std::sort(d.begin(), d.end());

  ShiftEstimate result;
  result.scale = scale;
  result.n_base = n;
  result.n_candidate = n;
  result.paired = true;
  result.min_p_value = min_p_value_paired(n);

  // The test drops zero differences (Wilcoxon's convention, R's default): a
  // pair that did not move says nothing about the direction. The estimate and
  // interval keep them: they are the shifts the test would not reject, and at
  // any shift other than 0 those pairs are no longer zero.
  // (|d|, d > 0) of the nonzero differences, by magnitude.
  std::vector<std::pair<double, bool>> signed_magnitudes;
  signed_magnitudes.reserve(n);
  for (const double v : d) {
    if (v != 0) signed_magnitudes.emplace_back(std::fabs(v), v > 0);
  }
  std::sort(signed_magnitudes.begin(), signed_magnitudes.end());
  const std::size_t nonzero = signed_magnitudes.size();
  // V: the sum of the midranks of the positive differences.
  double positive_rank_sum = 0;
  double magnitude_ties = 0;
  for (std::size_t i = 0; i < nonzero;) {
    std::size_t j = i;
    std::size_t positives = 0;
    while (j < nonzero && signed_magnitudes[j].first == signed_magnitudes[i].first) {
      positives += signed_magnitudes[j].second ? 1 : 0;
      ++j;
    }
    const double t = static_cast<double>(j - i);
    positive_rank_sum += static_cast<double>(positives) * static_cast<double>(i + j + 1) / 2;
    magnitude_ties += t * t * t - t;
    i = j;
  }
  const std::uint64_t nonzero_count = std::uint64_t{nonzero} * (nonzero + 1) / 2;
  if (nonzero == 0) {
    result.p_value = 1;
    result.method = "hodges-lehmann/wilcoxon signed-rank, no pair changed";
  } else if (nonzero < kExactLimit && magnitude_ties == 0) {
    const std::vector<double> cdf = compare_detail::signed_rank_cdf(nonzero);
    result.p_value = exact_two_sided(
        cdf, static_cast<std::uint64_t>(std::llround(positive_rank_sum)), nonzero_count);
    result.method = "hodges-lehmann/wilcoxon signed-rank, exact";
  } else {
    const double k = static_cast<double>(nonzero);
    const double sigma = std::sqrt(k * (k + 1) * (2 * k + 1) / 24 - magnitude_ties / 48);
    result.p_value =
        normal_two_sided(positive_rank_sum, static_cast<double>(nonzero_count) / 2, sigma);
    result.method = magnitude_ties > 0
                        ? "hodges-lehmann/wilcoxon signed-rank, normal approximation (ties)"
                        : "hodges-lehmann/wilcoxon signed-rank, normal approximation";
  }

  // Equal differences stay equal at every shift; only they need the tie
  // correction in the interval.
  const double value_ties = tie_term(d);
  const std::uint64_t count = std::uint64_t{n} * (n + 1) / 2;
  Critical critical;
  if (n < kExactLimit && value_ties == 0) {
    critical = critical_exact(compare_detail::signed_rank_cdf(n), count, alpha);
  } else {
    const double nd = static_cast<double>(n);
    const double sigma = std::sqrt(nd * (nd + 1) * (2 * nd + 1) / 24 - value_ties / 48);
    critical = critical_normal(count, sigma, alpha);
  }
  finish_estimate(result, critical, count, alpha,
                  [&](std::uint64_t k) { return kth_walsh_average(d, k); });
  return result;
}

std::vector<bool> holm_bonferroni(std::span<const double> p_values, double alpha) {
  const std::size_t m = p_values.size();
  // A NaN p-value sorts last and is never significant.
  auto key = [&](std::size_t i) { return std::isnan(p_values[i]) ? 2.0 : p_values[i]; };
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  std::vector<bool> significant(m, false);
  for (std::size_t r = 0; r < m; ++r) {
    // Step down: the r-th smallest faces alpha / (m - r); the first miss
    // stops the procedure, so every larger p-value is kept too.
    if (!(key(order[r]) <= alpha / static_cast<double>(m - r))) break;
    significant[order[r]] = true;
  }
  return significant;
}

OrderTrend order_trend(std::span<const double> values) {
  OrderTrend result;
  result.n = values.size();
  for (std::size_t i = 0; i < values.size(); ++i) check_finite(values[i], i, "sample");
  const std::size_t n = values.size();
  if (n < 3) return result;
  long long s = 0;  // concordant minus discordant pairs (i < j)
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) s += (values[j] > values[i]) - (values[j] < values[i]);
  }
  const long long pairs = static_cast<long long>(n * (n - 1) / 2);
  result.tau = static_cast<double>(s) / static_cast<double>(pairs);
  // Without ties S = pairs - 2 * inversions, and the inversions of a random
  // order follow the Mahonian distribution: built one position at a time
  // (the k-th value adds 0 .. k-1 inversions, each equally likely), as
  // probabilities so that no count overflows.
  constexpr std::size_t kExactTrendLimit = 200;
  if (n <= kExactTrendLimit) {
    std::vector<double> probability{1.0};
    for (std::size_t k = 2; k <= n; ++k) {
      std::vector<double> next(probability.size() + k - 1, 0.0);
      // next[i] = (p[i] + p[i-1] + ... + p[i-k+1]) / k, by a running sum.
      double window = 0;
      for (std::size_t i = 0; i < next.size(); ++i) {
        if (i < probability.size()) window += probability[i];
        if (i >= k && i - k < probability.size()) window -= probability[i - k];
        next[i] = window / static_cast<double>(k);
      }
      probability = std::move(next);
    }
    // Two-sided: inversions at least as far from the middle as observed.
    const long long inversions_seen = (pairs - std::llabs(s)) / 2;  // the nearer tail
    double tail = 0;
    for (long long i = 0; i <= inversions_seen; ++i)
      tail += probability[static_cast<std::size_t>(i)];
    result.p_value = std::min(1.0, 2 * tail);
    return result;
  }
  const double variance =
      static_cast<double>(n) * static_cast<double>(n - 1) * static_cast<double>(2 * n + 5) / 18.0;
  const double z = (static_cast<double>(std::llabs(s)) - 1) / std::sqrt(variance);
  result.p_value = std::min(1.0, 2 * (1 - normal_cdf(z)));
  return result;
}

double min_p_value_independent(std::size_t n_base, std::size_t n_candidate) {
  if (n_base == 0 || n_candidate == 0) return 1;
  const std::size_t small = std::min(n_base, n_candidate);
  const std::size_t large = std::max(n_base, n_candidate);
  // C(large + small, small) by the running product: each partial product is
  // itself a binomial coefficient, so it stays exact while below 2^53.
  double combinations = 1;
  for (std::size_t i = 1; i <= small && std::isfinite(combinations); ++i) {
    combinations = combinations * static_cast<double>(large + i) / static_cast<double>(i);
  }
  return std::min(1.0, 2 / combinations);  // 2 / inf = 0 for huge samples
}

double min_p_value_paired(std::size_t n_pairs) {
  const int exponent = static_cast<int>(std::min<std::size_t>(n_pairs, 4096));
  return std::min(1.0, std::ldexp(2.0, -exponent));
}

MedianInterval median_interval(std::span<const double> samples, double alpha) {
  check_alpha(alpha);
  if (samples.empty()) throw CompareError("compare: cannot take the median of an empty sample");
  std::vector<double> sorted(samples.begin(), samples.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) check_finite(sorted[i], i, "sample");
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  MedianInterval result;
  result.median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  // [X_(j), X_(n - j + 1)] misses the median when at most j - 1 values fall
  // below it or at most j - 1 above: coverage 1 - 2 P(B <= j - 1), B ~
  // Binomial(n, 1/2). Take the largest j that keeps coverage >= 1 - alpha.
  const double nd = static_cast<double>(n);
  const double log_normaliser = std::lgamma(nd + 1) - nd * std::log(2.0);
  const double half = alpha / 2 * (1 + kTailTolerance);
  std::size_t j = 1;
  double tail = 0;  // P(B <= j - 1)
  while (j <= (n + 1) / 2) {
    const double b = static_cast<double>(j - 1);
    tail += std::exp(log_normaliser - std::lgamma(b + 1) - std::lgamma(nd - b + 1));
    if (tail > half) break;
    ++j;
  }
  j = std::max<std::size_t>(j - 1, 1);  // j - 1 was the last that qualified
  result.low = sorted[j - 1];
  result.high = sorted[n - j];
  return result;
}

}  // namespace perflab
