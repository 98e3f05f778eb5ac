#include "rpc.hpp"

#include "rpc_plain.hpp"
#include "rpc_pooled.hpp"

namespace eventstore {

std::string_view pool_mode_name(PoolMode mode) noexcept {
  return mode == PoolMode::on ? "on" : "off";
}

std::unique_ptr<RpcService> make_rpc_service(PoolMode mode, Store& store, Metrics& metrics) {
  if (mode == PoolMode::on) return std::make_unique<PooledRpc>(store, metrics);
  return std::make_unique<PlainRpc>(store, metrics);
}

}  // namespace eventstore
