// A program with allocation counts known in advance, linked against
// perflab::alloc. It prints what perflab counted for each section; the numbers
// it should print are written down in programs_test.cc, not computed here.
//
// programs_test.cc also runs it where another malloc wins (LD_PRELOAD, ASan):
// there it must still run to the end, and print active=0.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "perflab/alloc.hpp"
#include "print_counts.hpp"

namespace {

// Keeps the optimizer from removing allocations whose results look unused.
template <class T>
T opaque(T value) {
  asm volatile("" : "+r"(value) : : "memory");
  return value;
}

void strings() {
  std::vector<std::string> texts;
  texts.reserve(1000);
  perflab::AllocScope scope;
  for (int i = 0; i < 1000; ++i) texts.emplace_back(opaque<std::size_t>(100), 'x');
  print_counts("strings", scope.counts());
  scope.restart();
  texts.clear();
  print_counts("strings_cleared", scope.counts());
}

void vector_growth() {
  perflab::AllocScope scope;
  {
    std::vector<int> numbers;
    for (int i = 0; i < 1000; ++i) numbers.push_back(opaque(i));
  }
  print_counts("vector_growth", scope.counts());
}

void map_nodes() {
  std::map<int, int> table;
  perflab::AllocScope scope;
  for (int i = 0; i < 500; ++i) table.emplace(opaque(i), i);
  print_counts("map_nodes", scope.counts());
}

void malloc_family() {
  perflab::AllocScope scope;
  void* blocks[7] = {};
  blocks[0] = opaque(&malloc)(10);
  blocks[1] = opaque(&calloc)(4, 5);
  blocks[2] = opaque(&realloc)(opaque(&malloc)(30), 40);  // malloc, then free + alloc
  blocks[3] = opaque(&aligned_alloc)(64, 64);
  if (opaque(&posix_memalign)(&blocks[4], 32, 50) != 0) blocks[4] = nullptr;
  blocks[5] = opaque(&realloc)(nullptr, 60);
  blocks[6] = opaque(&reallocarray)(nullptr, 7, 10);
  for (void* block : blocks) opaque (&free)(block);
  opaque (&free)(nullptr);
  print_counts("malloc_family", scope.counts());
}

}  // namespace

int main() {
  std::printf("active=%d\n", perflab::alloc_counting_active() ? 1 : 0);
  strings();
  vector_growth();
  map_nodes();
  malloc_family();
  return 0;
}
