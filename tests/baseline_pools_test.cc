// What perflab baseline reads from a server's /metrics: the OpenMetrics text
// of a real PoolRegistry parsed back into the pools' figures, deltas between
// two scrapes, and lines that are not ours left alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/server_metrics.hpp"
#include "perflab/pool.hpp"

namespace perflab::cli {
namespace {

struct Row {
  char bytes[100];
};

TEST(PoolMetrics, ParsesWhatARegistryServes) {
  PoolRegistry registry;
  PoolOptions options;
  options.name = "rows \"hot\" \\ path";  // escapes must round-trip
  options.registry = &registry;
  ObjectPool<Row> rows(options);
  BufferPoolOptions buffer_options;
  buffer_options.name = "bodies";
  buffer_options.registry = &registry;
  BufferPool buffers(buffer_options);
  for (int i = 0; i < 10; ++i) {
    auto a = rows.get();
    auto b = rows.get();
    Buffer small = buffers.get(100);
    Buffer large = buffers.get(5000);
  }
  const PoolScrape scraped = parse_pool_metrics(registry.openmetrics());

  const PoolStats row_stats = rows.stats();
  const auto row = scraped.find({options.name, ""});
  ASSERT_NE(row, scraped.end()) << registry.openmetrics();
  EXPECT_EQ(row->second.gets, static_cast<double>(row_stats.gets));
  EXPECT_EQ(row->second.hits, static_cast<double>(row_stats.hits));
  EXPECT_EQ(row->second.misses, 2.0);
  EXPECT_EQ(row->second.idle_objects, static_cast<double>(row_stats.idle_objects));
  EXPECT_EQ(row->second.idle_bytes, static_cast<double>(row_stats.idle_bytes));

  // The buffer pool shows once per size class; summed, they are its stats.
  double gets = 0, hits = 0, idle = 0;
  std::size_t classes = 0;
  for (const auto& [key, pool] : scraped) {
    if (key.first != "bodies") continue;
    ++classes;
    EXPECT_FALSE(key.second.empty());
    gets += pool.gets;
    hits += pool.hits;
    idle += pool.idle_bytes;
  }
  const PoolStats buffer_stats = buffers.stats();
  EXPECT_EQ(classes, buffers.class_count() + 1);  // + the entry of buffers above the classes
  EXPECT_EQ(gets, static_cast<double>(buffer_stats.gets));
  EXPECT_EQ(hits, static_cast<double>(buffer_stats.hits));
  EXPECT_EQ(idle, static_cast<double>(buffer_stats.idle_bytes));

  const std::optional<double> rate = pool_hit_rate(scraped);
  ASSERT_TRUE(rate.has_value());
  EXPECT_DOUBLE_EQ(*rate, (static_cast<double>(row_stats.hits + buffer_stats.hits)) /
                              static_cast<double>(row_stats.gets + buffer_stats.gets));
}

TEST(PoolMetrics, DeltaIsWhatHappenedBetweenTwoScrapes) {
  const PoolScrape before = parse_pool_metrics(
      "perflab_pool_gets_total{pool=\"a\"} 100\n"
      "perflab_pool_hits_total{pool=\"a\"} 60\n"
      "perflab_pool_idle_bytes{pool=\"a\"} 4096\n");
  const PoolScrape after = parse_pool_metrics(
      "perflab_pool_gets_total{pool=\"a\"} 1100\n"
      "perflab_pool_hits_total{pool=\"a\"} 1050\n"
      "perflab_pool_idle_bytes{pool=\"a\"} 8192\n"
      "perflab_pool_gets_total{pool=\"new\"} 10\n"
      "perflab_pool_hits_total{pool=\"new\"} 0\n");
  const PoolScrape delta = pool_delta(before, after);
  EXPECT_EQ(delta.at({"a", ""}).gets, 1000);
  EXPECT_EQ(delta.at({"a", ""}).hits, 990);
  EXPECT_EQ(delta.at({"a", ""}).idle_bytes, 8192) << "a gauge is the later value";
  EXPECT_EQ(delta.at({"new", ""}).gets, 10) << "a pool born in between counts whole";
  EXPECT_DOUBLE_EQ(*pool_hit_rate(delta), 990.0 / 1010.0);
  EXPECT_EQ(pool_idle_bytes(after), 8192);
  const nlohmann::json json = pools_json(delta);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["name"], "a");
  EXPECT_DOUBLE_EQ(json[0]["hit_rate"].get<double>(), 0.99);
}

TEST(PoolMetrics, LeavesOtherLinesAlone) {
  const PoolScrape scraped = parse_pool_metrics(
      "# TYPE perflab_pool_gets counter\n"
      "eventstore_requests_total{method=\"stream.write\"} 5\n"
      "perflab_pool_gets_total 7\n"                          // no labels
      "perflab_pool_gets_total{size_class=\"256\"} 7\n"      // no pool label
      "perflab_pool_gets_total{pool=\"x} 7\n"                // unterminated
      "perflab_pool_gets_total{pool=\"x\"} seven\n"          // not a number
      "perflab_pool_gets_total{pool=\"ok\"} 3 1700000000\n"  // with a timestamp
      "# EOF\n");
  ASSERT_EQ(scraped.size(), 1u);
  EXPECT_EQ(scraped.at({"ok", ""}).gets, 3);
  EXPECT_TRUE(parse_pool_metrics("").empty());
  EXPECT_FALSE(pool_hit_rate(PoolScrape{}).has_value());
}

}  // namespace
}  // namespace perflab::cli
