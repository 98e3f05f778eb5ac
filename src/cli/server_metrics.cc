#include "server_metrics.hpp"

#include <charconv>
#include <cstdlib>

namespace perflab::cli {
namespace {

constexpr std::string_view kPrefix = "perflab_pool_";

// The field of ScrapedPool a family's sample goes to; nullptr for families we
// do not keep (hit_rate: recomputed from the deltas).
double* field_of(ScrapedPool& pool, std::string_view family) {
  if (family.ends_with("_total")) family.remove_suffix(6);
  if (family == "gets") return &pool.gets;
  if (family == "hits") return &pool.hits;
  if (family == "misses") return &pool.misses;
  if (family == "returns") return &pool.returns;
  if (family == "drops") return &pool.drops;
  if (family == "trimmed") return &pool.trimmed;
  if (family == "in_use") return &pool.in_use;
  if (family == "idle_objects") return &pool.idle_objects;
  if (family == "idle_bytes") return &pool.idle_bytes;
  return nullptr;
}

// Reads a quoted label value at text[i] (just after the opening quote),
// undoing OpenMetrics escapes; advances i past the closing quote.
std::optional<std::string> label_value(std::string_view text, std::size_t& i) {
  std::string value;
  while (i < text.size()) {
    const char c = text[i++];
    if (c == '"') return value;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (i == text.size()) return std::nullopt;
    const char escaped = text[i++];
    value += escaped == 'n' ? '\n' : escaped;
  }
  return std::nullopt;
}

// `family{pool="x",size_class="256"} 123`: nullopt for anything else.
struct Sample {
  std::string_view family;
  std::string pool, size_class;
  double value = 0;
};

std::optional<Sample> parse_sample(std::string_view line) {
  if (!line.starts_with(kPrefix)) return std::nullopt;
  const std::size_t brace = line.find('{');
  if (brace == std::string_view::npos) return std::nullopt;
  Sample sample;
  sample.family = line.substr(kPrefix.size(), brace - kPrefix.size());
  std::size_t i = brace + 1;
  bool has_pool = false;
  while (i < line.size() && line[i] != '}') {
    const std::size_t eq = line.find("=\"", i);
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = line.substr(i, eq - i);
    i = eq + 2;
    std::optional<std::string> value = label_value(line, i);
    if (!value) return std::nullopt;
    if (key == "pool") {
      sample.pool = std::move(*value);
      has_pool = true;
    } else if (key == "size_class") {
      sample.size_class = std::move(*value);
    }
    if (i < line.size() && line[i] == ',') ++i;
  }
  if (i >= line.size() || !has_pool) return std::nullopt;
  std::string_view rest = line.substr(i + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const std::string number(rest.substr(0, rest.find(' ')));
  char* end = nullptr;
  sample.value = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size()) return std::nullopt;
  return sample;
}

}  // namespace

PoolScrape parse_pool_metrics(std::string_view openmetrics) {
  PoolScrape pools;
  while (!openmetrics.empty()) {
    const std::size_t newline = openmetrics.find('\n');
    const std::string_view line = openmetrics.substr(0, newline);
    openmetrics.remove_prefix(newline == std::string_view::npos ? openmetrics.size() : newline + 1);
    std::optional<Sample> sample = parse_sample(line);
    if (!sample) continue;
    ScrapedPool& pool = pools[{sample->pool, sample->size_class}];
    if (double* field = field_of(pool, sample->family)) *field = sample->value;
  }
  return pools;
}

std::optional<PoolScrape> scrape_pools(const HttpUrl& url, double timeout_s) {
  try {
    const HttpGetResult got = http_get(url, timeout_s);
    if (got.status != 200) return std::nullopt;
    PoolScrape pools = parse_pool_metrics(got.body);
    if (pools.empty()) return std::nullopt;
    return pools;
  } catch (const LoadError&) {
    return std::nullopt;
  }
}

PoolScrape pool_delta(const PoolScrape& before, const PoolScrape& after) {
  PoolScrape delta = after;
  for (auto& [key, pool] : delta) {
    const auto it = before.find(key);
    if (it == before.end()) continue;  // created during the repetition: all of it is new
    const ScrapedPool& b = it->second;
    pool.gets -= b.gets;
    pool.hits -= b.hits;
    pool.misses -= b.misses;
    pool.returns -= b.returns;
    pool.drops -= b.drops;
    pool.trimmed -= b.trimmed;
  }
  return delta;
}

std::optional<double> pool_hit_rate(const PoolScrape& pools) {
  double hits = 0, gets = 0;
  for (const auto& [key, pool] : pools) {
    hits += pool.hits;
    gets += pool.gets;
  }
  if (!(gets > 0)) return std::nullopt;
  return hits / gets;
}

double pool_idle_bytes(const PoolScrape& pools) {
  double bytes = 0;
  for (const auto& [key, pool] : pools) bytes += pool.idle_bytes;
  return bytes;
}

nlohmann::json pools_json(const PoolScrape& pools) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, p] : pools) {
    nlohmann::json pool = {
        {"name", key.first},
        {"gets", p.gets},
        {"hits", p.hits},
        {"misses", p.misses},
        {"returns", p.returns},
        {"drops", p.drops},
        {"trimmed", p.trimmed},
        {"in_use", p.in_use},
        {"idle_objects", p.idle_objects},
        {"idle_bytes", p.idle_bytes},
        {"hit_rate", p.gets > 0 ? p.hits / p.gets : 0.0},
    };
    if (!key.second.empty()) pool["size_class"] = key.second;
    out.push_back(std::move(pool));
  }
  return out;
}

}  // namespace perflab::cli
