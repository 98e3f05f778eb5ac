#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "perflab/pool.hpp"

namespace perflab {
namespace {

TEST(PoolRegistryTest, NamedPoolsJoinAndLeaveTheirRegistry) {
  PoolRegistry registry;
  PoolOptions options;
  options.registry = &registry;
  options.track_sites = false;
  options.name = "rows";
  {
    ObjectPool<int> rows(options);
    PoolOptions unnamed = options;
    unnamed.name.clear();
    ObjectPool<int> hidden(unnamed);
    auto a = rows.get();
    auto b = hidden.get();
    const auto entries = registry.snapshot();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].pool, "rows");
    EXPECT_EQ(entries[0].stats.in_use, 1);
  }
  EXPECT_TRUE(registry.snapshot().empty());
}

TEST(PoolRegistryTest, OpenMetricsTextHasTypedFamiliesLabelsAndEof) {
  PoolRegistry registry;
  PoolOptions options;
  options.registry = &registry;
  options.track_sites = false;
  options.name = "weird \"name\"\\";
  ObjectPool<int> pool(options);
  { auto a = pool.get(); }
  { auto b = pool.get(); }
  BufferPoolOptions buffer_options;
  buffer_options.registry = &registry;
  buffer_options.name = "bufs";
  buffer_options.max_class_bytes = 512;
  BufferPool buffers(buffer_options);
  const std::string text = registry.openmetrics();
  EXPECT_NE(text.find("# TYPE perflab_pool_gets counter\n"), std::string::npos);
  EXPECT_NE(text.find("perflab_pool_gets_total{pool=\"weird \\\"name\\\"\\\\\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("perflab_pool_hits_total{pool=\"weird \\\"name\\\"\\\\\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("perflab_pool_hit_rate{pool=\"weird \\\"name\\\"\\\\\"} 0.5\n"),
            std::string::npos);
  EXPECT_NE(text.find("perflab_pool_idle_objects{pool=\"bufs\",size_class=\"512\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
}

TEST(PoolRegistryTest, JsonListsEveryPoolWithItsCounters) {
  PoolRegistry registry;
  PoolOptions options;
  options.registry = &registry;
  options.track_sites = false;
  options.name = "a";
  ObjectPool<int> a(options);
  options.name = "b";
  ObjectPool<int> b(options);
  auto held = b.get();
  const auto doc = nlohmann::json::parse(registry.json());
  ASSERT_EQ(doc["pools"].size(), 2u);
  EXPECT_EQ(doc["pools"][0]["name"], "a");
  EXPECT_EQ(doc["pools"][1]["name"], "b");
  EXPECT_EQ(doc["pools"][1]["gets"], 1);
  EXPECT_EQ(doc["pools"][1]["in_use"], 1);
  EXPECT_EQ(doc["pools"][1]["misses"], 1);
}

TEST(PoolRegistryTest, GlobalRegistryIsTheDefault) {
  PoolOptions options;
  options.name = "global-default-test";
  options.track_sites = false;
  ObjectPool<int> pool(options);
  bool found = false;
  for (const auto& entry : PoolRegistry::global().snapshot()) found |= entry.pool == options.name;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace perflab
