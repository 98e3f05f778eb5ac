// Request templates: parsed once when the load is set up, rendered per request
// with nothing but copies and integer formatting, so the event loop's request
// path stays free of allocation and parsing.

#include "request_template.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace perflab::load_detail {
namespace {

// Longest decimal renderings, used to size buffers before any render.
constexpr std::size_t kMaxU64Digits = 20;
constexpr std::size_t kMaxU32Digits = 10;
constexpr std::size_t kUuidLength = detail::kUuidTextLength;
constexpr std::uint64_t kMaxRandBound = std::uint64_t{1} << 63;
constexpr std::uint64_t kMaxCycleLength = 1'000'000;
constexpr std::size_t kMaxCycleKinds = 65535;
constexpr std::string_view kContentLength = "Content-Length: ";

// to_chars cannot fail here: max_size() reserved the type's longest rendering.
std::size_t write_decimal(char* out, std::uint64_t value) noexcept {
  return static_cast<std::size_t>(std::to_chars(out, out + kMaxU64Digits, value).ptr - out);
}
std::size_t write_decimal(char* out, std::uint32_t value) noexcept {
  return static_cast<std::size_t>(std::to_chars(out, out + kMaxU32Digits, value).ptr - out);
}

std::size_t write_uuid(char* out, Rng& rng) noexcept {
  const std::uint64_t high = rng.next();  // in this order: the same seed, the same ids
  const std::uint64_t low = rng.next();
  return detail::write_uuid_v4(out, high, low);
}

// RFC 9110 tchar.
bool is_token_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A request's bytes are framed by the request line and Content-Length, so
// nothing the user writes may contain a line break or end the line early.
void check_header(const std::pair<std::string, std::string>& header, const std::string& where) {
  const auto& [name, value] = header;
  if (!is_token(name)) {
    throw LoadError(where + ": header name " + in_quotes(name) +
                    " is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)");
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      throw LoadError(where + ": header " + in_quotes(name) +
                      " has a line break or NUL in its value");
    }
  }
  // The renderer frames the body itself; a second length would desynchronize
  // the connection.
  if (equals_nocase(name, "Content-Length") || equals_nocase(name, "Transfer-Encoding")) {
    throw LoadError(where + ": header " + in_quotes(name) +
                    " is set by perflab from the body; remove it");
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Rng
// ---------------------------------------------------------------------------

Rng::Rng(std::uint64_t seed) noexcept : generator_(detail::Xoshiro256::from_seed(seed)) {}

std::uint64_t Rng::next() noexcept { return generator_.next(); }

std::uint64_t Rng::below(std::uint64_t bound) noexcept {
  // Lemire's multiply-shift: one multiplication in the common case, and the
  // rare retry removes the bias of the low part.
  __extension__ using u128 = unsigned __int128;
  u128 product = static_cast<u128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<u128>(next()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

// ---------------------------------------------------------------------------
// TextTemplate
// ---------------------------------------------------------------------------

TextTemplate TextTemplate::compile(std::string_view text, std::string_view where) {
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw LoadError(std::string(where) + ": template longer than 4 GiB");
  }
  TextTemplate result;
  result.text_ = std::string(text);
  std::size_t literal_start = 0;
  auto add_literal = [&](std::size_t end) {
    if (end > literal_start) {
      result.parts_.push_back(Part{PartKind::kLiteral, static_cast<std::uint32_t>(literal_start),
                                   static_cast<std::uint32_t>(end - literal_start), 0});
      result.max_size_ += end - literal_start;
    }
  };
  auto add = [&](std::size_t start, std::size_t end, PartKind kind, std::uint64_t bound,
                 std::size_t size) {
    add_literal(start);
    result.parts_.push_back(Part{kind, 0, 0, bound});
    result.max_size_ += size;
    literal_start = end;
  };

  static constexpr std::pair<std::string_view, PartKind> kFixed[] = {
      {"{seq}", PartKind::kSeq},
      {"{uuid}", PartKind::kUuid},
      {"{conn}", PartKind::kConn},
      {"{thread}", PartKind::kThread},
  };
  static constexpr std::string_view kRandPrefix = "{rand:";

  std::size_t i = 0;
  while ((i = text.find('{', i)) != std::string_view::npos) {
    const std::string_view rest = text.substr(i);
    bool matched = false;
    for (const auto& [name, kind] : kFixed) {
      if (rest.substr(0, name.size()) == name) {
        const std::size_t size = kind == PartKind::kSeq    ? kMaxU64Digits
                                 : kind == PartKind::kUuid ? kUuidLength
                                                           : kMaxU32Digits;
        add(i, i + name.size(), kind, 0, size);
        i += name.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (rest.substr(0, kRandPrefix.size()) == kRandPrefix) {
      const std::size_t close = rest.find('}');
      if (close == std::string_view::npos) {
        throw LoadError(std::string(where) + ": {rand:N} is not closed with '}'");
      }
      const std::string_view digits = rest.substr(kRandPrefix.size(), close - kRandPrefix.size());
      std::uint64_t bound = 0;
      const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), bound);
      const bool ok = !digits.empty() && parsed.ec == std::errc() &&
                      parsed.ptr == digits.data() + digits.size() && bound >= 1 &&
                      bound <= kMaxRandBound;
      if (!ok) {
        throw LoadError(std::string(where) + ": in {rand:" + std::string(digits) +
                        "}, N must be a decimal integer from 1 to 2^63 (the range is [0, N))");
      }
      add(i, i + close + 1, PartKind::kRand, bound, kMaxU64Digits);
      i += close + 1;
      continue;
    }
    ++i;  // other brace text (JSON) is literal
  }
  add_literal(text.size());
  return result;
}

bool TextTemplate::is_static() const noexcept {
  for (const Part& part : parts_) {
    if (part.kind != PartKind::kLiteral) return false;
  }
  return true;
}

std::size_t TextTemplate::render(char* out, const TemplateContext& context,
                                 Rng& rng) const noexcept {
  char* p = out;
  for (const Part& part : parts_) {
    switch (part.kind) {
      case PartKind::kLiteral:
        std::memcpy(p, text_.data() + part.offset, part.length);
        p += part.length;
        break;
      case PartKind::kSeq:
        p += write_decimal(p, context.seq);
        break;
      case PartKind::kRand:
        p += write_decimal(p, rng.below(part.bound));
        break;
      case PartKind::kUuid:
        p += write_uuid(p, rng);
        break;
      case PartKind::kConn:
        p += write_decimal(p, context.conn);
        break;
      case PartKind::kThread:
        p += write_decimal(p, context.thread);
        break;
    }
  }
  return static_cast<std::size_t>(p - out);
}

// ---------------------------------------------------------------------------
// RequestRenderer
// ---------------------------------------------------------------------------

RequestRenderer::RequestRenderer(const RequestSpec& request, const LoadSpec& load) {
  const std::string where = "request " + in_quotes(request.name);
  if (!is_token(request.method)) {
    throw LoadError(where + ": method " + in_quotes(request.method) +
                    " is not an HTTP token (GET, POST, ...)");
  }
  method_ = request.method;
  head_ = request.method == "HEAD";

  const std::string& target = request.target.empty() ? load.url.target : request.target;
  if (target.empty() || target.front() != '/') {
    throw LoadError(where + ": path " + in_quotes(target) + " must start with '/'");
  }
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      throw LoadError(where + ": path " + in_quotes(target) +
                      " has a space or control character (percent-encode it)");
    }
  }
  target_ = TextTemplate::compile(target, where + " path");
  body_ = TextTemplate::compile(request.body, where + " body");

  // Request headers replace load headers of the same name; a user Host
  // header replaces the URL's.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& header : load.headers) {
    check_header(header, where);
    bool overridden = false;
    for (const auto& own : request.headers) overridden |= equals_nocase(own.first, header.first);
    if (!overridden) headers.push_back(header);
  }
  for (const auto& header : request.headers) {
    check_header(header, where);
    headers.push_back(header);
  }
  bool has_host = false;
  for (const auto& header : headers) has_host |= equals_nocase(header.first, "Host");

  head_fixed_ = " HTTP/1.1\r\n";
  if (!has_host) head_fixed_ += "Host: " + load.url.host_header + "\r\n";
  for (const auto& [name, value] : headers) head_fixed_ += name + ": " + value + "\r\n";

  max_size_ = method_.size() + 1 + target_.max_size() + head_fixed_.size() + kContentLength.size() +
              kMaxU64Digits + 2 + 2 + body_.max_size();

  if (target_.is_static() && body_.is_static()) {
    std::string bytes(max_size_, '\0');
    Rng unused(0);
    bytes.resize(render(bytes.data(), TemplateContext{}, unused));
    static_bytes_ = std::move(bytes);
    is_static_ = true;  // only now: render() above must take the general path
  }
}

std::size_t RequestRenderer::render(char* out, const TemplateContext& context,
                                    Rng& rng) const noexcept {
  if (is_static_) {
    std::memcpy(out, static_bytes_.data(), static_bytes_.size());
    return static_bytes_.size();
  }
  char* p = out;
  std::memcpy(p, method_.data(), method_.size());
  p += method_.size();
  *p++ = ' ';
  p += target_.render(p, context, rng);
  std::memcpy(p, head_fixed_.data(), head_fixed_.size());
  p += head_fixed_.size();

  // The body's length is known only after rendering it, and Content-Length
  // precedes it: render it into the tail of the buffer, then slide it down.
  const char* body = body_.text().data();
  std::size_t body_length = body_.text().size();
  if (!body_.is_static()) {
    char* tail = out + max_size_ - body_.max_size();
    body_length = body_.render(tail, context, rng);
    body = tail;
  }
  const bool framed =
      body_length > 0 || method_ == "POST" || method_ == "PUT" || method_ == "PATCH";
  if (framed) {
    std::memcpy(p, kContentLength.data(), kContentLength.size());
    p += kContentLength.size();
    p += write_decimal(p, static_cast<std::uint64_t>(body_length));
    *p++ = '\r';
    *p++ = '\n';
  }
  *p++ = '\r';
  *p++ = '\n';
  // memmove: the rendered body may overlap its destination.
  if (body_length > 0) std::memmove(p, body, body_length);
  return static_cast<std::size_t>(p - out) + body_length;
}

// ---------------------------------------------------------------------------
// weighted_cycle
// ---------------------------------------------------------------------------

std::vector<std::uint16_t> weighted_cycle(const std::vector<std::uint32_t>& weights) {
  if (weights.empty()) throw LoadError("request mix: no requests to weigh");
  if (weights.size() > kMaxCycleKinds) {
    throw LoadError("request mix: " + std::to_string(weights.size()) +
                    " kinds of request; at most 65535");
  }
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) {
      throw LoadError("request mix: weight of request " + std::to_string(i) +
                      " is 0; weights must be >= 1");
    }
    total += weights[i];
  }
  if (total > kMaxCycleLength) {
    throw LoadError("request mix: weights sum to " + std::to_string(total) +
                    "; at most 1000000 (divide them by a common factor)");
  }

  // nginx's smooth weighted round-robin: every step each kind gains its
  // weight, the richest is sent and pays the total. Each kind is picked exactly
  // weight times per cycle and its picks are spread evenly. O(kinds * total),
  // which the limits above keep bounded for the mixes load files allow.
  std::vector<std::int64_t> current(weights.size(), 0);
  std::vector<std::uint16_t> cycle;
  cycle.reserve(total);
  const auto signed_total = static_cast<std::int64_t>(total);
  for (std::uint64_t step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= signed_total;
    cycle.push_back(static_cast<std::uint16_t>(best));
  }
  return cycle;
}

}  // namespace perflab::load_detail
