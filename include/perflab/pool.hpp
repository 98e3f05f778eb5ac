// perflab pool component: the primitives a service uses to stop allocating on
// its hot paths, and the counters that prove it.
//
//   ObjectPool<T, Reset>  reusable objects with per-thread caches  (pool/object_pool.hpp)
//   Pooled<T, Reset>      RAII handle that gives an object back    (pool/object_pool.hpp)
//   BufferPool, Buffer    byte buffers in power-of-two size classes (pool/buffer_pool.hpp)
//   PoolStats, PoolOptions, LeakReport                              (pool/options.hpp)
//   PoolRegistry          named pools as OpenMetrics text and JSON  (pool/registry.hpp)
//
// Link with the CMake target perflab::pool. Quick start:
//
//   perflab::ObjectPool<Row, perflab::ClearReset> rows({.name = "rows"});
//   {
//     auto row = rows.get();      // reuses an idle Row, or constructs one
//     row->fill(...);
//   }                             // clear()ed and kept for the next get()
//   std::string metrics = perflab::PoolRegistry::global().openmetrics();
#pragma once

#include "perflab/pool/buffer_pool.hpp"
#include "perflab/pool/object_pool.hpp"
#include "perflab/pool/options.hpp"
#include "perflab/pool/registry.hpp"
