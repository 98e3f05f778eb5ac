// Loaded with dlopen by known_allocs: its allocations must be attributed to
// plugin_allocate even though the library is unloaded before the process ends.
#include <cstdlib>

void* volatile g_plugin_sink;

extern "C" [[gnu::noinline]] void plugin_allocate() {
  for (int i = 0; i < 33; ++i) {
    void* p = std::malloc(16);
    g_plugin_sink = p;
    std::free(p);
  }
}
