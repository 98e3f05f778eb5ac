// Configuration, statistics and leak reports shared by perflab's pools.
// Users include <perflab/pool.hpp>; this file is part of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace perflab {

class PoolRegistry;

/// Where an object was taken from a pool. Filled by default arguments at the
/// call site (std::source_location is not available in every supported
/// compiler); two words, so passing it costs two registers and nothing else
/// unless the pool tracks sites.
struct SourceLocation {
  const char* file = "";
  unsigned line = 0;

  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE()) noexcept {
    return SourceLocation{file, line};
  }
};

/// What a pool reports when it is destroyed while objects are still out.
struct LeakReport {
  struct Site {
    SourceLocation where;
    std::uint64_t objects = 0;
  };
  std::string pool;              // the pool's name, or "(unnamed)"
  std::int64_t outstanding = 0;  // objects taken and never returned
  std::vector<Site> sites;       // where they were taken; empty unless track_sites
};

/// Counters of one pool, summed over threads when read. All counts are since
/// the pool was created.
struct PoolStats {
  std::uint64_t gets = 0;          // objects handed out
  std::uint64_t hits = 0;          // ... of which were reused from the pool
  std::uint64_t misses = 0;        // ... of which were newly constructed (gets = hits + misses)
  std::uint64_t returns = 0;       // objects given back
  std::uint64_t drops = 0;         // returns freed because the idle caps were reached
  std::uint64_t trimmed = 0;       // idle objects freed by trim()
  std::int64_t in_use = 0;         // gets - returns: objects currently out
  std::uint64_t idle_objects = 0;  // objects held for reuse (thread caches and shared depot)
  std::uint64_t idle_bytes = 0;    // memory those idle objects occupy (object or block size)

  /// hits / gets, or 1.0 before the first get (an unused pool has missed nothing).
  double hit_rate() const noexcept {
    return gets == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(gets);
  }
  PoolStats& operator+=(const PoolStats& other) noexcept;
};

/// Settings of an ObjectPool (and of each size class of a BufferPool).
struct PoolOptions {
  /// Name under which the pool appears in its registry's OpenMetrics and JSON
  /// output. An empty name keeps the pool out of every registry.
  std::string name;
  /// The registry a named pool joins; nullptr means PoolRegistry::global().
  PoolRegistry* registry = nullptr;
  /// Idle objects each thread keeps without touching shared state. 0 disables
  /// thread caches: every get and put then takes the depot's lock.
  std::size_t max_idle_per_thread = 64;
  /// Idle objects the shared depot keeps; returns beyond it are dropped
  /// (destroyed and counted in PoolStats::drops). Together with the thread
  /// caches, at most max_idle_shared + threads * max_idle_per_thread objects are idle.
  std::size_t max_idle_shared = 4096;
  /// Idle objects trim() keeps (the floor).
  std::size_t min_idle = 0;
  /// Objects moved between a thread cache and the depot at once; 0 means half
  /// of max_idle_per_thread. Larger batches take the lock less often.
  std::size_t batch = 0;
  /// Remember where every outstanding object was taken, for the leak report.
  /// A debugging aid: it turns the thread caches off and costs a locked map
  /// update per get and put.
#ifdef NDEBUG
  bool track_sites = false;
#else
  bool track_sites = true;
#endif
  /// Called when the pool is destroyed with objects still out; the default
  /// writes one line per site to stderr. Must not throw.
  std::function<void(const LeakReport&)> on_leak;
};

/// Writes a leak report to stderr, one line for the pool and one per site.
void print_leak_report(const LeakReport& report) noexcept;

}  // namespace perflab
