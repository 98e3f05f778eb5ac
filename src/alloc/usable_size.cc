// Looks up glibc's own malloc_usable_size() and verifies, when the library
// loads, that reading glibc's chunk header gives the same usable size; until
// then, and forever if it does not, usable_size() calls glibc's function.
//
// Everything here goes to libc.so.6's own definitions, found in that object
// alone, never to the names the process binds: a sanitizer runtime or an
// LD_PRELOAD allocator may define malloc_usable_size (and ASan and TSan also
// __libc_memalign), and theirs abort on, or misread, blocks glibc handed out.
#include <dlfcn.h>
#include <gnu/lib-names.h>

#include <cstddef>

#include "libc_malloc.hpp"

namespace perflab::alloc_internal {

constinit std::atomic<bool> header_decoding_verified{false};

namespace {

using UsableSizeFn = std::size_t (*)(void*);

// glibc's malloc_usable_size; null until the load-time lookup has run, and
// forever if libc.so.6 could not be opened.
constinit std::atomic<UsableSizeFn> libc_usable_size{nullptr};

// libc.so.6's own allocator, for the probes: the calls are not counted and
// cannot reach another allocator's replacement of a __libc_* name.
struct LibcAllocator {
  void* (*malloc)(std::size_t) = nullptr;
  void* (*calloc)(std::size_t, std::size_t) = nullptr;
  void* (*realloc)(void*, std::size_t) = nullptr;
  void* (*memalign)(std::size_t, std::size_t) = nullptr;
  void (*free)(void*) = nullptr;
  UsableSizeFn usable_size = nullptr;
};

template <class Fn>
bool look_up(void* object, const char* name, Fn& fn) noexcept {
  fn = reinterpret_cast<Fn>(dlsym(object, name));
  return fn != nullptr;
}

// dlsym on libc's handle searches libc.so.6 (and its dependencies) only, so
// it finds glibc's definitions whatever else the process has loaded. dlopen
// and dlsym may allocate, through our malloc: usable_size() decodes the
// header until libc_usable_size is set, a safe read for any glibc block.
bool open_libc(LibcAllocator& libc) noexcept {
  void* object = dlopen(LIBC_SO, RTLD_NOLOAD | RTLD_LAZY);
  if (object == nullptr) return false;
  return look_up(object, "__libc_malloc", libc.malloc) &&
         look_up(object, "__libc_calloc", libc.calloc) &&
         look_up(object, "__libc_realloc", libc.realloc) &&
         look_up(object, "__libc_memalign", libc.memalign) &&
         look_up(object, "__libc_free", libc.free) &&
         look_up(object, "malloc_usable_size", libc.usable_size);
}

bool agrees(const LibcAllocator& libc, void* block) noexcept {
  if (block == nullptr) return true;  // nothing to compare; the others decide
  const bool same = decode_usable_size(block) == libc.usable_size(block);
  libc.free(block);
  return same;
}

// The largest size is above glibc's highest dynamic mmap threshold (32 MiB),
// so it is always an mmapped chunk and freeing it leaves the process's mmap
// threshold unchanged; its pages are never touched.
[[gnu::constructor]] void verify_header_decoding() noexcept {
  LibcAllocator libc;
  if (!open_libc(libc)) return;  // unverified: usable_size() keeps decoding
  libc_usable_size.store(libc.usable_size, std::memory_order_release);
  constexpr std::size_t kSizes[] = {0, 1, 24, 25, 100, 1000, 4096, 100000, std::size_t{40} << 20};
  bool ok = true;
  for (const std::size_t size : kSizes) {
    ok = ok && agrees(libc, libc.malloc(size));
    ok = ok && agrees(libc, libc.calloc(1, size));
    ok = ok && agrees(libc, libc.memalign(64, size));
    ok = ok && agrees(libc, libc.memalign(4096, size));
  }
  void* grown = libc.malloc(16);
  if (grown != nullptr) ok = ok && agrees(libc, libc.realloc(grown, 5000));
  header_decoding_verified.store(ok, std::memory_order_relaxed);
}

}  // namespace

std::size_t usable_size_unverified(void* block) noexcept {
  const UsableSizeFn libc_function = libc_usable_size.load(std::memory_order_acquire);
  return libc_function != nullptr ? libc_function(block) : decode_usable_size(block);
}

}  // namespace perflab::alloc_internal
