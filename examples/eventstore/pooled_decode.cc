#include "pooled_decode.hpp"

#include <utility>

namespace eventstore {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

// Reported by walk() for nesting beyond kMaxJsonDepth.
constexpr error_code kTooDeep = simdjson::DEPTH_ERROR;

#define EVENTSTORE_TRY(expr)                       \
  do {                                             \
    if (error_code error_ = (expr)) return error_; \
  } while (false)

// simdjson 3.0 has no document::at_end(): past the last token there is no
// current location.
bool at_end(od::document& document) noexcept {
  const char* location = nullptr;
  return document.current_location().get(location) == simdjson::OUT_OF_BOUNDS;
}

// Validates one value and everything in it; `depth` is the nesting level a
// container at this place has.
error_code walk(od::value value, int depth) noexcept {
  od::json_type type;
  EVENTSTORE_TRY(value.type().get(type));
  switch (type) {
    case od::json_type::object: {
      if (depth > kMaxJsonDepth) return kTooDeep;
      od::object object;
      EVENTSTORE_TRY(value.get_object().get(object));
      for (auto member : object) {
        od::field field;
        EVENTSTORE_TRY(std::move(member).get(field));
        std::string_view key;
        EVENTSTORE_TRY(field.unescaped_key().get(key));
        EVENTSTORE_TRY(walk(field.value(), depth + 1));
      }
      return SUCCESS;
    }
    case od::json_type::array: {
      if (depth > kMaxJsonDepth) return kTooDeep;
      od::array array;
      EVENTSTORE_TRY(value.get_array().get(array));
      for (auto element : array) {
        od::value item;
        EVENTSTORE_TRY(std::move(element).get(item));
        EVENTSTORE_TRY(walk(item, depth + 1));
      }
      return SUCCESS;
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::number: {
      double number;
      return value.get_double().get(number);
    }
    case od::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag);
    }
    case od::json_type::null: {
      bool is_null = false;
      EVENTSTORE_TRY(value.is_null().get(is_null));
      return is_null ? SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

class Decoder {
 public:
  Decoder(od::document& document, Request& request) noexcept
      : document_(document), request_(request) {}

  // One argument or key, as `spec` says; `depth` as in walk().
  error_code field(od::value value, const FieldSpec& spec, int depth) noexcept {
    switch (spec.shape) {
      case Shape::scalar:
        return scalar(value, request_[spec.slot]);
      case Shape::json:
        return json(value, request_[spec.slot], depth);
      case Shape::object:
        return object(value, spec, depth);
    }
    return simdjson::TAPE_ERROR;
  }

 private:
  // Records the kind; reads strings and integers. Containers are left for
  // the iteration to skip: in a scalar slot they are an error validate()
  // reports, after check_body() has walked them.
  static error_code scalar(od::value value, Value& out) noexcept {
    out = Value{};
    od::json_type type;
    EVENTSTORE_TRY(value.type().get(type));
    switch (type) {
      case od::json_type::string:
        out.kind = Kind::string;
        return value.get_string().get(out.text);
      case od::json_type::number: {
        std::int64_t integer;
        if (value.get_int64().get(integer) == SUCCESS) {
          out.kind = Kind::integer;
          out.integer = integer;
        } else {
          // A fraction, an exponent or out of int64 range (or not a number:
          // then check_body() finds it).
          out.kind = Kind::number;
        }
        return SUCCESS;
      }
      case od::json_type::boolean: {
        bool flag;
        out.kind = Kind::boolean;
        return value.get_bool().get(flag);
      }
      case od::json_type::null: {
        bool is_null = false;
        EVENTSTORE_TRY(value.is_null().get(is_null));
        out.kind = Kind::null;
        return is_null ? SUCCESS : simdjson::N_ATOM_ERROR;
      }
      case od::json_type::array:
        out.kind = Kind::array;
        return SUCCESS;
      case od::json_type::object:
        out.kind = Kind::object;
        return SUCCESS;
    }
    return simdjson::TAPE_ERROR;
  }

  // An object stored as JSON text: walked in full, and its text taken
  // verbatim from the body, from its '{' to its '}'.
  error_code json(od::value value, Value& out, int depth) noexcept {
    od::json_type type;
    EVENTSTORE_TRY(value.type().get(type));
    if (type != od::json_type::object) return scalar(value, out);
    const char* begin = value.raw_json_token().data();
    EVENTSTORE_TRY(walk(value, depth));
    const char* end = nullptr;
    EVENTSTORE_TRY(document_.current_location().get(end));
    // current_location() is the token after the object; step back over the
    // whitespace between them.
    while (end > begin && is_space(end[-1])) --end;
    out = Value{Kind::object, 0, std::string_view(begin, static_cast<std::size_t>(end - begin))};
    return SUCCESS;
  }

  error_code object(od::value value, const FieldSpec& spec, int depth) noexcept {
    od::json_type type;
    EVENTSTORE_TRY(value.type().get(type));
    if (type != od::json_type::object) return scalar(value, request_[spec.slot]);
    // A key given twice keeps its last value, as in the plain mode's
    // parser: forget what an earlier occurrence of this object left.
    clear(spec);
    request_[spec.slot].kind = Kind::object;
    od::object object;
    EVENTSTORE_TRY(value.get_object().get(object));
    for (auto member : object) {
      od::field f;
      EVENTSTORE_TRY(std::move(member).get(f));
      std::string_view key;
      EVENTSTORE_TRY(f.unescaped_key().get(key));
      if (const FieldSpec* known = find_field(spec.fields, key))
        EVENTSTORE_TRY(field(f.value(), *known, depth + 1));
      else
        request_.note_unknown_key(spec.slot, key);  // its value is skipped
    }
    return SUCCESS;
  }

  void clear(const FieldSpec& spec) noexcept {
    request_.unknown_keys[static_cast<std::size_t>(spec.slot)].reset();
    for (const FieldSpec& sub : spec.fields) {
      request_[sub.slot] = Value{};
      if (sub.shape == Shape::object) clear(sub);
    }
  }

  static bool is_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

  od::document& document_;
  Request& request_;
};

}  // namespace

DecodeStatus decode_request(od::parser& parser, const char* body, std::size_t size,
                            std::size_t capacity, Request& request,
                            std::string_view& method_name) noexcept {
  od::document document;
  if (parser.iterate(body, size, capacity).get(document) != SUCCESS) return DecodeStatus::failed;
  od::array array;
  if (const error_code error = document.get_array().get(array)) {
    return error == simdjson::INCORRECT_TYPE ? DecodeStatus::not_an_array : DecodeStatus::failed;
  }
  Decoder decoder(document, request);
  std::span<const FieldSpec> args;
  std::size_t index = 0;
  for (auto element : array) {
    od::value value;
    if (std::move(element).get(value) != SUCCESS) return DecodeStatus::failed;
    if (index == 0) {
      od::json_type type;
      if (value.type().get(type) != SUCCESS) return DecodeStatus::failed;
      if (type != od::json_type::string) return DecodeStatus::method_not_string;
      if (value.get_string().get(method_name) != SUCCESS) return DecodeStatus::failed;
      const std::optional<Method> method = method_from_name(method_name);
      if (!method) return DecodeStatus::method_not_found;
      request.method = *method;
      args = args_of(*method);
    } else if (index - 1 < args.size()) {
      // Arguments sit in the body's array: a container there is at depth 2.
      if (decoder.field(value, args[index - 1], 2) != SUCCESS) return DecodeStatus::failed;
    }
    ++index;
  }
  if (index == 0) return DecodeStatus::method_not_string;
  request.arg_count = index - 1;
  if (!at_end(document)) return DecodeStatus::failed;
  return DecodeStatus::ok;
}

std::optional<RpcError> check_body(od::parser& parser, const char* body, std::size_t size,
                                   std::size_t capacity) {
  od::document document;
  const error_code iterated = parser.iterate(body, size, capacity).get(document);
  if (iterated == simdjson::MEMALLOC)
    return RpcError{ErrorCode::internal, "out of memory parsing the request", std::nullopt};
  if (iterated != SUCCESS) return malformed_json_error();
  od::json_type type;
  if (document.type().get(type) != SUCCESS) return malformed_json_error();
  error_code error = SUCCESS;
  switch (type) {
    case od::json_type::array:
    case od::json_type::object: {
      od::value root;
      error = document.get_value().get(root);
      if (error == SUCCESS) error = walk(root, 1);
      break;
    }
    case od::json_type::string: {
      std::string_view text;
      error = document.get_string().get(text);
      break;
    }
    case od::json_type::number: {
      double number;
      error = document.get_double().get(number);
      break;
    }
    case od::json_type::boolean: {
      bool flag;
      error = document.get_bool().get(flag);
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      error = document.is_null().get(is_null);
      if (error == SUCCESS && !is_null) error = simdjson::N_ATOM_ERROR;
      break;
    }
  }
  if (error == kTooDeep) return too_deep_error();
  if (error != SUCCESS || !at_end(document)) return malformed_json_error();
  return std::nullopt;
}

#undef EVENTSTORE_TRY

}  // namespace eventstore
