// One keep-alive connection of a load thread, and the socket calls that open
// it without blocking.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http_response.hpp"

namespace perflab::load_detail {

struct Syscalls;

/// Where a load connects: one resolved address.
struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string description;  // "127.0.0.1:8080" for messages
};

/// Resolves host and port (numeric or by name) to every address it has, in
/// the resolver's order. Throws LoadError naming the host when it does not resolve.
std::vector<Endpoint> resolve_endpoints(const std::string& host, std::uint16_t port);

/// The first of `endpoints` that accepts a connection (each tried once,
/// blocking for at most `timeout_s`; "localhost" may be ::1 first while the
/// server listens on 127.0.0.1). Throws LoadError ("cannot connect to ...
/// (Connection refused): is the server running ...") when none does, so a run
/// against nothing fails at once with a clear message.
Endpoint first_reachable(const std::vector<Endpoint>& endpoints, double timeout_s);

/// Raises the soft limit of open files to the hard limit (a load generator
/// needs one per connection). Returns the new soft limit.
std::uint64_t raise_descriptor_limit() noexcept;

struct Connection {
  enum class State : std::uint8_t {
    kDown,        // no socket; reconnect at reconnect_at_ns
    kConnecting,  // non-blocking connect in progress
    kIdle,        // connected, no request in flight
    kSending,     // request partly written, waiting for EPOLLOUT
    kAwaiting,    // request written, waiting for the response
  };

  int fd = -1;
  State state = State::kDown;
  bool wants_write = false;          // EPOLLOUT is registered
  bool queued_idle = false;          // listed in the thread's idle list (open loop)
  bool queued_reconnect = false;     // listed for a reconnect after this round of events
  bool answered = false;             // a response arrived since this connection was opened
  std::uint16_t kind = 0;            // the request in flight: index into the plan
  std::uint32_t id = 0;              // connection index over the run ({conn})
  int connect_failures = 0;          // consecutive, for the reconnect backoff
  std::int64_t due_ns = 0;           // when the request in flight was due (open loop)
  std::int64_t sent_ns = 0;          // when it was written
  std::int64_t deadline_ns = 0;      // connect or response timeout
  std::int64_t reconnect_at_ns = 0;  // kDown: when to try again
  const char* out = nullptr;         // the request being written
  std::size_t out_length = 0;
  std::size_t out_sent = 0;
  std::unique_ptr<char[]> out_buffer;  // rendered requests (templated ones only)
  ResponseParser parser;

  bool in_flight() const noexcept { return state == State::kSending || state == State::kAwaiting; }
};

/// Opens a non-blocking TCP socket (TCP_NODELAY) and starts connecting.
/// Returns the fd and sets `connected` when the connect completed at once;
/// returns -1 with errno set when it failed at once.
int start_connect(const Endpoint& endpoint, const Syscalls& syscalls, bool& connected) noexcept;

/// After EPOLLOUT on a connecting socket: 0 when connected, else the errno.
int finish_connect(int fd) noexcept;

}  // namespace perflab::load_detail
