// The fixture program of track_symbolizer_test, built as a PIE and as a
// non-PIE executable. It records call sites in itself, in the library it links
// and in the one it dlopen()s (argv[1]), prints them ("site LABEL ADDRESS
// LINE"; "inline_call LABEL LINE" for the line that calls the inlined function
// holding site LABEL), then its own /proc/self/maps between "maps-begin" and
// "maps-end".
#include <dlfcn.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "linked_lib.hpp"
#include "record.hpp"

namespace fixture {

class Widget {
 public:
  int make_thing(int n);
};

int Widget::make_thing(int n) {
  FIXTURE_RECORD("main_widget_make_thing");
  return n + 1;
}

template <typename T>
T twice(T value) {
  FIXTURE_RECORD("main_twice");
  return value + value;
}

// Inlined even at -O0: its call site lies inside calls_inlined's code.
[[gnu::always_inline]] inline int inlined_helper(int n) {
  FIXTURE_RECORD("main_inlined_helper");
  return n * 3;
}

int calls_inlined(int n) {
  std::printf("inline_call main_inlined_helper %d\n", __LINE__ + 1);
  return inlined_helper(n) + 1;
}

}  // namespace fixture

extern "C" int fixture_c_function(int n) {
  FIXTURE_RECORD("main_c_function");
  return n - 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PLUGIN\n", argv[0]);
    return 2;
  }
  fixture::Widget widget;
  int sum = widget.make_thing(1);
  sum += fixture::twice(2);
  sum += fixture::calls_inlined(3);
  sum += fixture_c_function(4);
  sum += static_cast<int>(fixturelib::Builder::build(5, "five"));
  sum += fixturelib_c_function(6);
  fixturelib::sort_with_libc();
  std::printf("symbol qsort %p\n", fixturelib_qsort_address());

  // Stays loaded: its mapping must be in the maps printed below.
  void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (plugin == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto* entry = reinterpret_cast<int (*)(int)>(dlsym(plugin, "fixture_plugin_entry"));
  if (entry == nullptr) return 1;
  sum += entry(7);
  std::printf("sum %d\n", sum);

  std::fflush(stdout);
  std::ifstream maps("/proc/self/maps");
  std::cout << "maps-begin\n" << maps.rdbuf() << "maps-end\n";
  return 0;
}
