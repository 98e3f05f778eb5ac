// The server's own counters, exposed at GET /metrics as OpenMetrics text
// beside the pools of perflab::PoolRegistry::global().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "errors.hpp"
#include "request.hpp"

namespace eventstore {

class Store;

/// Requests by method, error responses by code, connections open and
/// accepted, and the store's checkpoints. Thread-safety: every member may be
/// called from any threads at once; counting is a relaxed atomic add, never a
/// lock.
class Metrics {
 public:
  /// `store`, when given, must outlive this; its checkpoints are exposed too.
  explicit Metrics(const Store* store = nullptr) noexcept : store_(store) {}

  /// One RPC call; nullopt when the body named no known method.
  void count_request(std::optional<Method> method) noexcept {
    requests_[method ? static_cast<std::size_t>(*method) : kMethodCount].fetch_add(
        1, std::memory_order_relaxed);
  }
  /// One error response (RPC or HTTP level).
  void count_error(ErrorCode code) noexcept {
    errors_[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  }
  void connection_opened() noexcept {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    open_.fetch_add(1, std::memory_order_relaxed);
  }
  void connection_closed() noexcept { open_.fetch_sub(1, std::memory_order_relaxed); }

  std::uint64_t requests(std::optional<Method> method) const noexcept {
    return requests_[method ? static_cast<std::size_t>(*method) : kMethodCount].load(
        std::memory_order_relaxed);
  }
  std::uint64_t errors(ErrorCode code) const noexcept {
    return errors_[static_cast<std::size_t>(code)].load(std::memory_order_relaxed);
  }
  std::int64_t connections_open() const noexcept { return open_.load(std::memory_order_relaxed); }

  /// The OpenMetrics exposition of GET /metrics: the global pool registry's
  /// families, then eventstore_rpc_requests_total{method},
  /// eventstore_errors_total{code}, eventstore_connections_open,
  /// eventstore_connections_total and, with a store,
  /// eventstore_checkpoints_total, eventstore_checkpoint_held_seconds_total
  /// and eventstore_checkpoint_longest_hold_seconds (how long checkpoints
  /// kept writes waiting); ends with "# EOF\n". Takes the registry's lock;
  /// not for hot paths.
  std::string openmetrics() const;

  static constexpr const char* kContentType =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";

 private:
  const Store* store_;
  // Index kMethodCount counts bodies without a known method.
  std::array<std::atomic<std::uint64_t>, kMethodCount + 1> requests_{};
  std::array<std::atomic<std::uint64_t>, kErrorCodeCount> errors_{};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::int64_t> open_{0};
};

}  // namespace eventstore
