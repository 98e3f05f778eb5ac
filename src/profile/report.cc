// format_alloc_report(): the short human summary of an allocation profile,
// and the choice of the frame that names a call site.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perflab/profile.hpp"
#include "profile_internal.hpp"

namespace perflab {

namespace {

constexpr std::size_t kReportWidth = 100;

// Functions that allocate on their caller's behalf: the caller is the site.
constexpr std::string_view kAllocatorPrefixes[] = {"malloc",
                                                   "calloc",
                                                   "realloc",
                                                   "operator new",
                                                   "__libc_",
                                                   "perflab::track",
                                                   "aligned_alloc",
                                                   "posix_memalign",
                                                   "memalign",
                                                   "valloc",
                                                   "pvalloc",
                                                   "reallocarray",
                                                   "strdup",
                                                   "strndup",
                                                   "_Znw",
                                                   "_Zna",
                                                   "std::allocator<",
                                                   "std::allocator_traits<",
                                                   "std::__new_allocator<",
                                                   "__gnu_cxx::new_allocator<",
                                                   "__gnu_cxx::__new_allocator<",
                                                   "__gnu_cxx::__alloc_traits<",
                                                   "std::__allocated_ptr<"};

// Code inlined from the standard library's headers: its caller is more useful.
constexpr std::string_view kSystemHeaderPrefixes[] = {"/usr/include/", "/usr/lib/gcc/"};

bool in_system_header(const ProfileFrame& frame) {
  return std::any_of(std::begin(kSystemHeaderPrefixes), std::end(kSystemHeaderPrefixes),
                     [&](std::string_view prefix) { return frame.file.starts_with(prefix); });
}

// "1,234,567".
std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

// grouped() when it fits `width` columns, else "1.23e+15".
std::string grouped_within(std::uint64_t value, std::size_t width) {
  std::string text = grouped(value);
  if (text.size() <= width) return text;
  char compact[32];
  std::snprintf(compact, sizeof compact, "%.3g", static_cast<double>(value));
  return compact;
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

// Fits `text` into `width` columns, eliding the end (or the start, for paths).
std::string fit(const std::string& text, std::size_t width, bool keep_end) {
  if (text.size() <= width) return text;
  if (width <= 3) return text.substr(0, width);
  return keep_end ? "..." + text.substr(text.size() - (width - 3))
                  : text.substr(0, width - 3) + "...";
}

// "server.cc:42", the module's file name when there is no source file, or "".
std::string source_of(const ProfileFrame& frame) {
  const std::string& path = frame.file.empty() ? frame.module : frame.file;
  if (path.empty()) return "";
  std::string name = std::filesystem::path(path).filename().string();
  if (name.empty()) name = path;
  if (!frame.file.empty() && frame.line > 0) name += ":" + std::to_string(frame.line);
  return name;
}

// Appends the `top` sites with the largest `key`; `total` is the profile's
// total of that figure (the sites' sum when that is larger).
void append_sites(std::string& out, const AllocProfile& profile, std::size_t top, const char* title,
                  std::uint64_t AllocSite::*key, std::uint64_t total) {
  std::vector<std::size_t> order;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < profile.sites.size(); ++i) {
    sum += profile.sites[i].*key;
    if (profile.sites[i].*key > 0) order.push_back(i);
  }
  total = std::max(total, sum);
  out += "\nTop call sites by " + std::string(title);
  if (order.empty()) {
    out += ": none\n";
    return;
  }
  // Ties broken by the other figures, then by position, so the report is stable.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const AllocSite& x = profile.sites[a];
    const AllocSite& y = profile.sites[b];
    if (x.*key != y.*key) return x.*key > y.*key;
    if (x.bytes != y.bytes) return x.bytes > y.bytes;
    return x.allocs > y.allocs;
  });
  if (order.size() > top) order.resize(top);
  out += "\n";

  constexpr std::size_t kCount = 13;
  constexpr std::size_t kBytes = 11;
  constexpr std::size_t kShare = 8;
  constexpr std::size_t kFixed = kCount + 2 * kBytes + kShare + 2;
  out += pad_left("allocs", kCount) + pad_left("bytes", kBytes) + pad_left("leaked", kBytes) +
         pad_left("share", kShare) + "  site\n";
  for (const std::size_t index : order) {
    const AllocSite& site = profile.sites[index];
    std::string where = "(no stack)";
    if (const std::optional<std::uint32_t> frame = most_useful_frame(profile, site)) {
      const ProfileFrame& chosen = profile.frames[*frame];
      const std::string function = profile_detail::frame_text(chosen, profile.modules);
      std::string source = fit(source_of(chosen), 24, true);
      const std::size_t room = kReportWidth - kFixed;
      if (source.empty() || source == function) {
        where = fit(function, room, false);
      } else {
        where = fit(function, room - source.size() - 2, false) + "  " + source;
      }
    }
    out += pad_left(grouped_within(site.allocs, kCount - 1), kCount) +
           pad_left(human_bytes(site.bytes), kBytes) +
           pad_left(human_bytes(site.leaked_bytes), kBytes) +
           pad_left(percent(site.*key, total), kShare) + "  " + where + "\n";
  }
}

}  // namespace

bool is_allocator_frame(const ProfileFrame& frame) {
  const std::string_view name = frame.function;
  // "malloc" names malloc itself, not a user's malloc_pool(): a word prefix
  // must end at a word boundary; prefixes ending in '_' or '<' and mangled
  // names match as they are.
  return std::any_of(std::begin(kAllocatorPrefixes), std::end(kAllocatorPrefixes),
                     [&](std::string_view prefix) {
                       if (!name.starts_with(prefix)) return false;
                       if (prefix.back() == '_' || prefix.back() == '<' || prefix.starts_with("_Z"))
                         return true;
                       if (name.size() == prefix.size()) return true;
                       const char next = name[prefix.size()];
                       return !(std::isalnum(static_cast<unsigned char>(next)) || next == '_');
                     });
}

std::optional<std::uint32_t> most_useful_frame(const AllocProfile& profile, const AllocSite& site) {
  std::optional<std::uint32_t> first_valid;
  std::optional<std::uint32_t> first_caller;
  for (const std::uint32_t index : site.frames) {
    if (index >= profile.frames.size()) continue;
    const ProfileFrame& frame = profile.frames[index];
    if (!first_valid) first_valid = index;
    if (is_allocator_frame(frame)) continue;
    if (!in_system_header(frame)) return index;
    if (!first_caller) first_caller = index;
  }
  return first_caller ? first_caller : first_valid;
}

std::string format_alloc_report(const AllocProfile& profile, std::size_t top) {
  std::string out = "Allocations\n";
  auto row = [&out](const char* label, const std::string& value) {
    char head[20];
    std::snprintf(head, sizeof head, "  %-14s", label);
    out += head + value + "\n";
  };
  row("allocs", grouped(profile.allocs));
  row("frees", grouped(profile.frees));
  row("bytes", grouped(profile.bytes) + " (" + human_bytes(profile.bytes) + ")");
  row("peak heap",
      grouped(profile.peak_heap_bytes) + " bytes (" + human_bytes(profile.peak_heap_bytes) + ")");
  row("leaked", grouped(profile.leaked_bytes) + " bytes (" + human_bytes(profile.leaked_bytes) +
                    ") in " + grouped(profile.leaked_objects) + " objects");
  row("temporary", grouped(profile.temporary) + " (" + percent(profile.temporary, profile.allocs) +
                       " of allocs)");
  if (profile.duration_s > 0 && std::isfinite(profile.duration_s)) {
    const double per_s = std::min(static_cast<double>(profile.allocs) / profile.duration_s, 1e18);
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3g", profile.duration_s);
    row("rate", grouped(static_cast<std::uint64_t>(std::llround(per_s))) + " allocs/s over " +
                    duration + " s");
  }
  if (profile.peak_rss_bytes > 0) {
    row("peak RSS",
        grouped(profile.peak_rss_bytes) + " bytes (" + human_bytes(profile.peak_rss_bytes) + ")");
  }
  if (profile.sites.empty()) {
    out += "\nNo call stacks recorded (counting only).\n";
    return out;
  }
  if (top == 0) return out;
  append_sites(out, profile, top, "allocation count", &AllocSite::allocs, profile.allocs);
  append_sites(out, profile, top, "bytes", &AllocSite::bytes, profile.bytes);
  append_sites(out, profile, top, "leaked bytes", &AllocSite::leaked_bytes, profile.leaked_bytes);
  return out;
}

}  // namespace perflab
