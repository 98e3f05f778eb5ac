// The shared library the fixture program links (DT_NEEDED).
#pragma once

namespace fixturelib {

class Builder {
 public:
  static long build(long parts, const char* name);
};

// Sorts with libc's qsort, whose comparator records its return address: a
// call site inside libc.
void sort_with_libc();

}  // namespace fixturelib

extern "C" int fixturelib_c_function(int value);
// The address of libc's qsort, taken here (PIC code reads the GOT) rather than
// in the executable, where a non-PIE build would give its own PLT stub.
extern "C" void* fixturelib_qsort_address();
