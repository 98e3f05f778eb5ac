// parse_http_url: the load generator speaks plain HTTP/1.1, so the URL is
// checked strictly up front; anything it could not send faithfully (TLS, a
// fragment, credentials, whitespace) is an error rather than a guess.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "perflab/load.hpp"

namespace perflab {
namespace {

constexpr std::string_view kHttpScheme = "http://";
constexpr std::string_view kHttpsScheme = "https://";
constexpr std::uint16_t kDefaultPort = 80;

[[noreturn]] void fail(std::string_view url, const std::string& problem) {
  throw LoadError("bad URL \"" + std::string(url) + "\": " + problem);
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Host names as resolvers accept them (letters, digits, '-', '.', and '_'
// which some internal DNS uses); IPv4 literals fit the same set.
bool is_host_name(std::string_view host) {
  for (char c : host) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// Loose on purpose: getaddrinfo() gives the precise verdict; this only keeps
// out characters that cannot belong to an address.
bool is_ipv6_literal(std::string_view host) {
  if (host.find(':') == std::string_view::npos) return false;
  for (char c : host) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return true;
}

std::uint16_t parse_port(std::string_view url, std::string_view text) {
  if (text.empty()) fail(url, "empty port after ':'");
  std::uint32_t port = 0;
  for (char c : text) {
    if (!is_digit(c)) fail(url, "port \"" + std::string(text) + "\" is not a number");
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
    if (port > 65535) fail(url, "port " + std::string(text) + " is above 65535");
  }
  if (port == 0) fail(url, "port 0 cannot be connected to");
  return static_cast<std::uint16_t>(port);
}

}  // namespace

HttpUrl parse_http_url(std::string_view url) {
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      fail(url, "spaces and control characters are not allowed (percent-encode them)");
    }
  }
  if (starts_with_nocase(url, kHttpsScheme)) {
    fail(url, "https is not supported (no TLS); use an http:// URL or a TLS-terminating proxy");
  }
  if (!starts_with_nocase(url, kHttpScheme)) {
    fail(url, url.find("://") == std::string_view::npos ? "missing the http:// scheme"
                                                        : "only http:// URLs are supported");
  }
  std::string_view rest = url.substr(kHttpScheme.size());
  if (rest.find('#') != std::string_view::npos) {
    fail(url, "a fragment ('#...') is never sent to the server; remove it");
  }

  const std::size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    fail(url, "credentials in the URL are not supported; send an Authorization header");
  }

  HttpUrl result;
  std::string_view port_text;
  bool has_port = false;
  bool ipv6 = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail(url, "IPv6 address without a closing ']'");
    const std::string_view host = authority.substr(1, close - 1);
    if (!is_ipv6_literal(host)) fail(url, "\"" + std::string(host) + "\" is not an IPv6 address");
    result.host = std::string(host);
    ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(url, "unexpected text after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) fail(url, "empty host");
    if (!is_host_name(host)) {
      fail(url, "\"" + std::string(host) +
                    "\" is not a host name (IPv6 addresses go in brackets: http://[::1]:8080/)");
    }
    result.host = std::string(host);
  }
  if (has_port) result.port = parse_port(url, port_text);

  if (target.empty()) {
    result.target = "/";
  } else if (target.front() == '?') {
    result.target = "/" + std::string(target);  // "http://h?q" asks for "/?q"
  } else {
    result.target = std::string(target);
  }

  result.host_header = ipv6 ? "[" + result.host + "]" : result.host;
  if (result.port != kDefaultPort) result.host_header += ":" + std::to_string(result.port);
  return result;
}

}  // namespace perflab
