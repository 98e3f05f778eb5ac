// The comparison as an aligned text table, for a terminal.
#include <algorithm>
#include <cstdio>

#include "perflab/compare.hpp"
#include "report_common.hpp"

namespace perflab {
namespace {

using namespace compare_detail;

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string upper(const char* text) {
  std::string out = text;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

std::string format_comparison_text(const Comparison& c) {
  std::string out =
      "perflab compare: base " + c.base_path + "  vs  candidate " + c.candidate_path + "\n";
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "%g", c.options.alpha);
  out += std::string("(alpha ") + alpha + (c.options.paired ? ", paired runs" : "") +
         "; ~ marks a change that cannot be told from noise)\n\n";

  std::vector<std::vector<std::string>> table = {
      {"metric", "base", "candidate", "change", "interval", "p", "n"}};
  const auto add_rows = [&table](const std::vector<MetricComparison>& rows) {
    for (const MetricComparison& row : rows) {
      const bool geomean = row.group == "geomean";
      table.push_back(
          {row_label(row), format_value(row.base_median, row.metric.unit),
           format_value(row.candidate_median, row.metric.unit),
           format_change(row.change, row.metric.unit) + (row.significant || geomean ? "" : " ~"),
           geomean ? "" : format_interval(row), geomean ? "" : format_p(row),
           geomean ? "" : format_counts(row)});
    }
  };
  add_rows(c.rows);
  add_rows(c.geomeans);
  std::vector<std::size_t> widths(table.front().size(), 0);
  for (const auto& line : table) {
    for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  for (const auto& line : table) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) text += pad(line[i], widths[i] + 2);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  }

  if (!c.criteria.empty()) {
    out += "\ncriteria: " + upper(verdict_name(c.verdict)) + "\n";
    std::size_t width = 0;
    for (const CriterionResult& r : c.criteria) width = std::max(width, r.criterion.text.size());
    for (const CriterionResult& r : c.criteria) {
      out += "  " + pad(verdict_name(r.verdict), 13) + pad(r.criterion.text, width + 2) + r.reason +
             "\n";
    }
  }
  if (!c.sites.empty()) {
    out += "\nallocation sites that changed most (allocations, bytes: base -> candidate):\n";
    for (const SiteChange& site : c.sites) {
      char line[128];
      std::snprintf(line, sizeof line, "  %12llu -> %-12llu %14llu -> %-14llu ",
                    static_cast<unsigned long long>(site.base_allocs),
                    static_cast<unsigned long long>(site.candidate_allocs),
                    static_cast<unsigned long long>(site.base_bytes),
                    static_cast<unsigned long long>(site.candidate_bytes));
      out += line + site.site + "\n";
    }
  }
  for (const std::string& note : c.notes) out += "note: " + note + "\n";
  return out;
}

}  // namespace perflab
