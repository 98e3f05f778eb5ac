// Types shared by the pool tests: objects that count how many of them exist,
// so a test can tell destroyed from leaked from idle.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "perflab/pool/options.hpp"

namespace perflab::testing {

struct Tracked {
  static inline std::atomic<int> live{0};
  Tracked() { live.fetch_add(1, std::memory_order_relaxed); }
  ~Tracked() { live.fetch_sub(1, std::memory_order_relaxed); }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  int payload[16] = {};
  std::string text;
};

// Options with the given caps and no site tracking (so the thread caches are on
// whatever NDEBUG says).
inline PoolOptions pool_options(std::size_t max_idle_per_thread, std::size_t max_idle_shared) {
  PoolOptions options;
  options.max_idle_per_thread = max_idle_per_thread;
  options.max_idle_shared = max_idle_shared;
  options.track_sites = false;
  return options;
}

}  // namespace perflab::testing
