// compare_inputs: every metric both sides have, the criteria with
// Holm-Bonferroni over the relative ones, and the allocation sites that changed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <utility>

#include "perflab/compare.hpp"

namespace perflab {
namespace {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

bool constant(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [&](double v) { return v == values.front(); });
}

double no_change(ChangeScale scale) { return scale == ChangeScale::kRatio ? 1.0 : 0.0; }

// The change between two exactly known figures: no interval, no p-value.
ShiftEstimate exact_change(const MetricInfo& metric, double base, double candidate) {
  ShiftEstimate change;
  change.scale = metric.scale;
  const bool ratio = metric.scale == ChangeScale::kRatio && base != 0;
  change.scale = ratio ? ChangeScale::kRatio : ChangeScale::kDifference;
  change.estimate = ratio ? candidate / base : candidate - base;
  change.low = change.high = change.estimate;
  change.confidence = 1;
  change.p_value = base == candidate ? 1 : 0;
  change.method = "exact";
  return change;
}

ShiftEstimate estimate_change(const MetricComparison& row, double alpha, bool paired) {
  ChangeScale scale = row.metric.scale;
  // A ratio needs positive values; a figure that touched zero is compared by difference.
  const auto positive = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return x > 0; });
  };
  if (scale == ChangeScale::kRatio && !(positive(row.base) && positive(row.candidate))) {
    scale = ChangeScale::kDifference;
  }
  if (paired && row.base.size() == row.candidate.size() && row.base.size() > 1) {
    return compare_paired(row.base, row.candidate, alpha, scale);
  }
  return compare_independent(row.base, row.candidate, alpha, scale);
}

// The latency rows the histograms can judge, and their percentiles. The
// maximum is not among them: a bootstrap of a maximum puts the observed one
// in about 63% of resamples whatever the data, so its interval means nothing.
constexpr const char* kHistogramMetrics[] = {"latency_p50_us", "latency_p90_us", "latency_p99_us",
                                             "latency_p999_us"};
constexpr double kHistogramPercentiles[] = {50, 90, 99, 99.9};

std::optional<std::size_t> histogram_percentile(const MetricComparison& row) {
  if (!row.group.empty()) return std::nullopt;
  for (std::size_t i = 0; i < std::size(kHistogramMetrics); ++i) {
    if (row.metric.name == kHistogramMetrics[i]) return i;
  }
  return std::nullopt;
}

std::string format_alpha(double alpha) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", alpha);
  return text;
}

std::string format_p_value(double p) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", p);
  return text;
}

bool is_significant(const ShiftEstimate& change, double alpha) {
  const double none = no_change(change.scale);
  // An infeasible estimate is never significant (the rank tests ensure it
  // through min_p_value; the bootstrap can also lack units or tail requests).
  return change.feasible && change.p_value < alpha && (change.low > none || change.high < none);
}

// A latency percentile row on the histograms when they can decide; else on
// the samples when those can (the row stays as it is); else on the
// histograms still, whose estimate is the better one, marked infeasible.
void judge_on_histograms(MetricComparison& row, const LatencyBootstrap& tails, double alpha,
                         std::vector<std::string>& notes) {
  const std::optional<std::size_t> percentile = histogram_percentile(row);
  if (!percentile) return;
  const ShiftEstimate change = tails.change(*percentile, alpha);
  std::string why = tails.unusable_reason(*percentile);
  if (why.empty()) {
    why = std::to_string(change.n_base) + " base and " + std::to_string(change.n_candidate) +
          " candidate " + change.units + " cannot reach alpha " + format_alpha(alpha) +
          " (smallest p-value " + format_p_value(change.min_p_value) + ")";
  }
  const bool samples_decide = row.change.feasible && row.change.scale == ChangeScale::kRatio;
  if (!change.feasible && samples_decide) {
    notes.push_back(row.metric.name +
                    ": judged on the repetition samples, not the histograms: " + why);
    return;
  }
  if (!change.feasible) {
    notes.push_back(row.metric.name + ": neither the histograms (" + why + ") nor the " +
                    std::to_string(row.base.size()) + " vs " +
                    std::to_string(row.candidate.size()) +
                    " samples can reach alpha; shown from the histograms");
  }
  row.source = ChangeSource::kHistogram;
  row.change = change;
  row.base_median = tails.base_value(*percentile) / 1000;
  row.candidate_median = tails.candidate_value(*percentile) / 1000;
  row.significant = is_significant(change, alpha);
}

void check_loads(const CompareInput& base, const CompareInput& candidate,
                 const CompareOptions& options) {
  if (options.allow_different_loads || base.load.is_null() || candidate.load.is_null()) return;
  if (base.load == candidate.load) return;
  throw CompareError("the two runs used different loads: " + base.path + " ran " +
                     base.load.dump() + ", " + candidate.path + " ran " + candidate.load.dump() +
                     "; compare runs of the same load file (or pass --allow-different-loads)");
}

std::string site_name(const AllocProfile& profile, const AllocSite& site) {
  const std::optional<std::uint32_t> frame = most_useful_frame(profile, site);
  if (!frame) return "(unknown)";
  const ProfileFrame& f = profile.frames[*frame];
  std::string name = f.function.empty() ? "[" + f.module + "]" : f.function;
  if (!f.file.empty() && f.line > 0) {
    const std::size_t slash = f.file.rfind('/');
    name += " (" + f.file.substr(slash == std::string::npos ? 0 : slash + 1) + ":" +
            std::to_string(f.line) + ")";
  }
  return name;
}

std::vector<SiteChange> changed_sites(const AllocProfile& base, const AllocProfile& candidate,
                                      std::size_t top) {
  std::map<std::string, SiteChange> by_name;
  for (const AllocSite& site : base.sites) {
    SiteChange& change = by_name[site_name(base, site)];
    change.base_allocs += site.allocs;
    change.base_bytes += site.bytes;
  }
  for (const AllocSite& site : candidate.sites) {
    SiteChange& change = by_name[site_name(candidate, site)];
    change.candidate_allocs += site.allocs;
    change.candidate_bytes += site.bytes;
  }
  std::vector<SiteChange> changes;
  for (auto& [name, change] : by_name) {
    change.site = name;
    if (change.base_allocs != change.candidate_allocs ||
        change.base_bytes != change.candidate_bytes) {
      changes.push_back(change);
    }
  }
  const auto magnitude = [](const SiteChange& c) {
    return std::fabs(static_cast<double>(c.candidate_allocs) - static_cast<double>(c.base_allocs));
  };
  std::sort(changes.begin(), changes.end(), [&](const SiteChange& a, const SiteChange& b) {
    return magnitude(a) != magnitude(b) ? magnitude(a) > magnitude(b) : a.site < b.site;
  });
  if (changes.size() > top) changes.resize(top);
  return changes;
}

// Benchmark sets: the geometric mean over groups, per ratio-scale metric.
std::vector<MetricComparison> geomeans(const std::vector<MetricComparison>& rows) {
  std::map<std::string, std::vector<const MetricComparison*>> by_metric;
  std::vector<std::string> order;
  for (const MetricComparison& row : rows) {
    if (row.metric.scale != ChangeScale::kRatio || row.change.scale != ChangeScale::kRatio)
      continue;
    if (row.base_median <= 0 || row.candidate_median <= 0) continue;
    if (!by_metric.contains(row.metric.name)) order.push_back(row.metric.name);
    by_metric[row.metric.name].push_back(&row);
  }
  std::vector<MetricComparison> out;
  for (const std::string& name : order) {
    const auto& members = by_metric[name];
    if (members.size() < 2) continue;
    double log_base = 0, log_candidate = 0, log_change = 0;
    for (const MetricComparison* row : members) {
      log_base += std::log(row->base_median);
      log_candidate += std::log(row->candidate_median);
      log_change += std::log(row->change.estimate);
    }
    const double n = static_cast<double>(members.size());
    MetricComparison geomean;
    geomean.group = "geomean";
    geomean.metric = members.front()->metric;
    geomean.base_median = std::exp(log_base / n);
    geomean.candidate_median = std::exp(log_candidate / n);
    geomean.change.scale = ChangeScale::kRatio;
    geomean.change.estimate = geomean.change.low = geomean.change.high = std::exp(log_change / n);
    geomean.change.method = "geomean of " + std::to_string(members.size());
    out.push_back(std::move(geomean));
  }
  return out;
}

// One criterion over several benchmarks: fail if any fails, pass if all pass.
CriterionResult combine(const Criterion& criterion, const std::vector<std::string>& groups,
                        const std::vector<CriterionResult>& results) {
  if (results.size() == 1) return results.front();
  CriterionResult combined{criterion, Verdict::kPass, ""};
  std::size_t passed = 0;
  std::string details;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].verdict == Verdict::kPass) {
      ++passed;
      continue;
    }
    if (results[i].verdict == Verdict::kFail) combined.verdict = Verdict::kFail;
    if (results[i].verdict == Verdict::kInconclusive && combined.verdict == Verdict::kPass) {
      combined.verdict = Verdict::kInconclusive;
    }
    details += "; " + groups[i] + ": " + results[i].reason;
  }
  combined.reason = std::to_string(passed) + " of " + std::to_string(results.size()) +
                    " benchmarks pass" + details;
  return combined;
}

// Fewer repetitions than this cannot show a trend at the levels compare uses.
constexpr std::size_t kMinTrendSamples = 5;

// Repetitions whose figure drifts with their order (a store that grows, a
// cache that warms) are not exchangeable samples, which every interval here
// assumes: note each side whose repetitions trend. The family is the metrics
// the criteria judge (all measured ones without criteria), held at alpha by
// Holm-Bonferroni, so that a note is rare when nothing drifts.
void note_trends(const std::vector<Criterion>& criteria, double alpha, Comparison& comparison) {
  struct Tested {
    const MetricComparison* row;
    const char* side;
    OrderTrend trend;
  };
  std::vector<Tested> tested;
  for (const MetricComparison& row : comparison.rows) {
    if (row.exact) continue;
    const bool judged = std::any_of(
        criteria.begin(), criteria.end(),
        [&](const Criterion& criterion) { return criterion.metric == row.metric.name; });
    if (!criteria.empty() && !judged) continue;
    const std::pair<const char*, const std::vector<double>*> sides[] = {
        {"base", &row.base}, {"candidate", &row.candidate}};
    for (const auto& [side, values] : sides) {
      if (values->size() >= kMinTrendSamples) tested.push_back({&row, side, order_trend(*values)});
    }
  }
  std::vector<double> p_values;
  for (const Tested& t : tested) p_values.push_back(t.trend.p_value);
  const std::vector<bool> significant = holm_bonferroni(p_values, alpha);
  for (std::size_t i = 0; i < tested.size(); ++i) {
    if (!significant[i]) continue;
    const Tested& t = tested[i];
    char figures[64];
    std::snprintf(figures, sizeof figures, "Kendall tau %+.2f, p %.4f", t.trend.tau,
                  t.trend.p_value);
    comparison.notes.push_back(
        t.row->metric.name + (t.row->group.empty() ? "" : " of " + t.row->group) + ": the " +
        t.side + "'s " + std::to_string(t.trend.n) + " repetitions " +
        (t.trend.tau < 0 ? "fall" : "rise") + " in the order they ran (" + figures +
        "), so they are not the exchangeable samples its interval assumes; a longer warm-up, or "
        "a service whose state does not grow from one repetition to the next, would steady them");
  }
}

}  // namespace

Comparison compare_inputs(const CompareInput& base, const CompareInput& candidate,
                          const std::vector<Criterion>& criteria, const CompareOptions& options) {
  if (!(options.alpha > 0 && options.alpha <= 0.5)) {
    throw CompareError("alpha must be in (0, 0.5], not " + std::to_string(options.alpha));
  }
  check_loads(base, candidate, options);
  Comparison comparison;
  comparison.base_path = base.path;
  comparison.candidate_path = candidate.path;
  comparison.options = options;

  // The histograms judge the latency percentiles when both runs have them;
  // they are resampled once here, and read at every level Holm asks for.
  std::optional<LatencyBootstrap> tails;
  const bool has_latency_rows =
      std::any_of(base.metrics.begin(), base.metrics.end(), [](const MetricSamples& m) {
        return m.group.empty() &&
               std::find(std::begin(kHistogramMetrics), std::end(kHistogramMetrics), m.metric) !=
                   std::end(kHistogramMetrics);
      });
  if (options.latency_histograms && has_latency_rows) {
    if (!base.latency_units.empty() && !candidate.latency_units.empty()) {
      tails.emplace(
          base.latency_units, candidate.latency_units,
          std::vector<double>(std::begin(kHistogramPercentiles), std::end(kHistogramPercentiles)),
          options.bootstrap);
      for (const CompareInput* side : {&base, &candidate}) {
        if (!side->latency_note.empty()) {
          comparison.notes.push_back(side->path + ": " + side->latency_note);
        }
      }
    } else if (!base.latency_units.empty() || !candidate.latency_units.empty()) {
      comparison.notes.push_back(
          std::string("latency percentiles judged on the repetition samples: only the ") +
          (base.latency_units.empty() ? "candidate" : "base") +
          " has per-request histograms (latency.hlog)");
    }
  }
  std::vector<std::string> histogram_rows;

  std::vector<std::string> single_values;
  for (const MetricSamples& from : base.metrics) {
    const auto match = std::find_if(
        candidate.metrics.begin(), candidate.metrics.end(),
        [&](const MetricSamples& m) { return m.group == from.group && m.metric == from.metric; });
    const std::optional<MetricInfo> info = find_metric(from.metric);
    if (!info) continue;
    if (match == candidate.metrics.end()) {
      comparison.notes.push_back(from.metric + (from.group.empty() ? "" : " of " + from.group) +
                                 ": only in the base");
      continue;
    }
    MetricComparison row;
    row.group = from.group;
    row.metric = *info;
    row.base = from.values;
    row.candidate = match->values;
    row.base_median = median_of(row.base);
    row.candidate_median = median_of(row.candidate);
    row.exact = info->deterministic && constant(row.base) && constant(row.candidate);
    row.change = row.exact ? exact_change(*info, row.base_median, row.candidate_median)
                           : estimate_change(row, options.alpha, options.paired);
    row.significant = row.exact ? row.base_median != row.candidate_median
                                : is_significant(row.change, options.alpha);
    if (tails && !row.exact) judge_on_histograms(row, *tails, options.alpha, comparison.notes);
    if (row.source == ChangeSource::kHistogram) {
      histogram_rows.push_back(info->name);  // judge_on_histograms made its notes
    } else if (row.base.size() == 1 && row.candidate.size() == 1) {
      single_values.push_back(row.metric.name);
    } else if (!row.exact && !row.change.feasible) {
      comparison.notes.push_back(
          info->name + (row.group.empty() ? "" : " of " + row.group) + ": " +
          std::to_string(row.base.size()) + " vs " + std::to_string(row.candidate.size()) +
          " samples cannot reach alpha " + std::to_string(options.alpha).substr(0, 5) +
          " (smallest p-value " + std::to_string(row.change.min_p_value).substr(0, 6) + ")");
    }
    comparison.rows.push_back(std::move(row));
  }
  for (const MetricSamples& from : candidate.metrics) {
    const bool in_base = std::any_of(
        base.metrics.begin(), base.metrics.end(),
        [&](const MetricSamples& m) { return m.group == from.group && m.metric == from.metric; });
    if (!in_base) {
      comparison.notes.push_back(from.metric + (from.group.empty() ? "" : " of " + from.group) +
                                 ": only in the candidate");
    }
  }
  if (!histogram_rows.empty()) {
    std::string names;
    for (const std::string& name : histogram_rows) names += (names.empty() ? "" : ", ") + name;
    const ShiftEstimate& any = std::find_if(comparison.rows.begin(), comparison.rows.end(),
                                            [](const MetricComparison& row) {
                                              return row.source == ChangeSource::kHistogram;
                                            })
                                   ->change;
    comparison.notes.push_back(
        "(h) " + names +
        ": from the per-request histograms (latency.hlog): each side's percentile over all its "
        "requests, the interval from a bootstrap over " +
        std::to_string(any.n_base) + " base and " + std::to_string(any.n_candidate) +
        " candidate " + any.units + " (" + std::to_string(options.bootstrap.resamples) +
        " resamples)");
  }
  if (!single_values.empty()) {
    std::string names;
    for (const std::string& name : single_values) names += (names.empty() ? "" : ", ") + name;
    comparison.notes.push_back("one value per run, shown but never significant: " + names);
  }
  comparison.geomeans = geomeans(comparison.rows);
  note_trends(criteria, options.alpha, comparison);

  // Relative criteria on measured (not exact) rows are the gated family that
  // Holm-Bonferroni holds at alpha; each is judged at its own step's level.
  struct Gated {
    std::size_t criterion;
    std::size_t slot;
    const MetricComparison* row;
  };
  std::vector<std::vector<CriterionResult>> results(criteria.size());
  std::vector<std::vector<std::string>> groups(criteria.size());
  std::vector<Gated> gated;
  for (std::size_t c = 0; c < criteria.size(); ++c) {
    const Criterion& criterion = criteria[c];
    for (const MetricComparison& row : comparison.rows) {
      if (row.metric.name != criterion.metric) continue;
      groups[c].push_back(row.group.empty() ? "run" : row.group);
      if (row.exact) {
        results[c].push_back(
            evaluate_exact(criterion, row.metric, row.base_median, row.candidate_median));
      } else if (criterion.relative) {
        gated.push_back({c, results[c].size(), &row});
        results[c].emplace_back();
      } else if (row.source == ChangeSource::kHistogram) {
        // The candidate's own percentile and its bootstrap interval, in us.
        const std::size_t which = *histogram_percentile(row);
        const std::string unusable = tails->unusable_reason(which);
        MedianInterval interval = tails->candidate_interval(which, options.alpha);
        interval.median /= 1000;
        interval.low /= 1000;
        interval.high /= 1000;
        results[c].push_back(
            !unusable.empty()
                ? CriterionResult{criterion, Verdict::kInconclusive,
                                  "inconclusive: the histograms cannot bound the candidate's " +
                                      row.metric.name + " (" + unusable + ")"}
                : evaluate_absolute(criterion, row.metric, interval,
                                    "bootstrap interval of the candidate's p" +
                                        format_alpha(kHistogramPercentiles[which]) +
                                        " from the histograms"));
      } else {
        results[c].push_back(evaluate_absolute(criterion, row.metric,
                                               median_interval(row.candidate, options.alpha)));
      }
    }
    if (results[c].empty()) {
      throw CompareError("criterion '" + criterion.text + "': " + criterion.metric +
                         " is not in both runs (" + base.path + ", " + candidate.path + ")");
    }
  }
  std::stable_sort(gated.begin(), gated.end(), [](const Gated& a, const Gated& b) {
    return a.row->change.p_value < b.row->change.p_value;
  });
  // Holm's step-down: the k-th smallest p-value of m at alpha / (m - k),
  // and once a step decides nothing, every later one stays at its level.
  double level = options.alpha / static_cast<double>(gated.size());
  for (std::size_t k = 0; k < gated.size(); ++k) {
    const MetricComparison& row = *gated[k].row;
    CriterionResult& result = results[gated[k].criterion][gated[k].slot];
    const std::optional<std::size_t> percentile = histogram_percentile(row);
    const ShiftEstimate change = row.source == ChangeSource::kHistogram
                                     ? tails->change(*percentile, level)
                                     : estimate_change(row, level, options.paired);
    const std::string unusable = row.source == ChangeSource::kHistogram
                                     ? tails->unusable_reason(*percentile)
                                     : std::string();
    if (!unusable.empty()) {
      result = {criteria[gated[k].criterion], Verdict::kInconclusive,
                "inconclusive: the histograms cannot judge " + row.metric.name + " (" + unusable +
                    "), and the repetition samples cannot reach the significance level either; "
                    "more repetitions (and, for a tail, more requests) would"};
    } else if (change.scale != row.metric.scale) {
      // A ratio figure that touched 0 was measured as a difference: a
      // percentage of it means nothing.
      result = {criteria[gated[k].criterion], Verdict::kInconclusive,
                "inconclusive: a sample of " + row.metric.name +
                    " is 0 or less, so a relative change is not defined; use an absolute bound"};
    } else {
      result = evaluate_relative(criteria[gated[k].criterion], row.metric, change);
    }
    if (result.verdict != Verdict::kInconclusive && k + 1 < gated.size()) {
      level = options.alpha / static_cast<double>(gated.size() - k - 1);
    }
  }
  for (std::size_t c = 0; c < criteria.size(); ++c) {
    comparison.criteria.push_back(combine(criteria[c], groups[c], results[c]));
    const Verdict verdict = comparison.criteria.back().verdict;
    if (verdict == Verdict::kFail) {
      comparison.verdict = Verdict::kFail;
    } else if (verdict == Verdict::kInconclusive && comparison.verdict == Verdict::kPass) {
      comparison.verdict = Verdict::kInconclusive;
    }
  }
  // Counting-mode profiles have no call stacks: no sites to tell apart.
  if (base.allocs && candidate.allocs && !base.allocs->frames.empty() &&
      !candidate.allocs->frames.empty()) {
    comparison.sites = changed_sites(*base.allocs, *candidate.allocs, options.top_sites);
  }
  return comparison;
}

const char* change_source_name(ChangeSource source) noexcept {
  return source == ChangeSource::kHistogram ? "histogram bootstrap" : "repetition samples";
}

int verdict_exit_code(Verdict verdict, int inconclusive_exit) noexcept {
  switch (verdict) {
    case Verdict::kPass:
      return 0;
    case Verdict::kFail:
      return 1;
    case Verdict::kInconclusive:
      return inconclusive_exit;
  }
  return 2;
}

}  // namespace perflab
