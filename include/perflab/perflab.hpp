// perflab: everything a service or benchmark includes, in one header.
// Each component's header documents its own API.
#pragma once

#include "perflab/drive.hpp"      // drive(): a function at a rate, latency from due time
#include "perflab/histogram.hpp"  // HDR latency histogram and interval logs
#include "perflab/load.hpp"       // run_load(): the HTTP load generator
#include "perflab/pool.hpp"       // ObjectPool, BufferPool, PoolRegistry
#include "perflab/profile.hpp"    // the profile directory: model, writer, readers
#include "perflab/version.hpp"    // perflab::kVersion
