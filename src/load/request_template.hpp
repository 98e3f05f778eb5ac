// Request templates, compiled once before a run and rendered per request into
// a buffer sized up front: the request path neither allocates nor parses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "perflab/detail/xoshiro.hpp"
#include "perflab/load.hpp"

namespace perflab::load_detail {

/// What a template may refer to when one request is rendered.
struct TemplateContext {
  std::uint64_t seq = 0;     // {seq}
  std::uint32_t conn = 0;    // {conn}
  std::uint32_t thread = 0;  // {thread}
};

/// xoshiro256** seeded by splitmix64: fast, and the same seed gives the same
/// requests. One per load thread; not thread-safe.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  /// Uniform in [0, bound); bound > 0.
  std::uint64_t below(std::uint64_t bound) noexcept;

 private:
  detail::Xoshiro256 generator_;
};

/// A text with placeholders: {seq}, {rand:N} (N a decimal integer >= 1),
/// {uuid}, {conn}, {thread}. Anything else, braces included, is literal.
class TextTemplate {
 public:
  TextTemplate() = default;
  /// Throws LoadError, naming `where`, for {rand:N} with a bad N ({rand:0},
  /// {rand:x}); other brace text is literal and never an error.
  static TextTemplate compile(std::string_view text, std::string_view where);

  bool is_static() const noexcept;  // no placeholders: render() always gives text()
  const std::string& text() const noexcept { return text_; }
  /// An upper bound of render()'s output length.
  std::size_t max_size() const noexcept { return max_size_; }
  /// Writes the rendered text at `out` (room for max_size() bytes) and returns
  /// its length.
  std::size_t render(char* out, const TemplateContext& context, Rng& rng) const noexcept;

 private:
  enum class PartKind : std::uint8_t { kLiteral, kSeq, kRand, kUuid, kConn, kThread };
  struct Part {
    PartKind kind = PartKind::kLiteral;
    std::uint32_t offset = 0;  // kLiteral: into text_
    std::uint32_t length = 0;  // kLiteral
    std::uint64_t bound = 0;   // kRand
  };
  std::string text_;
  std::vector<Part> parts_;
  std::size_t max_size_ = 0;
};

/// A whole HTTP/1.1 request (request line, Host, headers, Content-Length,
/// body) rendered from a RequestSpec, the load's URL and common headers.
class RequestRenderer {
 public:
  /// Throws LoadError (naming the request) for a bad template, a header name
  /// or value with a line break, or a method that is not a token.
  RequestRenderer(const RequestSpec& request, const LoadSpec& load);

  bool is_static() const noexcept { return is_static_; }
  /// The request bytes when is_static().
  std::string_view static_bytes() const noexcept { return static_bytes_; }
  /// An upper bound of render()'s output length.
  std::size_t max_size() const noexcept { return max_size_; }
  /// Writes the request at `out` (room for max_size() bytes); returns its length.
  std::size_t render(char* out, const TemplateContext& context, Rng& rng) const noexcept;
  /// true for HEAD: the response has headers but no body.
  bool expects_no_body() const noexcept { return head_; }

 private:
  TextTemplate target_;
  std::string head_fixed_;  // " HTTP/1.1\r\nHost: ...\r\n<headers>" after the target
  std::string method_;
  TextTemplate body_;
  std::string static_bytes_;
  std::size_t max_size_ = 0;
  bool is_static_ = false;
  bool head_ = false;
};

/// The exact weighted mix as a cycle of request indices: smooth weighted
/// round-robin over `weights`, so every window of sum(weights) requests has
/// each kind exactly weight times, spread out (10:1 gives 5 writes, a read,
/// 5 writes, ... rather than 10 then 1). Throws LoadError when the sum is 0 or
/// above 1,000,000.
std::vector<std::uint16_t> weighted_cycle(const std::vector<std::uint32_t>& weights);

}  // namespace perflab::load_detail
