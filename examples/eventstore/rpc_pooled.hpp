// --pool=on: the RPC layer with the same semantics as PlainRpc and no heap
// allocation per request in steady state. Request bodies arrive in pooled
// buffers ("eventstore.request_bodies") padded for simdjson; they are decoded
// with On-Demand parsers taken from a pool ("eventstore.parsers"); rows go from
// the store's MessageSink straight into a JsonWriter over a pooled response
// buffer ("eventstore.responses"), which the HTTP session sends as it is.
// data and metadata are stored and returned as the client's JSON text,
// verbatim.
#pragma once

#include <memory>
#include <perflab/pool.hpp>
#include <string>

#include "rpc.hpp"

namespace eventstore {

class PooledRpc final : public RpcService {
 public:
  /// `store` and `metrics` must outlive this object; so must the pools' users:
  /// every Buffer taken from request_bodies() and responses() goes back
  /// before it is destroyed. Registers the three pools in
  /// perflab::PoolRegistry::global() (a second PooledRpc in the process
  /// registers a second set under the same names).
  PooledRpc(Store& store, Metrics& metrics);
  ~PooledRpc() override;

  PoolMode mode() const noexcept override { return PoolMode::on; }
  RpcReply call(std::string_view body) override;
  RpcReply error_reply(const RpcError& error) override;

  /// Starts one request body: the JSON response is written to `out`
  /// (cleared first) and its HTTP status returned, or, for a stream.write,
  /// `write` goes to the store and kReplyPending is returned: once
  /// write.on_written() has been called, finish_write() makes the reply. The
  /// body must have kJsonPadding (bodies.hpp) bytes of capacity beyond its
  /// size; when it has not, it is grown. Never throws. Thread-safe.
  unsigned begin(perflab::Buffer& body, perflab::Buffer& out, RpcWrite& write) noexcept;

  /// The reply to a stream.write that begin() left pending, into `out`
  /// (cleared first); returns its status. Never throws.
  unsigned finish_write(const RpcWrite& write, perflab::Buffer& out) noexcept;

  /// begin() and, for a write, a wait and finish_write(): for callers with
  /// nothing else to do meanwhile (tests, call()).
  unsigned handle(perflab::Buffer& body, perflab::Buffer& out) noexcept;

  /// The same with a write the caller keeps and reuses, as a connection does.
  unsigned handle(perflab::Buffer& body, perflab::Buffer& out, BlockingRpcWrite& write) noexcept;

  /// Writes the error body to `out` (cleared first), counts it, returns its status.
  unsigned render_error(const RpcError& error, perflab::Buffer& out) noexcept;

  /// Where request bodies are read into.
  perflab::BufferPool& request_bodies() noexcept { return request_bodies_; }
  /// Where responses are written.
  perflab::BufferPool& responses() noexcept { return responses_; }

 private:
  struct Parsers;

  Store& store_;
  Metrics& metrics_;
  perflab::BufferPool request_bodies_;
  perflab::BufferPool responses_;
  std::unique_ptr<Parsers> parsers_;
};

}  // namespace eventstore
