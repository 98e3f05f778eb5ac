// compare_inputs: every metric both sides have, the criteria with
// Holm-Bonferroni over the relative ones, and the allocation sites that changed.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

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

bool is_significant(const ShiftEstimate& change, double alpha) {
  const double none = no_change(change.scale);
  return change.p_value < alpha && (change.low > none || change.high < none);
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
    if (row.base.size() == 1 && row.candidate.size() == 1) {
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
  if (!single_values.empty()) {
    std::string names;
    for (const std::string& name : single_values) names += (names.empty() ? "" : ", ") + name;
    comparison.notes.push_back("one value per run, shown but never significant: " + names);
  }
  comparison.geomeans = geomeans(comparison.rows);

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
    const ShiftEstimate change = estimate_change(row, level, options.paired);
    if (change.scale != row.metric.scale) {
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
