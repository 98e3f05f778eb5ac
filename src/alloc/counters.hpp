// Per-thread allocation counters: the hot path every interposed function runs.
//
// Each thread claims one slot of a static array on its first counted call and
// is the only writer of that slot until it exits; then the slot is folded into
// a retired total and freed for reuse. Readers on other threads load the slot
// fields atomically, so they never race with the owner.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "perflab/alloc.hpp"

namespace perflab {
namespace detail {

// One cache line per thread, so owners never share a line on the hot path.
struct alignas(64) AllocSlot {
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> bytes_allocated{0};
  std::atomic<std::uint64_t> bytes_freed{0};
  std::atomic<std::int64_t> live{0};
  std::atomic<std::int64_t> peak{0};       // highest live since the thread started
  std::atomic<std::int64_t> mark_peak{0};  // highest live since the last scope mark
  std::atomic<bool> in_use{false};
};

}  // namespace detail

namespace alloc_internal {

using detail::AllocSlot;

inline constexpr std::size_t kMaxSlots = 4096;

// The calling thread's slot; null until its first counted call, after it has
// exited (pthread key destructor ran) or when every slot was taken.
// Initial-exec and zero-initialized: reading it is one %fs-relative load, with
// no TLS init function and no __tls_get_addr call that could allocate.
extern __thread AllocSlot* tls_slot __attribute__((tls_model("initial-exec")));

// Number of live kProcess scopes and memory-manager runs; non-zero turns on
// the precise process-wide live/peak pair.
extern std::atomic<std::uint32_t> precise_users;

// Slow paths, out of line: first call of a thread, exiting or slotless threads.
void count_alloc_slow(std::size_t requested, std::size_t usable) noexcept;
void count_free_slow(std::size_t usable) noexcept;
void precise_add(std::int64_t delta) noexcept;

// Only the owning thread writes a slot, so load + store is an exact increment
// and compiles to plain moves on x86 (no lock-prefixed read-modify-write).
template <class T>
inline void add_owned(std::atomic<T>& counter, T delta) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

inline void raise_peaks(AllocSlot& slot, std::int64_t live) noexcept {
  // mark_peak <= peak always holds, so peak only needs a look when mark_peak moves.
  if (live > slot.mark_peak.load(std::memory_order_relaxed)) {
    slot.mark_peak.store(live, std::memory_order_relaxed);
    if (live > slot.peak.load(std::memory_order_relaxed)) {
      slot.peak.store(live, std::memory_order_relaxed);
    }
  }
}

// Records one allocation that returned a block of `usable` bytes for a
// request of `requested` bytes.
inline void count_alloc(std::size_t requested, std::size_t usable) noexcept {
  AllocSlot* slot = tls_slot;
  if (__builtin_expect(slot == nullptr, 0)) {
    count_alloc_slow(requested, usable);
    return;
  }
  add_owned<std::uint64_t>(slot->allocs, 1);
  add_owned<std::uint64_t>(slot->bytes_allocated, requested);
  const std::int64_t live =
      slot->live.load(std::memory_order_relaxed) + static_cast<std::int64_t>(usable);
  slot->live.store(live, std::memory_order_relaxed);
  raise_peaks(*slot, live);
  if (__builtin_expect(precise_users.load(std::memory_order_relaxed) != 0, 0)) {
    precise_add(static_cast<std::int64_t>(usable));
  }
}

// Records one deallocation of a non-null block of `usable` bytes.
inline void count_free(std::size_t usable) noexcept {
  AllocSlot* slot = tls_slot;
  if (__builtin_expect(slot == nullptr, 0)) {
    count_free_slow(usable);
    return;
  }
  add_owned<std::uint64_t>(slot->frees, 1);
  add_owned<std::uint64_t>(slot->bytes_freed, usable);
  add_owned<std::int64_t>(slot->live, -static_cast<std::int64_t>(usable));
  if (__builtin_expect(precise_users.load(std::memory_order_relaxed) != 0, 0)) {
    precise_add(-static_cast<std::int64_t>(usable));
  }
}

// The calling thread's slot, claimed now if it has none yet; null when the
// thread cannot have one (exiting, or all slots taken).
AllocSlot* own_slot() noexcept;

// Reads a slot as counts; any thread may call it.
AllocCounts read_slot(const AllocSlot& slot) noexcept;

// Sums retired threads and every slot, retrying while a thread exit is being
// folded so that no thread is counted twice or missed.
AllocCounts read_process() noexcept;

// The precise process-wide pair, meaningful only while precise_users > 0.
// Live is relative (it moves only while precise mode is on), so callers use
// differences. Peak is the highest live since the last mark.
std::int64_t precise_live() noexcept;
std::int64_t precise_peak() noexcept;
// Sets the peak to the current live and returns the peak it replaced.
std::int64_t precise_mark() noexcept;
// Raises the peak to at least `peak` (restores an outer scope's mark).
void precise_restore(std::int64_t peak) noexcept;

}  // namespace alloc_internal
}  // namespace perflab
