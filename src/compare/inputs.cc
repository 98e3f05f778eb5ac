// What compare reads: a profile directory's summary.json (and allocs.pb.gz),
// or a Google Benchmark JSON file. Both become named metric samples.
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

// latency.hlog's untagged intervals (from due time) summed into one histogram.
// Read one interval at a time: an hour-long run has thousands of them.
std::optional<Histogram> read_latency_log(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), "cannot open the latency log");
  std::optional<Histogram> sum;
  try {
    HistogramLogReader reader(in);
    while (std::optional<HistogramLogInterval> interval = reader.next_interval()) {
      if (!interval->tag.empty()) continue;
      if (sum) {
        sum->add(interval->histogram);
      } else {
        sum = std::move(interval->histogram);
      }
    }
  } catch (const HistogramFormatError& e) {
    fail(file.string(), std::string("corrupt latency log (") + e.what() + ")");
  }
  return sum;
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
    input.latency = read_latency_log(hlog);
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
