// The pools' promise: once warm, taking and giving back objects and buffers
// allocates nothing. Checked with perflab's own allocation counter.
#include <gtest/gtest.h>

#include <string>

#include "perflab/alloc.hpp"
#include "perflab/pool.hpp"

namespace perflab {
namespace {

TEST(PoolAllocTest, SteadyStateGetAndPutAllocateNothing) {
  ASSERT_TRUE(alloc_counting_active());
  PoolOptions options;
  options.track_sites = false;
  ObjectPool<std::string, ClearReset> pool(options);
  for (int i = 0; i < 100; ++i) pool.get()->assign(100, 'x');  // warm: strings keep capacity
  AllocScope scope;
  for (int i = 0; i < 100000; ++i) {
    auto s = pool.get();
    s->assign(100, 'y');
  }
  EXPECT_EQ(scope.counts().allocs, 0u);
  EXPECT_EQ(scope.counts().frees, 0u);
  EXPECT_GE(pool.stats().hit_rate(), 0.99);
}

TEST(PoolAllocTest, SteadyStateBufferUseAllocatesNothing) {
  ASSERT_TRUE(alloc_counting_active());
  BufferPoolOptions options;
  options.track_sites = false;
  BufferPool pool(options);
  for (int i = 0; i < 10; ++i) pool.get(4000).append(std::string_view("warm"));
  AllocScope scope;
  for (int i = 0; i < 100000; ++i) {
    Buffer b = pool.get(4000);
    b.append("{\"id\":");
    b.append(std::to_string(i % 1000));  // short: fits std::string's inline buffer
    b.push_back('}');
  }
  EXPECT_EQ(scope.counts().allocs, 0u);
}

TEST(PoolAllocTest, AMissIsOneAllocationAndADropIsOneFree) {
  ASSERT_TRUE(alloc_counting_active());
  PoolOptions options;
  options.track_sites = false;
  options.max_idle_per_thread = 0;
  options.max_idle_shared = 0;
  ObjectPool<int> pool(options);
  pool.put(pool.take());  // the thread's first use allocates its cache
  AllocScope scope;
  int* p = pool.take();
  pool.put(p);  // nowhere to keep it: dropped
  EXPECT_EQ(scope.counts().allocs, 1u);
  EXPECT_EQ(scope.counts().frees, 1u);
}

}  // namespace
}  // namespace perflab
