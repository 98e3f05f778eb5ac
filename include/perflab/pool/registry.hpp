// PoolRegistry: the named pools of a process, written as OpenMetrics text and
// JSON so a service can expose them. Users include <perflab/pool.hpp>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "perflab/pool/options.hpp"

namespace perflab {

/// A set of named pools. Named ObjectPools and BufferPools join the registry of
/// their options (by default global()) when constructed and leave it when
/// destroyed, so a snapshot never sees a destroyed pool.
/// Thread-safety: all members may be called from any threads at once.
class PoolRegistry {
 public:
  /// One pool, or one size class of a BufferPool: size_class is then the
  /// block size in bytes ("256", "512", ...) or "oversize" for the buffers
  /// that bypassed the pool; empty for an ObjectPool.
  struct Entry {
    std::string pool;
    std::string size_class;
    PoolStats stats;
  };
  /// Appends the current entries of one pool; called under the registry lock.
  using Source = std::function<void(std::vector<Entry>&)>;

  /// The process-wide registry. Never destroyed, so pools with static storage
  /// duration may leave it at any point of shutdown.
  static PoolRegistry& global();

  PoolRegistry() = default;
  PoolRegistry(const PoolRegistry&) = delete;
  PoolRegistry& operator=(const PoolRegistry&) = delete;

  /// Adds a source; returns an id for remove(). Ids are never 0.
  std::uint64_t add(Source source);
  /// Removes a source; waits for a snapshot that is calling it. Unknown ids are ignored.
  void remove(std::uint64_t id) noexcept;

  /// Current stats of every pool, in the order the pools were added.
  std::vector<Entry> snapshot() const;
  /// snapshot() as OpenMetrics text exposition (ends with "# EOF").
  std::string openmetrics() const { return format_openmetrics(snapshot()); }
  /// snapshot() as a JSON object: {"pools":[{"name":..,"size_class":..,"gets":..}, ...]}.
  std::string json() const { return format_json(snapshot()); }

  static std::string format_openmetrics(const std::vector<Entry>& entries);
  static std::string format_json(const std::vector<Entry>& entries);

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Source> sources_;
  std::uint64_t next_id_ = 1;
};

}  // namespace perflab
