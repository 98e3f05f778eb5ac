// The errors the event store's API answers with: a code a client can branch
// on, the HTTP status it travels with, and a message for people. Both pool
// modes build their error responses from these, so the same bad request gets
// the same answer whichever mode serves it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace eventstore {

/// Every error the server reports. The JSON body of an error response is
/// {"error": {"code": code_name(code), "message": "...", "details"?: {...}}}.
enum class ErrorCode : std::uint8_t {
  invalid_request,          // 400: body not JSON, not an array, method not a string, bad HTTP
  method_not_found,         // 404: an RPC method the server does not have
  invalid_argument,         // 400: arguments of the wrong type, missing, or refused by the store
  stream_version_conflict,  // 409: expectedVersion is not the stream's version
  duplicate_id,             // 409: a message id that is already stored
  payload_too_large,        // 413: body above --max-body
  header_too_large,         // 431: request header above the header limit
  not_found,                // 404: a path other than /rpc and /metrics
  method_not_allowed,       // 405: a wrong HTTP method on /rpc or /metrics
  internal,                 // 500: the database failed
};
inline constexpr std::size_t kErrorCodeCount = 10;

/// "INVALID_REQUEST", "STREAM_VERSION_CONFLICT", ...
std::string_view code_name(ErrorCode code) noexcept;

/// The HTTP status an error travels with (400, 404, 409, 413, 431, 405, 500).
unsigned http_status(ErrorCode code) noexcept;

/// What a client needs to tell a version conflict apart and retry it; sent as
/// "details": {"stream": ..., "expected": ..., "actual": int or null}.
struct ConflictDetails {
  std::string stream;
  std::int64_t expected = 0;
  std::optional<std::int64_t> actual;  // nullopt: the stream has no messages
};

/// One error response.
struct RpcError {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::optional<ConflictDetails> conflict;
};

/// The RpcError for the exception being handled: the store's VersionConflict,
/// DuplicateId and InvalidArgument, or INTERNAL for anything else (a database
/// failure: the message says what failed). Precondition: called inside a
/// catch block.
RpcError error_from_current_exception();

/// The same for a stored exception (a store write's error). Precondition:
/// `error` is not null.
RpcError error_from_exception(const std::exception_ptr& error);

// HTTP-level errors, with the messages both modes send.
RpcError not_found_error(std::string_view target);
RpcError method_not_allowed_error(std::string_view target, std::string_view allowed);
RpcError payload_too_large_error(std::size_t max_body);
RpcError header_too_large_error(std::size_t max_header);
RpcError malformed_http_error(std::string_view why);

// Body-level errors (INVALID_REQUEST).
RpcError malformed_json_error();
RpcError too_deep_error();
RpcError not_an_array_error();
RpcError method_not_a_string_error();

/// The deepest nesting of arrays and objects a request body may have (the
/// body's own array counts as 1). Deeper bodies are INVALID_REQUEST in both
/// modes, so no parser or serializer ever recurses without bound.
inline constexpr int kMaxJsonDepth = 64;

}  // namespace eventstore
