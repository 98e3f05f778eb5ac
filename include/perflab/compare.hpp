// perflab::compare: is the candidate better than the base, by how much, and
// can a noisy machine tell? Statistics on repeated samples (log-ratio
// Hodges-Lehmann estimate with a distribution-free confidence interval,
// Mann-Whitney U or Wilcoxon signed-rank, Holm-Bonferroni over the gated
// criteria), tail latency from the per-request histograms (a bootstrap over
// repetitions of latency.hlog), the criteria language of DESIGN.md, and the
// three-way verdict a CI job acts on.
//
//   Comparison c = compare_profiles(read_compare_input("profiles/before"),
//                                   read_compare_input("profiles/after"),
//                                   parse_criteria({"allocs_per_op <= -30%"}), {});
//   fmt::print("{}", format_comparison_text(c));
//   return exit_code(c.verdict);   // 0 pass, 1 fail, 3 inconclusive
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "perflab/histogram.hpp"
#include "perflab/profile.hpp"

namespace perflab {

/// Bad input to compare: a missing or corrupt profile, an unknown schema, an
/// unknown metric in a criterion, runs that cannot be compared. The message
/// names the file and field; the CLI exits 2.
class CompareError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Statistics (src/compare/statistics.cc)
// ---------------------------------------------------------------------------

/// How a change is measured: as a ratio (log scale; every sample must be > 0)
/// or, for figures that can be 0 (error_rate, leaked_bytes), as a difference.
enum class ChangeScale { kRatio, kDifference };

/// The estimated change from base to candidate, with its confidence interval.
struct ShiftEstimate {
  ChangeScale scale = ChangeScale::kRatio;
  /// kRatio: candidate / base (1.10 = 10% higher). kDifference: candidate - base.
  double estimate = 0;
  double low = 0;  // confidence interval, at confidence 1 - alpha
  double high = 0;
  double confidence = 0;  // the interval's actual coverage (>= 1 - alpha when achievable)
  double p_value = 1;     // two-sided, of "no change"
  std::size_t n_base = 0;
  std::size_t n_candidate = 0;
  bool paired = false;  // Wilcoxon signed-rank on pairs instead of Mann-Whitney U
  /// false when the sample counts cannot reach alpha at all (n = 4 per side
  /// cannot reach 0.01): the interval is then the widest available and the
  /// change can never be called significant.
  bool feasible = true;
  double min_p_value = 0;  // the smallest p-value these sample counts can give
  std::string method;      // "hodges-lehmann/mann-whitney", "exact", "histogram bootstrap", ...
  /// What n_base and n_candidate count: empty for samples (the rank tests);
  /// for the histogram bootstrap, its resampling units ("repetitions" or
  /// "intervals"; "units" when the two sides differ).
  std::string units;
};

/// Compares two independent samples (Mann-Whitney U, exact for small samples
/// without ties, normal approximation with tie correction otherwise; the
/// estimate is the Hodges-Lehmann median of pairwise log-ratios or
/// differences, the interval from the U distribution's critical values).
/// With one sample per side: the plain ratio, interval equal to it, p = 1,
/// feasible = false. Throws CompareError for empty samples, non-finite values,
/// values <= 0 on the ratio scale, or alpha outside (0, 1).
ShiftEstimate compare_independent(std::span<const double> base, std::span<const double> candidate,
                                  double alpha, ChangeScale scale);

/// Compares paired samples (base[i] ran next to candidate[i], interleaved):
/// Wilcoxon signed-rank on the per-pair log-ratios (or differences), the
/// estimate the median of their Walsh averages. REQUIRES equal lengths
/// (CompareError otherwise).
ShiftEstimate compare_paired(std::span<const double> base, std::span<const double> candidate,
                             double alpha, ChangeScale scale);

/// Holm-Bonferroni: which of `p_values` are significant with the family-wise
/// error rate held at alpha.
std::vector<bool> holm_bonferroni(std::span<const double> p_values, double alpha);

/// Whether values drift with their order (repetition 1, 2, ...): Kendall's
/// tau between each value and its position, and the two-sided p-value of
/// "no order" from the exact permutation distribution of Kendall's S (ties
/// add nothing to S and are otherwise ignored, which makes p conservative).
/// Samples that trend are not exchangeable, which every interval here assumes.
/// Fewer than 3 values: tau 0, p 1. Throws CompareError for non-finite values.
struct OrderTrend {
  double tau = 0;  // -1: every value below the one before ... +1: every one above
  double p_value = 1;
  std::size_t n = 0;
};
OrderTrend order_trend(std::span<const double> values);

/// The smallest two-sided p-value Mann-Whitney U can give for these sample
/// counts (2 / C(n1 + n2, n1)), and the Wilcoxon signed-rank one for n pairs (2 / 2^n).
double min_p_value_independent(std::size_t n_base, std::size_t n_candidate);
double min_p_value_paired(std::size_t n_pairs);

/// The median and a distribution-free confidence interval for it (order
/// statistics of the binomial), for absolute bounds on one side's figure.
struct MedianInterval {
  double median = 0;
  double low = 0;
  double high = 0;
};
MedianInterval median_interval(std::span<const double> samples, double alpha);

// ---------------------------------------------------------------------------
// Tail latency from per-request histograms (src/compare/latency_bootstrap.cc)
// ---------------------------------------------------------------------------

/// One side's per-request latencies (values in nanoseconds), kept as the
/// units a bootstrap resamples: one histogram per repetition, or per log
/// interval when the run had no repetitions (docs/compare.md says why).
/// Each unit keeps only its non-empty buckets, so a unit costs 16 bytes per
/// distinct latency bucket rather than a whole counts array. Not
/// synchronized; const members may run concurrently.
class LatencyUnits {
 public:
  enum class Kind { kInterval, kRepetition };
  /// One non-empty bucket: its highest equivalent value (what
  /// Histogram::value_at_percentile reports for it) and its count.
  struct Bucket {
    std::int64_t value = 0;
    std::int64_t count = 0;
  };

  LatencyUnits() = default;
  explicit LatencyUnits(Kind kind) : kind_(kind) {}

  Kind kind() const noexcept { return kind_; }
  void set_kind(Kind kind) noexcept { kind_ = kind; }
  /// "repetitions" or "intervals".
  const char* kind_name() const noexcept;
  std::size_t size() const noexcept { return totals_.size(); }
  bool empty() const noexcept { return totals_.empty(); }
  /// Requests in unit i, and in all units. REQUIRES: i < size().
  std::int64_t unit_count(std::size_t i) const noexcept { return totals_[i]; }
  std::int64_t total_count() const noexcept;
  /// Unit i's buckets, ascending by value. REQUIRES: i < size().
  std::span<const Bucket> unit(std::size_t i) const noexcept;

  /// Appends `histogram`'s non-empty buckets as a new unit; an empty
  /// histogram adds nothing (a unit without requests carries no information).
  /// Units from histograms of one configuration merge exactly; otherwise a
  /// value is its bucket's, as Histogram::add would have it.
  void add_unit(const Histogram& histogram);
  /// Regroups the units in one pass: group g becomes the merge of units
  /// [starts[g], starts[g + 1]) (the last group runs to size()). REQUIRES:
  /// starts non-empty, starts[0] == 0, strictly increasing, each < size().
  void regroup(std::span<const std::size_t> starts);

 private:
  Kind kind_ = Kind::kInterval;
  std::vector<Bucket> buckets_;          // every unit's buckets, unit after unit
  std::vector<std::size_t> offsets_{0};  // unit i is buckets_[offsets_[i], offsets_[i + 1])
  std::vector<std::int64_t> totals_;     // requests per unit
};

/// The settings of the histogram bootstrap. The defaults are what compare uses.
struct LatencyBootstrapOptions {
  std::size_t resamples = 2000;  // B; every figure is a share of B
  /// std::mt19937_64's seed. Its output sequence is fixed by the standard and
  /// every draw is mapped to an index by plain modulo, so a comparison gives
  /// the same figures under any compiler and standard library.
  std::uint64_t seed = 0x70657266'6c616221;  // "perflab!"
  /// Fewer units than this on a side cannot decide anything (infeasible).
  std::size_t min_units = 4;
  /// A percentile whose tail (requests beyond it, N * (1 - p)) holds fewer
  /// requests than this on a side is left to the samples (infeasible): the
  /// bootstrap of a near-extreme order statistic does not converge.
  double min_tail_count = 10;
};

/// Tail-latency percentiles compared on per-request histograms: the estimate
/// is the ratio of the candidate's percentile to the base's, each taken on
/// all its units merged (histograms add exactly); the interval and p-value
/// come from a bootstrap that resamples each side's units with replacement,
/// independently, B times (the units carry the correlation between requests
/// of one interval or repetition). The bootstrap deviations of each side are
/// scaled by sqrt(n / (n - 1)) and the percentile interval is widened to
/// Student's t with Welch's degrees of freedom (an expanded percentile
/// interval), which holds the error rates with as few as 4-8 units per side
/// where the plain percentile interval is too narrow. docs/compare.md has the
/// method and its calibration.
///
/// The resampling runs once, in the constructor, for every percentile at
/// once (about n * log2(buckets) operations per percentile and resample);
/// change() and candidate_interval() at any alpha then only read the sorted
/// bootstrap distributions. Immutable after construction: const members may
/// run concurrently.
class LatencyBootstrap {
 public:
  /// `percentiles` in (0, 100), e.g. {50, 90, 99, 99.9}. Throws CompareError
  /// when a side has no unit or a percentile is outside (0, 100), or when
  /// resamples < 100. Memory: 8 bytes per unit and distinct bucket of a side
  /// while resampling (cumulative counts), and 24 bytes per percentile and
  /// resample kept.
  LatencyBootstrap(const LatencyUnits& base, const LatencyUnits& candidate,
                   std::vector<double> percentiles, LatencyBootstrapOptions options = {});

  const std::vector<double>& percentiles() const noexcept { return percentiles_; }
  /// The percentile (index into percentiles()) of each side's merged units, in ns.
  double base_value(std::size_t which) const noexcept;
  double candidate_value(std::size_t which) const noexcept;

  /// Why the bootstrap cannot judge this percentile at all, whatever alpha
  /// ("3 base and 3 candidate repetitions (at least 4 per side needed)",
  /// "too few requests beyond p99.9 (...)"), or an empty string when it can.
  /// REQUIRES (here and below): which < percentiles().size().
  std::string unusable_reason(std::size_t which) const;

  /// The change candidate / base of percentile `which` (scale kRatio, method
  /// "histogram bootstrap"), with its interval at confidence 1 - alpha and a
  /// two-sided p-value (the smallest alpha whose interval excludes 1, at
  /// least 1 / B). n_base and n_candidate count units. feasible is false when
  /// unusable_reason() is not empty or min_p_value > alpha; the interval is
  /// then the whole range of the bootstrap distribution. Throws CompareError
  /// for alpha outside (0, 1).
  ShiftEstimate change(std::size_t which, double alpha) const;

  /// The candidate's percentile (in ns) with its bootstrap interval at
  /// confidence 1 - alpha, for absolute bounds. Meaningful only when
  /// unusable_reason() is empty. Throws CompareError for alpha outside (0, 1).
  MedianInterval candidate_interval(std::size_t which, double alpha) const;

 private:
  struct Percentile {
    std::int64_t base_value = 0;  // each side's percentile on all units merged, ns
    std::int64_t candidate_value = 0;
    double base_log = 0;  // their logarithms
    double candidate_log = 0;
    std::vector<double> base_deviations;  // scaled log deviations, sorted
    std::vector<double> candidate_deviations;
    std::vector<double> changes;  // log-ratio bootstrap distribution, sorted
    double degrees_of_freedom = 0;
    std::string unusable;
  };
  std::vector<double> percentiles_;
  LatencyBootstrapOptions options_;
  std::size_t n_base_ = 0;
  std::size_t n_candidate_ = 0;
  std::string units_;
  std::vector<Percentile> results_;
};

/// The smallest p-value the histogram bootstrap can give with these unit
/// counts and resamples: 2 (1 - T_df(z)), z the normal quantile of
/// 1 - 1 / (2 B), df = n_base + n_candidate - 2 (at least 1 / B).
double min_p_value_bootstrap(std::size_t n_base, std::size_t n_candidate, std::size_t resamples);

// ---------------------------------------------------------------------------
// Metrics and criteria (src/compare/criteria.cc)
// ---------------------------------------------------------------------------

/// Which way is better for a figure.
enum class Better { kLower, kHigher, kNeither };

/// What compare knows of a metric name.
struct MetricInfo {
  std::string name;  // "allocs_per_op"
  std::string unit;  // "allocs", "us", "req/s", "B", "", ...
  Better better = Better::kLower;
  ChangeScale scale = ChangeScale::kRatio;
  bool deterministic = false;  // the same build gives the same value: compared exactly
};

/// DESIGN.md's canonical metrics (throughput_rps, latency_p50_us, ...,
/// allocs_per_op, cpu_per_op_us, pool_hit_rate ...). Unknown names: nullopt.
std::optional<MetricInfo> find_metric(std::string_view name);
/// Every canonical metric, in report order.
const std::vector<MetricInfo>& canonical_metrics();

/// `METRIC OP VALUE`: OP one of <= >= < >; VALUE a relative change ("-30%",
/// "+10%", "+0%") or an absolute bound on the candidate ("2000", "1.5e3").
struct Criterion {
  std::string text;  // as written, for reports
  std::string metric;
  enum class Op { kLessEqual, kGreaterEqual, kLess, kGreater } op = Op::kLessEqual;
  double value = 0;  // relative: the fraction (-0.30); absolute: the bound
  bool relative = false;
};

/// Parses one criterion. Throws CompareError naming the text and the problem
/// (unknown metric, with the known ones and the closest name; bad operator;
/// bad number; trailing text; a relative bound on a difference-scale metric,
/// which must be absolute; a relative fall of 100% or more on a ratio-scale one).
Criterion parse_criterion(std::string_view text);
std::vector<Criterion> parse_criteria(const std::vector<std::string>& texts);

enum class Verdict { kPass, kFail, kInconclusive };
const char* verdict_name(Verdict verdict) noexcept;  // "pass", "fail", "inconclusive"

/// The outcome of one criterion and why, in words.
struct CriterionResult {
  Criterion criterion;
  Verdict verdict = Verdict::kInconclusive;
  std::string
      reason;  // "pass: the whole 95% interval of the change (-41.2% .. -35.0%) is within <= -30%"
};

/// Evaluates a relative criterion against a change estimated on `metric`'s
/// scale (DESIGN.md: passes when the whole interval satisfies it, fails when
/// the whole interval violates it, inconclusive otherwise; an infeasible
/// estimate, whose sample counts cannot reach alpha, is always inconclusive).
CriterionResult evaluate_relative(const Criterion& criterion, const MetricInfo& metric,
                                  const ShiftEstimate& change);
/// Evaluates an absolute bound on the candidate's figure: passes when the
/// whole interval of its median satisfies the bound, fails when the whole
/// interval violates it. `subject` names what the interval is of in the
/// reason (default: "confidence interval of the candidate's median").
CriterionResult evaluate_absolute(const Criterion& criterion, const MetricInfo& metric,
                                  const MedianInterval& candidate, std::string_view subject = {});
/// Deterministic figures: compared exactly (the medians), no interval.
CriterionResult evaluate_exact(const Criterion& criterion, const MetricInfo& metric, double base,
                               double candidate);

// ---------------------------------------------------------------------------
// What is compared (src/compare/inputs.cc)
// ---------------------------------------------------------------------------

/// The samples of one metric on one side: one value per repetition.
struct MetricSamples {
  std::string group;   // "" for a profile; the benchmark's name in a benchmark set
  std::string metric;  // canonical name (find_metric knows it)
  std::vector<double> values;
};

/// One side of a comparison.
struct CompareInput {
  std::string path;
  enum class Kind { kProfile, kBenchmarkJson } kind = Kind::kProfile;
  std::vector<MetricSamples> metrics;  // in report order
  /// Profiles: how the load was made (mode, rate, connections, url path), to
  /// refuse comparing runs of different loads. Null when there was no load.
  nlohmann::json load;
  std::optional<AllocProfile> allocs;  // when the profile has allocs.pb.gz
  /// Profiles with latency.hlog: every untagged interval summed (latency from
  /// the due time, in nanoseconds; the Tag=service lines are left out).
  std::optional<Histogram> latency;
  /// The same intervals as the units the tail-latency bootstrap resamples:
  /// one per repetition when summary.json's run.repetition_windows lists two
  /// or more (intervals after the last window, from a repetition the server
  /// did not live through, are left out), else one per interval (an
  /// interval with under half the median interval's requests, such as the
  /// short last one of a run, joins its neighbour; more than 128 are merged
  /// into blocks of consecutive intervals). Empty without latency.hlog.
  LatencyUnits latency_units;
  /// What the reader should know about latency_units ("the repetition
  /// windows do not match latency.hlog; its intervals are the units"), or "".
  std::string latency_note;
  /// Heap, RSS and throughput over time, from allocs.pb.gz's timeline when the
  /// profile has one; empty otherwise.
  std::vector<TimelineSample> timeline;
};

/// Reads a profile directory (its summary.json: the `samples` group when
/// present, else one value per canonical metric from the groups; allocs.pb.gz
/// and latency.hlog when present) or a Google Benchmark JSON file
/// (--benchmark_out: per benchmark, the iteration runs' real_time_ns,
/// cpu_time_ns, items_per_second, bytes_per_second, allocs_per_iteration).
/// Throws CompareError naming the file and field: missing or unreadable,
/// not JSON, an unknown schema version, a field of the wrong type, no metric
/// at all.
CompareInput read_compare_input(const std::filesystem::path& path);

/// The same from text already read: a summary.json (has "schema") or a
/// Google Benchmark JSON document (has "benchmarks"); `where` names it in
/// errors. No allocation profile. Throws CompareError as above; never crashes
/// on any input (fuzzed: fuzz/compare_json_fuzz.cc).
CompareInput parse_compare_json(std::string_view text, const std::string& where);

// ---------------------------------------------------------------------------
// The comparison (src/compare/comparison.cc) and its reports
// ---------------------------------------------------------------------------

struct CompareOptions {
  double alpha = 0.05;  // significance level and 1 - confidence of intervals
  bool paired = false;  // samples ran interleaved (A B A B): Wilcoxon on pairs
  bool allow_different_loads = false;
  std::size_t top_sites = 10;  // allocation sites that changed, in the report
  /// Judge latency percentiles on the histograms when both sides have them
  /// (false: always on the samples, as before latency.hlog was read).
  bool latency_histograms = true;
  LatencyBootstrapOptions bootstrap;
};

/// Where a row's change comes from.
enum class ChangeSource {
  kSamples,    // the per-repetition samples (rank tests, or exact)
  kHistogram,  // the per-request histograms of latency.hlog (LatencyBootstrap)
};
/// "repetition samples" or "histogram bootstrap".
const char* change_source_name(ChangeSource source) noexcept;

/// One metric of one group, base against candidate.
struct MetricComparison {
  std::string group;
  MetricInfo metric;
  std::vector<double> base;
  std::vector<double> candidate;
  /// The figures shown: the samples' medians; for a kHistogram row, the
  /// percentile of each side's merged histograms (the estimate's own terms).
  double base_median = 0;
  double candidate_median = 0;
  bool exact = false;        // deterministic, constant on each side: compared exactly
  ShiftEstimate change;      // at options.alpha
  bool significant = false;  // p < alpha and the interval excludes no change
  ChangeSource source = ChangeSource::kSamples;
};

/// An allocation site (by its most useful frame) whose counts changed.
struct SiteChange {
  std::string site;  // "function (file:line)" or the module
  std::uint64_t base_allocs = 0;
  std::uint64_t candidate_allocs = 0;
  std::uint64_t base_bytes = 0;
  std::uint64_t candidate_bytes = 0;
};

struct Comparison {
  std::string base_path;
  std::string candidate_path;
  CompareOptions options;
  std::vector<MetricComparison> rows;
  /// Benchmark sets: per metric, the geometric mean over groups of the
  /// medians and of the change (estimate only).
  std::vector<MetricComparison> geomeans;
  std::vector<CriterionResult> criteria;
  std::vector<SiteChange> sites;
  Verdict verdict = Verdict::kPass;  // no criteria: pass (a report only)
  std::vector<std::string> notes;    // what the reader should know (infeasible counts, ...)
};

/// Compares every metric both sides have, evaluates `criteria` (Holm-Bonferroni
/// over the relative ones: the k-th smallest p-value of m is judged at
/// alpha / (m - k)), and finds the allocation sites that changed most.
/// latency_p50_us .. latency_p999_us are judged on the histograms
/// (LatencyBootstrap over latency_units) when both sides have them and the
/// bootstrap can reach alpha; otherwise on the samples when those can, and
/// a note says which and why. latency_max_us always uses the samples.
/// Throws CompareError when a criterion's metric is on neither side or on one
/// side only, or when the profiles ran different loads (unless allowed).
Comparison compare_inputs(const CompareInput& base, const CompareInput& candidate,
                          const std::vector<Criterion>& criteria, const CompareOptions& options);

/// The noise floor of one metric, from comparing two runs of the same build
/// (`perflab compare --calibrate A A2`): the largest change the confidence
/// interval allows when nothing changed. A relative criterion tighter than it
/// cannot be decided on this machine with these sample counts.
struct NoiseFloor {
  std::string group;
  MetricInfo metric;
  double floor = 0;       // ratio scale: a fraction (0.023 = 2.3%); difference: in the unit
  bool measured = false;  // false for single values and exact figures (no interval)
};

/// One noise floor per row of a comparison of two runs of one build.
std::vector<NoiseFloor> noise_floors(const Comparison& calibration);

/// The relative criteria tighter than the noise floor of their metric, as
/// warnings in words ("cpu_per_op_us <= +1%: tighter than the noise floor
/// +-2.3% measured by --calibrate; it cannot be decided reliably").
std::vector<std::string> criteria_below_noise(const std::vector<NoiseFloor>& floors,
                                              const std::vector<Criterion>& criteria);

/// The calibration as a text table.
std::string format_calibration_text(const Comparison& calibration,
                                    const std::vector<NoiseFloor>& floors,
                                    const std::vector<std::string>& warnings);

/// 0 pass, 1 fail, 3 inconclusive (or 0 / 1 when `inconclusive_exit` says so).
int verdict_exit_code(Verdict verdict, int inconclusive_exit = 3) noexcept;

/// Reports: an aligned text table, GitHub-flavoured markdown (a CI job
/// summary or pull-request comment), and JSON (every figure).
std::string format_comparison_text(const Comparison& comparison);
std::string format_comparison_markdown(const Comparison& comparison);
nlohmann::json comparison_json(const Comparison& comparison);

/// The comparison as one self-contained HTML document (report.html): no
/// script and no external resource of any kind, so it opens offline and in a
/// CI artifact viewer. It holds the verdict and the criteria with their
/// reasons, the metrics table, inline SVG plots of the latency percentiles
/// (base and candidate overlaid on HdrHistogram's log scale, from the
/// inputs' `latency`), of heap bytes over time (their `timeline`) and of
/// throughput per repetition (their throughput_rps samples), and a flame-graph
/// style bar chart of the allocation sites that changed most
/// (comparison.sites). Every string from the inputs (paths, names, criteria,
/// reasons) is escaped for HTML text and attributes. A plot without data is
/// replaced by a one-line note. `base` and `candidate` are the inputs
/// `comparison` was made from. Throws std::bad_alloc only.
std::string format_comparison_html(const Comparison& comparison, const CompareInput& base,
                                   const CompareInput& candidate);

/// The HTML report of one run (what `perflab baseline` writes as
/// report.html): its figures (median and range over the repetitions), latency
/// by percentile, throughput per repetition, heap over time and its top
/// allocation sites. Self-contained and escaped like the comparison report.
std::string format_run_html(const CompareInput& run);

}  // namespace perflab
