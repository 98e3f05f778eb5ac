// fold_sampled_stacks: each distinct address symbolized once (a CPU profile
// repeats a few hundred addresses thousands of times), then the stacks
// joined by name.
#include "cpu_sampler_fold.hpp"

#include <charconv>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>

#include "track/interpret/proc_maps.hpp"
#include "track/interpret/symbolizer.hpp"

namespace perflab::cli {
namespace {

struct Range {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};

// The [vdso] mappings: parse_proc_maps keeps file mappings only.
std::vector<Range> vdso_ranges(std::string_view maps) {
  std::vector<Range> ranges;
  while (!maps.empty()) {
    const std::size_t eol = maps.find('\n');
    const std::string_view line = maps.substr(0, eol);
    maps = eol == std::string_view::npos ? std::string_view() : maps.substr(eol + 1);
    if (!line.ends_with("[vdso]")) continue;
    Range range;
    const char* end = line.data() + line.size();
    auto [dash, error] = std::from_chars(line.data(), end, range.start, 16);
    if (error != std::errc() || dash == end || *dash != '-') continue;
    if (std::from_chars(dash + 1, end, range.end, 16).ec != std::errc()) continue;
    ranges.push_back(range);
  }
  return ranges;
}

// ';' separates frames and a newline ends a stack, so neither may be in a name.
std::string clean_name(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == ';') c = ':';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

std::string frame_name(const ProfileFrame& frame) {
  if (!frame.function.empty()) return clean_name(frame.function);
  if (frame.module.empty()) return "[unknown]";
  return "[" + clean_name(std::filesystem::path(frame.module).filename().string()) + "]";
}

}  // namespace

CpuStacks fold_sampled_stacks(const SampledStacks& stacks, std::string_view maps_text) {
  CpuStacks folded;
  if (stacks.empty()) return folded;
  track::Symbolizer symbolizer(track::parse_proc_maps(maps_text));
  const std::vector<Range> vdso = vdso_ranges(maps_text);
  // Innermost first, inlined frames expanded.
  std::unordered_map<std::uint64_t, std::vector<std::string>> names;
  const auto names_of = [&](std::uint64_t address) -> const std::vector<std::string>& {
    auto [it, inserted] = names.try_emplace(address);
    if (inserted) {
      for (const Range& range : vdso) {
        if (range.start <= address && address < range.end) it->second.push_back("[vdso]");
      }
      if (it->second.empty()) {
        for (const ProfileFrame& frame : symbolizer.symbolize_inlined(address)) {
          it->second.push_back(frame_name(frame));
        }
      }
    }
    return it->second;
  };
  std::vector<const std::string*> frames;  // innermost first
  for (const auto& [addresses, samples] : stacks) {
    frames.clear();
    for (const std::uint64_t address : addresses) {
      for (const std::string& name : names_of(address)) frames.push_back(&name);
    }
    if (frames.size() > kMaxCpuFrames) frames.resize(kMaxCpuFrames);
    std::string stack;
    for (std::size_t i = frames.size(); i-- > 0;) {
      stack += *frames[i];
      if (i > 0) stack += ';';
    }
    if (stack.empty()) stack = "[unknown]";
    folded[stack] += samples;
  }
  return folded;
}

}  // namespace perflab::cli
