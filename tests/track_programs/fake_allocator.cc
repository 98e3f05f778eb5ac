// A stand-in for an allocator library a program links (jemalloc, tcmalloc):
// it defines the malloc family. Under perflab track the recorder's malloc
// comes first in symbol lookup, so this one is bypassed.
#include <cstddef>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void __libc_free(void* ptr);

void* malloc(size_t size) noexcept { return __libc_malloc(size); }
void* calloc(size_t n, size_t size) noexcept { return __libc_calloc(n, size); }
void* realloc(void* ptr, size_t size) noexcept { return __libc_realloc(ptr, size); }
void free(void* ptr) noexcept { __libc_free(ptr); }
}  // extern "C"
