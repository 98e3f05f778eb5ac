// The HTTP server: an acceptor and N worker threads (connection.hpp), with
// the HTTP exchange itself left to a SessionFactory (sessions.hpp: the plain
// and the pooled one).
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connection.hpp"

namespace eventstore {

/// Serves accepted connections. Implementations: PlainSessions, PooledSessions.
class SessionFactory {
 public:
  /// Starts the HTTP exchange on `socket`. Called on `worker`'s thread.
  virtual void start_session(Socket socket, Worker& worker) = 0;

 protected:
  ~SessionFactory() = default;
};

struct ServerOptions {
  std::string bind = "127.0.0.1";  // an IPv4 or IPv6 address
  std::uint16_t port = 0;          // 0: an ephemeral port (see local_endpoint())
  unsigned threads = 2;            // worker threads, >= 1
  HttpLimits limits;
};

/// Accepts connections on one address and hands them to the workers in turn.
/// Thread-safety: stop() from any thread; the rest from the owning thread.
class HttpServer {
 public:
  /// Binds and listens. Throws std::system_error (address in use, bad
  /// address, ...) or std::invalid_argument (threads == 0). `sessions` and
  /// `metrics` must outlive the server.
  HttpServer(const ServerOptions& options, SessionFactory& sessions, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound address and port.
  tcp::endpoint local_endpoint() const { return endpoint_; }

  /// Serves on options.threads threads (the calling one included) until
  /// stop(), then returns once requests in flight are
  /// answered and every connection is closed (at most the shutdown grace
  /// period later).
  void run();

  /// Stops accepting and begins the graceful stop of every worker.
  /// Idempotent; may be called before or during run().
  void stop();

 private:
  void accept();
  void close_listener();

  SessionFactory& sessions_;
  std::vector<std::unique_ptr<Worker>> workers_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;  // backs off after an accept error (EMFILE, ...)
  tcp::endpoint endpoint_;
  std::size_t next_worker_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace eventstore
