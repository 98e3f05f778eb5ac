// The malloc family, replaced for the whole process: each function counts the
// call once and forwards to glibc's allocator (libc_malloc.hpp), so blocks
// from any of them can be freed by any other, and by glibc itself.
//
// Rules (also in include/perflab/alloc.hpp): a call that returns memory is one
// allocation of the requested bytes; a non-null block given back is one free
// of its usable bytes; failed calls and free(nullptr) are not counted.
#include <cerrno>
#include <cstddef>
#include <cstdlib>

#include "bound_allocator.hpp"
#include "counters.hpp"
#include "libc_malloc.hpp"

#define PERFLAB_INTERPOSE extern "C" __attribute__((visibility("default")))

namespace {

using perflab::alloc_internal::count_alloc;
using perflab::alloc_internal::count_free;
using perflab::alloc_internal::foreign_memalign;
using perflab::alloc_internal::foreign_realloc;
using perflab::alloc_internal::usable_size;

inline void* counted(void* block, std::size_t requested) noexcept {
  if (block != nullptr) count_alloc(requested, usable_size(block));
  return block;
}

inline bool is_power_of_two(std::size_t n) noexcept { return n != 0 && (n & (n - 1)) == 0; }

// realloc's rules, shared with reallocarray. `size` has no overflow.
inline void* counted_realloc(void* old_block, std::size_t size) noexcept {
  if (old_block == nullptr) return counted(__libc_realloc(nullptr, size), size);
  // Read before the call: afterwards the old block may be gone.
  const std::size_t old_usable = usable_size(old_block);
  void* block = __libc_realloc(old_block, size);
  if (block != nullptr) {
    count_free(old_usable);
    count_alloc(size, usable_size(block));
  } else if (size == 0) {
    count_free(old_usable);  // glibc freed old_block and returned nullptr
  }
  return block;  // nullptr with size > 0: failed, old_block untouched, nothing counted
}

}  // namespace

PERFLAB_INTERPOSE void* malloc(std::size_t size) noexcept {
  return counted(__libc_malloc(size), size);
}

// A hidden second name for our malloc: alloc_counting_active() compares it
// with the address the dynamic linker bound to `malloc` for the process.
extern "C" __attribute__((visibility("hidden"), alias("malloc"), malloc, alloc_size(1))) void*
perflab_own_malloc(std::size_t size) noexcept;

PERFLAB_INTERPOSE void free(void* block) noexcept {
  if (block == nullptr) return;
  count_free(usable_size(block));
  __libc_free(block);
}

PERFLAB_INTERPOSE void* calloc(std::size_t count, std::size_t size) noexcept {
  void* block = __libc_calloc(count, size);
  // Non-null means glibc saw no overflow, so count * size is exact.
  return counted(block, count * size);
}

PERFLAB_INTERPOSE void* realloc(void* block, std::size_t size) noexcept {
  return counted_realloc(block, size);
}

extern "C" __attribute__((visibility("hidden"), alias("realloc"), alloc_size(2))) void*
perflab_own_realloc(void* block, std::size_t size) noexcept;

// Reached under another malloc that lacks reallocarray: the block is the
// winner's, so its realloc must resize it (bound_allocator.hpp).
PERFLAB_INTERPOSE void* reallocarray(void* block, std::size_t count, std::size_t size) noexcept {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (const auto winner = foreign_realloc(); __builtin_expect(winner != nullptr, 0)) {
    return winner(block, bytes);
  }
  return counted_realloc(block, bytes);
}

PERFLAB_INTERPOSE int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (!is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  const int saved_errno = errno;  // POSIX: reports through the result, leaves errno alone
  void* block = __libc_memalign(alignment, size);
  if (block == nullptr) {
    errno = saved_errno;
    return ENOMEM;
  }
  *out = counted(block, size);
  return 0;
}

// C17 (and glibc from 2.38) reject an alignment that is not a power of two
// with EINVAL, where memalign rounds it up; glibc 2.36's aligned_alloc is
// memalign itself. Any size is accepted, a multiple of the alignment or not.
// Reached under another malloc that lacks aligned_alloc, or defines it only at
// glibc's later symbol version (libc_malloc_debug.so): the block will go to
// the winner's free, so the winner's memalign makes it (bound_allocator.hpp).
PERFLAB_INTERPOSE void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  if (!is_power_of_two(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  if (const auto winner = foreign_memalign(); __builtin_expect(winner != nullptr, 0)) {
    return winner(alignment, size);
  }
  return counted(__libc_memalign(alignment, size), size);
}

PERFLAB_INTERPOSE void* memalign(std::size_t alignment, std::size_t size) noexcept {
  return counted(__libc_memalign(alignment, size), size);
}

extern "C" __attribute__((visibility("hidden"), alias("memalign"), malloc, alloc_size(2),
                          alloc_align(1))) void*
perflab_own_memalign(std::size_t alignment, std::size_t size) noexcept;

PERFLAB_INTERPOSE void* valloc(std::size_t size) noexcept {
  return counted(__libc_valloc(size), size);
}

PERFLAB_INTERPOSE void* pvalloc(std::size_t size) noexcept {
  return counted(__libc_pvalloc(size), size);
}
