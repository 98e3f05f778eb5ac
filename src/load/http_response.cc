// Response parsing over http-parser. Its settings are static (callbacks find
// the parser object through http_parser::data), so parsing allocates nothing.
#include "http_response.hpp"

#include <algorithm>
#include <cstring>

namespace perflab::load_detail {
namespace {

http_parser_settings make_settings() noexcept {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  return settings;
}

ResponseParser& self(http_parser* parser) noexcept {
  return *static_cast<ResponseParser*>(parser->data);
}

}  // namespace

ResponseParser::ResponseParser() noexcept { reset_connection(); }

void ResponseParser::enable_body_search(std::size_t longest_needle) {
  window_ = std::make_unique<char[]>(2 * longest_needle + 1);
}

void ResponseParser::reset_connection() noexcept {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  complete_ = false;
  started_ = false;
  tail_length_ = 0;
  found_ = false;
}

void ResponseParser::expect_response(bool no_body, std::string_view needle) noexcept {
  // The parser paused itself at the end of the previous response.
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  no_body_ = no_body;
  complete_ = false;
  started_ = false;
  keep_alive_ = true;
  needle_ = needle;
  tail_length_ = 0;
  found_ = false;
  error_ = "";
}

int ResponseParser::on_message_begin(http_parser* parser) {
  self(parser).started_ = true;
  return 0;
}

int ResponseParser::on_headers_complete(http_parser* parser) {
  // 1 tells http-parser that no body follows (the response to a HEAD).
  return self(parser).no_body_ ? 1 : 0;
}

int ResponseParser::on_body(http_parser* parser, const char* at, std::size_t length) {
  ResponseParser& me = self(parser);
  if (!me.found_ && !me.needle_.empty()) me.search_body(at, length);
  return 0;
}

// Bodies arrive in pieces; a needle may straddle two. The window joins the
// last needle-1 bytes seen with the new piece's first needle-1 bytes.
void ResponseParser::search_body(const char* at, std::size_t length) noexcept {
  const std::size_t keep = needle_.size() - 1;
  const std::size_t head = std::min(keep, length);
  char* window = window_.get();
  std::memcpy(window + tail_length_, at, head);
  const std::size_t joined = tail_length_ + head;
  if (std::string_view(window, joined).find(needle_) != std::string_view::npos ||
      std::string_view(at, length).find(needle_) != std::string_view::npos) {
    found_ = true;
    return;
  }
  if (length >= keep) {
    std::memcpy(window, at + length - keep, keep);
    tail_length_ = keep;
  } else {  // the window already holds tail + the whole piece: keep its end
    const std::size_t drop = joined > keep ? joined - keep : 0;
    std::memmove(window, window + drop, joined - drop);
    tail_length_ = joined - drop;
  }
}

int ResponseParser::on_message_complete(http_parser* parser) {
  ResponseParser& me = self(parser);
  // 100 Continue, 103 Early Hints: interim; the final response follows.
  if (parser->status_code >= 100 && parser->status_code < 200 && parser->status_code != 101) {
    return 0;
  }
  me.complete_ = true;
  me.keep_alive_ = http_should_keep_alive(parser) != 0;
  // Stop at the response's end, so bytes after it are seen as what they are.
  http_parser_pause(parser, 1);
  return 0;
}

ResponseParser::Progress ResponseParser::feed(const char* data, std::size_t length) noexcept {
  static const http_parser_settings settings = [] {
    http_parser_settings s = make_settings();
    s.on_message_begin = &ResponseParser::on_message_begin;
    s.on_headers_complete = &ResponseParser::on_headers_complete;
    s.on_body = &ResponseParser::on_body;
    s.on_message_complete = &ResponseParser::on_message_complete;
    return s;
  }();
  if (complete_) {
    error_ = "bytes after the end of the response";
    return Progress::kError;
  }
  const std::size_t parsed = http_parser_execute(&parser_, &settings, data, length);
  const http_errno error = HTTP_PARSER_ERRNO(&parser_);
  if (complete_) {
    if (parsed < length) {
      error_ = "bytes after the end of the response";
      return Progress::kError;
    }
    return Progress::kComplete;
  }
  if (error != HPE_OK) {
    error_ = http_errno_name(error);
    return Progress::kError;
  }
  if (parser_.upgrade) {
    error_ = "the server switched protocols (Upgrade)";
    return Progress::kError;
  }
  return Progress::kIncomplete;
}

ResponseParser::Progress ResponseParser::feed_eof() noexcept {
  if (complete_) return Progress::kComplete;
  if (!started_) return Progress::kIncomplete;
  // A zero-length execute tells http-parser the stream ended: a response
  // whose body runs to the close completes; anything else is an error.
  const ResponseParser::Progress progress = feed(nullptr, 0);
  if (progress == Progress::kComplete) {
    keep_alive_ = false;
    return progress;
  }
  if (progress == Progress::kIncomplete) error_ = "connection closed before the response ended";
  return Progress::kError;
}

}  // namespace perflab::load_detail
