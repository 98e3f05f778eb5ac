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

void ResponseParser::enable_body_capture(std::size_t limit) {
  body_ = std::make_unique<char[]>(limit);
  body_limit_ = limit;
}

void ResponseParser::reset_connection() noexcept {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  complete_ = false;
  started_ = false;
  body_length_ = 0;
}

void ResponseParser::expect_response(bool no_body) noexcept {
  // The parser paused itself at the end of the previous response.
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  no_body_ = no_body;
  complete_ = false;
  started_ = false;
  keep_alive_ = true;
  body_length_ = 0;
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
  const std::size_t room = me.body_limit_ - me.body_length_;
  const std::size_t take = std::min(room, length);
  if (take > 0) {
    std::memcpy(me.body_.get() + me.body_length_, at, take);
    me.body_length_ += take;
  }
  return 0;
}

int ResponseParser::on_message_complete(http_parser* parser) {
  ResponseParser& me = self(parser);
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

bool ResponseParser::body_contains(std::string_view needle) const noexcept {
  if (needle.empty()) return true;
  const std::string_view body(body_.get(), body_length_);
  return body.find(needle) != std::string_view::npos;
}

}  // namespace perflab::load_detail
