#include "rpc.hpp"

#include "rpc_plain.hpp"
#include "rpc_pooled.hpp"

namespace eventstore {

std::string_view pool_mode_name(PoolMode mode) noexcept {
  return mode == PoolMode::on ? "on" : "off";
}

void RpcWrite::set(std::string_view stream, std::string_view id, std::string_view type,
                   std::string_view data, std::string_view metadata) {
  texts.clear();
  texts.reserve(stream.size() + id.size() + type.size() + data.size() + metadata.size());
  texts.append(stream).append(id).append(type).append(data).append(metadata);
  // Views only now: appending may have moved the bytes.
  const std::string_view all = texts;
  std::size_t at = 0;
  const auto take = [&](std::size_t size) {
    const std::string_view part = all.substr(at, size);
    at += size;
    return part;
  };
  stream_name = take(stream.size());
  message.id = take(id.size());
  message.type = take(type.size());
  message.data = take(data.size());
  message.metadata = take(metadata.size());
  expected_version.reset();
  result = {};
  error = nullptr;
}

std::unique_ptr<RpcService> make_rpc_service(PoolMode mode, Store& store, Metrics& metrics) {
  if (mode == PoolMode::on) return std::make_unique<PooledRpc>(store, metrics);
  return std::make_unique<PlainRpc>(store, metrics);
}

}  // namespace eventstore
