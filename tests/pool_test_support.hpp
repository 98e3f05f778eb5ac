// Types shared by the pool tests: objects that count how many of them exist,
// so a test can tell destroyed from leaked from idle.
#pragma once

#include <atomic>
#include <string>

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

}  // namespace perflab::testing
