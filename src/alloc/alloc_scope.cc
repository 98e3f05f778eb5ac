// The public reading side: snapshots, AllocScope and alloc_counting_active().
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bound_allocator.hpp"
#include "counters.hpp"
#include "perflab/alloc.hpp"

namespace perflab {

namespace ai = alloc_internal;

AllocCounts AllocCounts::operator-(const AllocCounts& earlier) const noexcept {
  AllocCounts d;
  d.allocs = allocs - earlier.allocs;
  d.frees = frees - earlier.frees;
  d.bytes_allocated = bytes_allocated - earlier.bytes_allocated;
  d.bytes_freed = bytes_freed - earlier.bytes_freed;
  d.live_bytes = live_bytes - earlier.live_bytes;
  d.peak_live_bytes = peak_live_bytes;
  return d;
}

AllocCounts thread_alloc_counts() noexcept {
  const ai::AllocSlot* slot = ai::tls_slot;
  return slot != nullptr ? ai::read_slot(*slot) : AllocCounts{};
}

AllocCounts process_alloc_counts() noexcept { return ai::read_process(); }

bool alloc_counting_active() noexcept { return ai::malloc_is_ours(); }

AllocScope::AllocScope(Of of) noexcept : of_(of) {
  if (of_ == Of::kProcess) {
    ai::precise_users.fetch_add(1, std::memory_order_relaxed);
  } else {
    slot_ = ai::own_slot();
  }
  outer_peak_ = of_ == Of::kProcess ? ai::precise_peak()
                : slot_ != nullptr  ? slot_->mark_peak.load(std::memory_order_relaxed)
                                    : 0;
  restart();
}

AllocScope::~AllocScope() {
  if (of_ == Of::kProcess) {
    ai::precise_restore(outer_peak_);
    ai::precise_users.fetch_sub(1, std::memory_order_relaxed);
  } else if (slot_ != nullptr) {
    // Give an enclosing scope back the highest point it would have seen.
    const std::int64_t peak = slot_->mark_peak.load(std::memory_order_relaxed);
    if (outer_peak_ > peak) slot_->mark_peak.store(outer_peak_, std::memory_order_relaxed);
  }
}

void AllocScope::restart() noexcept {
  if (of_ == Of::kProcess) {
    start_ = ai::read_process();
    // A process scope measures peaks on the precise pair, whose live value is
    // relative: remember it at the start and mark the peak there.
    start_.live_bytes = ai::precise_live();
    ai::precise_mark();
  } else if (slot_ != nullptr) {
    start_ = ai::read_slot(*slot_);
    slot_->mark_peak.store(start_.live_bytes, std::memory_order_relaxed);
  } else {
    start_ = AllocCounts{};
  }
}

AllocCounts AllocScope::counts() const noexcept {
  AllocCounts now;
  std::int64_t peak = 0;
  if (of_ == Of::kProcess) {
    now = ai::read_process();
    now.live_bytes = ai::precise_live();
    peak = ai::precise_peak();
  } else if (slot_ != nullptr) {
    now = ai::read_slot(*slot_);
    peak = slot_->mark_peak.load(std::memory_order_relaxed);
  } else {
    return AllocCounts{};
  }
  AllocCounts delta = now - start_;
  delta.peak_live_bytes = std::max<std::int64_t>(0, peak - start_.live_bytes);
  return delta;
}

}  // namespace perflab
