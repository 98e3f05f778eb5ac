// The allocation surface of the traced process: the malloc family,
// malloc_usable_size and every operator new/delete form. Each block gets a
// BlockHeader in front; the work is forwarded to glibc's own allocator.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "thread_state.hpp"

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void __libc_free(void* ptr) noexcept;
void* __libc_calloc(std::size_t n, std::size_t size) noexcept;
void* __libc_realloc(void* ptr, std::size_t size) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
}

namespace perflab::track::record {
namespace {

constexpr std::size_t kHeader = sizeof(BlockHeader);

BlockHeader* header_of(void* user) noexcept { return static_cast<BlockHeader*>(user) - 1; }

// The header if the block is one of ours, else nullptr.
BlockHeader* our_header(void* user) noexcept {
  if ((reinterpret_cast<std::uintptr_t>(user) & 15) != 0) return nullptr;
  BlockHeader* h = header_of(user);
  return h->check == header_check(user, h->stack) ? h : nullptr;
}

void* base_of(void* user, const BlockHeader& h) noexcept {
  const std::size_t offset = h.align_shift == 0 ? kHeader : std::size_t{1} << h.align_shift;
  return static_cast<char*>(user) - offset;
}

void write_header(void* user, std::size_t size, unsigned align_shift,
                  std::uint32_t stack) noexcept {
  BlockHeader* h = header_of(user);
  h->size = size;
  h->align_shift = align_shift;
  h->generation = state().generation.load(std::memory_order_relaxed) & 0xff;
  h->stack = stack;
  h->check = header_check(user, stack);
}

// Attributes a new block to the calling stack and writes its header.
[[gnu::noinline]] void* finish_alloc(void* base, std::size_t size, unsigned align_shift) noexcept {
  if (base == nullptr) return nullptr;
  void* user =
      static_cast<char*>(base) + (align_shift == 0 ? kHeader : std::size_t{1} << align_shift);
  State& s = state();
  ensure_initialized();
  std::uint32_t stack = 0;
  ThreadTable* table = nullptr;
  if (!s.config.recording || tls_guard > 0) {
    // Not the program's allocation (the recorder's own work: thread setup,
    // libunwind, the sampler) or not recording: a header, but no counts.
    write_header(user, size, align_shift, kUntrackedStack);
    return user;
  } else {
    table = own_table();
    if (table->index != 0 && s.config.mode == DumpMode::kStacks) {
      ++tls_guard;  // libunwind may allocate
      void* frames[kMaxDepth];
      const int depth = capture_stack(frames, kMaxDepth);
      stack = intern_stack(*table, frames, depth);
      --tls_guard;
    }
  }
  StackEntry& entry = table->entries[stack];
  if (table->index == 0) {
    // Table 0 has no owner: every thread without a table of its own shares it.
    s.fallback_allocs.fetch_add(1, std::memory_order_relaxed);
    s.fallback_bytes.fetch_add(size, std::memory_order_relaxed);
  } else {
    entry.allocs.add(1);
    entry.bytes.add(size);
    table->live_bytes.add(size);
    const std::uint64_t live =
        table->live_bytes.get() - table->remote_freed.load(std::memory_order_relaxed);
    if (live > table->peak_live.get() && live < (1ull << 62))
      table->peak_live.value.store(live, std::memory_order_relaxed);
    tls_last_alloc = user;
  }
  write_header(user, size, align_shift, (table->index << 16) | stack);
  return user;
}

// Counts the free of one of our blocks against the stack that allocated it.
void count_free(void* user, const BlockHeader& h) noexcept {
  if (h.stack == kUntrackedStack) return;
  State& s = state();
  if (h.generation != (s.generation.load(std::memory_order_relaxed) & 0xff)) {
    s.inherited_frees.fetch_add(1, std::memory_order_relaxed);  // a fork parent's block
    return;
  }
  const std::uint32_t table_index = h.stack >> 16;
  ThreadTable* table =
      table_index < kMaxTables ? s.tables[table_index].load(std::memory_order_relaxed) : nullptr;
  if (table == nullptr) return;
  StackEntry& entry = table->entries[h.stack & 0xffff];
  if (table == tls_table) {
    entry.frees.add(1);
    entry.bytes_freed.add(h.size);
    table->live_bytes.add(-static_cast<std::uint64_t>(h.size));
    if (user == tls_last_alloc) entry.temporary.add(1);
  } else {
    entry.remote_frees.fetch_add(1, std::memory_order_relaxed);
    entry.remote_bytes_freed.fetch_add(h.size, std::memory_order_relaxed);
    table->remote_freed.fetch_add(h.size, std::memory_order_relaxed);
  }
  tls_last_alloc = nullptr;
}

void* tracked_malloc(std::size_t size) noexcept {
  if (size > SIZE_MAX - 64) {
    errno = ENOMEM;
    return nullptr;
  }
  return finish_alloc(__libc_malloc(size + kHeader), size, 0);
}

unsigned shift_of(std::size_t alignment) noexcept {
  return static_cast<unsigned>(__builtin_ctzll(alignment));
}

void* tracked_aligned(std::size_t alignment, std::size_t size) noexcept {
  if (alignment <= 16) return tracked_malloc(size);
  if (size > SIZE_MAX - 2 * alignment) {
    errno = ENOMEM;
    return nullptr;
  }
  // The header sits just before the aligned block, inside one alignment unit.
  return finish_alloc(__libc_memalign(alignment, size + alignment), size, shift_of(alignment));
}

void tracked_free(void* user) noexcept {
  if (user == nullptr) return;
  BlockHeader* h = our_header(user);
  if (h == nullptr) {
    __libc_free(user);  // not ours: from before the recorder, or from __libc_malloc
    return;
  }
  if (state().config.recording) count_free(user, *h);
  void* base = base_of(user, *h);
  h->check = 0;  // a second free of the same block is not mistaken for ours
  __libc_free(base);
}

bool is_power_of_two(std::size_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

void* tracked_new(std::size_t size, std::size_t alignment) {
  for (;;) {
    void* p = alignment <= 16 ? tracked_malloc(size) : tracked_aligned(alignment, size);
    if (p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* tracked_new_nothrow(std::size_t size, std::size_t alignment) noexcept {
  try {
    return tracked_new(size, alignment);
  } catch (...) {
    return nullptr;
  }
}

// glibc's chunk header: the usable size of a block __libc_malloc returned.
std::size_t glibc_usable(const void* base) noexcept {
  const std::size_t word = static_cast<const std::size_t*>(base)[-1];
  const std::size_t chunk = word & ~std::size_t{7};
  return chunk - ((word & 2) != 0 ? 16 : 8);
}

}  // namespace
}  // namespace perflab::track::record

using namespace perflab::track::record;

extern "C" {

void* malloc(std::size_t size) { return tracked_malloc(size); }

void free(void* ptr) { tracked_free(ptr); }

void* calloc(std::size_t n, std::size_t size) {
  std::size_t total = 0;
  if (__builtin_mul_overflow(n, size, &total) || total > SIZE_MAX - 64) {
    errno = ENOMEM;
    return nullptr;
  }
  return finish_alloc(__libc_calloc(1, total + 16), total, 0);
}

void* realloc(void* ptr, std::size_t size) {
  if (ptr == nullptr) return tracked_malloc(size);
  if (size == 0) {
    tracked_free(ptr);
    return nullptr;
  }
  BlockHeader* h = our_header(ptr);
  if (h == nullptr) return __libc_realloc(ptr, size);  // not ours: stays glibc's
  if (size > SIZE_MAX - 64) {
    errno = ENOMEM;
    return nullptr;
  }
  if (h->align_shift != 0) {
    // Aligned blocks move by hand: glibc's realloc would not keep the alignment.
    void* moved = tracked_malloc(size);
    if (moved == nullptr) return nullptr;
    std::memcpy(moved, ptr, h->size < size ? h->size : size);
    tracked_free(ptr);
    return moved;
  }
  const BlockHeader old = *h;
  void* base = __libc_realloc(base_of(ptr, old), size + 16);
  if (base == nullptr) return nullptr;  // the old block is untouched and still ours
  // Counted as the free of the old block and a new allocation from here.
  if (state().config.recording) count_free(ptr, old);
  return finish_alloc(base, size, 0);
}

void* reallocarray(void* ptr, std::size_t n, std::size_t size) {
  std::size_t total = 0;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(ptr, total);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  if (!is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  const int saved = errno;
  void* p = tracked_aligned(alignment, size);
  if (p == nullptr) return ENOMEM;
  errno = saved;
  *out = p;
  return 0;
}

void* aligned_alloc(std::size_t alignment, std::size_t size) {
  if (!is_power_of_two(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return tracked_aligned(alignment, size);
}

void* memalign(std::size_t alignment, std::size_t size) {
  // glibc rounds a non-power-of-two alignment up to the next power of two.
  std::size_t a = 1;
  while (a < alignment) a <<= 1;
  return tracked_aligned(a, size);
}

void* valloc(std::size_t size) {
  return tracked_aligned(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), size);
}

void* pvalloc(std::size_t size) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return tracked_aligned(page, (size + page - 1) & ~(page - 1));
}

std::size_t malloc_usable_size(void* ptr) {
  if (ptr == nullptr) return 0;
  BlockHeader* h = our_header(ptr);
  if (h == nullptr) return glibc_usable(ptr);
  void* base = base_of(ptr, *h);
  return glibc_usable(base) -
         static_cast<std::size_t>(static_cast<char*>(ptr) - static_cast<char*>(base));
}

}  // extern "C"

void* operator new(std::size_t size) { return tracked_new(size, 0); }
void* operator new[](std::size_t size) { return tracked_new(size, 0); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, 0);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, 0);
}
void* operator new(std::size_t size, std::align_val_t a) {
  return tracked_new(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return tracked_new(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { tracked_free(p); }
void operator delete[](void* p) noexcept { tracked_free(p); }
void operator delete(void* p, std::size_t) noexcept { tracked_free(p); }
void operator delete[](void* p, std::size_t) noexcept { tracked_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { tracked_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { tracked_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { tracked_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { tracked_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { tracked_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { tracked_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { tracked_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  tracked_free(p);
}
