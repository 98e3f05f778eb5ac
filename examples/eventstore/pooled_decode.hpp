// The pooled mode's request decoding: simdjson On-Demand straight into a
// Request, visiting each value once, without building a document.
//
// On-Demand validates what it visits and skips the rest, so a decode that
// succeeds has visited and validated the whole body (every argument and key
// is one the schema knows; data and metadata are walked in full). When the
// decode fails, or the request breaks a rule, check_body() walks the whole
// body once more to decide whether the body is malformed JSON (which takes
// precedence, as it does in the plain mode, whose parser sees the whole body
// first) or the request's own error stands.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <optional>
#include <string_view>

#include "errors.hpp"
#include "request.hpp"

namespace eventstore {

enum class DecodeStatus {
  ok,                 // request is complete and the body is valid JSON
  failed,             // a JSON error or a value of an unexpected type: see check_body()
  not_an_array,       // the body is not an array (if it is valid JSON)
  method_not_string,  // the first element is missing or not a string
  method_not_found,   // `method_name` is no method
};

/// Decodes `body` (size bytes, capacity >= size + SIMDJSON_PADDING) into
/// `request`. On method_not_found, `method_name` views the name. Views live
/// until the parser iterates again.
DecodeStatus decode_request(simdjson::ondemand::parser& parser, const char* body, std::size_t size,
                            std::size_t capacity, Request& request,
                            std::string_view& method_name) noexcept;

/// nullopt when `body` is valid JSON nesting at most kMaxJsonDepth levels;
/// otherwise the INVALID_REQUEST error to answer with (or INTERNAL when the
/// parser cannot get memory). Iterates the parser again.
std::optional<RpcError> check_body(simdjson::ondemand::parser& parser, const char* body,
                                   std::size_t size, std::size_t capacity);

}  // namespace eventstore
