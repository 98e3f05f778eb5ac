#include "base64.hpp"

#include <array>
#include <cstdio>

namespace perflab::detail {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(kInvalid);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> kDecodeTable = make_decode_table();

std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  char buffer[16];
  if (u >= 0x21 && u < 0x7f) {
    std::snprintf(buffer, sizeof buffer, "'%c'", c);
  } else {
    std::snprintf(buffer, sizeof buffer, "byte 0x%02x", u);
  }
  return buffer;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n =
        (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    if (rest == 2) n |= std::uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text, std::string& error) {
  std::size_t data_length = text.size();
  while (data_length > 0 && text[data_length - 1] == '=' && text.size() - data_length < 2) {
    --data_length;
  }
  const std::size_t padding = text.size() - data_length;
  if (padding > 0 && text.size() % 4 != 0) {
    error = "base64 padding '=' in the middle of the data";
    return std::nullopt;
  }
  if (data_length % 4 == 1) {
    error = "base64 data of " + std::to_string(data_length) + " characters is truncated";
    return std::nullopt;
  }
  std::vector<std::uint8_t> out;
  out.reserve(data_length / 4 * 3 + 2);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_length; ++i) {
    const std::uint8_t sextet = kDecodeTable[static_cast<unsigned char>(text[i])];
    if (sextet == kInvalid) {
      error =
          "invalid base64 character " + describe_char(text[i]) + " at offset " + std::to_string(i);
      return std::nullopt;
    }
    accumulator = (accumulator << 6) | sextet;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(accumulator >> bits));
      accumulator &= (1u << bits) - 1;
    }
  }
  return out;
}

}  // namespace perflab::detail
