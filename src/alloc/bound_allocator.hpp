// Which allocator the dynamic linker bound the process's malloc names to.
//
// When another malloc wins the symbol lookup (a sanitizer, an LD_PRELOAD
// allocator), the functions it does not replace still reach perflab's: those
// it lacks (reallocarray in many allocators) and those glibc versions later
// than its default version, which an unversioned reference from a program
// linked against perflab skips (aligned_alloc@GLIBC_2.16 in
// libc_malloc_debug.so). Their blocks go to the winner's free, so they must
// come from the winner too, not from glibc.
#pragma once

#include <cstddef>

namespace perflab::alloc_internal {

using MemalignFn = void* (*)(std::size_t alignment, std::size_t size);
using ReallocFn = void* (*)(void* block, std::size_t size);

// True when this process's `malloc` symbol resolves to perflab's definition.
bool malloc_is_ours() noexcept;

// The winner's memalign and realloc when another malloc won and defines them;
// null when perflab's malloc is the process's or the winner lacks them.
MemalignFn foreign_memalign() noexcept;
ReallocFn foreign_realloc() noexcept;

}  // namespace perflab::alloc_internal
