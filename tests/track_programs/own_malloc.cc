// A program that replaces malloc itself: its executable defines the malloc
// family (a counting wrapper around glibc's), so every malloc call in the
// process, libc's own included, reaches it rather than perflab's recorder.
// Prints how many allocations its malloc saw.
#include <cstddef>
#include <cstdio>
#include <cstdlib>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void __libc_free(void* ptr);

static unsigned long own_allocs;

void* malloc(size_t size) noexcept {
  ++own_allocs;
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) noexcept {
  ++own_allocs;
  return __libc_calloc(n, size);
}
void* realloc(void* ptr, size_t size) noexcept {
  ++own_allocs;
  return __libc_realloc(ptr, size);
}
void free(void* ptr) noexcept { __libc_free(ptr); }
}  // extern "C"

int main() {
  for (int i = 0; i < 100; ++i) free(malloc(32 + static_cast<size_t>(i)));
  printf("own allocations: %lu\n", own_allocs);
  return 0;
}
