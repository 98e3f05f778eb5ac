// What a load run reports: the `load` group of summary.json and the human
// summary printed at the end of `perflab load`.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "perflab/load.hpp"

namespace perflab {
namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};
constexpr const char* kPercentileKeys[] = {"p50", "p90", "p99", "p999"};

double to_us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }

// Percentiles in microseconds, named as DESIGN.md's canonical metrics.
nlohmann::json percentiles_json(const Histogram& histogram) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i < std::size(kPercentiles); ++i) {
    out[std::string(kPercentileKeys[i]) + "_us"] =
        histogram.total_count() > 0 ? to_us(histogram.value_at_percentile(kPercentiles[i])) : 0.0;
  }
  out["max_us"] = histogram.total_count() > 0 ? to_us(histogram.max()) : 0.0;
  out["mean_us"] = histogram.total_count() > 0 ? histogram.mean() / 1000.0 : 0.0;
  out["count"] = histogram.total_count();
  if (histogram.overflow_count() > 0) out["overflow"] = histogram.overflow_count();
  return out;
}

std::string format_duration_ns(std::int64_t ns) {
  char text[32];
  const double value = static_cast<double>(ns);
  if (ns < 1'000'000) {
    std::snprintf(text, sizeof text, "%.1f us", value / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(text, sizeof text, "%.2f ms", value / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.3f s", value / 1e9);
  }
  return text;
}

std::string percentile_row(const char* label, const Histogram& histogram) {
  char row[256];
  if (histogram.total_count() == 0) {
    std::snprintf(row, sizeof row, "  %-22s (no responses)\n", label);
    return row;
  }
  std::snprintf(row, sizeof row, "  %-22s %10s %10s %10s %10s %10s\n", label,
                format_duration_ns(histogram.value_at_percentile(50)).c_str(),
                format_duration_ns(histogram.value_at_percentile(90)).c_str(),
                format_duration_ns(histogram.value_at_percentile(99)).c_str(),
                format_duration_ns(histogram.value_at_percentile(99.9)).c_str(),
                format_duration_ns(histogram.max()).c_str());
  return row;
}

}  // namespace

const char* load_error_kind_name(LoadErrorKind kind) noexcept {
  switch (kind) {
    case LoadErrorKind::kConnect:
      return "connect";
    case LoadErrorKind::kRead:
      return "read";
    case LoadErrorKind::kWrite:
      return "write";
    case LoadErrorKind::kTimeout:
      return "timeout";
    case LoadErrorKind::kStatus:
      return "status";
    case LoadErrorKind::kParse:
      return "parse";
  }
  return "unknown";
}

void RequestResult::add(const RequestResult& other) noexcept {
  completed += other.completed;
  errors += other.errors;
  latency.add(other.latency);
  service.add(other.service);
}

void LoadCounts::add(const LoadCounts& other) noexcept {
  for (std::size_t kind = 0; kind < kLoadErrorKindCount; ++kind) errors[kind] += other.errors[kind];
  sent += other.sent;
  completed += other.completed;
  connects += other.connects;
  bytes_read += other.bytes_read;
  bytes_written += other.bytes_written;
  late += other.late;
  unsent += other.unsent;
  max_lag_ns = std::max(max_lag_ns, other.max_lag_ns);
  if (other.last_bad_status != 0) last_bad_status = other.last_bad_status;
  interrupted = interrupted || other.interrupted;
}

std::uint64_t LoadResult::error_count() const noexcept {
  std::uint64_t total = 0;
  for (std::uint64_t count : errors) total += count;
  return total;
}

double LoadResult::error_rate() const noexcept {
  const std::uint64_t failed = error_count();
  const std::uint64_t attempted = completed + failed;
  return attempted == 0 ? 0.0 : static_cast<double>(failed) / static_cast<double>(attempted);
}

nlohmann::json load_summary_json(const LoadResult& result) {
  const bool open = result.mode == LoadMode::kOpen;
  nlohmann::json load = {
      {"mode", open ? "open" : "closed"},
      {"threads", result.threads},
      {"connections", result.connections},
      {"duration_s", result.duration_s},
      {"elapsed_s", result.elapsed_s},
      {"requests", result.completed},
      {"sent", result.sent},
      {"connects", result.connects},
      {"bytes_read", result.bytes_read},
      {"bytes_written", result.bytes_written},
      {"throughput_rps", result.throughput_rps},
      {"achieved_rps", result.achieved_rate},
      {"error_rate", result.error_rate()},
      {"interrupted", result.interrupted},
  };
  nlohmann::json errors = nlohmann::json::object();
  for (std::size_t kind = 0; kind < kLoadErrorKindCount; ++kind) {
    errors[load_error_kind_name(static_cast<LoadErrorKind>(kind))] = result.errors[kind];
  }
  errors["total"] = result.error_count();
  if (result.last_bad_status > 0) errors["last_bad_status"] = result.last_bad_status;
  load["errors"] = errors;
  if (open) {
    load["target_rps"] = result.target_rate;
    load["achieved_vs_target"] =
        result.target_rate > 0 ? result.achieved_rate / result.target_rate : 0.0;
    load["behind_schedule"] = {{"late_requests", result.late},
                               {"unsent_requests", result.unsent},
                               {"max_lag_us", to_us(result.max_lag_ns)},
                               {"late_threshold_us", to_us(kLateThresholdNs)}};
  }
  // latency: from due time (corrected for coordinated omission) in open loop;
  // service: from send. In closed loop they are the same measurement.
  load["latency"] = percentiles_json(result.latency);
  load["latency"]["corrected"] = open;
  load["service"] = percentiles_json(result.service);
  for (std::size_t i = 0; i < std::size(kPercentiles); ++i) {
    const std::string key = std::string(kPercentileKeys[i]) + "_us";
    load["latency_" + key] = load["latency"][key];
    load["service_" + key] = load["service"][key];
  }
  load["latency_max_us"] = load["latency"]["max_us"];
  load["latency_mean_us"] = load["latency"]["mean_us"];
  load["service_max_us"] = load["service"]["max_us"];
  load["service_mean_us"] = load["service"]["mean_us"];
  nlohmann::json requests = nlohmann::json::array();
  for (const RequestResult& request : result.requests) {
    requests.push_back({{"name", request.name},
                        {"requests", request.completed},
                        {"errors", request.errors},
                        {"latency", percentiles_json(request.latency)},
                        {"service", percentiles_json(request.service)}});
  }
  load["by_request"] = requests;
  return load;
}

std::string format_load_report(const LoadResult& result) {
  const bool open = result.mode == LoadMode::kOpen;
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%s loop, %d thread%s, %d connection%s, %.1f s%s\n",
                open ? "open" : "closed", result.threads, result.threads == 1 ? "" : "s",
                result.connections, result.connections == 1 ? "" : "s", result.elapsed_s,
                result.interrupted ? " (interrupted)" : "");
  out += line;
  std::snprintf(line, sizeof line, "  requests  %" PRIu64 " completed, %.1f/s", result.completed,
                result.throughput_rps);
  out += line;
  if (open) {
    std::snprintf(line, sizeof line, " (target %.1f/s, achieved %.1f/s = %.2f%%)",
                  result.target_rate, result.achieved_rate,
                  result.target_rate > 0 ? 100.0 * result.achieved_rate / result.target_rate : 0.0);
    out += line;
  }
  out += "\n";
  if (open) {
    std::snprintf(line, sizeof line,
                  "  schedule  %" PRIu64 " sent late (> %s after due), %" PRIu64
                  " never sent, max lag %s\n",
                  result.late, format_duration_ns(kLateThresholdNs).c_str(), result.unsent,
                  format_duration_ns(result.max_lag_ns).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-22s %10s %10s %10s %10s %10s\n", "latency", "p50", "p90",
                "p99", "p99.9", "max");
  out += line;
  if (open) {
    out += percentile_row("from due (corrected)", result.latency);
    out += percentile_row("from send (service)", result.service);
  } else {
    out += percentile_row("from send", result.service);
  }
  if (result.requests.size() > 1) {
    for (const RequestResult& request : result.requests) {
      std::snprintf(line, sizeof line, "    %s (%" PRIu64 ", %" PRIu64 " errors)",
                    request.name.c_str(), request.completed, request.errors);
      out += percentile_row(line, open ? request.latency : request.service);
    }
  }
  std::snprintf(line, sizeof line, "  errors    %" PRIu64 " (%.2f%%)", result.error_count(),
                100.0 * result.error_rate());
  out += line;
  if (result.error_count() > 0) {
    const char* separator = ": ";
    for (std::size_t kind = 0; kind < kLoadErrorKindCount; ++kind) {
      if (result.errors[kind] == 0) continue;
      std::snprintf(line, sizeof line, "%s%s %" PRIu64, separator,
                    load_error_kind_name(static_cast<LoadErrorKind>(kind)), result.errors[kind]);
      out += line;
      if (static_cast<LoadErrorKind>(kind) == LoadErrorKind::kStatus &&
          result.last_bad_status > 0) {
        std::snprintf(line, sizeof line, " (last one %d)", result.last_bad_status);
        out += line;
      }
      separator = ", ";
    }
  }
  out += "\n";
  return out;
}

}  // namespace perflab
