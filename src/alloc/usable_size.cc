// Verifies, when the library loads, that reading glibc's chunk header gives
// the same usable size as malloc_usable_size(); until then, and forever if it
// does not, usable_size() calls malloc_usable_size().
#include <cstddef>

#include "libc_malloc.hpp"

namespace perflab::alloc_internal {

constinit std::atomic<bool> header_decoding_verified{false};

namespace {

bool agrees(void* block) noexcept {
  if (block == nullptr) return true;  // nothing to compare; the others decide
  const bool same = decode_usable_size(block) == malloc_usable_size(block);
  __libc_free(block);
  return same;
}

// Straight to glibc, so the probes are not counted. The largest size is above
// glibc's highest dynamic mmap threshold (32 MiB), so it is always an mmapped
// chunk and freeing it leaves the process's mmap threshold unchanged; its
// pages are never touched.
[[gnu::constructor]] void verify_header_decoding() noexcept {
  constexpr std::size_t kSizes[] = {0, 1, 24, 25, 100, 1000, 4096, 100000, std::size_t{40} << 20};
  bool ok = true;
  for (const std::size_t size : kSizes) {
    ok = ok && agrees(__libc_malloc(size));
    ok = ok && agrees(__libc_calloc(1, size));
    ok = ok && agrees(__libc_memalign(64, size));
    ok = ok && agrees(__libc_memalign(4096, size));
  }
  void* grown = __libc_malloc(16);
  if (grown != nullptr) ok = ok && agrees(__libc_realloc(grown, 5000));
  header_decoding_verified.store(ok, std::memory_order_relaxed);
}

}  // namespace
}  // namespace perflab::alloc_internal
