// A SQLite page cache over the default one that makes a commit's cache
// truncation cost what it removes, not what the cache holds.
//
// At every commit SQLite truncates the cache to the database's size. The
// default cache does that by walking only the hash slots of page numbers above
// the size, unless the highest page number it has seen since the last
// truncation is far above the size, when it walks every slot and every cached
// page. The B-tree's page split puts a page at a temporary number (the page
// holding the 1 GiB lock byte, number 262,145 with 4 KiB pages) while it
// swaps two page numbers, so under a write load with random index inserts
// almost every commit walked the whole cache: 27% of the committer thread's
// time with a 64 MiB cache, growing as the cache filled.
//
// This cache forwards every call to the default one and keeps its own bound
// on the page numbers present, in which the swap's temporary number does not
// count while the swap is under way; it forwards a truncation only when a page
// at or above the limit may be present, so the default cache's walk runs only
// when there is something to remove.
#pragma once

namespace eventstore {

/// Makes the cache above SQLite's page cache for the whole process. Must run
/// before SQLite is initialised (before the first sqlite3_open in the
/// process); once it has, later calls do nothing. Returns false, changing
/// nothing, when SQLite was already initialised or refused the configuration:
/// SQLite then uses its default cache, correct and slower. Calls of this
/// function are serialised, but like sqlite3_config it must not run while
/// another thread uses SQLite.
bool install_page_cache();

/// Sets SQLite's page cache to the one above (bounded) or back to SQLite's
/// default, for benchmarks that compare the two in one process (services call
/// install_page_cache). SQLite must not be running: before it first starts,
/// or after sqlite3_shutdown() with every connection closed. Returns false,
/// changing nothing, when SQLite refuses. Not thread-safe.
bool configure_page_cache(bool bounded);

/// Truncations SQLite asked for and those passed on to the default cache,
/// since the process started, over every cache. For tests. Thread-safe.
struct PageCacheCounts {
  unsigned long long truncations = 0;
  unsigned long long forwarded = 0;
};
PageCacheCounts page_cache_counts() noexcept;

}  // namespace eventstore
