#include "track/interpret/proc_maps.hpp"

#include <charconv>
#include <optional>

namespace perflab::track {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Removes and returns the next blank-separated field of `line` ("" at the end).
std::string_view take_field(std::string_view& line) {
  std::size_t begin = 0;
  while (begin < line.size() && is_blank(line[begin])) ++begin;
  std::size_t end = begin;
  while (end < line.size() && !is_blank(line[end])) ++end;
  const std::string_view field = line.substr(begin, end - begin);
  line.remove_prefix(end);
  return field;
}

// The whole of `text` as a hexadecimal number, or nullopt.
std::optional<std::uint64_t> parse_hex(std::string_view text) {
  std::uint64_t value = 0;
  const char* last = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), last, value, 16);
  if (text.empty() || error != std::errc() || ptr != last) return std::nullopt;
  return value;
}

std::optional<MappedModule> parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::string_view range = take_field(line);
  const std::string_view perms = take_field(line);
  const std::string_view offset = take_field(line);
  const std::string_view device = take_field(line);
  const std::string_view inode = take_field(line);
  if (inode.empty() || perms.size() < 3) return std::nullopt;
  if (device.find(':') == std::string_view::npos) return std::nullopt;
  if (inode.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;

  const std::size_t dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto start = parse_hex(range.substr(0, dash));
  const auto end = parse_hex(range.substr(dash + 1));
  const auto file_offset = parse_hex(offset);
  if (!start || !end || !file_offset || *start >= *end) return std::nullopt;

  // The path is the rest of the line after the padding: it may contain blanks.
  while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
  if (line.empty() || line.front() != '/') return std::nullopt;

  MappedModule mapping;
  mapping.start = *start;
  mapping.end = *end;
  mapping.file_offset = *file_offset;
  mapping.executable = perms[2] == 'x';
  if (line.size() > kDeletedSuffix.size() && line.ends_with(kDeletedSuffix)) {
    line.remove_suffix(kDeletedSuffix.size());
    mapping.deleted = true;
  }
  mapping.path = std::string(line);
  return mapping;
}

}  // namespace

std::vector<MappedModule> parse_proc_maps(std::string_view text) {
  std::vector<MappedModule> mappings;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (auto mapping = parse_line(line)) mappings.push_back(std::move(*mapping));
  }
  return mappings;
}

}  // namespace perflab::track
