// Per-thread state of the recorder. Initial-exec TLS, zero-initialized: a
// read is one %fs-relative load, with no TLS init call that could allocate.
#pragma once

#include <cstdint>

#include "recorder.hpp"

#pragma GCC visibility push(hidden)

namespace perflab::track::record {

#define PERFLAB_TLS __thread __attribute__((tls_model("initial-exec")))

extern PERFLAB_TLS ThreadTable* tls_table;
extern PERFLAB_TLS int tls_guard;         // > 0 while the recorder itself runs
extern PERFLAB_TLS bool tls_exited;       // the thread's table was handed back
extern PERFLAB_TLS void* tls_last_alloc;  // for "temporary": freed before the next allocation
extern PERFLAB_TLS std::uintptr_t tls_stack_low, tls_stack_high;

// Marks the recorder's own work so the allocations it causes are not recorded
// as the program's (they still get headers, attributed to "no stack").
class RecursionGuard {
 public:
  RecursionGuard() noexcept { ++tls_guard; }
  ~RecursionGuard() { --tls_guard; }
  RecursionGuard(const RecursionGuard&) = delete;
  RecursionGuard& operator=(const RecursionGuard&) = delete;
};

}  // namespace perflab::track::record

#pragma GCC visibility pop
