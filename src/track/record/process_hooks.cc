// exec and _exit end a process image without running its destructors: the
// recorder writes its dump first, then lets the call proceed. glibc's execl*,
// execv and execvp reach the kernel through internal calls, not through
// execve, so each entry point is wrapped here.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>

#include "recorder.hpp"

namespace {

constexpr int kMaxListArgs = 4096;

// Collects execl-style variadic arguments (up to the terminating null).
bool collect_args(const char* first, va_list& args, char** out) noexcept {
  int n = 0;
  out[n++] = const_cast<char*>(first);
  while (n < kMaxListArgs) {
    char* next = va_arg(args, char*);
    out[n++] = next;
    if (next == nullptr) return true;
  }
  errno = E2BIG;
  return false;
}

}  // namespace

using namespace perflab::track::record;

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) {
  dump_before_exec();
  return real_execve(path, argv, envp);
}

int execv(const char* path, char* const argv[]) {
  dump_before_exec();
  return real_execve(path, argv, environ);
}

int execvpe(const char* file, char* const argv[], char* const envp[]) {
  dump_before_exec();
  return real_execvpe(file, argv, envp);
}

int execvp(const char* file, char* const argv[]) {
  dump_before_exec();
  return real_execvpe(file, argv, environ);
}

int fexecve(int fd, char* const argv[], char* const envp[]) {
  dump_before_exec();
  return real_fexecve(fd, argv, envp);
}

int execl(const char* path, const char* arg, ...) {
  char* argv[kMaxListArgs];
  va_list args;
  va_start(args, arg);
  const bool ok = collect_args(arg, args, argv);
  va_end(args);
  return ok ? execv(path, argv) : -1;
}

int execlp(const char* file, const char* arg, ...) {
  char* argv[kMaxListArgs];
  va_list args;
  va_start(args, arg);
  const bool ok = collect_args(arg, args, argv);
  va_end(args);
  return ok ? execvp(file, argv) : -1;
}

int execle(const char* path, const char* arg, ...) {
  char* argv[kMaxListArgs];
  va_list args;
  va_start(args, arg);
  const bool ok = collect_args(arg, args, argv);
  char* const* envp = ok ? va_arg(args, char* const*) : nullptr;
  va_end(args);
  return ok ? execve(path, argv, envp) : -1;
}

int dlclose(void* handle) {
  remember_maps_before_unload();
  return real_dlclose(handle);
}

__attribute__((noreturn)) void _exit(int status) {
  dump_before_quick_exit();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

__attribute__((noreturn)) void _Exit(int status) { _exit(status); }

}  // extern "C"
