// Internals of perflab's pools: the type-erased core that ObjectPool<T> and
// every BufferPool size class are built on. Not part of the public API.
//
// Layout: each thread owns one ThreadCache per pool, found through a
// thread-local table indexed by the pool's slot. The fast paths touch only the
// calling thread's cache (plain loads and stores, no read-modify-write), and
// reach the mutex-protected depot once per batch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "perflab/pool/options.hpp"

namespace perflab::detail {

class PoolCore;

// Per-thread counter: written only by its owning thread, read by stats() on
// any thread. Relaxed load + store compiles to plain moves on x86 yet keeps
// concurrent readers free of data races.
class OwnedCounter {
 public:
  void bump() noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void drop_one() noexcept {
    value_.store(value_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  std::uint64_t read() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One thread's idle objects for one pool, followed in the same allocation by
// `capacity` item slots (so reaching them costs no pointer load). Cache-line
// aligned so two threads' caches never share a line.
struct alignas(64) ThreadCache {
  OwnedCounter gets;
  OwnedCounter misses;
  OwnedCounter returns;
  OwnedCounter drops;
  std::atomic<std::uint32_t> count{0};  // written by the owner only
  std::uint32_t capacity = 0;
  ThreadCache* next = nullptr;  // the owning pool's list, guarded by its mutex

  void** items() noexcept { return reinterpret_cast<void**>(this + 1); }
};

// Thread-local table from pool slot to that thread's cache. The epoch tells a
// live pool's entry from a stale one left by a destroyed pool in the same slot.
struct CacheSlot {
  ThreadCache* cache;
  std::uint64_t epoch;
};
inline thread_local CacheSlot* tls_cache_slots = nullptr;
inline thread_local std::uint32_t tls_cache_slot_count = 0;

// How a core makes and frees the items it pools.
struct ItemHooks {
  void* (*create)(void* context) = nullptr;              // may throw
  void (*destroy)(void* context, void* item) = nullptr;  // must not throw
  void* context = nullptr;
  std::size_t item_bytes = 0;  // counted in idle_bytes per idle item
};

class PoolCore {
 public:
  // Throws std::invalid_argument on inconsistent options.
  PoolCore(PoolOptions options, ItemHooks hooks);
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  // Tracking sites gives every thread cache a capacity of 0, so the fast
  // paths need no check of their own: every operation takes the slow path.
  void* get(SourceLocation where) {
    ThreadCache* cache = local_cache();
    if (cache != nullptr) [[likely]] {
      cache->gets.bump();
      const std::uint32_t n = cache->count.load(std::memory_order_relaxed);
      if (n != 0) [[likely]] {
        cache->count.store(n - 1, std::memory_order_relaxed);
        return cache->items()[n - 1];
      }
    }
    return get_slow(cache, where);
  }

  void put(void* item) noexcept {
    ThreadCache* cache = local_cache();
    if (cache != nullptr) [[likely]] {
      cache->returns.bump();
      const std::uint32_t n = cache->count.load(std::memory_order_relaxed);
      if (n < cache->capacity) [[likely]] {
        cache->items()[n] = item;
        cache->count.store(n + 1, std::memory_order_relaxed);
        return;
      }
    }
    put_slow(cache, item);
  }

  PoolStats stats() const;
  void trim();
  void prewarm(std::size_t objects);
  const PoolOptions& options() const noexcept { return options_; }

 private:
  friend struct ThreadExitDrain;

  ThreadCache* local_cache() noexcept {
    const std::uint32_t slot = slot_;
    if (slot < tls_cache_slot_count) [[likely]] {
      const CacheSlot& entry = tls_cache_slots[slot];
      if (entry.epoch == epoch_) [[likely]]
        return entry.cache;
    }
    return attach_thread();
  }

  ThreadCache* attach_thread() noexcept;
  void* get_slow(ThreadCache* cache, SourceLocation where);
  void put_slow(ThreadCache* cache, void* item) noexcept;
  // Moves an exiting thread's cache into the depot and frees the cache.
  void retire_cache(ThreadCache* cache) noexcept;
  void destroy_items(void* const* items, std::size_t n) noexcept;
  void fold_counters(const ThreadCache& cache) noexcept;  // requires mutex_
  void unlink(ThreadCache* cache) noexcept;               // requires mutex_
  void report_leaks(std::int64_t outstanding);

  PoolOptions options_;
  ItemHooks hooks_;
  std::size_t batch_;
  std::size_t cache_capacity_;  // per thread; 0 when tracking sites
  bool track_sites_;
  std::uint32_t slot_;
  std::uint64_t epoch_;

  mutable std::mutex mutex_;
  std::vector<void*> depot_;       // guarded by mutex_
  ThreadCache* caches_ = nullptr;  // every live thread's cache, guarded by mutex_
  // Counters of exited threads and of operations done without a cache.
  std::uint64_t retired_gets_ = 0, retired_misses_ = 0, retired_returns_ = 0, retired_drops_ = 0,
                trimmed_ = 0;
  std::unordered_map<void*, SourceLocation> taken_at_;  // track_sites only
  std::uint64_t registry_id_ = 0;
  int pins_ = 0;  // exiting threads handing caches back; guarded by the slot table's mutex
};

}  // namespace perflab::detail
