// What /proc says about the process the built-in sampler traces.
#include "cpu_sampler_proc.hpp"

#include <dirent.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

namespace perflab::cli::proc {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

// The fields of a /proc stat line after "pid (comm)": [0] is the state.
std::vector<std::string_view> stat_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  const std::size_t close = line.rfind(')');
  if (close == std::string_view::npos) return fields;
  line.remove_prefix(close + 1);
  while (!line.empty()) {
    const std::size_t begin = line.find_first_not_of(' ');
    if (begin == std::string_view::npos) break;
    const std::size_t end = line.find(' ', begin);
    fields.push_back(line.substr(begin, end - begin));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return fields;
}

}  // namespace

std::optional<std::uint64_t> live_start_time(pid_t pid) {
  const auto text = read_text(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  const std::vector<std::string_view> fields = stat_fields(*text);
  constexpr std::size_t kStartTime = 22 - 3;  // field 22, counted from the state (field 3)
  if (fields.size() <= kStartTime || fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  std::uint64_t value = 0;
  const std::string_view start = fields[kStartTime];
  if (std::from_chars(start.data(), start.data() + start.size(), value).ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

// pread at 0 has the kernel write the file anew: one open per thread.
char thread_state(int stat_fd) {
  char text[256];
  const ssize_t got = ::pread(stat_fd, text, sizeof text, 0);
  if (got <= 0) return '?';
  const std::string_view line(text, static_cast<std::size_t>(got));
  const std::size_t close = line.rfind(')');
  return close != std::string_view::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

pid_t tracer_of(pid_t pid, pid_t tid) {
  const auto text = read_text(fmt::format("/proc/{}/task/{}/status", pid, tid));
  if (!text) return -1;
  const std::size_t at = text->find("TracerPid:");
  if (at == std::string::npos) return -1;
  std::string_view rest = std::string_view(*text).substr(at + 10);
  rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
  pid_t tracer = -1;
  std::from_chars(rest.data(), rest.data() + rest.size(), tracer);
  return tracer;
}

std::optional<std::vector<pid_t>> list_threads(pid_t pid) {
  DIR* dir = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (dir == nullptr) return std::nullopt;
  std::vector<pid_t> tids;
  while (const dirent* entry = ::readdir(dir)) {
    pid_t tid = 0;
    const std::string_view name = entry->d_name;
    if (std::from_chars(name.data(), name.data() + name.size(), tid).ec == std::errc() && tid > 0)
      tids.push_back(tid);
  }
  ::closedir(dir);
  return tids;
}

}  // namespace perflab::cli::proc
