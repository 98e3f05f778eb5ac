// Process-wide map from pool slot to the live pool that owns it, consulted
// when a thread exits to find which of its caches still have a pool.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace perflab::detail {

class PoolCore;

struct SlotOwner {
  PoolCore* pool;
  std::uint64_t epoch;
};

struct SlotTable {
  std::mutex mutex;
  std::condition_variable unpinned;  // a pool's pins_ went down
  std::vector<SlotOwner> owners;
  std::vector<std::uint32_t> free_slots;
  std::uint64_t next_epoch = 1;
};

// Never destroyed: threads may exit after static destructors have run.
inline SlotTable& slot_table() {
  static SlotTable* table = new SlotTable;
  return *table;
}

}  // namespace perflab::detail
