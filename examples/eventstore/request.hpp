// The decoded form of one RPC call, which both pool modes parse a request body
// into, and the rules it must satisfy. The plain mode decodes from
// nlohmann::json, the pooled mode from simdjson On-Demand; both follow the
// schema below and share validate(), so the same body yields the same error
// (code and message) in both modes.
//
// A body is ["method", arg1, arg2, ...]. Each method's arguments are listed in
// args_of(method): a scalar, a JSON value stored verbatim (message data and
// metadata), or an object whose keys are listed too. Unknown keys and extra
// arguments are errors, so a typo never passes silently. An optional argument
// or key given as null is the same as one left out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "errors.hpp"

namespace eventstore {

enum class Method : std::uint8_t {
  stream_write,
  stream_get,
  stream_last,
  stream_version,
  category_get,
  sys_health,
};
inline constexpr std::size_t kMethodCount = 6;

/// "stream.write", "stream.get", ...
std::string_view method_name(Method method) noexcept;
/// The method of a name, or nullopt.
std::optional<Method> method_from_name(std::string_view name) noexcept;
/// The method names, comma-separated, for METHOD_NOT_FOUND's message.
std::string_view method_list() noexcept;
/// METHOD_NOT_FOUND for `method`, listing the methods there are.
RpcError method_not_found_error(std::string_view method);

/// The JSON type of a decoded value. Integers are whole numbers written
/// without fraction or exponent that fit in int64; every other number is
/// `number`.
enum class Kind : std::uint8_t { absent, null, boolean, integer, number, string, array, object };

/// One decoded argument or key. `text` is the unescaped string for strings,
/// and the JSON text for Shape::json values that are objects (validated; kept
/// verbatim by the pooled mode, re-serialized by the plain one). Views point
/// into the decoder's memory and live as long as it does.
struct Value {
  Kind kind = Kind::absent;
  std::int64_t integer = 0;
  std::string_view text;
};

/// Where a decoded value goes in Request::values.
enum class Slot : std::uint8_t {
  name,  // streamName or category
  message,
  id,
  type,
  data,
  metadata,
  options,
  expected_version,
  position,
  batch_size,
  type_filter,  // stream.last's options.type
  correlation,
  consumer_group,
  member,
  size,
};
inline constexpr std::size_t kSlotCount = 15;

/// How a decoder treats an argument or key.
enum class Shape : std::uint8_t {
  scalar,  // record kind, integer value, string text
  json,    // record kind; an object's JSON text is validated and kept in `text`
  object,  // record kind; its keys are decoded by `fields`
};

struct FieldSpec {
  std::string_view key;  // the object key, or the argument's name
  Slot slot;
  Shape shape;
  std::span<const FieldSpec> fields;  // Shape::object only
};

/// The arguments of a method, in order.
std::span<const FieldSpec> args_of(Method method) noexcept;
/// The key of `key` in fields, or nullptr.
const FieldSpec* find_field(std::span<const FieldSpec> fields, std::string_view key) noexcept;

/// One call, as decoded. Decoders fill it in document order: a key given
/// twice keeps its last value.
struct Request {
  Method method = Method::sys_health;
  std::size_t arg_count = 0;  // arguments after the method name, all of them
  std::array<Value, kSlotCount> values{};
  /// The first unknown key of each object slot (message, options, consumer_group).
  std::array<std::optional<std::string_view>, kSlotCount> unknown_keys{};

  Value& operator[](Slot slot) noexcept { return values[static_cast<std::size_t>(slot)]; }
  const Value& operator[](Slot slot) const noexcept {
    return values[static_cast<std::size_t>(slot)];
  }
  void note_unknown_key(Slot object, std::string_view key) {
    auto& first = unknown_keys[static_cast<std::size_t>(object)];
    if (!first) first = key;
  }
};

/// Checks a decoded request against its method's rules, in a fixed order
/// (arity, then arguments in order, each object's keys in schema order, then
/// its unknown keys). Returns the first violation (INVALID_ARGUMENT), or
/// nullopt when the request can be executed.
std::optional<RpcError> validate(const Request& request);

// Reading validated values, with the API's defaults.
inline bool given(const Value& v) noexcept {
  return v.kind != Kind::absent && v.kind != Kind::null;
}
inline std::optional<std::int64_t> optional_int(const Value& v) noexcept {
  return given(v) ? std::optional<std::int64_t>(v.integer) : std::nullopt;
}
inline std::int64_t int_or(const Value& v, std::int64_t fallback) noexcept {
  return given(v) ? v.integer : fallback;
}

/// stream.get's default first position (streams start at 0) and
/// category.get's (global positions start at 1), and both default batch sizes.
inline constexpr std::int64_t kStreamDefaultPosition = 0;
inline constexpr std::int64_t kCategoryDefaultPosition = 1;
inline constexpr std::int64_t kDefaultBatchSize = 1000;

}  // namespace eventstore
