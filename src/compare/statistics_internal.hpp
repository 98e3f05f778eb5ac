// The building blocks of compare's statistics, exposed so tests can check
// each against brute force: null distributions of the rank statistics, the
// normal and Student's t distributions, and order statistics of pairwise differences and Walsh
// averages found without materialising all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace perflab::compare_detail {

/// Up to this many candidate values (8 MB) an order statistic is found by
/// gathering them; above, by selection over the implicit sorted rows, in
/// memory proportional to the number of rows.
inline constexpr std::size_t kMaterializeLimit = std::size_t{1} << 20;

/// The standard normal CDF and its inverse. REQUIRES: 0 < p < 1.
double normal_cdf(double z);
double normal_quantile(double p);

/// Student's t CDF with `df` (> 0, not necessarily whole) degrees of
/// freedom, from the regularized incomplete beta function; about 1e-13
/// absolute accuracy. And its inverse. REQUIRES: df > 0; 0 < p < 1.
double student_t_cdf(double t, double df);
double student_t_quantile(double p, double df);

/// P(U <= u) for u = 0 .. m * n: the exact null distribution of the
/// Mann-Whitney U statistic for samples of m and n values without ties.
/// O(m^2 n^2 / 4) time; meant for m, n < 50.
std::vector<double> mann_whitney_cdf(std::size_t m, std::size_t n);

/// P(V <= v) for v = 0 .. n (n + 1) / 2: the exact null distribution of the
/// Wilcoxon signed-rank statistic (sum of the positive ranks) for n nonzero
/// values without ties.
std::vector<double> signed_rank_cdf(std::size_t n);

/// The k-th smallest (1-based) of the |base| * |candidate| differences
/// candidate[j] - base[i]. REQUIRES: both sorted ascending, non-empty,
/// 1 <= k <= |base| * |candidate|.
double kth_pairwise_difference(std::span<const double> sorted_base,
                               std::span<const double> sorted_candidate, std::uint64_t k,
                               std::size_t materialize_limit = kMaterializeLimit);

/// The k-th smallest (1-based) of the n (n + 1) / 2 Walsh averages
/// (d[i] + d[j]) / 2, i <= j. REQUIRES: `sorted` ascending and non-empty,
/// 1 <= k <= n (n + 1) / 2.
double kth_walsh_average(std::span<const double> sorted, std::uint64_t k,
                         std::size_t materialize_limit = kMaterializeLimit);

}  // namespace perflab::compare_detail
