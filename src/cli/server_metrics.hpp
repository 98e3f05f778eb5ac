// What perflab baseline reads from a server's OpenMetrics endpoint: the
// perflab_pool_* families that perflab::PoolRegistry::openmetrics() serves,
// scraped before and after each repetition, so the profile's `pools` group and
// pool_hit_rate describe the pools under the measured load only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "perflab/load.hpp"

namespace perflab::cli {

/// One pool (or one size class of a buffer pool) as a scrape saw it.
struct ScrapedPool {
  double gets = 0, hits = 0, misses = 0, returns = 0, drops = 0, trimmed = 0;  // counters
  double in_use = 0, idle_objects = 0, idle_bytes = 0;                         // gauges
};

/// (pool name, size class or "") -> figures.
using PoolScrape = std::map<std::pair<std::string, std::string>, ScrapedPool>;

/// The perflab_pool_* samples of an OpenMetrics text; other families, comments
/// and lines that do not parse are skipped (a server's other metrics are not
/// ours to judge). Empty when the text has none.
PoolScrape parse_pool_metrics(std::string_view openmetrics);

/// GETs `url` and parses it. nullopt when the server does not answer 200 or
/// serves no perflab pools; never throws but for std::bad_alloc.
std::optional<PoolScrape> scrape_pools(const HttpUrl& url, double timeout_s);

/// Counters of `after` minus `before` (what a repetition did), gauges of `after`.
PoolScrape pool_delta(const PoolScrape& before, const PoolScrape& after);

/// Sum of hits over sum of gets; nullopt without gets.
std::optional<double> pool_hit_rate(const PoolScrape& pools);

/// Sum of idle_bytes.
double pool_idle_bytes(const PoolScrape& pools);

/// summary.json's `pools` group: one object per entry, as PoolRegistry::json().
nlohmann::json pools_json(const PoolScrape& pools);

}  // namespace perflab::cli
