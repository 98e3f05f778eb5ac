// A small JSON writer that appends to a perflab::Buffer: the pooled mode's
// response encoder. It writes exactly what nlohmann::json::dump() writes for
// the same values (compact, UTF-8 passed through, the same escapes), so both
// modes send byte-identical responses.
#pragma once

#include <charconv>
#include <cstdint>
#include <perflab/pool.hpp>
#include <string_view>

namespace eventstore {

/// Writes one JSON value into a Buffer, inserting the commas itself.
/// Usage: w.begin_object(); w.key("a"); w.integer(1); w.end_object();
/// The caller keeps the structure well-formed (keys only inside objects, every
/// begin ended); the writer does not check. Grows the buffer as needed
/// (std::bad_alloc when memory runs out). Thread-safety: one thread per writer.
class JsonWriter {
 public:
  explicit JsonWriter(perflab::Buffer& out) noexcept : out_(out) {}

  void begin_object() {
    separate();
    out_.push_back('{');
    need_comma_ = false;
  }
  void end_object() {
    out_.push_back('}');
    need_comma_ = true;
  }
  void begin_array() {
    separate();
    out_.push_back('[');
    need_comma_ = false;
  }
  void end_array() {
    out_.push_back(']');
    need_comma_ = true;
  }

  /// An object key. `name` is written as a JSON string (escaped).
  void key(std::string_view name) {
    separate();
    write_string(name);
    out_.push_back(':');
    need_comma_ = false;
  }
  /// A key that needs no escaping (a literal in the code), written faster.
  void plain_key(std::string_view name) {
    separate();
    out_.push_back('"');
    out_.append(name);
    out_.append("\":", 2);
    need_comma_ = false;
  }

  void string(std::string_view text) {
    separate();
    write_string(text);
    need_comma_ = true;
  }
  void integer(std::int64_t value) {
    separate();
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value);
    out_.append(digits, static_cast<std::size_t>(result.ptr - digits));
    need_comma_ = true;
  }
  void boolean(bool value) {
    separate();
    out_.append(value ? std::string_view("true") : std::string_view("false"));
    need_comma_ = true;
  }
  void null() {
    separate();
    out_.append("null", 4);
    need_comma_ = true;
  }
  /// A value that is already JSON text (validated when it was stored).
  void raw(std::string_view json) {
    separate();
    out_.append(json);
    need_comma_ = true;
  }

 private:
  // A value after a finished value needs a comma; the first one in a
  // container does not. No stack is needed: closing a container makes it the
  // finished value its parent continues after.
  void separate() {
    if (need_comma_) out_.push_back(',');
  }

  void write_string(std::string_view text) {
    // Reserve for the common case (nothing to escape) so the copy loop below
    // appends without checking capacity per span.
    out_.reserve(out_.size() + text.size() + 2);
    out_.push_back('"');
    const char* run = text.data();
    const char* const end = text.data() + text.size();
    for (const char* p = run; p != end; ++p) {
      const auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c != '"' && c != '\\') [[likely]]
        continue;
      out_.append(run, static_cast<std::size_t>(p - run));
      run = p + 1;
      write_escape(c);
    }
    out_.append(run, static_cast<std::size_t>(end - run));
    out_.push_back('"');
  }

  void write_escape(unsigned char c) {
    char escape[6] = {'\\', 0, 0, 0, 0, 0};
    std::size_t length = 2;
    switch (c) {
      case '"':
        escape[1] = '"';
        break;
      case '\\':
        escape[1] = '\\';
        break;
      case '\b':
        escape[1] = 'b';
        break;
      case '\f':
        escape[1] = 'f';
        break;
      case '\n':
        escape[1] = 'n';
        break;
      case '\r':
        escape[1] = 'r';
        break;
      case '\t':
        escape[1] = 't';
        break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        escape[1] = 'u';
        escape[2] = '0';
        escape[3] = '0';
        escape[4] = kHex[c >> 4];
        escape[5] = kHex[c & 0xF];
        length = 6;
      }
    }
    out_.append(escape, length);
  }

  perflab::Buffer& out_;
  bool need_comma_ = false;
};

}  // namespace eventstore
