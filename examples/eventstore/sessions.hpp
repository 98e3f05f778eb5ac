// The two HTTP sessions, one per pool mode, behind the SessionFactory the
// server calls for each accepted connection. Both speak the same HTTP:
// keep-alive, Expect: 100-continue, 413 above --max-body (answered before
// the body is read), 431 above the header limit, 400 for bytes that are not
// HTTP (each of these three closes the connection after the answer), 404/405
// for other paths and methods (the connection stays open), and
// "Connection: close" on responses once the server is stopping.
#pragma once

#include "http_server.hpp"

namespace eventstore {

class PlainRpc;
class PooledRpc;

/// --pool=off: a request<string_body> parsed per request, a response built
/// per request and written with http::async_write (Beast's own examples'
/// way).
class PlainSessions final : public SessionFactory {
 public:
  /// `rpc` must outlive every session.
  explicit PlainSessions(PlainRpc& rpc) noexcept : rpc_(rpc) {}
  void start_session(Socket socket, Worker& worker) override;

 private:
  PlainRpc& rpc_;
};

/// --pool=on: per connection, one read buffer, a header-field arena and the
/// parser, response and serializer storage, all reused; bodies in pooled
/// buffers, responses sent from the buffer the RPC layer wrote.
class PooledSessions final : public SessionFactory {
 public:
  /// `rpc` must outlive every session.
  explicit PooledSessions(PooledRpc& rpc) noexcept : rpc_(rpc) {}
  void start_session(Socket socket, Worker& worker) override;

 private:
  PooledRpc& rpc_;
};

}  // namespace eventstore
