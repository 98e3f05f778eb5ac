#include "page_cache.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <new>

namespace eventstore {
namespace {

// SQLite's default (the offset of the lock byte is fixed unless a test build
// moves it): the B-tree's swap uses the page that holds it.
constexpr unsigned kPendingByte = 0x40000000u;

sqlite3_pcache_methods2 default_methods{};
std::atomic<unsigned long long> truncations{0};
std::atomic<unsigned long long> forwarded{0};

// One per SQLite page cache (one per connection). SQLite calls a cache from
// one thread at a time (its connection's), so the fields need no lock.
struct BoundedCache {
  sqlite3_pcache* inner;
  unsigned swap_key;  // the page number the B-tree's swap parks a page at
  // Every page present has a number <= max_key, or is the one parked at
  // swap_key while swap_key_held.
  unsigned max_key = 0;
  bool swap_key_held = false;
};

BoundedCache* bounded(sqlite3_pcache* cache) { return reinterpret_cast<BoundedCache*>(cache); }

int init(void*) { return default_methods.xInit(default_methods.pArg); }

void shutdown(void*) {
  if (default_methods.xShutdown) default_methods.xShutdown(default_methods.pArg);
}

sqlite3_pcache* create(int page_size, int extra_size, int purgeable) {
  sqlite3_pcache* inner = default_methods.xCreate(page_size, extra_size, purgeable);
  if (!inner) return nullptr;
  auto* cache =
      new (std::nothrow) BoundedCache{inner, kPendingByte / static_cast<unsigned>(page_size) + 1};
  if (!cache) {
    default_methods.xDestroy(inner);
    return nullptr;
  }
  return reinterpret_cast<sqlite3_pcache*>(cache);
}

void cache_size(sqlite3_pcache* cache, int pages) {
  default_methods.xCachesize(bounded(cache)->inner, pages);
}

int page_count(sqlite3_pcache* cache) { return default_methods.xPagecount(bounded(cache)->inner); }

sqlite3_pcache_page* fetch(sqlite3_pcache* cache, unsigned key, int create_flag) {
  BoundedCache* self = bounded(cache);
  sqlite3_pcache_page* page = default_methods.xFetch(self->inner, key, create_flag);
  if (page && create_flag) self->max_key = std::max(self->max_key, key);
  return page;
}

void unpin(sqlite3_pcache* cache, sqlite3_pcache_page* page, int discard) {
  default_methods.xUnpin(bounded(cache)->inner, page, discard);
}

void rekey(sqlite3_pcache* cache, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
  BoundedCache* self = bounded(cache);
  default_methods.xRekey(self->inner, page, old_key, new_key);
  if (old_key == self->swap_key) self->swap_key_held = false;
  if (new_key == self->swap_key) {
    self->swap_key_held = true;
  } else {
    self->max_key = std::max(self->max_key, new_key);
  }
}

void truncate(sqlite3_pcache* cache, unsigned limit) {
  BoundedCache* self = bounded(cache);
  truncations.fetch_add(1, std::memory_order_relaxed);
  const bool swap_page_removed = self->swap_key_held && self->swap_key >= limit;
  if (limit > self->max_key && !swap_page_removed) return;  // nothing at or above the limit
  forwarded.fetch_add(1, std::memory_order_relaxed);
  default_methods.xTruncate(self->inner, limit);
  if (limit == 0) {
    self->max_key = 0;
  } else {
    self->max_key = std::min(self->max_key, limit - 1);
  }
  if (swap_page_removed) self->swap_key_held = false;
}

void destroy(sqlite3_pcache* cache) {
  BoundedCache* self = bounded(cache);
  default_methods.xDestroy(self->inner);
  delete self;
}

void shrink(sqlite3_pcache* cache) {
  if (default_methods.xShrink) default_methods.xShrink(bounded(cache)->inner);
}

const sqlite3_pcache_methods2& bounded_methods() {
  static const sqlite3_pcache_methods2 methods{.iVersion = 1,
                                               .pArg = nullptr,
                                               .xInit = init,
                                               .xShutdown = shutdown,
                                               .xCreate = create,
                                               .xCachesize = cache_size,
                                               .xPagecount = page_count,
                                               .xFetch = fetch,
                                               .xUnpin = unpin,
                                               .xRekey = rekey,
                                               .xTruncate = truncate,
                                               .xDestroy = destroy,
                                               .xShrink = shrink};
  return methods;
}

}  // namespace

bool configure_page_cache(bool bounded) {
  // The default is read once, before this cache replaces it.
  if (!default_methods.xCreate) {
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &default_methods) != SQLITE_OK ||
        !default_methods.xCreate) {
      default_methods = {};
      return false;
    }
  }
  return sqlite3_config(SQLITE_CONFIG_PCACHE2, bounded ? &bounded_methods() : &default_methods) ==
         SQLITE_OK;
}

bool install_page_cache() {
  static const bool installed = configure_page_cache(true);
  return installed;
}

PageCacheCounts page_cache_counts() noexcept {
  return {truncations.load(std::memory_order_relaxed), forwarded.load(std::memory_order_relaxed)};
}

}  // namespace eventstore
