#include "errors.hpp"

#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "store.hpp"

namespace eventstore {

std::string_view code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request:
      return "INVALID_REQUEST";
    case ErrorCode::method_not_found:
      return "METHOD_NOT_FOUND";
    case ErrorCode::invalid_argument:
      return "INVALID_ARGUMENT";
    case ErrorCode::stream_version_conflict:
      return "STREAM_VERSION_CONFLICT";
    case ErrorCode::duplicate_id:
      return "DUPLICATE_ID";
    case ErrorCode::payload_too_large:
      return "PAYLOAD_TOO_LARGE";
    case ErrorCode::header_too_large:
      return "HEADER_TOO_LARGE";
    case ErrorCode::not_found:
      return "NOT_FOUND";
    case ErrorCode::method_not_allowed:
      return "METHOD_NOT_ALLOWED";
    case ErrorCode::internal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

unsigned http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request:
    case ErrorCode::invalid_argument:
      return 400;
    case ErrorCode::method_not_found:
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::stream_version_conflict:
    case ErrorCode::duplicate_id:
      return 409;
    case ErrorCode::payload_too_large:
      return 413;
    case ErrorCode::header_too_large:
      return 431;
    case ErrorCode::method_not_allowed:
      return 405;
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

RpcError error_from_current_exception() {
  try {
    throw;
  } catch (const VersionConflict& e) {
    return {ErrorCode::stream_version_conflict, e.what(),
            ConflictDetails{e.stream(), e.expected(), e.actual()}};
  } catch (const DuplicateId& e) {
    return {ErrorCode::duplicate_id, e.what(), std::nullopt};
  } catch (const InvalidArgument& e) {
    return {ErrorCode::invalid_argument, e.what(), std::nullopt};
  } catch (const std::bad_alloc&) {
    return {ErrorCode::internal, "out of memory", std::nullopt};
  } catch (const std::exception& e) {
    return {ErrorCode::internal, std::string("database failure: ") + e.what(), std::nullopt};
  } catch (...) {
    return {ErrorCode::internal, "unknown failure", std::nullopt};
  }
}

RpcError error_from_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (...) {
    return error_from_current_exception();
  }
}

RpcError not_found_error(std::string_view target) {
  return {
      ErrorCode::not_found,
      "no such path: " + std::string(target) + " (the API is POST /rpc; metrics at GET /metrics)",
      std::nullopt};
}

RpcError method_not_allowed_error(std::string_view target, std::string_view allowed) {
  return {ErrorCode::method_not_allowed,
          std::string(target) + " allows only " + std::string(allowed), std::nullopt};
}

RpcError payload_too_large_error(std::size_t max_body) {
  return {ErrorCode::payload_too_large,
          "request body larger than " + std::to_string(max_body) + " bytes", std::nullopt};
}

RpcError header_too_large_error(std::size_t max_header) {
  return {ErrorCode::header_too_large,
          "request header larger than " + std::to_string(max_header) + " bytes", std::nullopt};
}

RpcError malformed_http_error(std::string_view why) {
  return {ErrorCode::invalid_request, "malformed HTTP request: " + std::string(why), std::nullopt};
}

RpcError malformed_json_error() {
  return {ErrorCode::invalid_request, "the request body is not valid JSON", std::nullopt};
}

RpcError too_deep_error() {
  return {ErrorCode::invalid_request,
          "the request body nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
              " levels",
          std::nullopt};
}

RpcError not_an_array_error() {
  return {ErrorCode::invalid_request,
          "the request body must be a JSON array: [\"method\", arguments...]", std::nullopt};
}

RpcError method_not_a_string_error() {
  return {ErrorCode::invalid_request,
          "the first element of the request array, the method name, must be a string",
          std::nullopt};
}

}  // namespace eventstore
