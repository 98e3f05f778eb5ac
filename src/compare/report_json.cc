// The comparison as JSON: every figure, for tools.
#include "perflab/compare.hpp"

namespace perflab {
namespace {

nlohmann::json change_json(const ShiftEstimate& change) {
  return {{"scale", change.scale == ChangeScale::kRatio ? "ratio" : "difference"},
          {"estimate", change.estimate},
          {"low", change.low},
          {"high", change.high},
          {"confidence", change.confidence},
          {"p_value", change.p_value},
          {"feasible", change.feasible},
          {"min_p_value", change.min_p_value},
          {"paired", change.paired},
          {"method", change.method},
          {"units", change.units}};
}

nlohmann::json row_json(const MetricComparison& row) {
  return {{"group", row.group},
          {"metric", row.metric.name},
          {"unit", row.metric.unit},
          {"base", row.base},
          {"candidate", row.candidate},
          {"base_median", row.base_median},
          {"candidate_median", row.candidate_median},
          {"exact", row.exact},
          {"significant", row.significant},
          {"method", change_source_name(row.source)},
          {"change", change_json(row.change)}};
}

}  // namespace

nlohmann::json comparison_json(const Comparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const MetricComparison& row : c.rows) rows.push_back(row_json(row));
  nlohmann::json geomeans = nlohmann::json::array();
  for (const MetricComparison& row : c.geomeans) geomeans.push_back(row_json(row));
  nlohmann::json criteria = nlohmann::json::array();
  for (const CriterionResult& r : c.criteria) {
    criteria.push_back({{"criterion", r.criterion.text},
                        {"verdict", verdict_name(r.verdict)},
                        {"reason", r.reason}});
  }
  nlohmann::json sites = nlohmann::json::array();
  for (const SiteChange& s : c.sites) {
    sites.push_back({{"site", s.site},
                     {"base_allocs", s.base_allocs},
                     {"candidate_allocs", s.candidate_allocs},
                     {"base_bytes", s.base_bytes},
                     {"candidate_bytes", s.candidate_bytes}});
  }
  return {{"schema", "perflab.compare/1"},
          {"base", c.base_path},
          {"candidate", c.candidate_path},
          {"alpha", c.options.alpha},
          {"paired", c.options.paired},
          {"verdict", c.criteria.empty() ? "none" : verdict_name(c.verdict)},
          {"rows", rows},
          {"geomeans", geomeans},
          {"criteria", criteria},
          {"allocation_sites", sites},
          {"notes", c.notes}};
}

}  // namespace perflab
