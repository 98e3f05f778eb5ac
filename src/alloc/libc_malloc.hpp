// glibc's own allocator, under the names glibc exports for replacements to
// forward to. This is the only place perflab::alloc touches the system
// allocator; dlsym(RTLD_NEXT) is avoided because dlsym itself can allocate.
#pragma once

#include <atomic>
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void __libc_free(void* ptr) noexcept;
void* __libc_calloc(std::size_t nmemb, std::size_t size) noexcept;
void* __libc_realloc(void* ptr, std::size_t size) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
void* __libc_valloc(std::size_t size) noexcept;
void* __libc_pvalloc(std::size_t size) noexcept;
}

namespace perflab::alloc_internal {

// Set at load time when decode_usable_size() agreed with glibc's own
// malloc_usable_size() on every kind of block glibc hands out (usable_size.cc).
extern std::atomic<bool> header_decoding_verified;

// malloc_usable_size() without the call: the size field of glibc's chunk
// header sits in the word before the block, its low 3 bits are flags
// (IS_MMAPPED = 2). A heap chunk's usable bytes are its size minus the 8-byte
// size field (the next chunk's prev_size word is usable too); an mmapped
// chunk's are its size minus both words. REQUIRES: block came from glibc.
inline std::size_t decode_usable_size(const void* block) noexcept {
  const std::size_t header = static_cast<const std::size_t*>(block)[-1];
  const std::size_t chunk = header & ~std::size_t{7};
  return chunk - ((header & 2) != 0 ? 2 * sizeof(std::size_t) : sizeof(std::size_t));
}

// usable_size() before the load-time check, or when it failed: glibc's own
// malloc_usable_size(), or decode_usable_size() until that has been looked up.
// Never the process-bound malloc_usable_size symbol: under a sanitizer or
// another allocator it belongs to that allocator, which aborts on glibc's
// blocks (usable_size.cc).
std::size_t usable_size_unverified(void* block) noexcept;

// The usable size of a live glibc block, as malloc_usable_size() reports it.
// The call costs about 3 ns, most of a counted malloc/free pair's overhead,
// so the header is read directly once it has been verified.
inline std::size_t usable_size(void* block) noexcept {
  if (__builtin_expect(header_decoding_verified.load(std::memory_order_relaxed), 1)) {
    return decode_usable_size(block);
  }
  return usable_size_unverified(block);
}

}  // namespace perflab::alloc_internal
