#include "rpc_pooled.hpp"

#include <simdjson.h>

#include <optional>
#include <string>

#include "bodies.hpp"
#include "json_writer.hpp"
#include "metrics.hpp"
#include "pooled_decode.hpp"
#include "request.hpp"
#include "store.hpp"
#include "uuid.hpp"

namespace eventstore {

static_assert(kJsonPadding == simdjson::SIMDJSON_PADDING,
              "bodies.hpp's padding must be simdjson's");

namespace {

namespace od = simdjson::ondemand;

// Parsers start with room for this much JSON, so typical bodies never make
// one reallocate; a larger body grows it once and it stays grown.
constexpr std::size_t kParserCapacity = 64 * 1024;

void write_message(JsonWriter& w, const MessageView& m) {
  w.begin_object();
  w.plain_key("id");
  w.string(m.id);
  w.plain_key("streamName");
  w.string(m.stream_name);
  w.plain_key("type");
  w.string(m.type);
  w.plain_key("position");
  w.integer(m.position);
  w.plain_key("globalPosition");
  w.integer(m.global_position);
  w.plain_key("data");
  w.raw(m.data);
  w.plain_key("metadata");
  if (m.metadata.empty())
    w.null();
  else
    w.raw(m.metadata);
  w.plain_key("time");
  w.string(m.time);
  w.end_object();
}

// Rows go into the response as the store produces them: no copy, no vector.
class WritingSink final : public MessageSink {
 public:
  explicit WritingSink(JsonWriter& w) noexcept : w_(w) {}
  void on_message(const MessageView& m) override { write_message(w_, m); }

 private:
  JsonWriter& w_;
};

std::string_view text_or_empty(const Value& v) noexcept {
  return given(v) ? v.text : std::string_view();
}

void write_result(JsonWriter& w, const WriteResult& result) {
  w.begin_object();
  w.plain_key("position");
  w.integer(result.position);
  w.plain_key("globalPosition");
  w.integer(result.global_position);
  w.end_object();
}

// Writes the reply of a read into `w`, or hands a stream.write to the store
// and returns false (the reply waits for it).
bool execute(Store& store, const Request& r, JsonWriter& w, RpcWrite& write) {
  const std::string_view name = r[Slot::name].text;
  switch (r.method) {
    case Method::stream_write: {
      char uuid[kUuidLength];
      const std::string_view id = given(r[Slot::id]) ? r[Slot::id].text : generate_uuid(uuid);
      // Copied out: the views point into the parser, which goes back to its
      // pool before the store is done.
      write.set(name, id, r[Slot::type].text, r[Slot::data].text, text_or_empty(r[Slot::metadata]));
      write.expected_version = optional_int(r[Slot::expected_version]);
      store.submit(write);
      return false;
    }
    case Method::stream_get: {
      WritingSink sink(w);
      w.begin_array();
      store.get_stream(name, int_or(r[Slot::position], kStreamDefaultPosition),
                       int_or(r[Slot::batch_size], kDefaultBatchSize), sink);
      w.end_array();
      return true;
    }
    case Method::stream_last: {
      WritingSink sink(w);
      if (!store.get_last(name, text_or_empty(r[Slot::type_filter]), sink)) w.null();
      return true;
    }
    case Method::stream_version: {
      const std::optional<std::int64_t> version = store.stream_version(name);
      if (version)
        w.integer(*version);
      else
        w.null();
      return true;
    }
    case Method::category_get: {
      CategoryQuery query;
      query.position = int_or(r[Slot::position], kCategoryDefaultPosition);
      query.batch_size = int_or(r[Slot::batch_size], kDefaultBatchSize);
      query.correlation = text_or_empty(r[Slot::correlation]);
      if (given(r[Slot::consumer_group])) {
        query.consumer_group_member = r[Slot::member].integer;
        query.consumer_group_size = r[Slot::size].integer;
      }
      WritingSink sink(w);
      w.begin_array();
      store.get_category(name, query, sink);
      w.end_array();
      return true;
    }
    case Method::sys_health: {
      const std::int64_t count = store.message_count();
      w.begin_object();
      w.plain_key("status");
      w.string("ok");
      w.plain_key("pool");
      w.string("on");
      w.plain_key("messages");
      w.integer(count);
      w.end_object();
      return true;
    }
  }
  return true;
}

perflab::PoolOptions parser_pool_options() {
  perflab::PoolOptions options;
  options.name = "eventstore.parsers";
  options.max_idle_per_thread = 8;
  return options;
}

perflab::BufferPoolOptions buffer_pool_options(std::string name, std::size_t min_class_bytes) {
  perflab::BufferPoolOptions options;
  options.name = std::move(name);
  options.min_class_bytes = min_class_bytes;
  // Bodies and responses up to 256 KiB are pooled; larger ones are rare
  // enough to come from the heap (and are counted as misses).
  options.max_class_bytes = 256 * 1024;
  return options;
}

}  // namespace

struct PooledRpc::Parsers {
  perflab::ObjectPool<od::parser> pool{parser_pool_options(), perflab::NoReset{}, [] {
                                         auto parser = std::make_unique<od::parser>();
                                         if (parser->allocate(kParserCapacity) != simdjson::SUCCESS)
                                           throw std::bad_alloc();
                                         return parser.release();
                                       }};
};

PooledRpc::PooledRpc(Store& store, Metrics& metrics)
    : store_(store),
      metrics_(metrics),
      request_bodies_(buffer_pool_options("eventstore.request_bodies", 512)),
      responses_(buffer_pool_options("eventstore.responses", 256)),
      parsers_(std::make_unique<Parsers>()) {}

PooledRpc::~PooledRpc() = default;

unsigned PooledRpc::render_error(const RpcError& error, perflab::Buffer& out) noexcept {
  metrics_.count_error(error.code);
  try {
    out.clear();
    JsonWriter w(out);
    w.begin_object();
    w.plain_key("error");
    w.begin_object();
    w.plain_key("code");
    w.string(code_name(error.code));
    w.plain_key("message");
    w.string(error.message);
    if (error.conflict) {
      w.plain_key("details");
      w.begin_object();
      w.plain_key("stream");
      w.string(error.conflict->stream);
      w.plain_key("expected");
      w.integer(error.conflict->expected);
      w.plain_key("actual");
      if (error.conflict->actual)
        w.integer(*error.conflict->actual);
      else
        w.null();
      w.end_object();
    }
    w.end_object();
    w.end_object();
  } catch (...) {
    out.clear();
  }
  return http_status(error.code);
}

unsigned PooledRpc::begin(perflab::Buffer& body, perflab::Buffer& out, RpcWrite& write) noexcept {
  out.clear();
  try {
    body.reserve(body.size() + kJsonPadding);
    auto parser = parsers_->pool.get();
    const char* text = body.data() != nullptr ? body.data() : "";
    const std::size_t size = body.size();
    const std::size_t capacity = body.capacity();

    Request request;
    std::string_view method_name;
    const DecodeStatus status = decode_request(*parser, text, size, capacity, request, method_name);
    if (status != DecodeStatus::ok) {
      // Copy what the error needs before check_body() iterates the parser again.
      std::optional<RpcError> error;
      if (status == DecodeStatus::method_not_found) error = method_not_found_error(method_name);
      if (auto malformed = check_body(*parser, text, size, capacity)) {
        metrics_.count_request(std::nullopt);
        return render_error(*malformed, out);
      }
      // As in the plain mode: a body without a known method counts as "other".
      metrics_.count_request(std::nullopt);
      switch (status) {
        case DecodeStatus::not_an_array:
          return render_error(not_an_array_error(), out);
        case DecodeStatus::method_not_string:
          return render_error(method_not_a_string_error(), out);
        case DecodeStatus::method_not_found:
          return render_error(*error, out);
        default:
          // Valid JSON the decoder could not read: a case this code missed.
          return render_error(
              RpcError{ErrorCode::internal, "could not decode the request", std::nullopt}, out);
      }
    }
    if (auto error = validate(request)) {
      // A wrong argument may hide malformed JSON in what the decoder skipped.
      if (auto malformed = check_body(*parser, text, size, capacity)) {
        metrics_.count_request(std::nullopt);
        return render_error(*malformed, out);
      }
      metrics_.count_request(request.method);
      return render_error(*error, out);
    }
    metrics_.count_request(request.method);
    JsonWriter w(out);
    return execute(store_, request, w, write) ? 200 : kReplyPending;
  } catch (...) {
    return render_error(error_from_current_exception(), out);
  }
}

unsigned PooledRpc::finish_write(const RpcWrite& write, perflab::Buffer& out) noexcept {
  out.clear();
  if (write.error) return render_error(error_from_exception(write.error), out);
  try {
    JsonWriter w(out);
    write_result(w, write.result);
    return 200;
  } catch (...) {
    return render_error(error_from_current_exception(), out);
  }
}

unsigned PooledRpc::handle(perflab::Buffer& body, perflab::Buffer& out) noexcept {
  BlockingRpcWrite write;
  return handle(body, out, write);
}

unsigned PooledRpc::handle(perflab::Buffer& body, perflab::Buffer& out,
                           BlockingRpcWrite& write) noexcept {
  return handle_and_wait(*this, body, out, write);
}

RpcReply PooledRpc::call(std::string_view body) {
  perflab::Buffer in = request_bodies_.get(body.size() + kJsonPadding);
  in.append(body);
  perflab::Buffer out = responses_.get(1024);
  RpcReply reply;
  reply.status = handle(in, out);
  reply.body = out.str();
  return reply;
}

RpcReply PooledRpc::error_reply(const RpcError& error) {
  perflab::Buffer out = responses_.get(256);
  RpcReply reply;
  reply.status = render_error(error, out);
  reply.body = out.str();
  return reply;
}

}  // namespace eventstore
