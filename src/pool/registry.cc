#include "perflab/pool/registry.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace perflab {
namespace {

// OpenMetrics label values escape backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

struct Family {
  const char* name;
  const char* type;  // "counter" or "gauge"
  const char* help;
  double (*value)(const PoolStats&);
};

constexpr Family kFamilies[] = {
    {"perflab_pool_gets", "counter", "Objects handed out by the pool.",
     [](const PoolStats& s) { return static_cast<double>(s.gets); }},
    {"perflab_pool_hits", "counter", "Gets served by reusing an idle object.",
     [](const PoolStats& s) { return static_cast<double>(s.hits); }},
    {"perflab_pool_misses", "counter", "Gets that constructed a new object.",
     [](const PoolStats& s) { return static_cast<double>(s.misses); }},
    {"perflab_pool_returns", "counter", "Objects given back to the pool.",
     [](const PoolStats& s) { return static_cast<double>(s.returns); }},
    {"perflab_pool_drops", "counter", "Returns freed because the idle caps were reached.",
     [](const PoolStats& s) { return static_cast<double>(s.drops); }},
    {"perflab_pool_trimmed", "counter", "Idle objects freed by trim().",
     [](const PoolStats& s) { return static_cast<double>(s.trimmed); }},
    {"perflab_pool_in_use", "gauge", "Objects currently taken and not returned.",
     [](const PoolStats& s) { return static_cast<double>(s.in_use); }},
    {"perflab_pool_idle_objects", "gauge", "Objects held for reuse.",
     [](const PoolStats& s) { return static_cast<double>(s.idle_objects); }},
    {"perflab_pool_idle_bytes", "gauge", "Memory held by idle objects, in bytes.",
     [](const PoolStats& s) { return static_cast<double>(s.idle_bytes); }},
    {"perflab_pool_hit_rate", "gauge", "Hits divided by gets since the pool was created.",
     [](const PoolStats& s) { return s.hit_rate(); }},
};

std::string format_number(double v) {
  // Integers print without a fraction; rates keep their precision.
  if (v == static_cast<double>(static_cast<long long>(v)))
    return std::to_string(static_cast<long long>(v));
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

PoolRegistry& PoolRegistry::global() {
  static PoolRegistry* registry = new PoolRegistry;
  return *registry;
}

std::uint64_t PoolRegistry::add(Source source) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  sources_.emplace(id, std::move(source));
  return id;
}

void PoolRegistry::remove(std::uint64_t id) noexcept {
  std::lock_guard lock(mutex_);
  sources_.erase(id);
}

std::vector<PoolRegistry::Entry> PoolRegistry::snapshot() const {
  std::vector<Entry> entries;
  std::lock_guard lock(mutex_);
  for (const auto& [id, source] : sources_) source(entries);
  return entries;
}

std::string PoolRegistry::format_openmetrics(const std::vector<Entry>& entries) {
  std::string out;
  for (const Family& family : kFamilies) {
    out += "# TYPE ";
    out += family.name;
    out += ' ';
    out += family.type;
    out += "\n# HELP ";
    out += family.name;
    out += ' ';
    out += family.help;
    out += '\n';
    const bool counter = std::string_view(family.type) == "counter";
    for (const Entry& entry : entries) {
      out += family.name;
      if (counter) out += "_total";
      out += "{pool=\"";
      append_label_value(out, entry.pool);
      out += '"';
      if (!entry.size_class.empty()) {
        out += ",size_class=\"";
        append_label_value(out, entry.size_class);
        out += '"';
      }
      out += "} ";
      out += format_number(family.value(entry.stats));
      out += '\n';
    }
  }
  out += "# EOF\n";
  return out;
}

std::string PoolRegistry::format_json(const std::vector<Entry>& entries) {
  nlohmann::json pools = nlohmann::json::array();
  for (const Entry& entry : entries) {
    const PoolStats& s = entry.stats;
    nlohmann::json pool = {
        {"name", entry.pool},         {"gets", s.gets},           {"hits", s.hits},
        {"misses", s.misses},         {"returns", s.returns},     {"drops", s.drops},
        {"trimmed", s.trimmed},       {"in_use", s.in_use},       {"idle_objects", s.idle_objects},
        {"idle_bytes", s.idle_bytes}, {"hit_rate", s.hit_rate()},
    };
    if (!entry.size_class.empty()) pool["size_class"] = entry.size_class;
    pools.push_back(std::move(pool));
  }
  return nlohmann::json{{"pools", std::move(pools)}}.dump(2);
}

}  // namespace perflab
