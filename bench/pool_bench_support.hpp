// What the pool benchmarks share: the object they pool and the pool settings.
#pragma once

#include "perflab/pool.hpp"

namespace perflab::bench {

// A typical small request object: 64 bytes.
struct Request {
  char bytes[64];
};

// Default caps, and no site tracking (a debugging aid that turns caches off).
inline PoolOptions bench_pool_options() {
  PoolOptions options;
  options.track_sites = false;
  return options;
}

}  // namespace perflab::bench
