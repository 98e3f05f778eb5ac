#include "rpc_plain.hpp"

#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "metrics.hpp"
#include "request.hpp"
#include "store.hpp"
#include "uuid.hpp"

namespace eventstore {
namespace {

// ordered_json keeps keys in the order they were written, so responses list
// message fields in the documented order and stored data keeps the client's.
using Json = nlohmann::ordered_json;

struct TooDeep {};

// Refuses nesting beyond kMaxJsonDepth while parsing, before dump() or the
// destructor would recurse through it. `depth` counts the containers open
// around the one starting.
bool limit_depth(int depth, Json::parse_event_t event, Json&) {
  if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
      depth + 1 > kMaxJsonDepth)
    throw TooDeep{};
  return true;
}

Value classify(const Json& v) {
  Value out;
  switch (v.type()) {
    case Json::value_t::null:
      out.kind = Kind::null;
      break;
    case Json::value_t::boolean:
      out.kind = Kind::boolean;
      break;
    case Json::value_t::number_integer:
      out.kind = Kind::integer;
      out.integer = v.get<std::int64_t>();
      break;
    case Json::value_t::number_unsigned: {
      const auto u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
        out.kind = Kind::integer;
        out.integer = static_cast<std::int64_t>(u);
      } else {
        out.kind = Kind::number;
      }
      break;
    }
    case Json::value_t::number_float:
      out.kind = Kind::number;
      break;
    case Json::value_t::string:
      out.kind = Kind::string;
      out.text = v.get_ref<const std::string&>();
      break;
    case Json::value_t::array:
      out.kind = Kind::array;
      break;
    case Json::value_t::object:
      out.kind = Kind::object;
      break;
    default:
      out.kind = Kind::null;
  }
  return out;
}

// Fills a Request from the parsed document; owns the JSON texts of data and
// metadata that the request's views point at.
class PlainDecoder {
 public:
  explicit PlainDecoder(Request& request) : request_(request) {}

  void decode(const Json& v, const FieldSpec& spec) {
    Value& out = request_[spec.slot];
    out = classify(v);
    if (out.kind != Kind::object) return;
    if (spec.shape == Shape::json) {
      texts_.push_back(v.dump());
      out.text = texts_.back();
    } else if (spec.shape == Shape::object) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (const FieldSpec* field = find_field(spec.fields, it.key()))
          decode(it.value(), *field);
        else
          request_.note_unknown_key(spec.slot, it.key());
      }
    }
  }

 private:
  Request& request_;
  std::deque<std::string> texts_;
};

struct Message {
  std::string id;
  std::string stream_name;
  std::string type;
  std::int64_t position = 0;
  std::int64_t global_position = 0;
  std::string data;
  std::string metadata;
  std::string time;
};

class CollectingSink final : public MessageSink {
 public:
  void on_message(const MessageView& m) override {
    messages.push_back(Message{std::string(m.id), std::string(m.stream_name), std::string(m.type),
                               m.position, m.global_position, std::string(m.data),
                               std::string(m.metadata), std::string(m.time)});
  }
  std::vector<Message> messages;
};

Json to_json(const Message& m) {
  Json j;
  j["id"] = m.id;
  j["streamName"] = m.stream_name;
  j["type"] = m.type;
  j["position"] = m.position;
  j["globalPosition"] = m.global_position;
  j["data"] = Json::parse(m.data);
  j["metadata"] = m.metadata.empty() ? Json(nullptr) : Json::parse(m.metadata);
  j["time"] = m.time;
  return j;
}

Json to_json(const std::vector<Message>& messages) {
  Json array = Json::array();
  for (const Message& m : messages) array.push_back(to_json(m));
  return array;
}

// The reply of a read, or nullopt when a stream.write went to the store (the
// reply waits for it).
std::optional<std::string> execute(Store& store, const Request& r, RpcWrite& write) {
  const std::string name = std::string(r[Slot::name].text);
  switch (r.method) {
    case Method::stream_write: {
      std::string id;
      if (given(r[Slot::id])) {
        id = std::string(r[Slot::id].text);
      } else {
        char uuid[kUuidLength];
        id = std::string(generate_uuid(uuid));
      }
      const std::string type(r[Slot::type].text);
      const std::string data(r[Slot::data].text);
      const std::string metadata =
          given(r[Slot::metadata]) ? std::string(r[Slot::metadata].text) : "";
      // The plain way: the write's own copy is a fresh string per request too.
      std::string().swap(write.texts);
      write.set(name, id, type, data, metadata);
      write.expected_version = optional_int(r[Slot::expected_version]);
      store.submit(write);
      return std::nullopt;
    }
    case Method::stream_get: {
      CollectingSink sink;
      store.get_stream(name, int_or(r[Slot::position], kStreamDefaultPosition),
                       int_or(r[Slot::batch_size], kDefaultBatchSize), sink);
      return to_json(sink.messages).dump();
    }
    case Method::stream_last: {
      CollectingSink sink;
      const std::string type =
          given(r[Slot::type_filter]) ? std::string(r[Slot::type_filter].text) : "";
      if (!store.get_last(name, type, sink) || sink.messages.empty()) return Json(nullptr).dump();
      return to_json(sink.messages.front()).dump();
    }
    case Method::stream_version: {
      const std::optional<std::int64_t> version = store.stream_version(name);
      return version ? Json(*version).dump() : Json(nullptr).dump();
    }
    case Method::category_get: {
      CategoryQuery query;
      query.position = int_or(r[Slot::position], kCategoryDefaultPosition);
      query.batch_size = int_or(r[Slot::batch_size], kDefaultBatchSize);
      const std::string correlation =
          given(r[Slot::correlation]) ? std::string(r[Slot::correlation].text) : "";
      query.correlation = correlation;
      if (given(r[Slot::consumer_group])) {
        query.consumer_group_member = r[Slot::member].integer;
        query.consumer_group_size = r[Slot::size].integer;
      }
      CollectingSink sink;
      store.get_category(name, query, sink);
      return to_json(sink.messages).dump();
    }
    case Method::sys_health: {
      Json reply;
      reply["status"] = "ok";
      reply["pool"] = "off";
      reply["messages"] = store.message_count();
      return reply.dump();
    }
  }
  return Json(nullptr).dump();
}

}  // namespace

unsigned PlainRpc::render_error(const RpcError& error, std::string& out) noexcept {
  metrics_.count_error(error.code);
  try {
    Json body;
    Json& e = body["error"];
    e["code"] = code_name(error.code);
    e["message"] = error.message;
    if (error.conflict) {
      Json details;
      details["stream"] = error.conflict->stream;
      details["expected"] = error.conflict->expected;
      details["actual"] = error.conflict->actual ? Json(*error.conflict->actual) : Json(nullptr);
      e["details"] = std::move(details);
    }
    // A store message is not ours to trust as UTF-8: replace, never throw.
    out = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (...) {
    out = R"({"error":{"code":"INTERNAL","message":"out of memory"}})";
  }
  return http_status(error.code);
}

unsigned PlainRpc::begin(const std::string& body, std::string& out, RpcWrite& write) noexcept {
  try {
    Json document;
    try {
      document = Json::parse(body, limit_depth);
    } catch (const TooDeep&) {
      metrics_.count_request(std::nullopt);
      return render_error(too_deep_error(), out);
    } catch (const Json::exception&) {
      metrics_.count_request(std::nullopt);
      return render_error(malformed_json_error(), out);
    }
    if (!document.is_array()) {
      metrics_.count_request(std::nullopt);
      return render_error(not_an_array_error(), out);
    }
    if (document.empty() || !document[0].is_string()) {
      metrics_.count_request(std::nullopt);
      return render_error(method_not_a_string_error(), out);
    }
    const std::string& name = document[0].get_ref<const std::string&>();
    const std::optional<Method> method = method_from_name(name);
    metrics_.count_request(method);
    if (!method) return render_error(method_not_found_error(name), out);

    Request request;
    request.method = *method;
    request.arg_count = document.size() - 1;
    PlainDecoder decoder(request);
    const auto args = args_of(*method);
    for (std::size_t i = 0; i < args.size() && i < request.arg_count; ++i)
      decoder.decode(document[i + 1], args[i]);
    if (auto error = validate(request)) return render_error(*error, out);

    std::optional<std::string> reply = execute(store_, request, write);
    if (!reply) return kReplyPending;
    out = std::move(*reply);
    return 200;
  } catch (...) {
    return render_error(error_from_current_exception(), out);
  }
}

unsigned PlainRpc::finish_write(const RpcWrite& write, std::string& out) noexcept {
  if (write.error) return render_error(error_from_exception(write.error), out);
  try {
    Json reply;
    reply["position"] = write.result.position;
    reply["globalPosition"] = write.result.global_position;
    out = reply.dump();
    return 200;
  } catch (...) {
    return render_error(error_from_current_exception(), out);
  }
}

unsigned PlainRpc::handle(const std::string& body, std::string& out) noexcept {
  BlockingRpcWrite write;
  return handle(body, out, write);
}

unsigned PlainRpc::handle(const std::string& body, std::string& out,
                          BlockingRpcWrite& write) noexcept {
  return handle_and_wait(*this, body, out, write);
}

RpcReply PlainRpc::call(std::string_view body) {
  RpcReply reply;
  reply.status = handle(std::string(body), reply.body);
  return reply;
}

RpcReply PlainRpc::error_reply(const RpcError& error) {
  RpcReply reply;
  reply.status = render_error(error, reply.body);
  return reply;
}

}  // namespace eventstore
