// A program linked against an allocator library (fake_allocator.c) that
// makes 100 allocations of its own and leaks 10 of them.
#include <cstdio>
#include <cstdlib>

__attribute__((noinline)) void* allocate_from_linked(size_t size) { return malloc(size); }

int main() {
  void* kept[10];
  for (int i = 0; i < 100; ++i) {
    void* p = allocate_from_linked(48);
    if (i < 10)
      kept[i] = p;
    else
      free(p);
  }
  printf("%p\n", kept[9]);
  return 0;
}
