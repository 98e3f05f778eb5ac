// Slow paths of the pool core: thread attachment, depot transfers, thread
// exit, statistics and leak reports. The fast paths live in the header.
#include "perflab/pool/detail/pool_core.hpp"

#include <algorithm>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <utility>

#include "perflab/pool/registry.hpp"
#include "slot_table.hpp"

namespace perflab::detail {
namespace {

// Destroyed when its thread exits; hands the thread's caches back to their
// pools. Armed on the first cache a thread creates.
struct ThreadExitGuard {
  bool armed = false;
  ~ThreadExitGuard();
};

thread_local bool tls_exiting = false;
thread_local ThreadExitGuard tls_exit_guard;

constexpr std::align_val_t kCacheAlignment{alignof(ThreadCache)};

ThreadCache* new_cache(std::size_t capacity) noexcept {
  void* memory =
      ::operator new(sizeof(ThreadCache) + capacity * sizeof(void*), kCacheAlignment, std::nothrow);
  if (memory == nullptr) return nullptr;
  auto* cache = new (memory) ThreadCache;
  cache->capacity = static_cast<std::uint32_t>(capacity);
  return cache;
}

void delete_cache(ThreadCache* cache) noexcept {
  cache->~ThreadCache();
  ::operator delete(cache, kCacheAlignment);
}

bool ensure_tls_slots(std::uint32_t slot) noexcept {
  if (slot < tls_cache_slot_count) return true;
  const std::uint32_t size = std::max<std::uint32_t>(slot + 1, tls_cache_slot_count * 2);
  auto* grown = new (std::nothrow) CacheSlot[size];
  if (grown == nullptr) return false;
  std::fill(grown, grown + size, CacheSlot{nullptr, 0});
  std::copy(tls_cache_slots, tls_cache_slots + tls_cache_slot_count, grown);
  delete[] tls_cache_slots;
  tls_cache_slots = grown;
  tls_cache_slot_count = size;
  return true;
}

}  // namespace

// Friend of PoolCore so that thread exit can reach retire_cache().
struct ThreadExitDrain {
  static void run() noexcept {
    tls_exiting = true;
    // Detach the table before anything is retired: retiring destroys objects,
    // and a destructor that uses a pool again must take the locked path, not
    // find a cache that was just freed.
    CacheSlot* entries = std::exchange(tls_cache_slots, nullptr);
    const std::uint32_t count = std::exchange(tls_cache_slot_count, 0);
    SlotTable& table = slot_table();
    for (std::uint32_t i = 0; i < count; ++i) {
      const CacheSlot entry = entries[i];
      if (entry.cache == nullptr) continue;
      PoolCore* pool = nullptr;
      {
        std::lock_guard lock(table.mutex);
        // A stale entry (its pool destroyed, the slot maybe reused) is
        // skipped: the destroyed pool already freed the cache.
        if (i < table.owners.size() && table.owners[i].epoch == entry.epoch) {
          pool = table.owners[i].pool;
          ++pool->pins_;  // the pool's destructor waits for this
        }
      }
      if (pool == nullptr) continue;
      pool->retire_cache(entry.cache);  // runs destructors: no perflab lock held
      {
        std::lock_guard lock(table.mutex);
        --pool->pins_;
      }
      table.unpinned.notify_all();  // the table outlives every pool
    }
    delete[] entries;
  }
};

namespace {
ThreadExitGuard::~ThreadExitGuard() {
  if (armed) ThreadExitDrain::run();
}
}  // namespace

PoolCore::PoolCore(PoolOptions options, ItemHooks hooks)
    : options_(std::move(options)), hooks_(hooks), track_sites_(options_.track_sites) {
  if (hooks_.create == nullptr || hooks_.destroy == nullptr)
    throw std::invalid_argument("perflab pool: item hooks must create and destroy");
  if (options_.max_idle_per_thread > (1u << 20))
    throw std::invalid_argument("perflab pool: max_idle_per_thread above 2^20 (1048576)");
  if (options_.min_idle > options_.max_idle_shared)
    throw std::invalid_argument("perflab pool: min_idle exceeds max_idle_shared");
  batch_ = options_.batch != 0 ? options_.batch
                               : std::max<std::size_t>(1, options_.max_idle_per_thread / 2);
  batch_ = std::min(batch_, std::max<std::size_t>(1, options_.max_idle_per_thread));
  cache_capacity_ = track_sites_ ? 0 : options_.max_idle_per_thread;
  depot_.reserve(std::min<std::size_t>(options_.max_idle_shared, 1024));
  SlotTable& table = slot_table();
  {
    std::lock_guard lock(table.mutex);
    epoch_ = table.next_epoch++;
    if (!table.free_slots.empty()) {
      slot_ = table.free_slots.back();
      table.free_slots.pop_back();
      table.owners[slot_] = SlotOwner{this, epoch_};
    } else {
      slot_ = static_cast<std::uint32_t>(table.owners.size());
      table.owners.push_back(SlotOwner{this, epoch_});
      // So that the destructor's push_back of this slot never allocates.
      table.free_slots.reserve(table.owners.size());
    }
  }
  if (!options_.name.empty()) {
    PoolRegistry& registry =
        options_.registry != nullptr ? *options_.registry : PoolRegistry::global();
    registry_id_ = registry.add([this](std::vector<PoolRegistry::Entry>& out) {
      out.push_back(PoolRegistry::Entry{options_.name, {}, stats()});
    });
  }
}

PoolCore::~PoolCore() {
  if (registry_id_ != 0) {
    PoolRegistry& registry =
        options_.registry != nullptr ? *options_.registry : PoolRegistry::global();
    registry.remove(registry_id_);
  }
  {
    SlotTable& table = slot_table();
    std::unique_lock lock(table.mutex);
    table.owners[slot_] = SlotOwner{nullptr, 0};
    table.free_slots.push_back(slot_);  // reserved when the slot was made: cannot throw
    // An exiting thread that pinned this pool before the slot was cleared is
    // still handing its cache back; no new pin can start now.
    table.unpinned.wait(lock, [this] { return pins_ == 0; });
  }
  // No thread can reach this pool's caches any more, and using a pool while
  // destroying it is a precondition breach. Objects are destroyed outside the
  // lock, since their destructors may use pools, this one included.
  ThreadCache* caches = nullptr;
  std::vector<void*> depot;
  std::int64_t outstanding = 0;
  {
    std::lock_guard lock(mutex_);
    caches = std::exchange(caches_, nullptr);
    for (ThreadCache* cache = caches; cache != nullptr; cache = cache->next) fold_counters(*cache);
    depot.swap(depot_);
    outstanding = static_cast<std::int64_t>(retired_gets_ - retired_returns_);
  }
  while (caches != nullptr) {
    ThreadCache* cache = caches;
    caches = cache->next;
    destroy_items(cache->items(), cache->count.load(std::memory_order_relaxed));
    delete_cache(cache);
  }
  destroy_items(depot.data(), depot.size());
  if (outstanding > 0) report_leaks(outstanding);
}

ThreadCache* PoolCore::attach_thread() noexcept {
  if (tls_exiting) return nullptr;
  if (!ensure_tls_slots(slot_)) return nullptr;
  ThreadCache* cache = new_cache(cache_capacity_);
  if (cache == nullptr) return nullptr;
  tls_exit_guard.armed = true;
  {
    std::lock_guard lock(mutex_);
    cache->next = caches_;
    caches_ = cache;
  }
  tls_cache_slots[slot_] = CacheSlot{cache, epoch_};
  return cache;
}

void* PoolCore::get_slow(ThreadCache* cache, SourceLocation where) {
  void* item = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (cache == nullptr) {
      ++retired_gets_;
    } else if (cache->count.load(std::memory_order_relaxed) == 0 && cache->capacity != 0) {
      // Refill a batch so the next gets are served without the lock.
      const std::size_t k = std::min(batch_, depot_.size());
      std::copy(depot_.end() - static_cast<std::ptrdiff_t>(k), depot_.end(), cache->items());
      depot_.resize(depot_.size() - k);
      cache->count.store(static_cast<std::uint32_t>(k), std::memory_order_relaxed);
    }
    const std::uint32_t n = cache != nullptr ? cache->count.load(std::memory_order_relaxed) : 0;
    if (n != 0) {
      item = cache->items()[n - 1];
      cache->count.store(n - 1, std::memory_order_relaxed);
    } else if (!depot_.empty()) {
      item = depot_.back();
      depot_.pop_back();
    }
    if (item == nullptr) {
      if (cache != nullptr) {
        cache->misses.bump();
      } else {
        ++retired_misses_;
      }
    }
  }
  if (item == nullptr) {
    try {
      item = hooks_.create(hooks_.context);
    } catch (...) {
      // Nothing was handed out: undo the get and the miss so in_use stays exact.
      std::lock_guard lock(mutex_);
      if (cache != nullptr) {
        cache->gets.drop_one();
        cache->misses.drop_one();
      } else {
        --retired_gets_;
        --retired_misses_;
      }
      throw;
    }
  }
  if (track_sites_) {
    std::lock_guard lock(mutex_);
    try {
      taken_at_[item] = where;
    } catch (const std::bad_alloc&) {
      // The object is still handed out; only its site goes unrecorded.
    }
  }
  return item;
}

void PoolCore::put_slow(ThreadCache* cache, void* item) noexcept {
  bool dropped = false;
  {
    std::lock_guard lock(mutex_);
    if (track_sites_) taken_at_.erase(item);
    if (cache == nullptr) ++retired_returns_;
    const std::uint32_t n = cache != nullptr ? cache->count.load(std::memory_order_relaxed) : 0;
    if (cache != nullptr && n < cache->capacity) {
      cache->items()[n] = item;
      cache->count.store(n + 1, std::memory_order_relaxed);
    } else {
      const std::size_t room =
          options_.max_idle_shared - std::min(options_.max_idle_shared, depot_.size());
      // The depot may have to grow; if memory runs out the return is dropped
      // (vector insertion at the end leaves the depot unchanged on failure).
      try {
        if (cache != nullptr && n != 0 && room > 1) {
          // Flush a batch to the depot so the next returns stay lock-free, and
          // keep one place for the item itself.
          const std::size_t k = std::min<std::size_t>({batch_, n, room - 1});
          depot_.insert(depot_.end(), cache->items() + (n - k), cache->items() + n);
          cache->items()[n - k] = item;
          cache->count.store(static_cast<std::uint32_t>(n - k + 1), std::memory_order_relaxed);
        } else if (room != 0) {
          depot_.push_back(item);
        } else {
          dropped = true;
        }
      } catch (const std::bad_alloc&) {
        dropped = true;
      }
      if (dropped) {
        if (cache != nullptr) {
          cache->drops.bump();
        } else {
          ++retired_drops_;
        }
      }
    }
  }
  if (dropped) hooks_.destroy(hooks_.context, item);
}

void PoolCore::retire_cache(ThreadCache* cache) noexcept {
  const std::size_t n = cache->count.load(std::memory_order_relaxed);
  std::size_t keep = 0;
  {
    std::lock_guard lock(mutex_);
    const std::size_t room =
        options_.max_idle_shared - std::min(options_.max_idle_shared, depot_.size());
    keep = std::min(n, room);
    try {
      depot_.insert(depot_.end(), cache->items(), cache->items() + keep);
    } catch (const std::bad_alloc&) {
      keep = 0;
    }
    fold_counters(*cache);
    // Freed beyond the cap like any other return over it, so they count as drops.
    retired_drops_ += n - keep;
    unlink(cache);
  }
  // The cache is out of every list and table now: its remaining items are
  // destroyed from it directly, with no lock held.
  destroy_items(cache->items() + keep, n - keep);
  delete_cache(cache);
}

void PoolCore::fold_counters(const ThreadCache& cache) noexcept {
  retired_gets_ += cache.gets.read();
  retired_misses_ += cache.misses.read();
  retired_returns_ += cache.returns.read();
  retired_drops_ += cache.drops.read();
}

void PoolCore::unlink(ThreadCache* cache) noexcept {
  for (ThreadCache** link = &caches_; *link != nullptr; link = &(*link)->next) {
    if (*link == cache) {
      *link = cache->next;
      return;
    }
  }
}

void PoolCore::destroy_items(void* const* items, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) hooks_.destroy(hooks_.context, items[i]);
}

PoolStats PoolCore::stats() const {
  PoolStats s;
  std::lock_guard lock(mutex_);
  s.gets = retired_gets_;
  s.misses = retired_misses_;
  s.returns = retired_returns_;
  s.drops = retired_drops_;
  s.idle_objects = depot_.size();
  for (const ThreadCache* cache = caches_; cache != nullptr; cache = cache->next) {
    s.gets += cache->gets.read();
    s.misses += cache->misses.read();
    s.returns += cache->returns.read();
    s.drops += cache->drops.read();
    s.idle_objects += cache->count.load(std::memory_order_relaxed);
  }
  // Counters of other threads are read without stopping them, so a get seen
  // without its miss (or a return without its get) is possible mid-flight.
  s.misses = std::min(s.misses, s.gets);
  s.hits = s.gets - s.misses;
  s.trimmed = trimmed_;
  s.in_use = static_cast<std::int64_t>(s.gets - s.returns);
  s.idle_bytes = s.idle_objects * hooks_.item_bytes;
  return s;
}

void PoolCore::trim() {
  std::vector<void*> freed;
  {
    std::lock_guard lock(mutex_);
    // The calling thread's own cache is safe to empty; other threads' caches
    // are theirs until they exit, bounded by max_idle_per_thread.
    ThreadCache* own = nullptr;
    if (slot_ < tls_cache_slot_count && tls_cache_slots[slot_].epoch == epoch_)
      own = tls_cache_slots[slot_].cache;
    if (own != nullptr) {
      const std::uint32_t n = own->count.load(std::memory_order_relaxed);
      depot_.insert(depot_.end(), own->items(), own->items() + n);
      own->count.store(0, std::memory_order_relaxed);
    }
    std::size_t other_idle = 0;
    for (const ThreadCache* cache = caches_; cache != nullptr; cache = cache->next)
      other_idle += cache->count.load(std::memory_order_relaxed);
    const std::size_t keep_in_depot =
        options_.min_idle > other_idle ? options_.min_idle - other_idle : 0;
    if (depot_.size() > keep_in_depot) {
      freed.assign(depot_.begin() + static_cast<std::ptrdiff_t>(keep_in_depot), depot_.end());
      depot_.resize(keep_in_depot);
      trimmed_ += freed.size();
    }
  }
  destroy_items(freed.data(), freed.size());
}

void PoolCore::prewarm(std::size_t objects) {
  std::vector<void*> made;
  made.reserve(objects);
  try {
    for (std::size_t i = 0; i < objects; ++i) made.push_back(hooks_.create(hooks_.context));
  } catch (...) {
    destroy_items(made.data(), made.size());
    throw;
  }
  std::size_t excess_from = made.size();
  {
    std::lock_guard lock(mutex_);
    const std::size_t room =
        options_.max_idle_shared - std::min(options_.max_idle_shared, depot_.size());
    const std::size_t keep = std::min(room, made.size());
    depot_.insert(depot_.end(), made.begin(), made.begin() + static_cast<std::ptrdiff_t>(keep));
    excess_from = keep;
  }
  destroy_items(made.data() + excess_from, made.size() - excess_from);
}

void PoolCore::report_leaks(std::int64_t outstanding) {
  LeakReport report;
  report.pool = options_.name.empty() ? "(unnamed)" : options_.name;
  report.outstanding = outstanding;
  if (track_sites_) {
    // Group by site so a loop that leaks a thousand objects is one line.
    for (const auto& taken : taken_at_) {
      const SourceLocation& where = taken.second;
      auto same =
          std::find_if(report.sites.begin(), report.sites.end(), [&](const LeakReport::Site& s) {
            return s.where.line == where.line && std::string_view(s.where.file) == where.file;
          });
      if (same != report.sites.end()) {
        ++same->objects;
      } else {
        report.sites.push_back(LeakReport::Site{where, 1});
      }
    }
  }
  if (options_.on_leak) {
    options_.on_leak(report);
  } else {
    print_leak_report(report);
  }
}

}  // namespace perflab::detail
