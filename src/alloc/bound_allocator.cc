// Reads the addresses the dynamic linker bound to the malloc names (see
// bound_allocator.hpp). This file defines none of them, so the compiler takes
// each address from the GOT rather than from a local definition.
#include "bound_allocator.hpp"

#include <malloc.h>

#include <cstdlib>

// interpose_malloc.cc: hidden aliases of perflab's own definitions.
extern "C" {
__attribute__((visibility("hidden"))) void* perflab_own_malloc(std::size_t size) noexcept;
__attribute__((visibility("hidden"))) void* perflab_own_memalign(std::size_t alignment,
                                                                 std::size_t size) noexcept;
__attribute__((visibility("hidden"))) void* perflab_own_realloc(void* block,
                                                                std::size_t size) noexcept;
}

namespace perflab::alloc_internal {

// Each load goes through a volatile, so it reads the GOT entry the dynamic
// linker filled: the function every caller in the process reaches.
bool malloc_is_ours() noexcept {
  void* (*volatile bound)(std::size_t) noexcept = &::malloc;
  return bound == &perflab_own_malloc;
}

MemalignFn foreign_memalign() noexcept {
  if (malloc_is_ours()) return nullptr;
  void* (*volatile bound)(std::size_t, std::size_t) noexcept = &::memalign;
  return bound != &perflab_own_memalign ? bound : nullptr;
}

ReallocFn foreign_realloc() noexcept {
  if (malloc_is_ours()) return nullptr;
  void* (*volatile bound)(void*, std::size_t) noexcept = &::realloc;
  return bound != &perflab_own_realloc ? bound : nullptr;
}

}  // namespace perflab::alloc_internal
