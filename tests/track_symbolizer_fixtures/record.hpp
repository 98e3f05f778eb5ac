// Shared by the fixture objects of track_symbolizer_test: each object gets its
// own copy of record_call_site (static), so the call never leaves the object.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>

// Prints "site LABEL ADDRESS LINE": ADDRESS is the call site of this call (its
// return address minus 1, what the recorder reports), LINE the source line of
// the call. Not inlined, so the return address lies in the caller.
[[gnu::noinline]] static void record_call_site(const char* label, int line) {
  const auto address = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)) - 1;
  std::printf("site %s %#" PRIxPTR " %d\n", label, address, line);
}

// The call and __LINE__ are on one line, the line the symbolizer must report.
#define FIXTURE_RECORD(label) record_call_site(label, __LINE__)
