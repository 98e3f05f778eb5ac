// no_ptrace PROGRAM ARGS...: runs PROGRAM with ptrace refused (EPERM), so the
// command-line tests can see how perflab baseline reports a built-in sampler
// that cannot trace.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "refuse_ptrace.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: no_ptrace PROGRAM [ARGS...]\n");
    return 2;
  }
  if (!perflab::testing::refuse_ptrace()) {
    std::perror("no_ptrace: seccomp");
    return 2;
  }
  ::execvp(argv[1], argv + 1);
  std::fprintf(stderr, "no_ptrace: %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
