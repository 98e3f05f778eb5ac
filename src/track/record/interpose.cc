// The allocation surface of the traced process: the malloc family,
// malloc_usable_size and every operator new/delete form, forwarded to glibc's
// own allocator. In stacks mode each block gets a BlockHeader in front; in
// counting mode blocks are glibc's, untouched (recorder.hpp, Layout).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "counting.hpp"

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void __libc_free(void* ptr) noexcept;
void* __libc_calloc(std::size_t n, std::size_t size) noexcept;
void* __libc_realloc(void* ptr, std::size_t size) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
}

namespace perflab::track::record {
namespace {

// Blocks handed out before the layout is known: the recorder configuring
// itself (it does not allocate, but libc might). Plain glibc blocks, which
// either layout frees correctly (the headered one sees no header of ours).
Layout current_layout() noexcept {
  const Layout layout = state().layout;
  if (layout != Layout::kUnknown) [[likely]]
    return layout;
  ensure_initialized();
  return state().layout;
}

bool too_big(std::size_t size) noexcept {
  if (size <= SIZE_MAX - 64) [[likely]]
    return false;
  errno = ENOMEM;
  return true;
}

// The headered layout's malloc and free are calls of their own, so the bare
// layout's paths, inlined in the entry points, need few registers.
[[gnu::noinline]] void* headered_malloc(std::size_t size, void* entry_frame) noexcept {
  if (too_big(size)) return nullptr;
  return headered_alloc(__libc_malloc(size + kHeaderBytes), size, 0, entry_frame);
}

[[gnu::noinline]] void headered_release(void* user) noexcept {
  BlockHeader* h = our_header(user);
  if (h == nullptr) {
    __libc_free(user);  // not ours: from before the recorder, or from __libc_malloc
    return;
  }
  if (h->stack != kUntrackedStack) headered_free(user, *h);
  void* base = base_of(user, *h);
  h->check = 0;  // a second free of the same block is not mistaken for ours
  __libc_free(base);
}

[[gnu::always_inline]] inline void* tracked_malloc(std::size_t size, void* entry_frame) noexcept {
  if (current_layout() == Layout::kHeadered) return headered_malloc(size, entry_frame);
  void* block = __libc_malloc(size);
  bare_alloc(block, size);
  return block;
}

unsigned shift_of(std::size_t alignment) noexcept {
  return static_cast<unsigned>(__builtin_ctzll(alignment));
}

[[gnu::always_inline]] inline void* tracked_aligned(std::size_t alignment, std::size_t size,
                                                    void* entry_frame) noexcept {
  if (alignment <= 16) return tracked_malloc(size, entry_frame);
  if (size > SIZE_MAX - 2 * alignment) {
    errno = ENOMEM;
    return nullptr;
  }
  if (current_layout() == Layout::kHeadered) {
    // The header sits just before the aligned block, inside one alignment unit.
    return headered_alloc(__libc_memalign(alignment, size + alignment), size, shift_of(alignment),
                          entry_frame);
  }
  void* block = __libc_memalign(alignment, size);
  bare_alloc(block, size);
  return block;
}

[[gnu::always_inline]] inline void tracked_free(void* user) noexcept {
  if (user == nullptr) return;
  if (current_layout() == Layout::kHeadered) {
    headered_release(user);
    return;
  }
  bare_free(user, glibc_usable(user));
  __libc_free(user);
}

[[gnu::always_inline]] inline void* tracked_calloc(std::size_t n, std::size_t size,
                                                   void* entry_frame) noexcept {
  std::size_t total = 0;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (current_layout() == Layout::kHeadered) {
    if (too_big(total)) return nullptr;
    return headered_alloc(__libc_calloc(1, total + kHeaderBytes), total, 0, entry_frame);
  }
  void* block = __libc_calloc(1, total);
  bare_alloc(block, total);
  return block;
}

// Counted as the free of the old block and a new allocation from here.
[[gnu::always_inline]] inline void* tracked_realloc(void* ptr, std::size_t size,
                                                    void* entry_frame) noexcept {
  if (ptr == nullptr) return tracked_malloc(size, entry_frame);
  if (size == 0) {
    tracked_free(ptr);
    return nullptr;
  }
  if (current_layout() != Layout::kHeadered) {
    const std::size_t old_usable = glibc_usable(ptr);
    void* block = __libc_realloc(ptr, size);
    if (block == nullptr) return nullptr;  // the old block is untouched
    bare_free(ptr, old_usable);
    bare_alloc(block, size);
    return block;
  }
  BlockHeader* h = our_header(ptr);
  if (h == nullptr) return __libc_realloc(ptr, size);  // not ours: stays glibc's
  if (too_big(size)) return nullptr;
  if (h->align_shift != 0) {
    // Aligned blocks move by hand: glibc's realloc would not keep the alignment.
    void* moved = tracked_malloc(size, entry_frame);
    if (moved == nullptr) return nullptr;
    std::memcpy(moved, ptr, h->size < size ? h->size : size);
    tracked_free(ptr);
    return moved;
  }
  const BlockHeader old = *h;
  void* base = __libc_realloc(base_of(ptr, old), size + kHeaderBytes);
  if (base == nullptr) return nullptr;  // the old block is untouched and still ours
  if (old.stack != kUntrackedStack) headered_free(ptr, old);
  return headered_alloc(base, size, 0, entry_frame);
}

std::size_t usable_size(void* ptr) noexcept {
  if (ptr == nullptr) return 0;
  if (current_layout() != Layout::kHeadered) return glibc_usable(ptr);
  BlockHeader* h = our_header(ptr);
  if (h == nullptr) return glibc_usable(ptr);
  void* base = base_of(ptr, *h);
  return glibc_usable(base) -
         static_cast<std::size_t>(static_cast<char*>(ptr) - static_cast<char*>(base));
}

bool is_power_of_two(std::size_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

[[gnu::always_inline]] inline void* tracked_new(std::size_t size, std::size_t alignment,
                                                void* entry_frame) {
  for (;;) {
    void* p = alignment <= 16 ? tracked_malloc(size, entry_frame)
                              : tracked_aligned(alignment, size, entry_frame);
    if (p != nullptr) [[likely]]
      return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

[[gnu::always_inline]] inline void* tracked_new_nothrow(std::size_t size, std::size_t alignment,
                                                        void* entry_frame) noexcept {
  try {
    return tracked_new(size, alignment, entry_frame);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace
}  // namespace perflab::track::record

using namespace perflab::track::record;

extern "C" {

void* malloc(std::size_t size) { return tracked_malloc(size, __builtin_frame_address(0)); }

void free(void* ptr) { tracked_free(ptr); }

void* calloc(std::size_t n, std::size_t size) {
  return tracked_calloc(n, size, __builtin_frame_address(0));
}

void* realloc(void* ptr, std::size_t size) {
  return tracked_realloc(ptr, size, __builtin_frame_address(0));
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
  void* p = tracked_aligned(alignment, size, __builtin_frame_address(0));
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
  return tracked_aligned(alignment, size, __builtin_frame_address(0));
}

void* memalign(std::size_t alignment, std::size_t size) {
  // glibc rounds a non-power-of-two alignment up to the next power of two.
  std::size_t a = 1;
  while (a < alignment) a <<= 1;
  return tracked_aligned(a, size, __builtin_frame_address(0));
}

void* valloc(std::size_t size) {
  return tracked_aligned(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), size,
                         __builtin_frame_address(0));
}

void* pvalloc(std::size_t size) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return tracked_aligned(page, (size + page - 1) & ~(page - 1), __builtin_frame_address(0));
}

std::size_t malloc_usable_size(void* ptr) { return usable_size(ptr); }

}  // extern "C"

void* operator new(std::size_t size) { return tracked_new(size, 0, __builtin_frame_address(0)); }
void* operator new[](std::size_t size) { return tracked_new(size, 0, __builtin_frame_address(0)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, 0, __builtin_frame_address(0));
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, 0, __builtin_frame_address(0));
}
void* operator new(std::size_t size, std::align_val_t a) {
  return tracked_new(size, static_cast<std::size_t>(a), __builtin_frame_address(0));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return tracked_new(size, static_cast<std::size_t>(a), __builtin_frame_address(0));
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, static_cast<std::size_t>(a), __builtin_frame_address(0));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return tracked_new_nothrow(size, static_cast<std::size_t>(a), __builtin_frame_address(0));
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
