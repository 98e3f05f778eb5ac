#include "connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "perflab/load.hpp"
#include "syscalls.hpp"

namespace perflab::load_detail {

Endpoint resolve_endpoint(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (error != 0 || found == nullptr) {
    throw LoadError("cannot resolve host \"" + host + "\" (" + gai_strerror(error) +
                    "): check the URL");
  }
  Endpoint endpoint;
  std::memcpy(&endpoint.address, found->ai_addr, found->ai_addrlen);
  endpoint.length = found->ai_addrlen;
  freeaddrinfo(found);
  const bool v6 = endpoint.address.ss_family == AF_INET6;
  endpoint.description = (v6 ? "[" + host + "]" : host) + ":" + service;
  return endpoint;
}

int start_connect(const Endpoint& endpoint, const Syscalls& syscalls, bool& connected) noexcept {
  connected = false;
  const int fd = socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Requests are single writes that must leave at once, not wait for Nagle.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (syscalls.connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) ==
      0) {
    connected = true;
    return fd;
  }
  if (errno == EINPROGRESS) return fd;
  const int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

int finish_connect(int fd) noexcept {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

void check_endpoint_reachable(const Endpoint& endpoint, double timeout_s) {
  bool connected = false;
  const int fd = start_connect(endpoint, real_syscalls(), connected);
  int error = fd < 0 ? errno : 0;
  if (fd >= 0 && !connected) {
    pollfd waiting{fd, POLLOUT, 0};
    const int timeout_ms = static_cast<int>(std::ceil(timeout_s * 1000));
    const int ready = poll(&waiting, 1, timeout_ms);
    error = ready == 0 ? ETIMEDOUT : ready < 0 ? errno : finish_connect(fd);
  }
  if (fd >= 0) close(fd);
  if (error != 0) {
    throw LoadError("cannot connect to " + endpoint.description + " (" + std::strerror(error) +
                    "): is the server running and listening there?");
  }
}

}  // namespace perflab::load_detail
