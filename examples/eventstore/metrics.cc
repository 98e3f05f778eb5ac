#include "metrics.hpp"

#include <cstdio>
#include <perflab/pool.hpp>
#include <string_view>

#include "store.hpp"

namespace eventstore {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += "\n# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view label_value, std::uint64_t value) {
  out += name;
  if (!label.empty()) {
    // Label values here are method names and error codes: nothing to escape.
    out += '{';
    out += label;
    out += "=\"";
    out += label_value;
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void seconds_sample(std::string& out, std::string_view name, double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, " %.9g\n", seconds);
  out += name;
  out += text;
}

}  // namespace

std::string Metrics::openmetrics() const {
  std::string out = perflab::PoolRegistry::global().openmetrics();
  constexpr std::string_view kEof = "# EOF\n";
  if (std::string_view(out).ends_with(kEof)) out.resize(out.size() - kEof.size());

  family(out, "eventstore_rpc_requests", "counter",
         "RPC calls by method (other: no known method).");
  for (std::size_t i = 0; i <= kMethodCount; ++i) {
    const auto method = i < kMethodCount ? std::optional(static_cast<Method>(i)) : std::nullopt;
    sample(out, "eventstore_rpc_requests_total", "method",
           method ? method_name(*method) : std::string_view("other"),
           requests_[i].load(std::memory_order_relaxed));
  }
  family(out, "eventstore_errors", "counter", "Error responses by code.");
  for (std::size_t i = 0; i < kErrorCodeCount; ++i)
    sample(out, "eventstore_errors_total", "code", code_name(static_cast<ErrorCode>(i)),
           errors_[i].load(std::memory_order_relaxed));
  family(out, "eventstore_connections_open", "gauge", "HTTP connections open now.");
  const std::int64_t open = open_.load(std::memory_order_relaxed);
  sample(out, "eventstore_connections_open", "", "",
         static_cast<std::uint64_t>(open < 0 ? 0 : open));
  family(out, "eventstore_connections", "counter", "HTTP connections accepted.");
  sample(out, "eventstore_connections_total", "", "", accepted_.load(std::memory_order_relaxed));
  if (store_ != nullptr) {
    const CheckpointStats checkpoints = store_->checkpoint_stats();
    family(out, "eventstore_checkpoints", "counter",
           "WAL checkpoints done (each ends with writes held off while it copies the rest).");
    sample(out, "eventstore_checkpoints_total", "", "", checkpoints.checkpoints);
    family(out, "eventstore_checkpoint_held_seconds", "counter",
           "Time checkpoints kept writes waiting.");
    seconds_sample(out, "eventstore_checkpoint_held_seconds_total",
                   checkpoints.writes_held_seconds);
    family(out, "eventstore_checkpoint_longest_hold_seconds", "gauge",
           "The longest time one checkpoint kept writes waiting.");
    seconds_sample(out, "eventstore_checkpoint_longest_hold_seconds",
                   checkpoints.longest_hold_seconds);
  }
  out += kEof;
  return out;
}

}  // namespace eventstore
