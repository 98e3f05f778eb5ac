// --pool=off: the RPC layer written the way a typical service is. The body is
// parsed into an nlohmann::ordered_json document, rows are copied into a
// std::vector of message structs with std::string fields, and the response is
// built as a JSON document and dumped into a std::string. Allocates freely;
// it is the baseline the pooled mode is measured against.
#pragma once

#include <string>

#include "rpc.hpp"

namespace eventstore {

class PlainRpc final : public RpcService {
 public:
  /// `store` and `metrics` must outlive this object.
  PlainRpc(Store& store, Metrics& metrics) noexcept : store_(store), metrics_(metrics) {}

  PoolMode mode() const noexcept override { return PoolMode::off; }
  RpcReply call(std::string_view body) override;
  RpcReply error_reply(const RpcError& error) override;

  /// Starts one request body: the JSON response goes to `out` (replacing it)
  /// and its HTTP status is returned, or, for a stream.write, `write` goes to
  /// the store and kReplyPending is returned: once write.on_written() has
  /// been called, finish_write() makes the reply. Never throws (an unexpected
  /// exception is a 500 INTERNAL reply). Thread-safe.
  unsigned begin(const std::string& body, std::string& out, RpcWrite& write) noexcept;

  /// The reply to a stream.write that begin() left pending, into `out`;
  /// returns its status. Never throws.
  unsigned finish_write(const RpcWrite& write, std::string& out) noexcept;

  /// begin() and, for a write, a wait and finish_write() (tests, call()).
  unsigned handle(const std::string& body, std::string& out) noexcept;

  /// The same with a write the caller keeps and reuses, as a connection does.
  unsigned handle(const std::string& body, std::string& out, BlockingRpcWrite& write) noexcept;

  /// Writes the error body to `out`, counts it, returns its status.
  unsigned render_error(const RpcError& error, std::string& out) noexcept;

 private:
  Store& store_;
  Metrics& metrics_;
};

}  // namespace eventstore
