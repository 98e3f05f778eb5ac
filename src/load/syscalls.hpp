// The system calls of the load generator's request path, behind one table so
// tests can inject short writes, resets and errors without a special server.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>

namespace perflab::load_detail {

struct Syscalls {
  ssize_t (*read)(int fd, void* buffer, std::size_t length);
  ssize_t (*write)(int fd, const void* buffer, std::size_t length);  // never raises SIGPIPE
  int (*connect)(int fd, const sockaddr* address, socklen_t length);
};

/// The real ones: read, send(MSG_NOSIGNAL) and connect.
const Syscalls& real_syscalls() noexcept;

/// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
inline std::int64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace perflab::load_detail
