// perflab: everything a service or benchmark includes, in one header.
// Each component's header documents its own API.
#pragma once

#include "perflab/histogram.hpp"  // HDR latency histogram and interval logs
#include "perflab/pool.hpp"       // ObjectPool, BufferPool, PoolRegistry
#include "perflab/profile.hpp"    // the profile directory: model, writer, readers
#include "perflab/version.hpp"    // perflab::kVersion
