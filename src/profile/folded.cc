// Folded stacks (allocs.folded, allocs_bytes.folded): the format of Brendan
// Gregg's stackcollapse scripts that flamegraph.pl, inferno and speedscope
// read. One line per call stack: frames root first joined by ';', one space,
// the value.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "profile_internal.hpp"

namespace perflab::profile_detail {

namespace {

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// ';' separates frames and '\n' lines, so neither may appear inside a frame.
std::string clean(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == ';') {
      c = ':';
    } else if (byte < 0x20 || byte == 0x7f) {
      c = ' ';
    }
  }
  return out;
}

}  // namespace

std::string frame_text(const ProfileFrame& frame, const std::vector<ProfileModule>& modules) {
  if (!frame.function.empty()) return clean(frame.function);
  if (frame.module.empty()) return hex(frame.address);
  std::string name = std::filesystem::path(frame.module).filename().string();
  if (name.empty()) name = frame.module;
  for (const ProfileModule& module : modules) {
    if (module.path == frame.module && module.start <= frame.address &&
        frame.address < module.limit) {
      return clean(name) + "+" + hex(frame.address - module.start + module.file_offset);
    }
  }
  return clean(name) + "@" + hex(frame.address);
}

std::string format_folded(const AllocProfile& profile, FoldedValue value) {
  std::vector<std::string> texts(profile.frames.size());
  std::vector<bool> known(profile.frames.size(), false);
  std::string out;
  for (const AllocSite& site : profile.sites) {
    const std::uint64_t figure = value == FoldedValue::kAllocs ? site.allocs : site.bytes;
    if (figure == 0) continue;  // a zero-width stack draws nothing
    if (site.frames.empty()) out += "[no stack]";
    for (std::size_t i = site.frames.size(); i-- > 0;) {
      const std::uint32_t frame = site.frames[i];
      if (frame >= profile.frames.size()) {
        out += "[bad frame]";
      } else {
        if (!known[frame]) {
          texts[frame] = frame_text(profile.frames[frame], profile.modules);
          known[frame] = true;
        }
        out += texts[frame];
      }
      if (i > 0) out += ';';
    }
    out += ' ';
    out += std::to_string(figure);
    out += '\n';
  }
  return out;
}

}  // namespace perflab::profile_detail
