// Charging allocations and frees to the calling thread's table, for both
// block layouts. The common case (a thread that has its table, the program's
// own call, a block of this process) is inline and touches only the thread's
// own table; everything else goes to an out-of-line slow path (counting.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_header.hpp"
#include "thread_state.hpp"

#pragma GCC visibility push(hidden)

namespace perflab::track::record {

// Slow paths: first allocation of a thread, the recorder's own work, threads
// whose table is gone, frees on another thread or of a fork parent's block.
void* headered_alloc_slow(void* user, std::size_t size, unsigned align_shift,
                          void* entry_frame) noexcept;
void headered_free_slow(void* user, const BlockHeader& h) noexcept;
void bare_alloc_slow(void* block, std::size_t size) noexcept;
void bare_free_slow(void* block, std::size_t usable) noexcept;

// `live` may have wrapped below zero (frees counted before their allocations
// on other threads): such a value is not a peak.
inline void raise_peak(ThreadTable& table, std::uint64_t live) noexcept {
  if (live > table.peak_live.get() && live < (1ull << 62))
    table.peak_live.value.store(live, std::memory_order_relaxed);
}

// Charges a new block to the calling stack in the thread's own table.
// `entry_frame` is the frame of the interposed function the program called.
inline void* headered_charge(ThreadTable* table, void* user, std::size_t size, unsigned align_shift,
                             void* entry_frame) noexcept {
  const std::uint32_t stack = caller_stack(*table, entry_frame);
  StackEntry& entry = table->entries[stack];
  entry.allocs.add(1);
  entry.bytes.add(size);
  table->live_bytes.add(size);
  raise_peak(*table, table->live_bytes.get() - table->remote_freed.load(std::memory_order_relaxed));
  tls.last_alloc = user;
  write_header(user, size, align_shift, (table->index << 16) | stack);
  return user;
}

// Headered layout: `base` is what glibc returned (nullptr passes through);
// writes the header and returns the program's block.
[[gnu::always_inline]] inline void* headered_alloc(void* base, std::size_t size,
                                                   unsigned align_shift,
                                                   void* entry_frame) noexcept {
  if (base == nullptr) return nullptr;
  void* user = user_of(base, align_shift);
  ThreadTable* table = tls.table;
  if (table == nullptr || tls.guard != 0) [[unlikely]]
    return headered_alloc_slow(user, size, align_shift, entry_frame);
  return headered_charge(table, user, size, align_shift, entry_frame);
}

// Headered layout: charges the free of one of our blocks to the stack that
// allocated it.
inline void headered_free(void* user, const BlockHeader& h) noexcept {
  ThreadTable* table = tls.table;
  if (table == nullptr || (h.stack >> 16) != table->index ||
      h.generation != (state().generation.load(std::memory_order_relaxed) & 0xff)) [[unlikely]] {
    headered_free_slow(user, h);
    return;
  }
  StackEntry& entry = table->entries[h.stack & 0xffff];
  entry.frees.add(1);
  entry.bytes_freed.add(h.size);
  table->live_bytes.add(-static_cast<std::uint64_t>(h.size));
  if (user == tls.last_alloc) entry.temporary.add(1);
  tls.last_alloc = nullptr;
}

inline void bare_charge(ThreadTable* table, void* block, std::size_t size) noexcept {
  StackEntry& entry = table->entries[0];
  entry.allocs.add(1);
  entry.bytes.add(size);
  // Only table 0 is freed into remotely with this layout.
  table->live_bytes.add(glibc_usable(block));
  raise_peak(*table, table->live_bytes.get());
  tls.last_alloc = block;
}

// Bare layout: counts a block glibc returned (nullptr is not counted).
inline void bare_alloc(void* block, std::size_t size) noexcept {
  if (block == nullptr) return;
  ThreadTable* table = tls.table;
  if (table == nullptr || tls.guard != 0) [[unlikely]] {
    bare_alloc_slow(block, size);
    return;
  }
  bare_charge(table, block, size);
}

inline void bare_discharge(ThreadTable* table, void* block, std::size_t usable) noexcept {
  StackEntry& entry = table->entries[0];
  entry.frees.add(1);
  entry.bytes_freed.add(usable);
  table->live_bytes.add(-static_cast<std::uint64_t>(usable));
  if (block == tls.last_alloc) entry.temporary.add(1);
  tls.last_alloc = nullptr;
}

// Bare layout: counts the free of a block whose usable size is `usable`, on
// the freeing thread's table (the allocating thread is not known).
inline void bare_free(void* block, std::size_t usable) noexcept {
  ThreadTable* table = tls.table;
  if (table == nullptr || tls.guard != 0) [[unlikely]] {
    bare_free_slow(block, usable);
    return;
  }
  bare_discharge(table, block, usable);
}

}  // namespace perflab::track::record

#pragma GCC visibility pop
