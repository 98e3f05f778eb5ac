// One HTTP/1.1 response at a time, parsed by http-parser (the parser wrk
// uses): status, keep-alive, and an optional bounded body check.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace perflab::load_detail {

/// Reused for every response on one connection; allocates only in enable_body_search().
class ResponseParser {
 public:
  enum class Progress { kIncomplete, kComplete, kError };

  ResponseParser() noexcept;
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  /// Makes room to search bodies for needles of up to `longest_needle` bytes.
  /// The search streams: it keeps only the needle's length of each body
  /// (twice over), however long the body.
  void enable_body_search(std::size_t longest_needle);

  /// Starts a fresh connection: any earlier parse state is dropped.
  void reset_connection() noexcept;
  /// Prepares for the response to the request just sent. `no_body`: the
  /// request was HEAD, so the response has headers only. `needle`: text the
  /// body must contain (empty: no check); it must outlive the response, and
  /// be no longer than enable_body_search() allowed.
  void expect_response(bool no_body, std::string_view needle = {}) noexcept;

  /// Feeds bytes read from the socket. kComplete when the response ended
  /// within them; bytes after its end are a protocol error here because one
  /// request is in flight per connection (kError).
  Progress feed(const char* data, std::size_t length) noexcept;
  /// The server closed the connection: completes a response delimited by the
  /// close, otherwise kError (the response was cut short) or kIncomplete when
  /// no byte of a response had arrived.
  Progress feed_eof() noexcept;

  int status_code() const noexcept { return static_cast<int>(parser_.status_code); }
  /// false when the response said Connection: close (or was HTTP/1.0 without keep-alive).
  bool keep_alive() const noexcept { return keep_alive_; }
  /// true when bytes of this response have arrived.
  bool started() const noexcept { return started_; }
  /// The body contained the needle given to expect_response() (true when it was empty).
  bool body_matched() const noexcept { return needle_.empty() || found_; }
  /// http-parser's name for the last error ("HPE_INVALID_CONSTANT"), or the
  /// reason a complete response was refused.
  const char* error_name() const noexcept { return error_; }

 private:
  static int on_message_begin(http_parser* parser);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, std::size_t length);
  static int on_message_complete(http_parser* parser);

  void search_body(const char* at, std::size_t length) noexcept;

  http_parser parser_;
  std::string_view needle_;
  std::unique_ptr<char[]> window_;  // the last needle-1 body bytes, then the next chunk's first
  std::size_t tail_length_ = 0;
  bool found_ = false;
  const char* error_ = "";
  bool no_body_ = false;
  bool complete_ = false;
  bool keep_alive_ = true;
  bool started_ = false;
};

}  // namespace perflab::load_detail
