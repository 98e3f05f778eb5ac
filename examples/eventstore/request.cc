#include "request.hpp"

#include <string>

namespace eventstore {
namespace {

using S = Shape;

constexpr FieldSpec kConsumerGroupKeys[] = {
    {"member", Slot::member, S::scalar, {}},
    {"size", Slot::size, S::scalar, {}},
};
constexpr FieldSpec kMessageKeys[] = {
    {"id", Slot::id, S::scalar, {}},
    {"type", Slot::type, S::scalar, {}},
    {"data", Slot::data, S::json, {}},
    {"metadata", Slot::metadata, S::json, {}},
};
constexpr FieldSpec kWriteOptionKeys[] = {
    {"expectedVersion", Slot::expected_version, S::scalar, {}},
};
constexpr FieldSpec kGetOptionKeys[] = {
    {"position", Slot::position, S::scalar, {}},
    {"batchSize", Slot::batch_size, S::scalar, {}},
};
constexpr FieldSpec kLastOptionKeys[] = {
    {"type", Slot::type_filter, S::scalar, {}},
};
constexpr FieldSpec kCategoryOptionKeys[] = {
    {"position", Slot::position, S::scalar, {}},
    {"batchSize", Slot::batch_size, S::scalar, {}},
    {"correlation", Slot::correlation, S::scalar, {}},
    {"consumerGroup", Slot::consumer_group, S::object, kConsumerGroupKeys},
};

constexpr FieldSpec kWriteArgs[] = {
    {"streamName", Slot::name, S::scalar, {}},
    {"message", Slot::message, S::object, kMessageKeys},
    {"options", Slot::options, S::object, kWriteOptionKeys},
};
constexpr FieldSpec kGetArgs[] = {
    {"streamName", Slot::name, S::scalar, {}},
    {"options", Slot::options, S::object, kGetOptionKeys},
};
constexpr FieldSpec kLastArgs[] = {
    {"streamName", Slot::name, S::scalar, {}},
    {"options", Slot::options, S::object, kLastOptionKeys},
};
constexpr FieldSpec kVersionArgs[] = {
    {"streamName", Slot::name, S::scalar, {}},
};
constexpr FieldSpec kCategoryArgs[] = {
    {"category", Slot::name, S::scalar, {}},
    {"options", Slot::options, S::object, kCategoryOptionKeys},
};

struct MethodEntry {
  std::string_view name;
  Method method;
};
constexpr MethodEntry kMethods[] = {
    {"stream.write", Method::stream_write}, {"stream.get", Method::stream_get},
    {"stream.last", Method::stream_last},   {"stream.version", Method::stream_version},
    {"category.get", Method::category_get}, {"sys.health", Method::sys_health},
};

// Builds the messages of validate(); every one starts with the method.
class Checker {
 public:
  explicit Checker(const Request& request) : request_(request) {}

  std::optional<RpcError> fail(std::string what) const {
    return RpcError{ErrorCode::invalid_argument,
                    std::string(method_name(request_.method)) + ": " + what, std::nullopt};
  }

  const Value& operator[](Slot slot) const { return request_[slot]; }

  std::optional<RpcError> required_string(Slot slot, std::string_view what) const {
    const Value& v = request_[slot];
    if (v.kind == Kind::absent) return fail(std::string(what) + " is required");
    if (v.kind != Kind::string || v.text.empty())
      return fail(std::string(what) + " must be a non-empty string");
    return std::nullopt;
  }
  std::optional<RpcError> optional_string(Slot slot, std::string_view what, bool non_empty) const {
    const Value& v = request_[slot];
    if (!given(v)) return std::nullopt;
    if (v.kind != Kind::string || (non_empty && v.text.empty()))
      return fail(std::string(what) +
                  (non_empty ? " must be a non-empty string" : " must be a string"));
    return std::nullopt;
  }
  std::optional<RpcError> optional_int(Slot slot, std::string_view what) const {
    const Value& v = request_[slot];
    if (!given(v) || v.kind == Kind::integer) return std::nullopt;
    return fail(std::string(what) + " must be an integer");
  }
  std::optional<RpcError> required_int(Slot slot, std::string_view what) const {
    const Value& v = request_[slot];
    if (v.kind == Kind::absent) return fail(std::string(what) + " is required");
    if (v.kind != Kind::integer) return fail(std::string(what) + " must be an integer");
    return std::nullopt;
  }
  // An object argument or key: absent or null is fine unless required.
  std::optional<RpcError> object(Slot slot, std::string_view what, bool required) const {
    const Value& v = request_[slot];
    if (v.kind == Kind::absent && required) return fail(std::string(what) + " is required");
    if (!given(v)) {
      if (v.kind == Kind::null && required) return fail(std::string(what) + " must be an object");
      return std::nullopt;
    }
    if (v.kind != Kind::object) return fail(std::string(what) + " must be an object");
    return std::nullopt;
  }
  std::optional<RpcError> unknown_keys(Slot slot, std::string_view what,
                                       std::span<const FieldSpec> keys) const {
    const auto& unknown = request_.unknown_keys[static_cast<std::size_t>(slot)];
    if (!unknown) return std::nullopt;
    std::string known;
    for (const FieldSpec& key : keys) {
      if (!known.empty()) known += ", ";
      known += key.key;
    }
    return fail("unknown key \"" + std::string(*unknown) + "\" in " + std::string(what) +
                " (known keys: " + known + ")");
  }

 private:
  const Request& request_;
};

#define EVENTSTORE_CHECK(expr)               \
  do {                                       \
    if (auto error_ = (expr)) return error_; \
  } while (false)

std::optional<RpcError> validate_write(const Checker& c) {
  EVENTSTORE_CHECK(c.required_string(Slot::name, "streamName"));
  EVENTSTORE_CHECK(c.object(Slot::message, "message", true));
  EVENTSTORE_CHECK(c.optional_string(Slot::id, "message.id", true));
  EVENTSTORE_CHECK(c.required_string(Slot::type, "message.type"));
  const Value& data = c[Slot::data];
  if (data.kind == Kind::absent) return c.fail("message.data is required");
  if (data.kind != Kind::object) return c.fail("message.data must be a JSON object");
  const Value& metadata = c[Slot::metadata];
  if (given(metadata) && metadata.kind != Kind::object)
    return c.fail("message.metadata must be a JSON object or null");
  EVENTSTORE_CHECK(c.unknown_keys(Slot::message, "message", kMessageKeys));
  EVENTSTORE_CHECK(c.object(Slot::options, "options", false));
  EVENTSTORE_CHECK(c.optional_int(Slot::expected_version, "options.expectedVersion"));
  EVENTSTORE_CHECK(c.unknown_keys(Slot::options, "options", kWriteOptionKeys));
  return std::nullopt;
}

std::optional<RpcError> validate_get(const Checker& c) {
  EVENTSTORE_CHECK(c.required_string(Slot::name, "streamName"));
  EVENTSTORE_CHECK(c.object(Slot::options, "options", false));
  EVENTSTORE_CHECK(c.optional_int(Slot::position, "options.position"));
  EVENTSTORE_CHECK(c.optional_int(Slot::batch_size, "options.batchSize"));
  EVENTSTORE_CHECK(c.unknown_keys(Slot::options, "options", kGetOptionKeys));
  return std::nullopt;
}

std::optional<RpcError> validate_last(const Checker& c) {
  EVENTSTORE_CHECK(c.required_string(Slot::name, "streamName"));
  EVENTSTORE_CHECK(c.object(Slot::options, "options", false));
  EVENTSTORE_CHECK(c.optional_string(Slot::type_filter, "options.type", true));
  EVENTSTORE_CHECK(c.unknown_keys(Slot::options, "options", kLastOptionKeys));
  return std::nullopt;
}

std::optional<RpcError> validate_version(const Checker& c) {
  return c.required_string(Slot::name, "streamName");
}

std::optional<RpcError> validate_category(const Checker& c) {
  EVENTSTORE_CHECK(c.required_string(Slot::name, "category"));
  EVENTSTORE_CHECK(c.object(Slot::options, "options", false));
  EVENTSTORE_CHECK(c.optional_int(Slot::position, "options.position"));
  EVENTSTORE_CHECK(c.optional_int(Slot::batch_size, "options.batchSize"));
  EVENTSTORE_CHECK(c.optional_string(Slot::correlation, "options.correlation", false));
  EVENTSTORE_CHECK(c.object(Slot::consumer_group, "options.consumerGroup", false));
  if (given(c[Slot::consumer_group])) {
    EVENTSTORE_CHECK(c.required_int(Slot::member, "options.consumerGroup.member"));
    EVENTSTORE_CHECK(c.required_int(Slot::size, "options.consumerGroup.size"));
    EVENTSTORE_CHECK(
        c.unknown_keys(Slot::consumer_group, "options.consumerGroup", kConsumerGroupKeys));
  }
  EVENTSTORE_CHECK(c.unknown_keys(Slot::options, "options", kCategoryOptionKeys));
  return std::nullopt;
}

#undef EVENTSTORE_CHECK

}  // namespace

std::string_view method_name(Method method) noexcept {
  for (const MethodEntry& entry : kMethods)
    if (entry.method == method) return entry.name;
  return "?";
}

std::optional<Method> method_from_name(std::string_view name) noexcept {
  for (const MethodEntry& entry : kMethods)
    if (entry.name == name) return entry.method;
  return std::nullopt;
}

std::string_view method_list() noexcept {
  return "category.get, stream.get, stream.last, stream.version, stream.write, sys.health";
}

RpcError method_not_found_error(std::string_view method) {
  return {ErrorCode::method_not_found,
          "no method \"" + std::string(method) + "\" (methods: " + std::string(method_list()) + ")",
          std::nullopt};
}

std::span<const FieldSpec> args_of(Method method) noexcept {
  switch (method) {
    case Method::stream_write:
      return kWriteArgs;
    case Method::stream_get:
      return kGetArgs;
    case Method::stream_last:
      return kLastArgs;
    case Method::stream_version:
      return kVersionArgs;
    case Method::category_get:
      return kCategoryArgs;
    case Method::sys_health:
      return {};
  }
  return {};
}

const FieldSpec* find_field(std::span<const FieldSpec> fields, std::string_view key) noexcept {
  for (const FieldSpec& field : fields)
    if (field.key == key) return &field;
  return nullptr;
}

std::optional<RpcError> validate(const Request& request) {
  const Checker c(request);
  const std::size_t arity = args_of(request.method).size();
  if (request.arg_count > arity) {
    std::string names;
    for (const FieldSpec& arg : args_of(request.method)) {
      names += names.empty() ? "" : ", ";
      names += arg.key;
    }
    return c.fail("takes at most " + std::to_string(arity) + " argument" + (arity == 1 ? "" : "s") +
                  (names.empty() ? "" : " (" + names + ")") + ", got " +
                  std::to_string(request.arg_count));
  }
  switch (request.method) {
    case Method::stream_write:
      return validate_write(c);
    case Method::stream_get:
      return validate_get(c);
    case Method::stream_last:
      return validate_last(c);
    case Method::stream_version:
      return validate_version(c);
    case Method::category_get:
      return validate_category(c);
    case Method::sys_health:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace eventstore
