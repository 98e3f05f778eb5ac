#include "perflab/pool.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "pool_test_support.hpp"

namespace perflab {
namespace {

using testing::pool_options;
using testing::Tracked;

TEST(ObjectPoolTest, MissConstructsAndReturnedObjectIsReusedAsHit) {
  ObjectPool<Tracked> pool(pool_options(8, 8));
  Tracked* first = pool.take();
  EXPECT_EQ(Tracked::live.load(), 1);
  pool.put(first);
  Tracked* second = pool.take();
  EXPECT_EQ(second, first);
  pool.put(second);
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.returns, 2u);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.idle_objects, 1u);
  EXPECT_EQ(s.idle_bytes, sizeof(Tracked));
  EXPECT_DOUBLE_EQ(s.hit_rate(), 0.5);
}

TEST(ObjectPoolTest, ResetHookRunsOnEveryReturn) {
  ObjectPool<std::string, ClearReset> pool(pool_options(4, 4));
  {
    auto text = pool.get();
    text->assign("a request body that is long enough to live on the heap");
  }
  auto again = pool.get();
  EXPECT_TRUE(again->empty());
  EXPECT_GE(again->capacity(), 40u) << "the reused string keeps its capacity";
}

TEST(ObjectPoolTest, HandleGivesObjectBackAtScopeExitAndOnReset) {
  ObjectPool<Tracked> pool(pool_options(4, 4));
  {
    auto a = pool.get();
    auto b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(pool.stats().in_use, 1);
  }
  EXPECT_EQ(pool.stats().in_use, 0);
  auto c = pool.get();
  c.reset();
  EXPECT_FALSE(c);
  EXPECT_EQ(pool.stats().returns, 2u);
}

TEST(ObjectPoolTest, ReleasedObjectStaysOutUntilPut) {
  ObjectPool<Tracked> pool(pool_options(4, 4));
  auto handle = pool.get();
  Tracked* raw = handle.release();
  handle = ObjectPool<Tracked>::Handle{};
  EXPECT_EQ(pool.stats().in_use, 1);
  pool.put(raw);
  EXPECT_EQ(pool.stats().in_use, 0);
}

TEST(ObjectPoolTest, ReturnsBeyondIdleCapsAreDroppedAndDestroyed) {
  constexpr std::size_t kPerThread = 2, kShared = 3, kTaken = 10;
  ObjectPool<Tracked> pool(pool_options(kPerThread, kShared));
  std::vector<Tracked*> taken;
  for (std::size_t i = 0; i < kTaken; ++i) taken.push_back(pool.take());
  for (Tracked* t : taken) pool.put(t);
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.idle_objects, kPerThread + kShared);
  EXPECT_EQ(s.drops, kTaken - kPerThread - kShared);
  EXPECT_EQ(Tracked::live.load(), static_cast<int>(kPerThread + kShared));
}

TEST(ObjectPoolTest, TrimFreesIdleObjectsDownToTheFloor) {
  PoolOptions options = pool_options(16, 64);
  options.min_idle = 4;
  ObjectPool<Tracked> pool(options);
  std::vector<Tracked*> taken;
  for (int i = 0; i < 40; ++i) taken.push_back(pool.take());
  for (Tracked* t : taken) pool.put(t);
  ASSERT_EQ(pool.stats().idle_objects, 40u);
  pool.trim();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.idle_objects, 4u);
  EXPECT_EQ(s.idle_bytes, 4 * sizeof(Tracked));
  EXPECT_EQ(s.trimmed, 36u);
  EXPECT_EQ(Tracked::live.load(), 4);
}

TEST(ObjectPoolTest, PrewarmedObjectsMakeTheFirstGetsHits) {
  ObjectPool<Tracked> pool(pool_options(8, 32));
  pool.prewarm(20);
  EXPECT_EQ(pool.stats().idle_objects, 20u);
  std::vector<Tracked*> taken;
  for (int i = 0; i < 20; ++i) taken.push_back(pool.take());
  EXPECT_EQ(pool.stats().misses, 0u);
  EXPECT_EQ(pool.stats().hits, 20u);
  for (Tracked* t : taken) pool.put(t);
}

TEST(ObjectPoolTest, WorksWithoutThreadCaches) {
  ObjectPool<Tracked> pool(pool_options(0, 2));
  Tracked* a = pool.take();
  Tracked* b = pool.take();
  Tracked* c = pool.take();
  pool.put(a);
  pool.put(b);
  pool.put(c);  // over max_idle_shared
  EXPECT_EQ(pool.take(), b);
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, 4u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.drops, 1u);
  EXPECT_EQ(s.idle_objects, 1u);
  pool.put(b);
}

TEST(ObjectPoolTest, FactoryFailureHandsNothingOutAndKeepsCountsExact) {
  int calls = 0;
  ObjectPool<Tracked> pool(pool_options(4, 4), NoReset{}, [&]() -> Tracked* {
    if (++calls == 2) throw std::runtime_error("no memory for you");
    return new Tracked;
  });
  auto first = pool.get();
  EXPECT_THROW((void)pool.get(), std::runtime_error);
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.in_use, 1);
}

TEST(ObjectPoolTest, DestroyingPoolWithObjectsOutReportsWhereTheyWereTaken) {
  LeakReport seen;
  PoolOptions options = pool_options(4, 4);
  options.name = "leaky";
  options.track_sites = true;
  options.on_leak = [&](const LeakReport& report) { seen = report; };
  Tracked* kept[3];
  unsigned line = 0;
  {
    ObjectPool<Tracked> pool(options);
    auto returned = pool.get();
    for (Tracked*& k : kept) {
      line = __LINE__ + 1;
      k = pool.take();
    }
  }
  EXPECT_EQ(seen.pool, "leaky");
  EXPECT_EQ(seen.outstanding, 3);
  ASSERT_EQ(seen.sites.size(), 1u);
  EXPECT_EQ(seen.sites[0].objects, 3u);
  EXPECT_EQ(seen.sites[0].where.line, line);
  EXPECT_NE(std::string(seen.sites[0].where.file).find("pool_test.cc"), std::string::npos);
  for (Tracked* k : kept) delete k;
}

TEST(ObjectPoolTest, PoolWithEverythingReturnedReportsNoLeak) {
  bool reported = false;
  PoolOptions options = pool_options(4, 4);
  options.on_leak = [&](const LeakReport&) { reported = true; };
  {
    ObjectPool<Tracked> pool(options);
    auto a = pool.get();
    auto b = pool.get();
  }
  EXPECT_FALSE(reported);
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(ObjectPoolTest, RejectsAFloorAboveTheSharedCap) {
  PoolOptions options = pool_options(4, 4);
  options.min_idle = 5;
  EXPECT_THROW(ObjectPool<Tracked>{options}, std::invalid_argument);
}

TEST(ObjectPoolTest, PoolsCreatedAndDestroyedRepeatedlyKeepTheirOwnCaches) {
  // Slots are reused by new pools; a stale thread cache must never leak across.
  for (int round = 0; round < 50; ++round) {
    ObjectPool<Tracked> pool(pool_options(4, 4));
    Tracked* t = pool.take();
    pool.put(t);
    EXPECT_EQ(pool.stats().gets, 1u);
    EXPECT_EQ(pool.stats().idle_objects, 1u);
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(ObjectPoolTest, MakeObjectPoolDeducesALambdaResetHook) {
  auto pool = make_object_pool<std::vector<int>>(pool_options(4, 4),
                                                 [](std::vector<int>& v) { v.clear(); });
  {
    auto v = pool->get();
    v->assign(100, 7);
  }
  EXPECT_TRUE(pool->get()->empty());
}

}  // namespace
}  // namespace perflab
