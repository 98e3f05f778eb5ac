// The server's threads and the connections they own. Each Worker is one
// thread running its own io_context; a connection lives on one worker for its
// whole life, so nothing about a connection is ever shared between threads
// and no strand is needed. A worker sweeps its connections once a second:
// one past its deadline (idle, or slow to send a request or take a response)
// is closed, so a slow client never pins a connection. When the server
// stops, each worker closes its idle connections at once, lets busy ones
// finish the request in hand, and closes what is left after a grace period.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "handler_memory.hpp"

namespace eventstore {

namespace net = boost::asio;
using tcp = net::ip::tcp;
/// A socket bound to its worker's io_context by type: no type-erased
/// executor on the I/O path.
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

class Metrics;

/// Limits every connection obeys.
struct HttpLimits {
  std::size_t max_body = 1024 * 1024;    // larger bodies get 413
  std::uint32_t max_header = 16 * 1024;  // larger headers get 431
  unsigned timeout_seconds = 30;         // idle keep-alive, and each read or write of a request
  unsigned linger_seconds = 2;           // draining a client's unread bytes after an error response
  unsigned shutdown_grace_seconds = 10;  // for requests in flight when the server stops
};

class Connection;

/// Work another thread hands to a worker (Worker::deliver): intrusive, so
/// handing it over allocates nothing.
class WorkerTask {
 public:
  /// Runs on the worker's thread.
  virtual void run() = 0;

 protected:
  virtual ~WorkerTask() = default;

 private:
  friend class Worker;
  WorkerTask* next_task_ = nullptr;
};

/// One server thread. Thread-safety: stop() may be called from any thread;
/// everything else runs on the worker's own thread.
class Worker {
 public:
  Worker(const HttpLimits& limits, Metrics& metrics);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  net::io_context& context() noexcept { return context_; }
  const HttpLimits& limits() const noexcept { return limits_; }
  Metrics& metrics() noexcept { return metrics_; }

  /// Runs the event loop on the calling thread until stop() has been called
  /// and every connection has closed. An exception escaping a handler is
  /// reported on stderr and the loop goes on.
  void run();

  /// Begins a graceful stop (see the file comment). Any thread; idempotent.
  void stop();

  bool stopping() const noexcept { return stopping_; }
  /// Seconds since the worker started, advanced by the sweep.
  std::uint64_t now() const noexcept { return ticks_; }

  /// Runs task.run() on this worker's thread soon. Any thread. `task` must
  /// stay alive until it has run. Tasks delivered while the worker is busy
  /// run together: one wake-up of the worker for all of them.
  void deliver(WorkerTask& task);

  /// Scratch memory for draining bytes nobody will read.
  net::mutable_buffer scratch() noexcept { return net::buffer(scratch_); }

 private:
  friend class Connection;
  void attach(Connection& connection) noexcept;
  void detach(Connection& connection) noexcept;
  void arm_sweep();
  void sweep();
  void begin_stop();
  void run_delivered();

  const HttpLimits limits_;
  Metrics& metrics_;
  net::io_context context_{1};
  net::steady_timer timer_{context_};
  Connection* connections_ = nullptr;  // intrusive list, this thread only
  std::uint64_t ticks_ = 0;
  std::uint64_t stop_deadline_ = 0;
  bool stopping_ = false;
  std::mutex inbox_mutex_;
  WorkerTask* inbox_head_ = nullptr;  // guarded by inbox_mutex_
  WorkerTask* inbox_tail_ = nullptr;  // guarded by inbox_mutex_
  bool inbox_posted_ = false;         // a run_delivered() is on its way; guarded by inbox_mutex_
  HandlerMemory inbox_memory_;        // for that one post: used by one at a time
  char scratch_[16 * 1024];
};

/// One accepted connection, owned by itself: it deletes itself (end()) when
/// its chain of I/O ends. Subclasses implement the HTTP exchange and keep
/// exactly one operation pending on the socket at any time, so that
/// close_socket() always completes that operation and ends the chain.
class Connection {
 public:
  Connection(Socket socket, Worker& worker);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Starts reading the first request.
  virtual void start() = 0;

 protected:
  const HttpLimits& limits() const noexcept { return worker_.limits(); }
  Metrics& metrics() noexcept { return worker_.metrics(); }
  bool stopping() const noexcept { return worker_.stopping(); }

  /// The sweep closes the connection once `seconds` have passed (rounded up
  /// to the sweep's one-second ticks) unless this is called again before.
  void expire_in(unsigned seconds) noexcept { deadline_ = worker_.now() + seconds + 1; }

  /// Marks the wait for the first byte of a request: a stopping server may
  /// close the connection during it (when request_started() says nothing came).
  void set_awaiting_request(bool awaiting) noexcept { awaiting_request_ = awaiting; }
  /// True when bytes of the next request have arrived.
  virtual bool request_started() const noexcept = 0;

  /// Cancels the pending operation; its handler then ends the connection.
  void close_socket() noexcept;
  /// After a final response whose request was not read in full: stop sending,
  /// read and discard what the client still sends (for at most
  /// linger_seconds) so the response is not lost to a reset, then end.
  void linger_close();
  /// What both sessions do once a response is written (`error`: the write's
  /// outcome): end on an error, linger after a final response, close when
  /// the client or a stopping server wants it, else read the next request
  /// (start()). The caller returns at once.
  void after_response(const boost::system::error_code& error, bool keep_alive, bool linger);
  /// Deletes this connection. Precondition: no operation is pending; the
  /// caller returns at once.
  void end() noexcept { delete this; }

  Socket socket_;
  Worker& worker_;

 private:
  friend class Worker;
  void drain();

  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  std::uint64_t deadline_ = 0;
  bool awaiting_request_ = false;
};

}  // namespace eventstore
