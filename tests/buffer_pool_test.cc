#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "perflab/pool.hpp"

namespace perflab {
namespace {

BufferPoolOptions quiet_options() {
  BufferPoolOptions options;
  options.track_sites = false;
  return options;
}

TEST(BufferPoolTest, DefaultClassesArePowersOfTwoFrom256BytesTo64KiB) {
  BufferPool pool(quiet_options());
  ASSERT_EQ(pool.class_count(), 9u);
  EXPECT_EQ(pool.class_bytes(0), 256u);
  EXPECT_EQ(pool.class_bytes(8), 64u * 1024);
}

TEST(BufferPoolTest, RequestIsRoundedUpToItsSizeClass) {
  BufferPool pool(quiet_options());
  EXPECT_EQ(pool.get().capacity(), 256u);
  EXPECT_EQ(pool.get(256).capacity(), 256u);
  EXPECT_EQ(pool.get(257).capacity(), 512u);
  EXPECT_EQ(pool.get(5000).capacity(), 8192u);
  EXPECT_EQ(pool.get(64 * 1024).capacity(), 64u * 1024);
}

TEST(BufferPoolTest, ReturnedBlockIsReusedByTheSameClass) {
  BufferPool pool(quiet_options());
  const char* first = nullptr;
  {
    Buffer b = pool.get(1000);
    first = b.data();
  }
  Buffer again = pool.get(700);
  EXPECT_EQ(again.data(), first);
  EXPECT_TRUE(again.empty());
  const PoolStats s = pool.class_stats(2);
  EXPECT_EQ(s.gets, 2u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(pool.stats().in_use, 1);
}

TEST(BufferPoolTest, AppendGrowsThroughTheClassesAndKeepsTheBytes) {
  BufferPool pool(quiet_options());
  Buffer b = pool.get();
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    b.append(piece);
    expected += piece;
  }
  b.push_back('!');
  expected += '!';
  EXPECT_EQ(b.view(), expected);
  EXPECT_EQ(b.capacity(), 16384u);
  // Every outgrown block went back to its class.
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.in_use, 1);
  EXPECT_EQ(s.returns, s.gets - 1);
}

TEST(BufferPoolTest, LargerBuffersBypassThePoolAndAreCountedAsMissesAndDrops) {
  BufferPool pool(quiet_options());
  {
    Buffer big = pool.get(100 * 1024);
    EXPECT_EQ(big.capacity(), 100u * 1024);
    EXPECT_EQ(pool.stats().in_use, 1);
  }
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.drops, 1u);
  EXPECT_EQ(s.idle_objects, 0u);
  EXPECT_EQ(s.in_use, 0);
}

TEST(BufferPoolTest, AppendingABufferToItselfAcrossAGrowthKeepsTheBytes) {
  BufferPool pool(quiet_options());
  Buffer b = pool.get();
  b.append(std::string(200, 'a'));
  b.append(b.view());  // 400 bytes: grows into the 512 class mid-append
  b += b.view();       // 800 bytes: 1024 class
  EXPECT_EQ(b.view(), std::string(800, 'a'));
  Buffer heap;
  heap.append("xy");
  heap.append(heap.view());
  EXPECT_EQ(heap.view(), "xyxy");
}

TEST(BufferPoolTest, OversizeBuffersAppearInTheRegistryAndInLeakReports) {
  PoolRegistry registry;
  std::vector<LeakReport> reports;
  BufferPoolOptions options = quiet_options();
  options.name = "big";
  options.registry = &registry;
  options.max_class_bytes = 512;
  options.on_leak = [&](const LeakReport& r) { reports.push_back(r); };
  Buffer* kept = nullptr;
  {
    BufferPool pool(options);
    { Buffer once = pool.get(4096); }
    kept = new Buffer(pool.get(8192));
    const auto entries = registry.snapshot();
    ASSERT_EQ(entries.size(), 3u);  // 256, 512, oversize
    EXPECT_EQ(entries[2].size_class, "oversize");
    EXPECT_EQ(entries[2].stats.gets, 2u);
    EXPECT_EQ(entries[2].stats.in_use, 1);
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].pool, "big size_class=oversize");
  EXPECT_EQ(reports[0].outstanding, 1);
  ::operator delete(kept->data());  // its pool is gone: free the block by hand
  new (kept) Buffer();
  delete kept;
}

TEST(BufferPoolTest, LeakSiteOfAGrownBufferIsWhereItWasTaken) {
  std::vector<LeakReport> reports;
  BufferPoolOptions options;
  options.track_sites = true;
  options.on_leak = [&](const LeakReport& r) { reports.push_back(r); };
  Buffer* kept = nullptr;
  unsigned line = 0;
  {
    BufferPool pool(options);
    line = __LINE__ + 1;
    kept = new Buffer(pool.get(10));
    kept->append(std::string(1000, 'x'));  // moves to the 1024 class
  }
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].sites.size(), 1u);
  EXPECT_EQ(reports[0].sites[0].where.line, line);
  ::operator delete(kept->data());
  new (kept) Buffer();
  delete kept;
}

TEST(BufferPoolTest, ExtendAndResizeSupportScratchUse) {
  BufferPool pool(quiet_options());
  Buffer b = pool.get();
  char* at = b.extend(10);
  for (int i = 0; i < 10; ++i) at[i] = static_cast<char>('a' + i);
  b.resize(4);
  EXPECT_EQ(b.view(), "abcd");
  b.resize(6);
  EXPECT_EQ(b.view(), std::string_view("abcd\0\0", 6));
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 256u);
}

TEST(BufferPoolTest, MovedBufferReturnsItsBlockOnce) {
  BufferPool pool(quiet_options());
  {
    Buffer a = pool.get();
    a.append("x");
    Buffer b = std::move(a);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(b.view(), "x");
    Buffer c;
    c = std::move(b);
    EXPECT_EQ(c.view(), "x");
  }
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.returns, 1u);
  EXPECT_EQ(s.in_use, 0);
}

TEST(BufferPoolTest, BufferWithoutPoolGrowsOnTheHeap) {
  Buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.reset();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(BufferPoolTest, TrimKeepsTheFloorInEveryClass) {
  BufferPoolOptions options = quiet_options();
  options.min_idle = 2;
  BufferPool pool(options);
  {
    std::vector<Buffer> held;
    for (int i = 0; i < 10; ++i) held.push_back(pool.get(300));
    for (int i = 0; i < 10; ++i) held.push_back(pool.get(3000));
  }
  pool.trim();
  EXPECT_EQ(pool.class_stats(1).idle_objects, 2u);
  EXPECT_EQ(pool.class_stats(4).idle_objects, 2u);
  EXPECT_EQ(pool.stats().idle_bytes, 2u * 512 + 2u * 4096);
}

TEST(BufferPoolTest, RejectsClassBoundsThatAreNotPowersOfTwo) {
  BufferPoolOptions options = quiet_options();
  options.min_class_bytes = 300;
  EXPECT_THROW(BufferPool{options}, std::invalid_argument);
  options.min_class_bytes = 1024;
  options.max_class_bytes = 512;
  EXPECT_THROW(BufferPool{options}, std::invalid_argument);
}

TEST(BufferPoolTest, LeakReportNamesThePoolAndSizeClass) {
  std::vector<LeakReport> reports;
  BufferPoolOptions options = quiet_options();
  options.name = "scratch";
  options.on_leak = [&](const LeakReport& r) { reports.push_back(r); };
  Buffer* kept = nullptr;
  {
    BufferPool pool(options);
    kept = new Buffer(pool.get(1000));
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].pool, "scratch size_class=1024");
  EXPECT_EQ(reports[0].outstanding, 1);
  // Leaked on purpose: returning it now would touch the destroyed pool.
  ::operator delete(kept->data());
  new (kept) Buffer();
  delete kept;
}

}  // namespace
}  // namespace perflab
