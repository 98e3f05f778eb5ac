// format_comparison_html on inputs built in memory: every plot is drawn from
// the data, nothing is loaded from the network, and every name from the
// inputs is escaped.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "perflab/compare.hpp"
#include "scratch_dir.hpp"

namespace perflab {
namespace {

constexpr const char* kScript = "<script>alert(1)</script>";
constexpr const char* kQuotes = "a\"b'c&d";

Histogram latencies(double scale_ns) {
  Histogram histogram(1, 3'600'000'000'000, 3);
  for (int i = 1; i <= 10000; ++i) {
    // A spread over four decades: a curve with a real tail.
    histogram.record_value(static_cast<std::int64_t>(scale_ns * std::pow(10.0, 4.0 * i / 10000)));
  }
  return histogram;
}

CompareInput side(const std::string& path, double rps, double latency_ns) {
  CompareInput input;
  input.path = path;
  input.metrics = {MetricSamples{"", "throughput_rps", {rps, rps * 1.01, rps * 0.99, rps * 1.02}}};
  input.latency = latencies(latency_ns);
  for (int i = 0; i < 20; ++i) {
    input.timeline.push_back(
        TimelineSample{i * 0.5, static_cast<std::uint64_t>(1000 * i), 0, 0, 0});
  }
  return input;
}

// The report with hostile names in every place a name from the inputs goes.
struct Report {
  CompareInput base = side(std::string("base/") + kScript, 1000, 50000);
  CompareInput candidate = side(std::string("cand/") + kQuotes, 1200, 40000);
  Comparison comparison;
  std::string html;

  Report() {
    comparison = compare_inputs(base, candidate, parse_criteria({"throughput_rps >= +10%"}), {});
    comparison.criteria[0].criterion.text = kQuotes;
    comparison.criteria[0].reason = kScript;
    comparison.rows[0].group = kScript;
    comparison.sites = {{kScript, 10, 20, 100, 200}, {kQuotes, 30, 5, 300, 50}};
    comparison.notes = {kQuotes};
    html = format_comparison_html(comparison, base, candidate);
  }
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CompareHtmlTest, HasEveryPlot) {
  const Report r;
  for (const char* id :
       {"latency-percentiles", "heap-over-time", "throughput", "allocation-sites"}) {
    EXPECT_NE(r.html.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(r.html.find("<span class=\"badge pass\" id=\"verdict\">pass</span>"),
            std::string::npos);
}

TEST(CompareHtmlTest, LatencyPlotOverlaysBaseAndCandidateCurves) {
  const Report r;
  const std::size_t begin = r.html.find("<svg id=\"latency-percentiles\"");
  const std::string svg = r.html.substr(begin, r.html.find("</svg>", begin) - begin);
  for (const char* side : {"base", "candidate"}) {
    const std::regex polyline(std::string("<polyline class=\"") + side + "\" points=\"([^\"]*)\"");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(svg, match, polyline)) << side;
    const std::string points = match[1];
    EXPECT_GE(count(points, ","), 10u) << side << ": " << points;
  }
  for (const char* label : {">50%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
}

TEST(CompareHtmlTest, LoadsNothingFromTheNetwork) {
  const Report r;
  EXPECT_EQ(r.html.find("http://"), std::string::npos);
  EXPECT_EQ(r.html.find("https://"), std::string::npos);
  EXPECT_EQ(r.html.find("src="), std::string::npos);
  EXPECT_EQ(r.html.find("href="), std::string::npos);
  EXPECT_EQ(r.html.find("url("), std::string::npos);
  EXPECT_EQ(r.html.find("<script"), std::string::npos);
  EXPECT_EQ(r.html.find("@import"), std::string::npos);
}

TEST(CompareHtmlTest, EscapesEveryNameFromTheInputs) {
  const Report r;
  EXPECT_EQ(r.html.find(kScript), std::string::npos);
  EXPECT_EQ(r.html.find(kQuotes), std::string::npos);
  EXPECT_EQ(r.html.find("<script"), std::string::npos);
  const std::string script = "&lt;script&gt;alert(1)&lt;/script&gt;";
  const std::string quotes = "a&quot;b&#39;c&amp;d";
  // Title, base path, row group, criterion reason, site bar text and title.
  EXPECT_GE(count(r.html, script), 6u);
  // Title, candidate path, criterion text, site bar text and title, note.
  EXPECT_GE(count(r.html, quotes), 6u);
}

TEST(CompareHtmlTest, SitesAreColouredByGrowthOrReduction) {
  const Report r;
  EXPECT_NE(r.html.find("<rect class=\"growth\""), std::string::npos);
  EXPECT_NE(r.html.find("<rect class=\"reduction\""), std::string::npos);
  EXPECT_NE(r.html.find("<title>&lt;script&gt;alert(1)&lt;/script&gt;\n10 \u2192 20 allocations"),
            std::string::npos);
}

TEST(CompareHtmlTest, SaysSoWhenThereIsNoData) {
  CompareInput base;
  base.path = "b";
  base.metrics = {MetricSamples{"", "allocs_per_op", {3}}};
  CompareInput candidate = base;
  candidate.path = "c";
  const Comparison c = compare_inputs(base, candidate, {}, {});
  const std::string html = format_comparison_html(c, base, candidate);
  EXPECT_NE(html.find("No latency log"), std::string::npos);
  EXPECT_NE(html.find("No heap timeline"), std::string::npos);
  EXPECT_NE(html.find("No throughput_rps samples"), std::string::npos);
  EXPECT_NE(html.find("No allocation call stacks on the candidate side"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
}

// A profile directory with a summary and the given latency.hlog text.
TEST(CompareHtmlTest, ARunsOwnReportHasOneSeriesPerPlotAndEscapesItsPath) {
  const CompareInput run = side(std::string("runs/") + kScript, 1000, 50000);
  const std::string html = format_run_html(run);
  for (const char* id : {"latency-percentiles", "throughput", "heap-over-time"}) {
    EXPECT_NE(html.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(count(html, "<polyline class=\"candidate\""), 0u);
  EXPECT_GE(count(html, "<polyline class=\"base\""), 3u);
  EXPECT_GE(count(html, ">run</text>"), 3u);  // the legend names the one series
  EXPECT_EQ(html.find(kScript), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("throughput_rps"), std::string::npos);
}

// Three stacks, leaf (allocator) first, with hostile function names.
AllocProfile flame_profile() {
  AllocProfile profile;
  for (const char* name : {"malloc", "operator new(unsigned long)", kScript, "fill_a&b", "worker",
                           "main", "parse_config"}) {
    ProfileFrame frame;
    frame.function = name;
    profile.frames.push_back(frame);
  }
  // 0 malloc, 1 operator new, 2 <script>, 3 fill_a&b, 4 worker, 5 main, 6 parse_config
  profile.sites.push_back(AllocSite{{0, 1, 2, 4, 5}, 60, 6000});
  profile.sites.push_back(AllocSite{{0, 3, 4, 5}, 30, 300});
  profile.sites.push_back(AllocSite{{1, 6, 5}, 10, 100});
  profile.allocs = 100;
  profile.bytes = 6400;
  return profile;
}

struct FlameRect {
  double x, y, width;
};

// The <svg id="allocation-flame"> element of `html`, or "" when absent.
std::string flame_svg(const std::string& html) {
  const std::size_t begin = html.find("<svg id=\"allocation-flame\"");
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</svg>", begin) - begin);
}

std::vector<FlameRect> flame_rects(const std::string& svg) {
  const std::regex rect(
      "<rect class=\"flame\" x=\"([0-9.]+)\" y=\"([0-9.]+)\" width=\"([0-9.]+)\"");
  std::vector<FlameRect> rects;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), rect); it != std::sregex_iterator();
       ++it) {
    rects.push_back({std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3])});
  }
  return rects;
}

void expect_flame_graph(const std::string& html) {
  const std::string svg = flame_svg(html);
  ASSERT_FALSE(svg.empty()) << "no <svg id=\"allocation-flame\">";
  const std::vector<FlameRect> rects = flame_rects(svg);
  // Distinct non-allocator frames: <script>, fill_a&b, worker, main, parse_config.
  EXPECT_GE(rects.size(), 5u);
  // The allocator's frames are left out.
  EXPECT_EQ(svg.find("malloc"), std::string::npos);
  EXPECT_EQ(svg.find("operator new"), std::string::npos);
  // Every rect but the root's lies within one rect of the row above, no wider.
  std::set<double> rows;
  for (const FlameRect& r : rects) rows.insert(r.y);
  EXPECT_GE(rows.size(), 4u);  // root, main, worker, the call sites
  const double top = *rows.begin();
  for (const FlameRect& child : rects) {
    if (child.y == top) continue;
    const auto above = std::prev(rows.find(child.y));
    bool inside = false;
    for (const FlameRect& parent : rects) {
      if (parent.y != *above) continue;
      if (child.x >= parent.x - 0.11 && child.x + child.width <= parent.x + parent.width + 0.11) {
        inside = true;
        EXPECT_LE(child.width, parent.width);
      }
    }
    EXPECT_TRUE(inside) << "rect at x=" << child.x << " y=" << child.y << " has no parent";
  }
  // Function names are escaped in titles and labels.
  EXPECT_EQ(svg.find(kScript), std::string::npos);
  EXPECT_EQ(svg.find("fill_a&b"), std::string::npos);
  EXPECT_NE(svg.find("<title>&lt;script&gt;alert(1)&lt;/script&gt;\n60 allocations (60.00%)"),
            std::string::npos);
  EXPECT_NE(svg.find("<title>fill_a&amp;b\n30 allocations (30.00%)"), std::string::npos);
  EXPECT_NE(svg.find("<title>main\n100 allocations (100.00%)"), std::string::npos);
  EXPECT_NE(svg.find(">fill_a&amp;b</text>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(CompareHtmlTest, ARunsReportHasAnAllocationFlameGraph) {
  CompareInput run = side("runs/flame", 1000, 50000);
  run.allocs = flame_profile();
  const std::string html = format_run_html(run);
  EXPECT_NE(html.find("<h2>Allocation flame graph</h2>"), std::string::npos);
  expect_flame_graph(html);
}

TEST(CompareHtmlTest, AComparisonHasTheCandidatesAllocationFlameGraph) {
  Report r;
  r.candidate.allocs = flame_profile();
  const std::string html = format_comparison_html(r.comparison, r.base, r.candidate);
  EXPECT_NE(html.find("<h2>Allocation flame graph (candidate)</h2>"), std::string::npos);
  expect_flame_graph(html);
}

TEST(CompareHtmlTest, FlameGraphIsDeterministicAndCutsLongLabels) {
  CompareInput run;
  run.path = "r";
  run.allocs = flame_profile();
  const std::string long_name(300, 'x');
  run.allocs->frames[6].function = long_name;  // 10% of 744 px: too narrow for 300 chars
  const std::string html = format_run_html(run);
  EXPECT_EQ(html, format_run_html(run));
  const std::string svg = flame_svg(html);
  EXPECT_NE(svg.find("<title>" + long_name + "\n"), std::string::npos);
  EXPECT_NE(svg.find("xxx\u2026</text>"), std::string::npos);
  EXPECT_EQ(svg.find(long_name + "</text>"), std::string::npos);
}

TEST(CompareHtmlTest, FlameGraphCapsDepthAndNodeCount) {
  // 120 stacks of 45 distinct frames each: cut at depth 40, 4,800 nodes + root.
  CompareInput run;
  run.path = "r";
  run.allocs.emplace();
  for (int s = 0; s < 120; ++s) {
    AllocSite site;
    site.allocs = 1;
    for (int d = 0; d < 45; ++d) {
      site.frames.push_back(static_cast<std::uint32_t>(run.allocs->frames.size()));
      ProfileFrame frame;
      frame.function = "f" + std::to_string(s) + "_" + std::to_string(d);
      run.allocs->frames.push_back(frame);
    }
    run.allocs->sites.push_back(site);
  }
  const std::string html = format_run_html(run);
  EXPECT_EQ(flame_rects(flame_svg(html)).size(), 4000u);
  EXPECT_NE(html.find("801 frames beyond the limit of 4000 were elided"), std::string::npos);
  EXPECT_NE(html.find("120 stacks deeper than 40 frames were cut"), std::string::npos);
}

TEST(CompareHtmlTest, ARunWithoutCallStacksHasNoFlameGraph) {
  CompareInput run = side("runs/none", 1000, 50000);
  const std::string html = format_run_html(run);
  EXPECT_EQ(html.find("allocation-flame"), std::string::npos);
  EXPECT_NE(html.find("No allocation call stacks"), std::string::npos);
}

std::filesystem::path write_profile(const std::filesystem::path& dir, const std::string& hlog) {
  std::filesystem::create_directories(dir);
  const nlohmann::json summary = {{"schema", kProfileSchema},
                                  {"samples", {{"throughput_rps", {100.0, 110.0}}}}};
  std::ofstream(dir / kSummaryFile) << summary.dump();
  std::ofstream(dir / "latency.hlog") << hlog;
  return dir;
}

TEST(CompareHtmlTest, ReadsTheUntaggedLatencyIntervalsOfAProfile) {
  const testing::ScratchDir scratch("compare_html_test");
  Histogram first(1, 3'600'000'000'000, 3);
  first.record_value(1'000'000);
  Histogram second(1, 3'600'000'000'000, 3);
  second.record_value(2'000'000);
  Histogram service(1, 3'600'000'000'000, 3);
  service.record_values(500'000, 7);
  HistogramLog log;
  log.intervals.push_back({"", 0, 1, 0, first});
  log.intervals.push_back({"service", 0, 1, 0, service});
  log.intervals.push_back({"", 1, 1, 0, second});
  const CompareInput input =
      read_compare_input(write_profile(scratch.path() / "p", format_histogram_log(log)));
  ASSERT_TRUE(input.latency.has_value());
  EXPECT_EQ(input.latency->total_count(), 2);  // the service line is not latency from due time
  EXPECT_EQ(input.latency->min(), first.min());
  EXPECT_EQ(input.latency->max(), second.max());
}

TEST(CompareHtmlTest, ACorruptLatencyLogIsACompareErrorNamingIt) {
  const testing::ScratchDir scratch("compare_html_test");
  const auto dir = write_profile(scratch.path() / "p", "0.000,1.000,1.0,HISTnotbase64!\n");
  try {
    read_compare_input(dir);
    FAIL() << "no error";
  } catch (const CompareError& e) {
    EXPECT_NE(std::string(e.what()).find("latency.hlog"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace perflab
