// Private: standard base64 (RFC 4648 alphabet) for .hlog payloads.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::detail {

/// Encodes with '=' padding, as java.util.Base64 does.
std::string base64_encode(std::span<const std::uint8_t> bytes);

/// Decodes padded or unpadded base64. On malformed input returns std::nullopt
/// and sets `error` to what is wrong (which character, at which offset).
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text, std::string& error);

}  // namespace perflab::detail
