// Every replaceable operator new and delete form, counted once per call.
//
// They call glibc's allocator directly rather than our malloc, so a `new` is
// one allocation, not two. Each keeps the standard contract: on failure the
// throwing forms call the new_handler until it gives up, then throw
// std::bad_alloc; the nothrow forms return nullptr instead.
#include <cstddef>
#include <new>

#include "counters.hpp"
#include "libc_malloc.hpp"

namespace {

using perflab::alloc_internal::count_alloc;
using perflab::alloc_internal::count_free;
using perflab::alloc_internal::usable_size;

inline void* try_allocate(std::size_t size) noexcept {
  void* block = __libc_malloc(size);
  if (block != nullptr) count_alloc(size, usable_size(block));
  return block;
}

inline void* try_allocate(std::size_t size, std::align_val_t alignment) noexcept {
  void* block = __libc_memalign(static_cast<std::size_t>(alignment), size);
  if (block != nullptr) count_alloc(size, usable_size(block));
  return block;
}

// The new_handler loop of [new.delete.single]: failure is the cold path.
template <class... Alignment>
[[gnu::noinline]] void* allocate_or_throw(std::size_t size, Alignment... alignment) {
  for (;;) {
    if (void* block = try_allocate(size, alignment...)) return block;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

template <class... Alignment>
[[gnu::noinline]] void* allocate_or_null(std::size_t size, Alignment... alignment) noexcept {
  for (;;) {
    if (void* block = try_allocate(size, alignment...)) return block;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) return nullptr;
    try {
      handler();
    } catch (const std::bad_alloc&) {  // a handler reports "give up" by throwing
      return nullptr;
    }
  }
}

inline void* allocate(std::size_t size) {
  void* block = try_allocate(size);
  return block != nullptr ? block : allocate_or_throw(size);
}

inline void* allocate(std::size_t size, std::align_val_t alignment) {
  void* block = try_allocate(size, alignment);
  return block != nullptr ? block : allocate_or_throw(size, alignment);
}

inline void* allocate_nothrow(std::size_t size) noexcept {
  void* block = try_allocate(size);
  return block != nullptr ? block : allocate_or_null(size);
}

inline void* allocate_nothrow(std::size_t size, std::align_val_t alignment) noexcept {
  void* block = try_allocate(size, alignment);
  return block != nullptr ? block : allocate_or_null(size, alignment);
}

// Sized and aligned deletes count the block's usable size, like free, so the
// live balance stays exact whatever size the caller passes.
inline void deallocate(void* block) noexcept {
  if (block == nullptr) return;
  count_free(usable_size(block));
  __libc_free(block);
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  return allocate(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate(size, alignment);
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, alignment);
}

void operator delete(void* block) noexcept { deallocate(block); }
void operator delete[](void* block) noexcept { deallocate(block); }
void operator delete(void* block, const std::nothrow_t&) noexcept { deallocate(block); }
void operator delete[](void* block, const std::nothrow_t&) noexcept { deallocate(block); }
void operator delete(void* block, std::size_t) noexcept { deallocate(block); }
void operator delete[](void* block, std::size_t) noexcept { deallocate(block); }
void operator delete(void* block, std::align_val_t) noexcept { deallocate(block); }
void operator delete[](void* block, std::align_val_t) noexcept { deallocate(block); }
void operator delete(void* block, std::align_val_t, const std::nothrow_t&) noexcept {
  deallocate(block);
}
void operator delete[](void* block, std::align_val_t, const std::nothrow_t&) noexcept {
  deallocate(block);
}
void operator delete(void* block, std::size_t, std::align_val_t) noexcept { deallocate(block); }
void operator delete[](void* block, std::size_t, std::align_val_t) noexcept { deallocate(block); }
