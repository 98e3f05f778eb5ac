// Another malloc replacement, for LD_PRELOAD: it wins the symbol lookup over
// perflab::alloc, which must then report alloc_counting_active() == false.
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void __libc_free(void* block) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* block, std::size_t size) noexcept;

__attribute__((visibility("default"))) void* malloc(std::size_t size) noexcept {
  return __libc_malloc(size);
}
__attribute__((visibility("default"))) void free(void* block) noexcept { __libc_free(block); }
__attribute__((visibility("default"))) void* calloc(std::size_t count, std::size_t size) noexcept {
  return __libc_calloc(count, size);
}
__attribute__((visibility("default"))) void* realloc(void* block, std::size_t size) noexcept {
  return __libc_realloc(block, size);
}
}
