// Per-thread state of the recorder. Initial-exec TLS, zero-initialized: a
// read is one %fs-relative load, with no TLS init call that could allocate.
#pragma once

#include <cstdint>

#include "recorder.hpp"

#pragma GCC visibility push(hidden)

namespace perflab::track::record {

#define PERFLAB_TLS __thread __attribute__((tls_model("initial-exec")))

// One TLS block, so the fast paths pay one GOT load for all of it.
struct ThreadState {
  ThreadTable* table;  // this thread's table, once it has allocated
  void* last_alloc;    // for "temporary": freed before the next allocation
  int guard;           // > 0 while the recorder itself runs
  bool exited;         // the thread's table was handed back
  std::uintptr_t stack_low, stack_high;
};
extern PERFLAB_TLS ThreadState tls;

// Marks the recorder's own work so the allocations it causes are not recorded
// as the program's (they still get headers, attributed to "no stack").
class RecursionGuard {
 public:
  RecursionGuard() noexcept { ++tls.guard; }
  ~RecursionGuard() { --tls.guard; }
  RecursionGuard(const RecursionGuard&) = delete;
  RecursionGuard& operator=(const RecursionGuard&) = delete;
};

}  // namespace perflab::track::record

#pragma GCC visibility pop
