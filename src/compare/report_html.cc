// The comparison as one self-contained HTML page (report.html): inline CSS and
// SVG drawn here, no script and no external resource, so it opens offline, in
// a CI artifact viewer, and under the page's own Content-Security-Policy.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perflab/compare.hpp"
#include "report_common.hpp"

namespace perflab {
namespace {

using namespace compare_detail;

// The one escape for every string that comes from the inputs (profile paths,
// benchmark and function names, criteria, reasons): safe in text and in
// quoted attributes alike.
std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// At most `limit` bytes, cut on a UTF-8 character boundary, with an ellipsis.
std::string shorten(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "\u2026";
}

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// Pixel coordinates: one decimal is finer than any screen.
std::string px(double value) { return printf_string("%.1f", value); }

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
code{font:12.5px ui-monospace,Menlo,Consolas,monospace;background:#f3f3f3;padding:1px 4px;border-radius:3px;word-break:break-all}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600;font-size:13px;vertical-align:middle}
.badge.pass{background:#2e7d32}.badge.fail{background:#c62828}.badge.inconclusive{background:#ef8f00}.badge.none{background:#777}
.better{color:#2e7d32;font-weight:600}.worse{color:#c62828;font-weight:600}.note{color:#666;font-style:italic}
svg.plot{display:block;background:#fff;border:1px solid #e4e4e4;margin:6px 0}
svg .frame{fill:none;stroke:#999}svg .grid{stroke:#eee}svg text{font-size:11px;fill:#444}svg .axis-title{font-size:12px;fill:#222}
polyline{fill:none;stroke-width:2;stroke-linejoin:round}polyline.base,line.base{stroke:#4c72b0}polyline.candidate,line.candidate{stroke:#dd8452}
circle.base{fill:#4c72b0}circle.candidate{fill:#dd8452}
rect.growth{fill:#ef9a9a}rect.reduction{fill:#a5d6a7}rect.same{fill:#ddd}rect.base-extent{fill:none;stroke:#555;stroke-dasharray:3 2}
svg .site{font:11.5px ui-monospace,Menlo,Consolas,monospace;fill:#111}
ul.notes{color:#555}
rect.flame{stroke:#fff;stroke-width:0.5}svg .flame-label{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#111;pointer-events:none}
)";

// ---- plots ----

constexpr double kWidth = 760;
constexpr double kHeight = 340;
constexpr double kLeft = 104;   // room for the y labels and title
constexpr double kRight = 34;   // room for the last x label
constexpr double kTop = 30;     // the legend sits above the plot
constexpr double kBottom = 46;  // x labels and the axis title

using Point = std::pair<double, double>;  // in axis units
using Tick = std::pair<double, std::string>;

// Maps axis units (already log10 for a log axis) to pixels.
struct Frame {
  double x_min = 0;
  double x_max = 1;
  double y_min = 0;
  double y_max = 1;

  double x(double value) const {
    return kLeft + (value - x_min) / (x_max - x_min) * (kWidth - kLeft - kRight);
  }
  double y(double value) const {
    return kHeight - kBottom - (value - y_min) / (y_max - y_min) * (kHeight - kTop - kBottom);
  }
};

std::string svg_open(const char* id, const std::string& label, double height = kHeight) {
  return std::string("<svg id=\"") + id + "\" class=\"plot\" viewBox=\"0 0 " + px(kWidth) + " " +
         px(height) + "\" width=\"" + px(kWidth) + "\" height=\"" + px(height) +
         "\" role=\"img\" aria-label=\"" + escape(label) + "\">\n";
}

// The frame, grid lines, tick labels and axis titles.
std::string axes(const Frame& f, const std::vector<Tick>& x_ticks, const std::vector<Tick>& y_ticks,
                 const std::string& x_title, const std::string& y_title) {
  std::string out;
  for (const auto& [value, label] : x_ticks) {
    out += "<line class=\"grid\" x1=\"" + px(f.x(value)) + "\" x2=\"" + px(f.x(value)) +
           "\" y1=\"" + px(kTop) + "\" y2=\"" + px(kHeight - kBottom) + "\"/>";
    out += "<text x=\"" + px(f.x(value)) + "\" y=\"" + px(kHeight - kBottom + 15) +
           "\" text-anchor=\"middle\">" + escape(label) + "</text>\n";
  }
  for (const auto& [value, label] : y_ticks) {
    out += "<line class=\"grid\" x1=\"" + px(kLeft) + "\" x2=\"" + px(kWidth - kRight) +
           "\" y1=\"" + px(f.y(value)) + "\" y2=\"" + px(f.y(value)) + "\"/>";
    out += "<text x=\"" + px(kLeft - 6) + "\" y=\"" + px(f.y(value) + 4) +
           "\" text-anchor=\"end\">" + escape(label) + "</text>\n";
  }
  out += "<rect class=\"frame\" x=\"" + px(kLeft) + "\" y=\"" + px(kTop) + "\" width=\"" +
         px(kWidth - kLeft - kRight) + "\" height=\"" + px(kHeight - kTop - kBottom) + "\"/>\n";
  out += "<text class=\"axis-title\" x=\"" + px((kLeft + kWidth - kRight) / 2) + "\" y=\"" +
         px(kHeight - 8) + "\" text-anchor=\"middle\">" + escape(x_title) + "</text>\n";
  out += "<text class=\"axis-title\" transform=\"translate(14 " +
         px((kTop + kHeight - kBottom) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(y_title) + "</text>\n";
  return out;
}

std::string polyline(const Frame& f, const std::vector<Point>& points, const char* cls) {
  std::string out = std::string("<polyline class=\"") + cls + "\" points=\"";
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out += ' ';
    out += px(f.x(points[i].first)) + "," + px(f.y(points[i].second));
  }
  return out + "\"/>\n";
}

// Above the plot area, so it never hides a curve.
// `single`: a run's own report, one series, called "run".
std::string legend(bool single = false) {
  double x = kWidth - kRight - 190;
  const double y = kTop - 10;
  std::string out;
  if (single) {
    out += "<line class=\"base\" x1=\"" + px(x) + "\" x2=\"" + px(x + 22) + "\" y1=\"" + px(y - 4) +
           "\" y2=\"" + px(y - 4) + "\" stroke-width=\"3\"/>";
    return out + "<text x=\"" + px(x + 28) + "\" y=\"" + px(y) + "\">run</text>\n";
  }
  for (const char* side : {"base", "candidate"}) {
    out += std::string("<line class=\"") + side + "\" x1=\"" + px(x) + "\" x2=\"" + px(x + 22) +
           "\" y1=\"" + px(y - 4) + "\" y2=\"" + px(y - 4) + "\" stroke-width=\"3\"/>";
    out += "<text x=\"" + px(x + 28) + "\" y=\"" + px(y) + "\">" + side + "</text>\n";
    x += 90;
  }
  return out;
}

// A run's own report passes an empty input as the candidate.
bool single_series(const CompareInput& candidate) {
  return candidate.metrics.empty() && !candidate.latency && candidate.timeline.empty();
}

std::string no_data(const char* what) {
  return std::string("<p class=\"note\">") + what + "</p>\n";
}

// A round step (1, 2 or 5 times a power of ten) giving about `count` ticks
// over [0, max], so that labels read 10,000 rather than 10,621.
double nice_step(double max, int count) {
  const double raw = max / count;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (factor * decade >= raw) return factor * decade;
  }
  return 10 * decade;
}

// Ticks at every `step` over [0, max], labelled by `label`.
template <typename Label>
std::vector<Tick> linear_ticks(double max, double step, Label label) {
  std::vector<Tick> ticks;
  for (int i = 0; i * step <= max * (1 + 1e-9); ++i) ticks.emplace_back(i * step, label(i * step));
  return ticks;
}

// [0, max] widened to a whole number of round steps.
std::pair<double, double> nice_range(double max, int count) {
  if (!(max > 0)) return {1, 1};
  const double step = nice_step(max, count);
  return {std::ceil(max / step) * step, step};
}

// HdrHistogram's percentile plot: x = log10(1 / (1 - p)), so each "nine" of
// the percentile takes the same width; y = latency in ms on a log scale.
constexpr double kMaxNines = 5;  // up to 99.999%
constexpr int kCurvePoints = 120;

std::vector<Point> percentile_curve(const Histogram& histogram) {
  std::vector<Point> curve;
  for (int i = 0; i <= kCurvePoints; ++i) {
    const double nines = kMaxNines * i / kCurvePoints;
    const double percentile = 100.0 * (1.0 - std::pow(10.0, -nines));
    curve.emplace_back(nines, static_cast<double>(histogram.value_at_percentile(percentile)) / 1e6);
  }
  return curve;
}

std::string latency_plot(const CompareInput& base, const CompareInput& candidate) {
  std::vector<std::pair<std::vector<Point>, const char*>> curves;
  if (base.latency && base.latency->total_count() > 0) {
    curves.emplace_back(percentile_curve(*base.latency), "base");
  }
  if (candidate.latency && candidate.latency->total_count() > 0) {
    curves.emplace_back(percentile_curve(*candidate.latency), "candidate");
  }
  if (curves.empty()) return no_data("No latency log (latency.hlog) on either side.");
  double low = INFINITY;
  double high = 0;
  for (const auto& curve : curves) {
    for (const auto& [nines, ms] : curve.first) {
      if (ms > 0) low = std::min(low, ms);
      high = std::max(high, ms);
    }
  }
  if (high <= 0) return no_data("The latency logs hold only zero latencies.");
  Frame f{0, kMaxNines, std::floor(std::log10(low)), std::ceil(std::log10(high))};
  if (f.y_max <= f.y_min) f.y_max = f.y_min + 1;
  std::vector<Tick> x_ticks{
      {0, "0%"},     {std::log10(2.0), "50%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"},
      {5, "99.999%"}};
  std::vector<Tick> y_ticks;
  for (double decade = f.y_min; decade <= f.y_max + 1e-9; ++decade) {
    y_ticks.emplace_back(decade, printf_string("%g ms", std::pow(10.0, decade)));
  }
  std::string out = svg_open("latency-percentiles", "latency by percentile, base and candidate");
  out += axes(f, x_ticks, y_ticks, "percentile", "latency (ms, log scale)");
  for (auto& [curve, side] : curves) {
    for (auto& point : curve)
      point.second = std::log10(std::max(point.second, std::pow(10.0, f.y_min)));
    out += polyline(f, curve, side);
  }
  return out + legend(single_series(candidate)) + "</svg>\n";
}

std::string heap_plot(const CompareInput& base, const CompareInput& candidate) {
  if (base.timeline.empty() && candidate.timeline.empty()) {
    return no_data("No heap timeline (allocs.pb.gz with a timeline) on either side.");
  }
  double max_time = 0;
  double max_heap = 0;
  for (const auto* timeline : {&base.timeline, &candidate.timeline}) {
    for (const TimelineSample& sample : *timeline) {
      max_time = std::max(max_time, sample.time_s);
      max_heap = std::max(max_heap, static_cast<double>(sample.heap_bytes));
    }
  }
  const auto [time_max, time_step] = nice_range(max_time, 6);
  const auto [heap_max, heap_step] = nice_range(max_heap * 1.02, 4);
  Frame f{0, time_max, 0, heap_max};
  std::string out = svg_open("heap-over-time", "live heap bytes over time, base and candidate");
  out +=
      axes(f, linear_ticks(f.x_max, time_step, [](double s) { return printf_string("%g s", s); }),
           linear_ticks(f.y_max, heap_step, [](double b) { return format_value(b, "B"); }),
           "time since start", "live heap");
  for (const auto& [timeline, side] :
       {std::pair{&base.timeline, "base"}, std::pair{&candidate.timeline, "candidate"}}) {
    std::vector<Point> points;
    for (const TimelineSample& sample : *timeline) {
      points.emplace_back(sample.time_s, static_cast<double>(sample.heap_bytes));
    }
    if (!points.empty()) out += polyline(f, points, side);
  }
  return out + legend(single_series(candidate)) + "</svg>\n";
}

std::vector<double> throughput_samples(const CompareInput& input) {
  for (const MetricSamples& samples : input.metrics) {
    if (samples.group.empty() && samples.metric == "throughput_rps") return samples.values;
  }
  return {};
}

std::string throughput_plot(const CompareInput& base, const CompareInput& candidate) {
  const std::vector<double> sides[2] = {throughput_samples(base), throughput_samples(candidate)};
  if (sides[0].empty() && sides[1].empty()) {
    return no_data("No throughput_rps samples on either side.");
  }
  const std::size_t count = std::max(sides[0].size(), sides[1].size());
  double max_rps = 0;
  for (const auto& values : sides) {
    for (const double v : values) max_rps = std::max(max_rps, v);
  }
  const auto [rps_max, rps_step] = nice_range(max_rps * 1.02, 4);
  Frame f{0.5, static_cast<double>(count) + 0.5, 0, rps_max};
  std::vector<Tick> x_ticks;
  const std::size_t step = count <= 12 ? 1 : (count + 11) / 12;
  for (std::size_t i = 1; i <= count; i += step) {
    x_ticks.emplace_back(static_cast<double>(i), std::to_string(i));
  }
  std::string out = svg_open("throughput", "throughput per repetition, base and candidate");
  out += axes(f, x_ticks,
              linear_ticks(f.y_max, rps_step, [](double v) { return format_value(v, "req/s"); }),
              "repetition", "throughput");
  const char* names[2] = {"base", "candidate"};
  for (int side = 0; side < 2; ++side) {
    std::vector<Point> points;
    for (std::size_t i = 0; i < sides[side].size(); ++i) {
      points.emplace_back(static_cast<double>(i + 1), sides[side][i]);
    }
    if (points.empty()) continue;
    out += polyline(f, points, names[side]);
    for (const auto& [x, y] : points) {
      out += std::string("<circle class=\"") + names[side] + "\" cx=\"" + px(f.x(x)) + "\" cy=\"" +
             px(f.y(y)) + "\" r=\"3\"/>";
    }
    out += "\n";
  }
  return out + legend(single_series(candidate)) + "</svg>\n";
}

// A flame-graph-style bar per site: width by the candidate's allocations (the
// dashed outline is the base's), red when the site grew, green when it shrank.
std::string sites_plot(const Comparison& c) {
  if (c.sites.empty()) {
    return no_data(
        "No allocation sites to compare (no allocs.pb.gz with call stacks on both sides).");
  }
  constexpr double kBar = 24;
  constexpr double kGap = 4;
  constexpr double kMargin = 8;
  double widest = 1;
  for (const SiteChange& site : c.sites) {
    widest = std::max({widest, static_cast<double>(site.base_allocs),
                       static_cast<double>(site.candidate_allocs)});
  }
  const double height = 2 * kMargin + static_cast<double>(c.sites.size()) * (kBar + kGap);
  const double span = kWidth - 2 * kMargin;
  std::string out = svg_open("allocation-sites", "allocation sites that changed most", height);
  double y = kMargin;
  for (const SiteChange& site : c.sites) {
    const char* cls = site.candidate_allocs > site.base_allocs   ? "growth"
                      : site.candidate_allocs < site.base_allocs ? "reduction"
                                                                 : "same";
    const std::string counts =
        std::to_string(site.base_allocs) + " \u2192 " + std::to_string(site.candidate_allocs) +
        " allocations, " + format_value(static_cast<double>(site.base_bytes), "B") + " \u2192 " +
        format_value(static_cast<double>(site.candidate_bytes), "B");
    out += "<g><title>" + escape(site.site) + "\n" + escape(counts) + "</title>";
    out += std::string("<rect class=\"") + cls + "\" x=\"" + px(kMargin) + "\" y=\"" + px(y) +
           "\" width=\"" +
           px(std::max(1.0, span * static_cast<double>(site.candidate_allocs) / widest)) +
           "\" height=\"" + px(kBar) + "\"/>";
    out += "<rect class=\"base-extent\" x=\"" + px(kMargin) + "\" y=\"" + px(y + 1) +
           "\" width=\"" +
           px(std::max(1.0, span * static_cast<double>(site.base_allocs) / widest)) +
           "\" height=\"" + px(kBar - 2) + "\"/>";
    out += "<text class=\"site\" x=\"" + px(kMargin + 6) + "\" y=\"" + px(y + kBar / 2 + 4) +
           "\">" + escape(shorten(site.site, 80)) + "  (" + escape(counts) + ")</text></g>\n";
    y += kBar + kGap;
  }
  return out + "</svg>\n";
}

// ---- allocation flame graph ----
//
// Drawn as an icicle: the root ("all allocations") is the top row and each
// row below holds the callees of the row above, down to the program's call
// sites that allocated. Width is proportional to the allocation count.

constexpr std::size_t kFlameMaxDepth = 40;    // frames below the root
constexpr std::size_t kFlameMaxNodes = 4000;  // rectangles drawn at most
constexpr double kFlameMinWidth = 0.5;        // narrower nodes are skipped
constexpr double kFlameRow = 17;              // row height
constexpr double kFlameMargin = 8;
constexpr double kFlameCharWidth = 6.6;  // 11px monospace
constexpr double kFlameTextPad = 3;

struct FlameNode {
  std::string name;
  std::uint64_t allocs = 0;
  std::uint64_t bytes = 0;
  std::size_t depth = 0;                        // 0 for the root
  std::map<std::string, std::size_t> children;  // by name: a deterministic order
};

// FNV-1a: the same name gets the same colour in every report.
std::uint32_t name_hash(std::string_view name) {
  std::uint32_t hash = 2166136261u;
  for (const char ch : name) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 16777619u;
  }
  return hash;
}

// A warm colour (red through orange to yellow) from the name's hash.
std::string flame_colour(std::string_view name) {
  const std::uint32_t hash = name_hash(name);
  const unsigned red = 205 + hash % 51;
  const unsigned green = 70 + (hash >> 8) % 140;
  const unsigned blue = 30 + (hash >> 16) % 55;
  return "rgb(" + std::to_string(red) + "," + std::to_string(green) + "," + std::to_string(blue) +
         ")";
}

// The call tree of `profile`'s sites, root first: nodes[0] is the root. Each
// site's frames are reversed (root first) after dropping the allocator frames
// at the leaf end, and cut at kFlameMaxDepth; `cut` counts the stacks cut.
std::vector<FlameNode> flame_tree(const AllocProfile& profile, std::size_t& cut) {
  std::vector<FlameNode> nodes(1);
  nodes[0].name = "all allocations";
  std::vector<const ProfileFrame*> stack;
  for (const AllocSite& site : profile.sites) {
    stack.clear();
    for (const std::uint32_t index : site.frames) {
      if (index < profile.frames.size()) stack.push_back(&profile.frames[index]);
    }
    // Leaf first: skip the allocator's own frames, unless nothing else is left.
    std::size_t first = 0;
    while (first < stack.size() && is_allocator_frame(*stack[first])) ++first;
    if (first == stack.size()) first = 0;
    nodes[0].allocs += site.allocs;
    nodes[0].bytes += site.bytes;
    std::size_t at = 0;
    std::size_t depth = 0;
    for (std::size_t i = stack.size(); i > first; --i) {
      if (depth == kFlameMaxDepth) {
        ++cut;
        break;
      }
      const std::string& function = stack[i - 1]->function;
      const std::string name = function.empty() ? std::string("[unknown]") : function;
      const auto found = nodes[at].children.find(name);
      std::size_t child = 0;
      if (found != nodes[at].children.end()) {
        child = found->second;
      } else {
        child = nodes.size();
        nodes[at].children.emplace(name, child);
        FlameNode node;
        node.name = name;
        node.depth = depth + 1;
        nodes.push_back(std::move(node));
      }
      at = child;
      ++depth;
      nodes[at].allocs += site.allocs;
      nodes[at].bytes += site.bytes;
    }
  }
  return nodes;
}

// `svg_id`: the element id; `label`: its accessible name.
std::string flame_graph(const AllocProfile& profile, const char* svg_id, const std::string& label) {
  std::size_t cut = 0;
  const std::vector<FlameNode> nodes = flame_tree(profile, cut);
  const std::uint64_t total = nodes[0].allocs;
  if (total == 0) return no_data("The call stacks record no allocations.");
  const double span = kWidth - 2 * kFlameMargin;
  auto width_of = [&](const FlameNode& node) {
    return span * static_cast<double>(node.allocs) / static_cast<double>(total);
  };

  // Breadth first, so that the node cap cuts the deepest rows, never a
  // parent before its children. Children sit left to right in name order.
  std::vector<std::pair<std::size_t, double>> order;  // node, x
  std::size_t wide = 0;                               // nodes at least kFlameMinWidth wide
  std::size_t max_depth = 0;
  {
    std::vector<std::pair<std::size_t, double>> queue{{0, kFlameMargin}};
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const auto [index, x] = queue[head];
      ++wide;
      if (order.size() < kFlameMaxNodes) {
        order.push_back(queue[head]);
        max_depth = std::max(max_depth, nodes[index].depth);
      }
      double child_x = x;
      for (const auto& [name, child] : nodes[index].children) {
        const double width = width_of(nodes[child]);
        if (width >= kFlameMinWidth) queue.emplace_back(child, child_x);
        child_x += width;
      }
    }
  }

  const double height = 2 * kFlameMargin + static_cast<double>(max_depth + 1) * kFlameRow;
  std::string out = svg_open(svg_id, label, height);
  for (const auto& [index, x] : order) {
    const FlameNode& node = nodes[index];
    const double width = width_of(node);
    const double y = kFlameMargin + static_cast<double>(node.depth) * kFlameRow;
    const double percent = 100.0 * static_cast<double>(node.allocs) / static_cast<double>(total);
    out += "<g><title>" + escape(node.name) + "\n" + std::to_string(node.allocs) +
           " allocations (" + printf_string("%.2f", percent) + "%), " +
           format_value(static_cast<double>(node.bytes), "B") + "</title>";
    out += "<rect class=\"flame\" x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(width) +
           "\" height=\"" + px(kFlameRow - 1) + "\" fill=\"" + flame_colour(node.name) + "\"/>";
    // A label when at least three characters fit, cut with an ellipsis.
    const auto fit = static_cast<std::size_t>(
        std::max(0.0, std::floor((width - 2 * kFlameTextPad) / kFlameCharWidth)));
    if (fit >= 3) {
      const std::string text = node.name.size() <= fit ? node.name : shorten(node.name, fit - 1);
      out += "<text class=\"flame-label\" x=\"" + px(x + kFlameTextPad) + "\" y=\"" +
             px(y + kFlameRow - 5) + "\">" + escape(text) + "</text>";
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  std::string note =
      "Icicle graph: the root at the top, each row the callees of the row above; width = "
      "allocation count; the allocator's own frames are left out.";
  if (wide > order.size()) {
    note += " " + std::to_string(wide - order.size()) + " frames beyond the limit of " +
            std::to_string(kFlameMaxNodes) + " were elided.";
  }
  if (cut > 0) {
    note += " " + std::to_string(cut) + " stacks deeper than " + std::to_string(kFlameMaxDepth) +
            " frames were cut.";
  }
  return out + no_data(note.c_str());
}

// ---- tables ----

const char* verdict_class(Verdict verdict) { return verdict_name(verdict); }

// "better" / "worse" for a significant change in the metric's good / bad direction.
const char* change_class(const MetricComparison& row) {
  if (!row.significant || row.metric.better == Better::kNeither) return "";
  const double none = row.change.scale == ChangeScale::kRatio ? 1.0 : 0.0;
  if (row.change.estimate == none) return "";
  const bool higher = row.change.estimate > none;
  return higher == (row.metric.better == Better::kHigher) ? "better" : "worse";
}

std::string metrics_table(const Comparison& c) {
  std::string out =
      "<table class=\"metrics\"><tr><th>metric</th><th>base</th><th>candidate</th><th>change</th>"
      "<th>interval</th><th>p</th><th>n</th></tr>\n";
  for (const auto* rows : {&c.rows, &c.geomeans}) {
    for (const MetricComparison& row : *rows) {
      const bool geomean = row.group == "geomean";
      out += "<tr><td>" + escape(row_label(row)) + "</td><td class=\"num\">" +
             escape(format_value(row.base_median, row.metric.unit)) + "</td><td class=\"num\">" +
             escape(format_value(row.candidate_median, row.metric.unit)) + "</td><td class=\"num " +
             change_class(row) + "\">" + escape(format_change(row.change, row.metric.unit)) +
             (row.significant || geomean ? "" : " ~") + "</td><td class=\"num\">" +
             (geomean ? "" : escape(format_interval(row))) + "</td><td class=\"num\">" +
             (geomean ? "" : escape(format_p(row))) + "</td><td class=\"num\">" +
             (geomean ? "" : escape(format_counts(row))) + "</td></tr>\n";
    }
  }
  return out + "</table>\n";
}

std::string criteria_table(const Comparison& c) {
  if (c.criteria.empty()) return no_data("No criteria: this is a report only.");
  std::string out =
      "<table class=\"criteria\"><tr><th>verdict</th><th>criterion</th><th>why</th></tr>\n";
  for (const CriterionResult& r : c.criteria) {
    out += std::string("<tr><td><span class=\"badge ") + verdict_class(r.verdict) + "\">" +
           verdict_name(r.verdict) + "</span></td><td><code>" + escape(r.criterion.text) +
           "</code></td><td>" + escape(r.reason) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

// Belt and braces for "no network": even a bug here cannot load anything.
std::string document_head(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<title>" +
         escape(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
}

// A run's figures: the median of its repetitions and their range.
std::string run_metrics_table(const CompareInput& run) {
  std::string out =
      "<table class=\"metrics\"><tr><th>metric</th><th>median</th><th>min</th><th>max</th>"
      "<th>n</th></tr>\n";
  for (const MetricSamples& samples : run.metrics) {
    const std::optional<MetricInfo> info = find_metric(samples.metric);
    const std::string unit = info ? info->unit : "";
    std::vector<double> sorted = samples.values;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    const double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    const std::string label =
        samples.group.empty() ? samples.metric : samples.group + " " + samples.metric;
    out += "<tr><td>" + escape(label) + "</td><td class=\"num\">" +
           escape(compare_detail::format_value(median, unit)) + "</td><td class=\"num\">" +
           escape(compare_detail::format_value(sorted.front(), unit)) + "</td><td class=\"num\">" +
           escape(compare_detail::format_value(sorted.back(), unit)) + "</td><td class=\"num\">" +
           std::to_string(n) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

// The run's allocation sites with the most allocations (stacks mode only).
std::string run_sites_table(const CompareInput& run) {
  if (!run.allocs || run.allocs->frames.empty()) {
    return no_data("No allocation sites (no allocs.pb.gz with call stacks).");
  }
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_site;
  for (const AllocSite& site : run.allocs->sites) {
    const std::optional<std::uint32_t> frame = most_useful_frame(*run.allocs, site);
    const std::string name = frame ? run.allocs->frames[*frame].function : std::string();
    auto& [allocs, bytes] = by_site[name.empty() ? "(unknown)" : name];
    allocs += site.allocs;
    bytes += site.bytes;
  }
  std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>> top(by_site.begin(),
                                                                                   by_site.end());
  std::sort(top.begin(), top.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  if (top.size() > 15) top.resize(15);
  std::string out =
      "<table class=\"metrics\" id=\"run-sites\"><tr><th>site</th><th>allocations</th>"
      "<th>bytes</th></tr>\n";
  for (const auto& [name, counts] : top) {
    out += "<tr><td><code>" + escape(name) + "</code></td><td class=\"num\">" +
           std::to_string(counts.first) + "</td><td class=\"num\">" +
           std::to_string(counts.second) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string format_run_html(const CompareInput& run) {
  const CompareInput none;
  std::string out = document_head("perflab run: " + run.path);
  out += "<h1>perflab run <span class=\"badge none\">report</span></h1>\n<p><code>" +
         escape(run.path) + "</code></p>\n";
  out += "<h2>Metrics</h2>\n" + run_metrics_table(run);
  out += "<h2>Latency by percentile</h2>\n" + latency_plot(run, none);
  out += "<h2>Throughput per repetition</h2>\n" + throughput_plot(run, none);
  out += "<h2>Heap over time</h2>\n" + heap_plot(run, none);
  out += "<h2>Allocation sites</h2>\n" + run_sites_table(run);
  out += "<h2>Allocation flame graph</h2>\n";
  out += run.allocs && !run.allocs->frames.empty()
             ? flame_graph(*run.allocs, "allocation-flame", "allocation flame graph of the run")
             : no_data("No allocation call stacks (no allocs.pb.gz with call stacks).");
  return out + "</body></html>\n";
}

std::string format_comparison_html(const Comparison& c, const CompareInput& base,
                                   const CompareInput& candidate) {
  std::string out = document_head("perflab compare: " + c.candidate_path + " vs " + c.base_path);
  out += "<h1>perflab compare ";
  out += c.criteria.empty() ? std::string("<span class=\"badge none\">report</span>")
                            : std::string("<span class=\"badge ") + verdict_class(c.verdict) +
                                  "\" id=\"verdict\">" + verdict_name(c.verdict) + "</span>";
  out += "</h1>\n<p>base <code>" + escape(c.base_path) + "</code> vs candidate <code>" +
         escape(c.candidate_path) + "</code> (alpha " + printf_string("%g", c.options.alpha) +
         "; ~ = no significant change)</p>\n";
  out += "<h2>Criteria</h2>\n" + criteria_table(c);
  out += "<h2>Metrics</h2>\n" + metrics_table(c);
  out += "<h2>Latency by percentile</h2>\n" + latency_plot(base, candidate);
  out += "<h2>Throughput per repetition</h2>\n" + throughput_plot(base, candidate);
  out += "<h2>Heap over time</h2>\n" + heap_plot(base, candidate);
  out += "<h2>Allocation sites that changed most</h2>\n" + sites_plot(c);
  out += "<h2>Allocation flame graph (candidate)</h2>\n";
  out += candidate.allocs && !candidate.allocs->frames.empty()
             ? flame_graph(*candidate.allocs, "allocation-flame",
                           "allocation flame graph of the candidate")
             : no_data(
                   "No allocation call stacks on the candidate side (no allocs.pb.gz with "
                   "call stacks).");
  if (!c.notes.empty()) {
    out += "<h2>Notes</h2>\n<ul class=\"notes\">\n";
    for (const std::string& note : c.notes) out += "<li>" + escape(note) + "</li>\n";
    out += "</ul>\n";
  }
  return out + "</body></html>\n";
}

}  // namespace perflab
