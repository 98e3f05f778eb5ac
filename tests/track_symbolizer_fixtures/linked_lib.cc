#include "linked_lib.hpp"

#include <cstdlib>
#include <cstring>

#include "record.hpp"

namespace fixturelib {
namespace {

int anonymous_helper(int value) {
  FIXTURE_RECORD("lib_anonymous_helper");
  return value * 2;
}

// Internal linkage: GCC gives its DWARF no linkage name.
[[gnu::always_inline]] inline int inlined_anonymous(int value) {
  FIXTURE_RECORD("lib_inlined_anonymous");
  return value + 3;
}

int compare_ints(const void* a, const void* b) {
  const auto address = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)) - 1;
  static bool printed = false;
  if (!printed) std::printf("site libc_qsort_caller %#" PRIxPTR " 0\n", address);
  printed = true;
  int x = 0;
  int y = 0;
  std::memcpy(&x, a, sizeof x);
  std::memcpy(&y, b, sizeof y);
  return (x > y) - (x < y);
}

}  // namespace

long Builder::build(long parts, const char* name) {
  FIXTURE_RECORD("lib_builder_build");
  std::printf("inline_call lib_inlined_anonymous %d\n", __LINE__ + 1);
  const int inlined = inlined_anonymous(2);
  return parts + static_cast<long>(std::strlen(name)) + anonymous_helper(1) + inlined;
}

void sort_with_libc() {
  int values[] = {5, 3, 9, 1, 7};
  std::qsort(values, sizeof values / sizeof values[0], sizeof values[0], compare_ints);
}

}  // namespace fixturelib

extern "C" int fixturelib_c_function(int value) {
  FIXTURE_RECORD("lib_c_function");
  return value + 1;
}

extern "C" void* fixturelib_qsort_address() { return reinterpret_cast<void*>(&std::qsort); }
