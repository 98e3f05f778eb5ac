// Per-thread stack tables: acquired on a thread's first allocation, handed to
// the free list when it exits (entries stay valid: live blocks name them),
// reused by later threads. Memory comes from mmap, never from malloc.
#include <pthread.h>
#include <sys/mman.h>

#include <cstring>

#include "thread_state.hpp"

namespace perflab::track::record {

PERFLAB_TLS ThreadState tls = {};

constinit State g_state;

namespace {

pthread_key_t g_exit_key;
std::atomic<bool> g_key_ready{false};

class TablesLock {
 public:
  TablesLock() noexcept {
    while (g_state.tables_lock.exchange(true, std::memory_order_acquire)) {
    }
  }
  ~TablesLock() { g_state.tables_lock.store(false, std::memory_order_release); }
  TablesLock(const TablesLock&) = delete;
  TablesLock& operator=(const TablesLock&) = delete;
};

ThreadTable* map_table(std::uint32_t index) noexcept {
  const std::size_t bytes =
      sizeof(ThreadTable) + alignof(StackEntry) + sizeof(StackEntry) * kEntriesPerTable +
      sizeof(std::uint32_t) * kIndexSlots + sizeof(std::uint64_t) * kFramesPerTable;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  auto* table = new (memory) ThreadTable{};
  auto* p = static_cast<char*>(memory) + sizeof(ThreadTable);
  p += alignof(StackEntry) - reinterpret_cast<std::uintptr_t>(p) % alignof(StackEntry);
  table->entries = reinterpret_cast<StackEntry*>(p);
  p += sizeof(StackEntry) * kEntriesPerTable;
  table->slots = reinterpret_cast<std::uint32_t*>(p);
  p += sizeof(std::uint32_t) * kIndexSlots;
  table->frames = reinterpret_cast<std::uint64_t*>(p);
  table->index = index;
  // Entry 0 is "no stack": counting mode, the recorder's own allocations,
  // and stacks that no longer fit.
  new (&table->entries[0]) StackEntry{};
  table->published.store(1, std::memory_order_release);
  return table;
}

void release_table(void*) {
  ThreadTable* table = tls.table;
  tls.table = nullptr;
  tls.exited = true;
  if (table == nullptr) return;
  TablesLock lock;
  table->next_free = g_state.free_tables;
  g_state.free_tables = table;
}

void note_stack_bounds() noexcept {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* low = nullptr;
  std::size_t size = 0;
  if (pthread_attr_getstack(&attr, &low, &size) == 0) {
    tls.stack_low = reinterpret_cast<std::uintptr_t>(low);
    tls.stack_high = tls.stack_low + size;
  }
  pthread_attr_destroy(&attr);
}

}  // namespace

ThreadTable* fallback_table() noexcept {
  ThreadTable* table = g_state.tables[0].load(std::memory_order_acquire);
  if (table != nullptr) return table;
  TablesLock lock;
  table = g_state.tables[0].load(std::memory_order_relaxed);
  if (table == nullptr) {
    table = map_table(0);
    g_state.tables[0].store(table, std::memory_order_release);
    if (g_state.table_count.load(std::memory_order_relaxed) == 0)
      g_state.table_count.store(1, std::memory_order_release);
  }
  return table;
}

ThreadTable* own_table() noexcept {
  if (ThreadTable* table = tls.table; table != nullptr) [[likely]]
    return table;
  if (tls.exited || tls.guard > 0) return fallback_table();
  RecursionGuard guard;  // pthread_getattr_np and key setup may allocate
  fallback_table();      // table 0 exists before any thread table
  ThreadTable* table = nullptr;
  {
    TablesLock lock;
    if (g_state.free_tables != nullptr) {
      table = g_state.free_tables;
      g_state.free_tables = table->next_free;
    }
  }
  if (table == nullptr) {
    const std::uint32_t index = g_state.table_count.fetch_add(1, std::memory_order_acq_rel);
    if (index >= kMaxTables) return fallback_table();
    table = map_table(index);
    if (table == nullptr) return fallback_table();
    g_state.tables[index].store(table, std::memory_order_release);
  }
  g_state.allocating_threads.fetch_add(1, std::memory_order_relaxed);
  if (!g_key_ready.load(std::memory_order_acquire)) {
    TablesLock lock;
    if (!g_key_ready.load(std::memory_order_relaxed)) {
      pthread_key_create(&g_exit_key, &release_table);
      g_key_ready.store(true, std::memory_order_release);
    }
  }
  pthread_setspecific(g_exit_key, table);  // non-null value: the destructor runs at exit
  note_stack_bounds();
  tls.table = table;
  return table;
}

std::uint64_t stack_hash(void* const* frames, int depth) noexcept {
  std::uint64_t hash = 0;
  for (int i = 0; i < depth; ++i) hash = stack_hash_step(hash, frames[i]);
  return stack_hash_finish(hash);
}

namespace {

bool same_frames(const ThreadTable& table, const StackEntry& entry, void* const* frames,
                 int depth) noexcept {
  if (entry.depth != static_cast<std::uint32_t>(depth)) return false;
  const int head = depth < kInlineFrames ? depth : kInlineFrames;
  for (int i = 0; i < head; ++i)
    if (entry.head[i] != reinterpret_cast<std::uintptr_t>(frames[i])) return false;
  const std::uint64_t* stored = &table.frames[entry.frames_at];
  for (int i = head; i < depth; ++i)
    if (stored[i] != reinterpret_cast<std::uintptr_t>(frames[i])) return false;
  return true;
}

// Finds the stack in the index, or adds it; kNotStored when the table is full.
constexpr std::uint32_t kNotStored = ~0u;
std::uint32_t find_or_add(ThreadTable& table, void* const* frames, int depth,
                          std::uint64_t hash) noexcept {
  std::uint32_t slot = static_cast<std::uint32_t>(hash) & (kIndexSlots - 1);
  for (;;) {
    const std::uint32_t at = table.slots[slot];
    if (at == 0) break;
    const StackEntry& entry = table.entries[at - 1];
    if (entry.hash == hash && same_frames(table, entry, frames, depth)) return at - 1;
    slot = (slot + 1) & (kIndexSlots - 1);
  }
  const std::uint32_t index = table.published.load(std::memory_order_relaxed);
  if (index >= kEntriesPerTable ||
      table.frames_used + static_cast<std::uint32_t>(depth) > kFramesPerTable) {
    table.dropped.fetch_add(1, std::memory_order_relaxed);
    return kNotStored;
  }
  StackEntry* entry = new (&table.entries[index]) StackEntry{};
  entry->hash = hash;
  entry->frames_at = table.frames_used;
  entry->depth = static_cast<std::uint32_t>(depth);
  for (int i = 0; i < depth && i < kInlineFrames; ++i)
    entry->head[i] = reinterpret_cast<std::uintptr_t>(frames[i]);
  std::memcpy(&table.frames[table.frames_used], frames,
              sizeof(void*) * static_cast<std::size_t>(depth));
  table.frames_used += static_cast<std::uint32_t>(depth);
  table.slots[slot] = index + 1;
  table.published.store(index + 1, std::memory_order_release);
  return index;
}

}  // namespace

std::uint32_t intern_stack(ThreadTable& table, void* const* frames, int depth,
                           std::uint64_t hash) noexcept {
  if (depth <= 0) return 0;
  RecentStack& recent = table.recent[(hash >> 7) & (kRecentStacks - 1)];
  if (recent.hash == hash && same_frames(table, table.entries[recent.entry], frames, depth))
    return recent.entry;
  const std::uint32_t index = find_or_add(table, frames, depth, hash);
  if (index == kNotStored) return 0;
  recent = RecentStack{hash, index};
  return index;
}

// After fork only the forking thread exists: every other table loses its
// owner and goes to the free list, with counters cleared so the child's
// profile holds only what the child did.
void reset_after_fork_in_child() noexcept {
  g_state.tables_lock.store(false, std::memory_order_relaxed);
  g_state.free_tables = nullptr;
  const std::uint32_t count = g_state.table_count.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < count && i < kMaxTables; ++i) {
    ThreadTable* table = g_state.tables[i].load(std::memory_order_relaxed);
    if (table == nullptr) continue;
    const std::uint32_t published = table->published.load(std::memory_order_relaxed);
    for (std::uint32_t e = 0; e < published; ++e) {
      StackEntry& entry = table->entries[e];
      for (Owned* c :
           {&entry.allocs, &entry.bytes, &entry.frees, &entry.bytes_freed, &entry.temporary})
        c->value.store(0, std::memory_order_relaxed);
      entry.remote_frees.store(0, std::memory_order_relaxed);
      entry.remote_bytes_freed.store(0, std::memory_order_relaxed);
    }
    table->live_bytes.value.store(0, std::memory_order_relaxed);
    table->remote_freed.store(0, std::memory_order_relaxed);
    table->peak_live.value.store(0, std::memory_order_relaxed);
    table->dropped.store(0, std::memory_order_relaxed);
    if (i != 0 && table != tls.table) {
      table->next_free = g_state.free_tables;
      g_state.free_tables = table;
    }
  }
  g_state.allocating_threads.store(tls.table != nullptr ? 1 : 0, std::memory_order_relaxed);
  g_state.peak_sampled.store(0, std::memory_order_relaxed);
  g_state.fallback_allocs.store(0, std::memory_order_relaxed);
  g_state.fallback_bytes.store(0, std::memory_order_relaxed);
  g_state.fallback_live.store(0, std::memory_order_relaxed);
  g_state.inherited_frees.store(0, std::memory_order_relaxed);
}

}  // namespace perflab::track::record
