// One line per measured section, read back by programs_test.cc:
//   <section> allocs=N frees=N bytes_allocated=N bytes_freed=N live_bytes=N peak_live_bytes=N
#pragma once

#include <cinttypes>
#include <cstdio>

#include "perflab/alloc.hpp"

inline void print_counts(const char* section, const perflab::AllocCounts& c) {
  std::printf("%s allocs=%" PRIu64 " frees=%" PRIu64 " bytes_allocated=%" PRIu64
              " bytes_freed=%" PRIu64 " live_bytes=%" PRId64 " peak_live_bytes=%" PRId64 "\n",
              section, c.allocs, c.frees, c.bytes_allocated, c.bytes_freed, c.live_bytes,
              c.peak_live_bytes);
}
