// http_get(): one small GET with a deadline, for what a run asks of a server
// besides its load (its /metrics before and after each repetition). Blocking
// and simple on purpose; the responses are parsed by http-parser, as the
// load's are, so chunked bodies and keep-alive quirks are handled the same.
#include <http_parser.h>
#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "perflab/load.hpp"

namespace perflab {
namespace {

using Clock = std::chrono::steady_clock;

class Socket {
 public:
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

struct GetParse {
  HttpGetResult* result = nullptr;
  std::size_t max_body = 0;
  std::string header_field;
  bool in_content_type = false;
  bool last_was_value = false;
  bool complete = false;
  bool too_large = false;
};

GetParse& state_of(http_parser* parser) { return *static_cast<GetParse*>(parser->data); }

// A field or value may arrive in pieces; a field piece after a value starts
// the next header.
int on_header_field(http_parser* parser, const char* at, std::size_t length) {
  GetParse& s = state_of(parser);
  if (s.last_was_value) s.header_field.clear();
  s.last_was_value = false;
  s.header_field.append(at, length);
  return 0;
}

int on_header_value(http_parser* parser, const char* at, std::size_t length) {
  GetParse& s = state_of(parser);
  if (!s.last_was_value) {
    s.in_content_type = strcasecmp(s.header_field.c_str(), "content-type") == 0;
    if (s.in_content_type) s.result->content_type.clear();
  }
  s.last_was_value = true;
  if (s.in_content_type) s.result->content_type.append(at, length);
  return 0;
}

int on_body(http_parser* parser, const char* at, std::size_t length) {
  GetParse& s = state_of(parser);
  if (s.result->body.size() + length > s.max_body) {
    s.too_large = true;
    return 1;
  }
  s.result->body.append(at, length);
  return 0;
}

int on_message_complete(http_parser* parser) {
  state_of(parser).complete = true;
  return 0;
}

// Milliseconds left before `deadline`, at least 0, for poll().
int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Connects to one of the host's addresses before `deadline`; -1 when none accepts.
int connect_before(const HttpUrl& url, Clock::time_point deadline, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    why = std::string("the host does not resolve (") + ::gai_strerror(rc) + ")";
    return -1;
  }
  int connected = -1;
  why = "no address";
  for (addrinfo* a = found; a != nullptr && connected < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) == 1) {
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
        rc = error == 0 ? 0 : -1;
        errno = error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      connected = fd;
    } else {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  return connected;
}

}  // namespace

HttpGetResult http_get(const HttpUrl& url, double timeout_s, std::size_t max_body_bytes) {
  const std::string name = "http://" + url.host_header + url.target;
  const auto fail = [&](const std::string& why) { throw LoadError("GET " + name + ": " + why); };
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeout_s > 0 ? timeout_s : 0));
  std::string why;
  const int fd = connect_before(url, deadline, why);
  if (fd < 0) fail("cannot connect: " + why);
  Socket socket(fd);

  const std::string request = "GET " + url.target + " HTTP/1.1\r\nHost: " + url.host_header +
                              "\r\nConnection: close\r\nUser-Agent: perflab\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      fail(std::string("send: ") + std::strerror(errno));
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) fail("timed out sending the request");
  }

  HttpGetResult result;
  GetParse state;
  state.result = &result;
  state.max_body = max_body_bytes;
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &state;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_header_field = &on_header_field;
  settings.on_header_value = &on_header_value;
  settings.on_body = &on_body;
  settings.on_message_complete = &on_message_complete;

  char chunk[16384];
  while (!state.complete) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) {
      fail("no complete response within " + std::to_string(timeout_s) + " s");
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail(std::string("recv: ") + std::strerror(errno));
    }
    // n == 0 feeds EOF, which completes a response delimited by the close.
    const std::size_t length = static_cast<std::size_t>(n);
    const std::size_t parsed = http_parser_execute(&parser, &settings, chunk, length);
    if (state.too_large) {
      fail("the body is larger than " + std::to_string(max_body_bytes) + " bytes");
    }
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || parsed != length) {
      fail(std::string("not a valid HTTP response (") +
           http_errno_name(HTTP_PARSER_ERRNO(&parser)) + ")");
    }
    if (n == 0 && !state.complete) fail("the connection closed before the response was complete");
  }
  result.status = static_cast<int>(parser.status_code);
  return result;
}

}  // namespace perflab
