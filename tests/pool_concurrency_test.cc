// Pools used from many threads at once. These run under ThreadSanitizer and
// AddressSanitizer in CI; the assertions are on counts, never on timings.
#include <gtest/gtest.h>

#include <barrier>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "perflab/pool.hpp"
#include "pool_test_support.hpp"

namespace perflab {
namespace {

using testing::pool_options;
using testing::Tracked;

TEST(PoolConcurrencyTest, ManyThreadsGettingAndPuttingKeepCountsExact) {
  constexpr int kThreads = 8, kRounds = 5000;
  ObjectPool<Tracked> pool(pool_options(16, 64));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&pool, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<ObjectPool<Tracked>::Handle> held;
      for (int i = 0; i < kRounds; ++i) {
        held.push_back(pool.get());
        held.back()->payload[0] = t;
        // Hold a varying number so caches fill, flush and refill.
        if (rng() % 3 == 0) held.clear();
      }
    });
  }
  // Stats are read while the workers run: a data race here is TSan's to find.
  while (pool.stats().gets < static_cast<std::uint64_t>(kThreads * kRounds / 2)) {
    std::this_thread::yield();
  }
  for (auto& th : threads) th.join();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, static_cast<std::uint64_t>(kThreads * kRounds));
  EXPECT_EQ(s.returns, s.gets);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.hits + s.misses, s.gets);
  // Every object ever made is idle, dropped, or nowhere else.
  EXPECT_EQ(static_cast<std::uint64_t>(Tracked::live.load()), s.idle_objects);
  EXPECT_EQ(s.misses, s.idle_objects + s.drops);
}

TEST(PoolConcurrencyTest, ObjectsTakenOnOneThreadCanBeReturnedOnAnother) {
  constexpr int kObjects = 20000;
  ObjectPool<Tracked> pool(pool_options(32, 256));
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<ObjectPool<Tracked>::Handle> queue;
  bool done = false;
  std::thread consumer([&] {
    for (;;) {
      std::unique_lock lock(mutex);
      ready.wait(lock, [&] { return !queue.empty() || done; });
      if (queue.empty()) return;
      auto handle = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      EXPECT_EQ(handle->payload[0], 42);
      handle.reset();  // returned on the consumer thread
    }
  });
  for (int i = 0; i < kObjects; ++i) {
    auto handle = pool.get();
    handle->payload[0] = 42;
    std::lock_guard lock(mutex);
    queue.push_back(std::move(handle));
    ready.notify_one();
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  ready.notify_one();
  consumer.join();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, static_cast<std::uint64_t>(kObjects));
  EXPECT_EQ(s.returns, s.gets);
  EXPECT_EQ(s.in_use, 0);
  // How many the producer reused depends on scheduling; that every object
  // made is either idle or was dropped does not.
  EXPECT_EQ(s.misses, s.idle_objects + s.drops);
  EXPECT_EQ(static_cast<std::uint64_t>(Tracked::live.load()), s.idle_objects);
}

TEST(PoolConcurrencyTest, ExitingThreadHandsItsCacheBackToTheDepot) {
  constexpr std::size_t kCached = 24;
  ObjectPool<Tracked> pool(pool_options(32, 256));
  std::thread worker([&] {
    std::vector<Tracked*> taken;
    for (std::size_t i = 0; i < kCached; ++i) taken.push_back(pool.take());
    for (Tracked* t : taken) pool.put(t);  // all fit in this thread's cache
  });
  worker.join();
  PoolStats s = pool.stats();
  EXPECT_EQ(s.idle_objects, kCached);
  EXPECT_EQ(s.gets, kCached) << "the exited thread's counters are kept";
  std::vector<Tracked*> taken;
  for (std::size_t i = 0; i < kCached; ++i) taken.push_back(pool.take());
  s = pool.stats();
  EXPECT_EQ(s.misses, kCached) << "only the worker's first gets were misses";
  EXPECT_EQ(s.hits, kCached);
  for (Tracked* t : taken) pool.put(t);
}

TEST(PoolConcurrencyTest, ExitingThreadDropsWhatTheDepotCannotHold) {
  ObjectPool<Tracked> pool(pool_options(32, 4));
  std::thread worker([&] {
    std::vector<Tracked*> taken;
    for (int i = 0; i < 10; ++i) taken.push_back(pool.take());
    for (Tracked* t : taken) pool.put(t);
  });
  worker.join();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.idle_objects, 4u);
  EXPECT_EQ(s.drops, 6u);
  EXPECT_EQ(Tracked::live.load(), 4);
}

// Objects that hold pooled objects: destroying one (a drop when a thread exits
// with more cached than the depot holds) gives its member back to a pool while
// the exiting thread is handing its caches back.
struct Message {
  Buffer body;
  ObjectPool<Tracked>::Handle header;
};

TEST(PoolConcurrencyTest, ThreadExitDestroyingObjectsThatHoldPooledObjectsIsSafe) {
  BufferPoolOptions buffer_options;
  buffer_options.track_sites = false;
  buffer_options.max_idle_shared = 1;
  BufferPool buffers(buffer_options);
  ObjectPool<Tracked> headers(pool_options(8, 1));
  ObjectPool<Message> messages(pool_options(16, 1));
  std::thread worker([&] {
    std::vector<Message*> taken;
    for (int i = 0; i < 10; ++i) {
      Message* m = messages.take();
      m->body = buffers.get(100);
      m->body.append("payload");
      m->header = headers.get();
      taken.push_back(m);
    }
    for (Message* m : taken) messages.put(m);  // all cached on this thread
  });
  worker.join();
  const PoolStats m = messages.stats();
  EXPECT_EQ(m.idle_objects, 1u);
  EXPECT_EQ(m.drops, 9u);
  // Each dropped message gave its header and its buffer back.
  EXPECT_EQ(headers.stats().in_use, 1);
  EXPECT_EQ(buffers.stats().in_use, 1);
  EXPECT_EQ(headers.stats().returns, 9u);
}

TEST(PoolConcurrencyTest, ObjectsHoldingHandlesOfTheirOwnPoolAreCountedOnThreadExit) {
  struct Node {
    std::unique_ptr<ObjectPool<Node>::Handle> child;
  };
  ObjectPool<Node> nodes(pool_options(8, 0));
  std::thread worker([&] {
    Node* parent = nodes.take();
    parent->child = std::make_unique<ObjectPool<Node>::Handle>(nodes.get());
    nodes.put(parent);  // cached; dropped at exit, which returns its child
  });
  worker.join();
  const PoolStats s = nodes.stats();
  EXPECT_EQ(s.gets, 2u);
  EXPECT_EQ(s.returns, 2u);
  EXPECT_EQ(s.in_use, 0);
}

TEST(PoolConcurrencyTest, ThreadOutlivingAPoolUsesANewPoolInTheSameSlotSafely) {
  std::barrier sync(2);
  auto first = std::make_unique<ObjectPool<Tracked>>(pool_options(8, 8));
  std::unique_ptr<ObjectPool<Tracked>> second;
  std::thread worker([&] {
    { auto h = first->get(); }  // leaves an object in this thread's cache
    sync.arrive_and_wait();     // main destroys `first`, creates `second`
    sync.arrive_and_wait();
    { auto h = second->get(); }
    sync.arrive_and_wait();
  });
  sync.arrive_and_wait();
  first.reset();
  EXPECT_EQ(Tracked::live.load(), 0) << "the destroyed pool freed the worker's cached object";
  second = std::make_unique<ObjectPool<Tracked>>(pool_options(8, 8));
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  worker.join();
  const PoolStats s = second->stats();
  EXPECT_EQ(s.gets, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.idle_objects, 1u);
}

TEST(PoolConcurrencyTest, BuffersMovedBetweenThreadsReturnToTheirClass) {
  BufferPoolOptions options;
  options.track_sites = false;
  BufferPool pool(options);
  constexpr int kThreads = 4, kBuffers = 2000;
  std::vector<std::vector<Buffer>> handoff(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBuffers; ++i) {
        Buffer b = pool.get(static_cast<std::size_t>(64 << (i % 8)));
        b.append("payload");
        if (i % 2 == 0) handoff[static_cast<std::size_t>(t)].push_back(std::move(b));
      }
    });
  }
  for (auto& th : threads) th.join();
  // Returned on this thread, taken on the workers.
  handoff.clear();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.gets, static_cast<std::uint64_t>(kThreads * kBuffers));
  EXPECT_EQ(s.returns, s.gets);
  EXPECT_EQ(s.in_use, 0);
}

}  // namespace
}  // namespace perflab
