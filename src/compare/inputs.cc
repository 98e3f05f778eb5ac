// What compare reads: a profile directory's summary.json (and allocs.pb.gz
// and latency.hlog), or a Google Benchmark JSON file. Both become named
// metric samples; latency.hlog also becomes the tail-latency bootstrap's units.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "perflab/compare.hpp"

namespace perflab {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw CompareError(where + ": " + what);
}

// A metric's place in summary.json when the run has one value, not samples.
struct GroupField {
  const char* metric;
  const char* group;
  const char* field;
};
constexpr GroupField kGroupFields[] = {
    {"throughput_rps", "load", "throughput_rps"},
    {"latency_p50_us", "load", "latency_p50_us"},
    {"latency_p90_us", "load", "latency_p90_us"},
    {"latency_p99_us", "load", "latency_p99_us"},
    {"latency_p999_us", "load", "latency_p999_us"},
    {"latency_max_us", "load", "latency_max_us"},
    {"error_rate", "load", "error_rate"},
    {"allocs_per_op", "alloc", "allocs_per_op"},
    {"bytes_per_op", "alloc", "bytes_per_op"},
    {"alloc_rate_per_s", "alloc", "alloc_rate_per_s"},
    {"peak_heap_bytes", "alloc", "peak_heap_bytes"},
    {"leaked_bytes", "alloc", "leaked_bytes"},
    {"cpu_per_op_us", "cpu", "cpu_per_op_us"},
    {"peak_rss_bytes", "memory", "peak_rss_bytes"},
    {"rss_growth_bytes_per_s", "memory", "rss_growth_bytes_per_s"},
};

double number_at(const nlohmann::json& value, const std::string& where) {
  if (!value.is_number()) fail(where, std::string("expected a number, found ") + value.type_name());
  const double number = value.get<double>();
  if (!std::isfinite(number)) fail(where, "not a finite number");
  return number;
}

// A string field, or `fallback` when absent; anything else is bad input.
std::string string_at(const nlohmann::json& object, const char* key, const std::string& fallback,
                      const std::string& where) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_string()) {
    fail(where + "." + key, std::string("expected a string, found ") + object[key].type_name());
  }
  return object[key].get<std::string>();
}

std::optional<double> pool_hit_rate(const nlohmann::json& pools, const std::string& where) {
  if (!pools.is_array()) return std::nullopt;
  double hits = 0;
  double gets = 0;
  for (std::size_t i = 0; i < pools.size(); ++i) {
    const std::string at = where + ".pools[" + std::to_string(i) + "]";
    if (!pools[i].is_object()) fail(at, "expected an object");
    if (pools[i].contains("hits")) hits += number_at(pools[i]["hits"], at + ".hits");
    if (pools[i].contains("gets")) gets += number_at(pools[i]["gets"], at + ".gets");
  }
  if (gets <= 0) return std::nullopt;
  return hits / gets;
}

// The parts of the load that must match for two runs to be comparable.
nlohmann::json load_identity(const nlohmann::json& load) {
  if (!load.is_object()) return nullptr;
  nlohmann::json identity = nlohmann::json::object();
  for (const char* key : {"mode", "connections", "threads", "schedule", "mix"}) {
    if (load.contains(key)) identity[key] = load[key];
  }
  if (load.contains("url") && load["url"].is_string()) {
    // The host and port may differ between runs (ephemeral ports); the path may not.
    const std::string url = load["url"].get<std::string>();
    const std::size_t scheme = url.find("://");
    const std::size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    identity["path"] = path == std::string::npos ? "/" : url.substr(path);
  }
  return identity;
}

CompareInput from_summary(const nlohmann::json& summary, const std::string& where) {
  if (!summary.is_object()) fail(where, "expected a JSON object");
  if (!summary.contains("schema") || summary["schema"] != kProfileSchema) {
    fail(where, "schema " + (summary.contains("schema") ? summary["schema"].dump() : "missing") +
                    " is not " + kProfileSchema +
                    " (written by another perflab version? rerun the baseline with this one)");
  }
  CompareInput input;
  input.path = where;
  input.kind = CompareInput::Kind::kProfile;
  const nlohmann::json* samples =
      summary.contains("samples") && summary["samples"].is_object() ? &summary["samples"] : nullptr;
  for (const MetricInfo& metric : canonical_metrics()) {
    MetricSamples values{"", metric.name, {}};
    if (samples != nullptr && samples->contains(metric.name)) {
      const nlohmann::json& list = (*samples)[metric.name];
      const std::string at = where + ": samples." + metric.name;
      if (!list.is_array()) fail(at, "expected an array of numbers");
      for (std::size_t i = 0; i < list.size(); ++i) {
        values.values.push_back(number_at(list[i], at + "[" + std::to_string(i) + "]"));
      }
    } else if (metric.name == "pool_hit_rate") {
      if (summary.contains("pools")) {
        if (const std::optional<double> rate = pool_hit_rate(summary["pools"], where)) {
          values.values.push_back(*rate);
        }
      }
    } else {
      for (const GroupField& field : kGroupFields) {
        if (metric.name != field.metric || !summary.contains(field.group)) continue;
        const nlohmann::json& group = summary[field.group];
        if (group.is_object() && group.contains(field.field) && !group[field.field].is_null()) {
          values.values.push_back(
              number_at(group[field.field], where + ": " + field.group + "." + field.field));
        }
      }
    }
    if (!values.values.empty()) input.metrics.push_back(std::move(values));
  }
  if (input.metrics.empty()) {
    fail(where,
         "no metric to compare (no samples group and no load, alloc, cpu or memory figures)");
  }
  if (summary.contains("load")) input.load = load_identity(summary["load"]);
  return input;
}

// A repetition's span in summary.json's run.repetition_windows: seconds since
// the server started.
struct RepetitionWindow {
  double start_s = 0;
  double end_s = 0;
};

std::vector<RepetitionWindow> repetition_windows(const nlohmann::json& summary,
                                                 const std::string& where) {
  if (!summary.contains("run") || !summary["run"].is_object() ||
      !summary["run"].contains("repetition_windows")) {
    return {};
  }
  const nlohmann::json& list = summary["run"]["repetition_windows"];
  const std::string at = where + ": run.repetition_windows";
  if (!list.is_array()) fail(at, "expected an array of {start_s, end_s}");
  std::vector<RepetitionWindow> windows;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = at + "[" + std::to_string(i) + "]";
    if (!list[i].is_object() || !list[i].contains("start_s") || !list[i].contains("end_s")) {
      fail(item, "expected an object with start_s and end_s");
    }
    const RepetitionWindow window{number_at(list[i]["start_s"], item + ".start_s"),
                                  number_at(list[i]["end_s"], item + ".end_s")};
    if (window.end_s < window.start_s ||
        (!windows.empty() && window.start_s < windows.back().end_s)) {
      fail(item, "windows must not end before they start or overlap the previous one");
    }
    windows.push_back(window);
  }
  return windows;
}

// More units than this add nothing to a bootstrap but memory and time.
constexpr std::size_t kMaxIntervalUnits = 128;
// How far (seconds) an interval's midpoint may lie outside its repetition's
// window: the log's clock starts when the first repetition's load starts, a
// few milliseconds (threads, connections) after its window opens. Well below
// half an interval, so the first interval of a repetition that started just
// after the last window closed (and was dropped) is not taken for the last's.
constexpr double kWindowSlack_s = 0.25;
constexpr std::ptrdiff_t kNoWindow = -1;

// Which repetition window holds `mid_s` (log time), kNoWindow for none, or
// windows.size() for after the last one (a repetition the server did not
// live through, whose intervals stay in the log).
std::ptrdiff_t window_of(const std::vector<RepetitionWindow>& windows, double mid_s) {
  // The log's time 0 is the first repetition's start.
  const double t = mid_s + windows.front().start_s;
  std::ptrdiff_t nearest = kNoWindow;
  double nearest_distance = kWindowSlack_s;
  for (std::size_t k = 0; k < windows.size(); ++k) {
    const double distance =
        t < windows[k].start_s ? windows[k].start_s - t : std::max(0.0, t - windows[k].end_s);
    if (distance <= nearest_distance) {
      if (distance == 0) return static_cast<std::ptrdiff_t>(k);
      nearest = static_cast<std::ptrdiff_t>(k);
      nearest_distance = distance;
    }
  }
  if (nearest == kNoWindow && t > windows.back().end_s) {
    return static_cast<std::ptrdiff_t>(windows.size());
  }
  return nearest;
}

// Interval units: one too small to say much on its own (the short last
// interval of a run) joins its neighbour, and long runs become blocks of
// consecutive intervals.
void tidy_interval_units(LatencyUnits& units) {
  if (units.size() < 2) return;
  std::vector<std::int64_t> counts;
  for (std::size_t u = 0; u < units.size(); ++u) counts.push_back(units.unit_count(u));
  std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2),
                   counts.end());
  const std::int64_t half_median = counts[counts.size() / 2] / 2;
  std::vector<std::size_t> starts{0};
  std::int64_t group = units.unit_count(0);
  for (std::size_t u = 1; u < units.size(); ++u) {
    if (units.unit_count(u) >= half_median && group >= half_median) {
      starts.push_back(u);
      group = 0;
    }
    group += units.unit_count(u);
  }
  if (starts.size() < units.size()) units.regroup(starts);
  if (units.size() > kMaxIntervalUnits) {
    const std::size_t block = (units.size() + kMaxIntervalUnits - 1) / kMaxIntervalUnits;
    starts.clear();
    for (std::size_t u = 0; u < units.size(); u += block) starts.push_back(u);
    units.regroup(starts);
  }
}

// Halves the interval units read so far by merging neighbours of the same
// repetition window, so an hour-long log costs a few hundred units, not
// thousands (each unit holds its distinct buckets).
void compact_interval_units(LatencyUnits& units, std::vector<std::ptrdiff_t>& window_per_unit) {
  std::vector<std::size_t> starts;
  std::vector<std::ptrdiff_t> windows;
  for (std::size_t u = 0; u < units.size(); ++u) {
    const bool pairs_with_previous =
        !starts.empty() && starts.back() + 1 == u && window_per_unit[u] == windows.back();
    if (!pairs_with_previous) {
      starts.push_back(u);
      windows.push_back(window_per_unit[u]);
    }
  }
  units.regroup(starts);
  window_per_unit = std::move(windows);
}

struct LatencyLog {
  std::optional<Histogram> sum;
  LatencyUnits units;
  std::string note;
};

// latency.hlog's untagged intervals (from due time): summed into one
// histogram, and grouped into the units the tail-latency bootstrap resamples.
// Read one interval at a time: an hour-long run has thousands of them.
LatencyLog read_latency_log(const fs::path& file, const std::vector<RepetitionWindow>& windows) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), "cannot open the latency log");
  LatencyLog log;
  std::vector<std::ptrdiff_t> window_per_unit;
  std::size_t compact_at = 4 * kMaxIntervalUnits;
  std::size_t dropped = 0;
  try {
    HistogramLogReader reader(in);
    while (std::optional<HistogramLogInterval> interval = reader.next_interval()) {
      if (!interval->tag.empty()) continue;
      const std::ptrdiff_t window =
          windows.empty()
              ? kNoWindow
              : window_of(windows, interval->start_timestamp_s + interval->length_s / 2);
      if (window == static_cast<std::ptrdiff_t>(windows.size()) && !windows.empty()) {
        ++dropped;
      } else if (interval->histogram.total_count() > 0) {
        log.units.add_unit(interval->histogram);
        window_per_unit.push_back(window);
        if (log.units.size() >= compact_at) {
          compact_interval_units(log.units, window_per_unit);
          // Many short repetitions may not halve; never compact on every interval.
          compact_at = std::max(compact_at, 2 * log.units.size());
        }
      }
      if (log.sum) {
        log.sum->add(interval->histogram);
      } else {
        log.sum = std::move(interval->histogram);
      }
    }
  } catch (const HistogramFormatError& e) {
    fail(file.string(), std::string("corrupt latency log (") + e.what() + ")");
  }
  if (dropped > 0) {
    log.note = std::to_string(dropped) +
               " interval(s) after the last repetition window (a repetition the server did not "
               "live through) are left out of the latency bootstrap";
  }
  if (windows.size() >= 2 && !window_per_unit.empty()) {
    const bool matches = window_per_unit.front() != kNoWindow &&
                         std::is_sorted(window_per_unit.begin(), window_per_unit.end());
    if (matches) {
      std::vector<std::size_t> starts{0};
      for (std::size_t u = 1; u < window_per_unit.size(); ++u) {
        if (window_per_unit[u] != window_per_unit[u - 1]) starts.push_back(u);
      }
      log.units.regroup(starts);
      log.units.set_kind(LatencyUnits::Kind::kRepetition);
      return log;
    }
    log.note = (log.note.empty() ? "" : log.note + "; ") +
               "the repetition windows in summary.json do not match latency.hlog's intervals; "
               "the intervals are the bootstrap's units";
  }
  tidy_interval_units(log.units);
  return log;
}

CompareInput read_profile(const fs::path& dir) {
  nlohmann::json summary;
  try {
    summary = read_summary(dir);
  } catch (const ProfileError& e) {
    throw CompareError(e.what());
  }
  CompareInput input = from_summary(summary, (dir / kSummaryFile).string());
  input.path = dir.string();
  if (fs::exists(dir / kAllocsPprofFile)) {
    try {
      input.allocs = read_alloc_profile(dir);
    } catch (const ProfileError& e) {
      throw CompareError(e.what());
    }
    input.timeline = input.allocs->timeline;
  }
  if (const fs::path hlog = dir / "latency.hlog"; fs::exists(hlog)) {
    LatencyLog log =
        read_latency_log(hlog, repetition_windows(summary, (dir / kSummaryFile).string()));
    input.latency = std::move(log.sum);
    input.latency_units = std::move(log.units);
    input.latency_note = std::move(log.note);
  }
  return input;
}

// Google Benchmark --benchmark_out JSON: iteration runs grouped by run_name
// (repetitions are its samples); aggregates (mean, median, stddev) are skipped.
CompareInput from_benchmark_json(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_object() || !doc.contains("benchmarks") || !doc["benchmarks"].is_array()) {
    fail(where,
         "not a Google Benchmark JSON file (no \"benchmarks\" array): "
         "write one with --benchmark_out=FILE --benchmark_out_format=json");
  }
  CompareInput input;
  input.path = where;
  input.kind = CompareInput::Kind::kBenchmarkJson;
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, std::vector<double>>> groups;
  const nlohmann::json& benchmarks = doc["benchmarks"];
  for (std::size_t i = 0; i < benchmarks.size(); ++i) {
    const nlohmann::json& run = benchmarks[i];
    const std::string at = where + ": benchmarks[" + std::to_string(i) + "]";
    if (!run.is_object()) fail(at, "expected an object");
    if (string_at(run, "run_type", "iteration", at) != "iteration") continue;
    if (run.contains("error_occurred") && run["error_occurred"] == true) {
      fail(at, "the benchmark reported an error: " + string_at(run, "error_message", "?", at));
    }
    const std::string name = string_at(run, "run_name", string_at(run, "name", "", at), at);
    if (name.empty()) fail(at, "no name");
    if (!groups.contains(name)) order.push_back(name);
    auto& metrics = groups[name];
    // Times in nanoseconds, whatever unit the benchmark chose.
    const std::string unit = string_at(run, "time_unit", "ns", at);
    const double scale = unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "us" ? 1e3 : 1.0;
    if (run.contains("real_time")) {
      metrics["real_time_ns"].push_back(number_at(run["real_time"], at + ".real_time") * scale);
    }
    if (run.contains("cpu_time")) {
      metrics["cpu_time_ns"].push_back(number_at(run["cpu_time"], at + ".cpu_time") * scale);
    }
    for (const char* counter : {"items_per_second", "bytes_per_second"}) {
      if (run.contains(counter)) {
        metrics[counter].push_back(number_at(run[counter], at + "." + counter));
      }
    }
    if (run.contains("allocs_per_iter")) {
      metrics["allocs_per_iteration"].push_back(
          number_at(run["allocs_per_iter"], at + ".allocs_per_iter"));
    }
  }
  for (const std::string& name : order) {
    for (const MetricInfo& metric : canonical_metrics()) {
      auto found = groups[name].find(metric.name);
      if (found != groups[name].end()) {
        input.metrics.push_back(MetricSamples{name, metric.name, std::move(found->second)});
      }
    }
  }
  if (input.metrics.empty()) fail(where, "no benchmark runs (only aggregates, or none at all)");
  return input;
}

}  // namespace

CompareInput parse_compare_json(std::string_view text, const std::string& where) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("not valid JSON (") + e.what() + ")");
  }
  if (doc.is_object() && doc.contains("benchmarks")) return from_benchmark_json(doc, where);
  return from_summary(doc, where);
}

CompareInput read_compare_input(const fs::path& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) return read_profile(path);
  if (!fs::is_regular_file(path, error)) {
    fail(path.string(), "no such profile directory or benchmark JSON file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) fail(path.string(), "cannot read the file");
  CompareInput input = parse_compare_json(text.str(), path.string());
  if (input.kind != CompareInput::Kind::kBenchmarkJson) {
    fail(path.string(),
         "not a Google Benchmark JSON file (no \"benchmarks\" array); a profile "
         "is a directory");
  }
  return input;
}

}  // namespace perflab
