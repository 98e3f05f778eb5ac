// The comparison as GitHub-flavoured markdown: a CI job summary or a
// pull-request comment.
#include <cstdio>

#include "perflab/compare.hpp"
#include "report_common.hpp"

namespace perflab {
namespace {

using namespace compare_detail;

// Markdown table cells: a '|' or a line break in a name would break the table.
std::string cell(std::string text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '\n' || ch == '\r') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string format_comparison_markdown(const Comparison& c) {
  std::string out = "### perflab compare";
  if (!c.criteria.empty()) out += std::string(": **") + verdict_name(c.verdict) + "**";
  out += "\n\nbase `" + cell(c.base_path) + "` vs candidate `" + cell(c.candidate_path) + "`";
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "%g", c.options.alpha);
  out += std::string(" (alpha ") + alpha + "; ~ = no significant change)\n\n";
  out += "| metric | base | candidate | change | interval | p | n |\n";
  out += "|---|--:|--:|--:|:-:|--:|--:|\n";
  for (const auto* rows : {&c.rows, &c.geomeans}) {
    for (const MetricComparison& row : *rows) {
      const bool geomean = row.group == "geomean";
      out += "| " + cell(row_label(row)) + " | " + format_value(row.base_median, row.metric.unit) +
             " | " + format_value(row.candidate_median, row.metric.unit) + " | " +
             format_change(row.change, row.metric.unit) + (row.significant || geomean ? "" : " ~") +
             " | " + (geomean ? "" : format_interval(row)) + " | " +
             (geomean ? "" : format_p(row)) + " | " + (geomean ? "" : format_counts(row)) + " |\n";
    }
  }
  if (!c.criteria.empty()) {
    out += "\n| verdict | criterion | why |\n|---|---|---|\n";
    for (const CriterionResult& r : c.criteria) {
      out += std::string("| ") + verdict_name(r.verdict) + " | `" + cell(r.criterion.text) +
             "` | " + cell(r.reason) + " |\n";
    }
  }
  if (!c.sites.empty()) {
    out += "\n<details><summary>Allocation sites that changed most</summary>\n\n";
    out += "| site | allocations | bytes |\n|---|--:|--:|\n";
    for (const SiteChange& site : c.sites) {
      out += "| `" + cell(site.site) + "` | " + std::to_string(site.base_allocs) + " → " +
             std::to_string(site.candidate_allocs) + " | " + std::to_string(site.base_bytes) +
             " → " + std::to_string(site.candidate_bytes) + " |\n";
    }
    out += "\n</details>\n";
  }
  for (const std::string& note : c.notes) out += "\n> " + cell(note) + "\n";
  return out;
}

}  // namespace perflab
