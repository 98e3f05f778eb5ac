// What the server does with a request line, the same in both pool modes.
#pragma once

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <string_view>

namespace eventstore {

enum class Route {
  rpc,             // POST /rpc
  metrics,         // GET /metrics
  not_found,       // any other path: 404
  rpc_method,      // /rpc with another method: 405, Allow: POST
  metrics_method,  // /metrics with another method: 405, Allow: GET
};

inline Route route_of(boost::beast::http::verb method, std::string_view target) noexcept {
  using boost::beast::http::verb;
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/rpc") return method == verb::post ? Route::rpc : Route::rpc_method;
  if (path == "/metrics") return method == verb::get ? Route::metrics : Route::metrics_method;
  return Route::not_found;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

/// True when a client waits for "100 Continue" before sending the body.
template <class Fields>
bool expects_continue(const Fields& fields) {
  const auto expect = fields[boost::beast::http::field::expect];
  return equals_ignoring_case(std::string_view(expect.data(), expect.size()), "100-continue");
}

/// What a failed read of a request calls for.
enum class ReadFailure {
  close,              // the peer left, timed out or reset: close without a word
  payload_too_large,  // 413, then close
  header_too_large,   // 431, then close
  malformed,          // 400, then close
};

inline ReadFailure classify_read_error(const boost::system::error_code& ec) noexcept {
  namespace http = boost::beast::http;
  if (ec.category() != http::make_error_code(http::error::end_of_stream).category())
    return ReadFailure::close;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message)
    return ReadFailure::close;
  if (ec == http::error::body_limit) return ReadFailure::payload_too_large;
  if (ec == http::error::header_limit) return ReadFailure::header_too_large;
  return ReadFailure::malformed;
}

/// The interim response to Expect: 100-continue.
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace eventstore
