// The RPC layer: one POST /rpc body in, one JSON response out. Two
// implementations with the same semantics: PlainRpc (rpc_plain.hpp; --pool=off,
// the way a typical service is written) and PooledRpc (rpc_pooled.hpp;
// --pool=on, no heap allocation per request in steady state). The HTTP
// sessions call their fast paths directly; this interface is what both share
// and what tests drive.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "errors.hpp"
#include "store.hpp"

namespace eventstore {

class Store;
class Metrics;

enum class PoolMode { off, on };

/// "off" or "on".
std::string_view pool_mode_name(PoolMode mode) noexcept;

/// begin()'s status when the reply waits for a stream.write: the store calls
/// the RpcWrite's on_written() later, and finish_write() makes the reply.
inline constexpr unsigned kReplyPending = 0;

/// A stream.write between the RPC layer and the store. Whoever serves the
/// request owns it (an HTTP connection has one request in flight, so it keeps
/// one and reuses it) and implements on_written(); the write's views point
/// into `texts`, which lives here until the reply is made.
class RpcWrite : public AsyncWrite {
 public:
  std::string texts;

  /// Starts a new write: copies its strings into `texts` (reusing its
  /// capacity), points the write at them, and clears the expected version
  /// and the previous outcome. Fields not given are empty.
  void set(std::string_view stream, std::string_view id, std::string_view type,
           std::string_view data, std::string_view metadata);

 protected:
  ~RpcWrite() = default;
};

/// An RpcWrite for a caller that waits for it (RpcService::call, tests).
class BlockingRpcWrite final : public RpcWrite {
 public:
  void on_written() noexcept override { waiter.notify(); }
  WriteWaiter waiter;
};

/// begin(), and for a stream.write a wait and finish_write(), on either
/// mode's RPC layer: for callers with nothing else to do meanwhile.
template <class Rpc, class Body, class Out>
unsigned handle_and_wait(Rpc& rpc, Body& body, Out& out, BlockingRpcWrite& write) noexcept {
  const unsigned status = rpc.begin(body, out, write);
  if (status != kReplyPending) return status;
  write.waiter.wait();
  return rpc.finish_write(write, out);
}

/// An HTTP status and a JSON body.
struct RpcReply {
  unsigned status = 200;
  std::string body;
};

/// Serves the API (see README.md): a body ["method", args..., {options}?] gets
/// 200 and the method's result, or an error status and
/// {"error": {"code", "message", "details"?}}. Never throws for a bad request
/// or a store failure: those are error replies (INTERNAL for the database).
/// Thread-safety: call() and the implementations' handle() may run on any
/// number of threads at once.
class RpcService {
 public:
  virtual ~RpcService() = default;

  virtual PoolMode mode() const noexcept = 0;

  /// Handles one request body. Copies the body in and the reply out, which
  /// the HTTP path does not do; for tests and tools.
  virtual RpcReply call(std::string_view body) = 0;

  /// The reply for an HTTP-level error (404, 405, 413, ...) in this mode's
  /// encoding; counts it in the metrics.
  virtual RpcReply error_reply(const RpcError& error) = 0;
};

/// The implementation of `mode` over `store`, counting into `metrics`. Both
/// must outlive it.
std::unique_ptr<RpcService> make_rpc_service(PoolMode mode, Store& store, Metrics& metrics);

}  // namespace eventstore
