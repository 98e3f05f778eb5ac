#include "syscalls.hpp"

#include <unistd.h>

namespace perflab::load_detail {
namespace {

// send() rather than write(): MSG_NOSIGNAL turns a write to a connection the
// server closed into EPIPE instead of a SIGPIPE that would kill the run.
ssize_t send_no_signal(int fd, const void* buffer, std::size_t length) {
  return ::send(fd, buffer, length, MSG_NOSIGNAL);
}

}  // namespace

const Syscalls& real_syscalls() noexcept {
  static const Syscalls syscalls{&::read, &send_no_signal, &::connect};
  return syscalls;
}

}  // namespace perflab::load_detail
