// The slow paths of counting.hpp.
#include "counting.hpp"

namespace perflab::track::record {

namespace {

// Whether this call is the program's and is to be counted; acquires the
// thread's table on its first allocation.
ThreadTable* counting_table() noexcept {
  if (!state().config.recording || tls.guard > 0) return nullptr;
  return own_table();
}

// Table 0 has no owner: every thread without a table of its own shares it.
void count_shared_alloc(std::uint64_t size, std::uint64_t live) noexcept {
  State& s = state();
  s.fallback_allocs.fetch_add(1, std::memory_order_relaxed);
  s.fallback_bytes.fetch_add(size, std::memory_order_relaxed);
  s.fallback_live.fetch_add(live, std::memory_order_relaxed);
}

}  // namespace

void* headered_alloc_slow(void* user, std::size_t size, unsigned align_shift,
                          void* entry_frame) noexcept {
  ensure_initialized();
  ThreadTable* table = counting_table();
  if (table == nullptr) {
    // Not the program's allocation (the recorder's own work: thread setup,
    // libunwind, the sampler) or not recording: a header, but no counts.
    write_header(user, size, align_shift, kUntrackedStack);
    return user;
  }
  if (table->index == 0) {
    count_shared_alloc(size, size);
    write_header(user, size, align_shift, 0);
    return user;
  }
  return headered_charge(table, user, size, align_shift, entry_frame);
}

void headered_free_slow(void*, const BlockHeader& h) noexcept {
  State& s = state();
  if (h.stack == kUntrackedStack || !s.config.recording) return;
  if (h.generation != (s.generation.load(std::memory_order_relaxed) & 0xff)) {
    s.inherited_frees.fetch_add(1, std::memory_order_relaxed);  // a fork parent's block
    return;
  }
  const std::uint32_t table_index = h.stack >> 16;
  ThreadTable* table =
      table_index < kMaxTables ? s.tables[table_index].load(std::memory_order_relaxed) : nullptr;
  if (table == nullptr) return;
  StackEntry& entry = table->entries[h.stack & 0xffff];
  entry.remote_frees.fetch_add(1, std::memory_order_relaxed);
  entry.remote_bytes_freed.fetch_add(h.size, std::memory_order_relaxed);
  table->remote_freed.fetch_add(h.size, std::memory_order_relaxed);
  tls.last_alloc = nullptr;
}

void bare_alloc_slow(void* block, std::size_t size) noexcept {
  ensure_initialized();
  ThreadTable* table = counting_table();
  if (table == nullptr) return;
  if (table->index == 0) {
    count_shared_alloc(size, glibc_usable(block));
    return;
  }
  bare_charge(table, block, size);
}

void bare_free_slow(void* block, std::size_t usable) noexcept {
  ThreadTable* table = counting_table();
  if (table == nullptr) return;
  if (table->index != 0) {
    bare_discharge(table, block, usable);
    return;
  }
  StackEntry& entry = table->entries[0];
  entry.remote_frees.fetch_add(1, std::memory_order_relaxed);
  entry.remote_bytes_freed.fetch_add(usable, std::memory_order_relaxed);
  table->remote_freed.fetch_add(usable, std::memory_order_relaxed);
}

}  // namespace perflab::track::record
