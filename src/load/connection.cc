#include "connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "perflab/load.hpp"
#include "syscalls.hpp"

namespace perflab::load_detail {

std::vector<Endpoint> resolve_endpoints(const std::string& host, std::uint16_t port) {
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
  std::vector<Endpoint> endpoints;
  for (const addrinfo* at = found; at != nullptr; at = at->ai_next) {
    Endpoint endpoint;
    std::memcpy(&endpoint.address, at->ai_addr, at->ai_addrlen);
    endpoint.length = at->ai_addrlen;
    char numeric[INET6_ADDRSTRLEN] = "?";
    const void* raw = at->ai_family == AF_INET6
                          ? static_cast<const void*>(
                                &reinterpret_cast<const sockaddr_in6*>(at->ai_addr)->sin6_addr)
                          : static_cast<const void*>(
                                &reinterpret_cast<const sockaddr_in*>(at->ai_addr)->sin_addr);
    inet_ntop(at->ai_family, raw, numeric, sizeof numeric);
    endpoint.description =
        (at->ai_family == AF_INET6 ? "[" + std::string(numeric) + "]" : std::string(numeric)) +
        ":" + service;
    endpoints.push_back(std::move(endpoint));
  }
  freeaddrinfo(found);
  return endpoints;
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

namespace {

// 0 when `endpoint` accepts a connection within `timeout_s`, else the errno.
int try_connect(const Endpoint& endpoint, double timeout_s) {
  bool connected = false;
  const int fd = start_connect(endpoint, real_syscalls(), connected);
  int error = fd < 0 ? errno : 0;
  if (fd >= 0 && !connected) {
    pollfd waiting{fd, POLLOUT, 0};
    const int timeout_ms = static_cast<int>(std::ceil(timeout_s * 1000));
    int ready;
    do {  // a signal (Ctrl-C sets the stop flag) must not read as a failed connect
      ready = poll(&waiting, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    error = ready == 0 ? ETIMEDOUT : ready < 0 ? errno : finish_connect(fd);
  }
  if (fd >= 0) close(fd);
  return error;
}

}  // namespace

Endpoint first_reachable(const std::vector<Endpoint>& endpoints, double timeout_s) {
  std::string failures;
  for (const Endpoint& endpoint : endpoints) {
    const int error = try_connect(endpoint, timeout_s);
    if (error == 0) return endpoint;
    failures +=
        (failures.empty() ? "" : ", ") + endpoint.description + " (" + std::strerror(error) + ")";
  }
  throw LoadError("cannot connect to " + failures + ": is the server running and listening there?");
}

std::uint64_t raise_descriptor_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace perflab::load_detail
