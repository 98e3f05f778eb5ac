// PerfSampler: perf record in the background, perf script to fold. Stacks
// are unwound with DWARF (--call-graph dwarf): optimized code and libc have
// no frame pointers, and a frame-pointer walk stops at the first such frame
// (a server spinning in clock_gettime showed only libc and the kernel).
#include "cpu_sampler_perf.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "spawn_actions.hpp"

extern char** environ;

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStopTimeout{10};
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr const char* kPerfData = "perf.data";
constexpr const char* kPerfLog = "perf.log";
constexpr const char* kPerfScript = "perf.script";
// What perf record prints when --max-size stops it.
constexpr std::string_view kSizeLimitReached = "size limit reached";

// Starts perf with `args` (stdin /dev/null, stdout to `out`, stderr appended
// to `log`), in a process group of its own so a terminal's Ctrl-C reaches
// perflab alone. Returns the pid, or throws with the reason.
pid_t spawn_perf(const std::vector<std::string>& args, const fs::path& out, const fs::path& log) {
  SpawnActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(actions.get(), STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("perf"));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int error = posix_spawnp(&pid, "perf", actions.get(), &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (error == ENOENT) throw std::runtime_error("perf is not installed (not found on PATH)");
  if (error != 0)
    throw std::runtime_error(fmt::format("cannot run perf ({})", std::strerror(error)));
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// The status of `pid` once it has ended, or nullopt when it is still
// running at `deadline`.
std::optional<int> wait_status_until(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t ended = ::waitpid(pid, &status, WNOHANG);
    if (ended == pid) return status;
    if (ended < 0 && errno != EINTR) return 0;  // not ours to wait for: nothing to report
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// perf record re-raises the SIGINT that stopped it once its data is written.
bool perf_succeeded(int status) {
  return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
         (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
}

std::string status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "ended";
}

std::string last_lines(const fs::path& file, std::size_t count) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  std::string text;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    text += (text.empty() ? "" : "\n") + lines[i];
  }
  return text;
}

std::string size_text(std::uint64_t bytes) {
  if (bytes >= (std::uint64_t{1} << 20) && bytes % (std::uint64_t{1} << 20) == 0) {
    return fmt::format("{} MiB", bytes >> 20);
  }
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// DWARF stacks of perf's default 8 KiB: enough for the test server and for
// most servers' stacks from the sampled frame up to main or the thread's
// start; 4 KiB halves perf.data but cuts off the roots of deeper stacks.
std::vector<std::string> record_args(const std::string& output, std::uint64_t max_bytes) {
  return {"record",
          "-e",
          "cpu-clock",
          "-F",
          std::to_string(kPerfSampleHz),
          "--call-graph",
          "dwarf",
          "-q",
          "-o",
          output,
          fmt::format("--max-size={}K", std::max<std::uint64_t>(max_bytes >> 10, 1))};
}

// ';' separates frames and a newline ends a stack, so neither may be in a name.
std::string clean_frame(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == ';') c = ':';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

struct ScriptFrame {
  std::string_view ip;
  std::string name;
  bool inlined = false;
};

// "\t    7394 spin_for_work (inlined)" or "\t  cf439 clock_gettime (/lib/libc.so.6)".
std::optional<ScriptFrame> parse_frame_line(std::string_view line) {
  const std::size_t ip_begin = line.find_first_not_of(" \t");
  if (ip_begin == std::string_view::npos) return std::nullopt;
  const std::size_t ip_end = line.find(' ', ip_begin);
  ScriptFrame frame;
  frame.ip = line.substr(ip_begin, ip_end - ip_begin);
  std::string_view rest =
      ip_end == std::string_view::npos ? std::string_view() : line.substr(ip_end + 1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  std::string_view module;
  constexpr std::string_view kInlined = " (inlined)";
  if (rest.ends_with(kInlined)) {
    frame.inlined = true;
    rest.remove_suffix(kInlined.size());
  } else if (rest.ends_with(')')) {
    // The module in parentheses; the symbol may have parentheses of its own
    // ("(anonymous namespace)::f"), the module is the last group.
    if (const std::size_t open = rest.rfind(" ("); open != std::string_view::npos) {
      module = rest.substr(open + 2, rest.size() - open - 3);
      rest = rest.substr(0, open);
    } else if (rest.front() == '(') {  // no symbol at all
      module = rest.substr(1, rest.size() - 2);
      rest = {};
    }
  }
  if (rest.empty() || rest == "[unknown]") {
    const std::string file = fs::path(module).filename().string();
    frame.name = file.empty() || module == "[unknown]" ? "[unknown]"
                 : module.front() == '['               ? std::string(module)  // [kernel.kallsyms]
                                                       : "[" + file + "]";
  } else {
    frame.name = std::string(rest);
  }
  frame.name = clean_frame(frame.name);
  return frame;
}

// One sample's frames (leaf first) into its folded stack.
void add_sample(std::vector<ScriptFrame>& frames, CpuStacks& stacks) {
  if (frames.empty()) return;
  std::vector<const ScriptFrame*> kept;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // perf lists a function with inlined callees at one address as the
    // symbol, then the inlined chain ending in the function again: the first
    // is a duplicate.
    // A function without inlined callees there may be listed twice as well.
    const bool duplicate = !frames[i].inlined && i + 1 < frames.size() &&
                           frames[i + 1].ip == frames[i].ip &&
                           (frames[i + 1].inlined || frames[i + 1].name == frames[i].name);
    if (!duplicate) kept.push_back(&frames[i]);
  }
  if (kept.size() > kMaxCpuFrames) kept.resize(kMaxCpuFrames);
  std::string stack;
  for (std::size_t i = kept.size(); i-- > 0;) {
    stack += kept[i]->name;
    if (i > 0) stack += ';';
  }
  ++stacks[stack];
  frames.clear();
}

}  // namespace

CpuStacks fold_perf_script(std::istream& in) {
  CpuStacks stacks;
  std::vector<ScriptFrame> frames;
  std::vector<std::string> lines;  // the sample's lines: frames view into them
  bool in_sample = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t") == std::string::npos) {  // a sample ends
      for (const std::string& text : lines) {
        if (auto frame = parse_frame_line(text)) frames.push_back(std::move(*frame));
      }
      add_sample(frames, stacks);
      lines.clear();
      in_sample = false;
    } else if (line.front() != '\t') {  // "comm tid" (perhaps padded): a sample begins
      in_sample = true;
    } else if (in_sample) {
      lines.push_back(std::move(line));
    }
  }
  for (const std::string& text : lines) {
    if (auto frame = parse_frame_line(text)) frames.push_back(std::move(*frame));
  }
  add_sample(frames, stacks);
  return stacks;
}

std::optional<std::string> PerfSampler::unavailable_reason() {
  char dir_template[] = "/tmp/perflab-perf-check-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    return fmt::format("cannot create a temporary directory ({})", std::strerror(errno));
  }
  const fs::path dir = dir_template;
  std::optional<std::string> reason;
  try {
    std::vector<std::string> args =
        record_args((dir / kPerfData).string(), PerfSamplerOptions{}.max_data_bytes);
    args.insert(args.end(), {"--", "true"});
    const int status = wait_status(spawn_perf(args, "/dev/null", dir / kPerfLog));
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      const std::string said = last_lines(dir / kPerfLog, 3);
      reason = fmt::format("`perf record -e cpu-clock` {}{}", status_text(status),
                           said.empty() ? "" : ": " + said);
    }
  } catch (const std::exception& e) {
    reason = e.what();
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return reason;
}

PerfSampler::PerfSampler(pid_t pid, const fs::path& work_dir, PerfSamplerOptions options)
    : work_dir_(work_dir), options_(options) {
  std::vector<std::string> args =
      record_args((work_dir / kPerfData).string(), options_.max_data_bytes);
  args.insert(args.end(), {"-p", std::to_string(pid)});
  perf_pid_ = spawn_perf(args, "/dev/null", work_dir / kPerfLog);
}

PerfSampler::~PerfSampler() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw
  }
}

void PerfSampler::stop() {
  if (!status_) {
    int status = 0;
    pid_t ended = ::waitpid(perf_pid_, &status, WNOHANG);
    if (ended == 0) {
      ::kill(perf_pid_, SIGINT);
      if (auto done = wait_status_until(perf_pid_, Clock::now() + kStopTimeout)) {
        status = *done;
      } else {
        ::kill(perf_pid_, SIGKILL);
        status = wait_status(perf_pid_);
      }
    }
    status_ = status;
  }
  if (!perf_succeeded(*status_)) {
    throw std::runtime_error(fmt::format("perf record {} ({})", status_text(*status_), log_tail()));
  }
}

CpuStacks PerfSampler::collect() {
  stop();
  const fs::path script = work_dir_ / kPerfScript;
  const fs::path data = work_dir_ / kPerfData;
  const std::vector<std::string> args = {"script", "-i", data.string(), "-F",
                                         "comm,tid,ip,sym,dso"};
  const pid_t pid = spawn_perf(args, script, work_dir_ / kPerfLog);
  const std::optional<int> status = wait_status_until(pid, Clock::now() + options_.script_timeout);
  if (!status) {
    ::kill(-pid, SIGKILL);  // its group: helpers it started too
    wait_status(pid);
    std::error_code ignored;
    const std::uintmax_t bytes = fs::file_size(data, ignored);
    throw std::runtime_error(
        fmt::format("perf script did not finish within {} s on {} of perf.data, and was killed",
                    options_.script_timeout.count(),
                    bytes == static_cast<std::uintmax_t>(-1) ? "?" : size_text(bytes)));
  }
  if (!(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
    throw std::runtime_error(fmt::format("perf script {} ({})", status_text(*status), log_tail()));
  }
  std::ifstream in(script);
  if (!in) throw std::runtime_error("cannot read perf script's output " + script.string());
  return fold_perf_script(in);
}

std::vector<std::string> PerfSampler::warnings() const {
  std::vector<std::string> said;
  std::ifstream in(work_dir_ / kPerfLog);
  for (std::string line; std::getline(in, line);) {
    if (line.find(kSizeLimitReached) != std::string::npos) {
      said.push_back(fmt::format(
          "perf.data reached its {} cap and perf stopped recording: the CPU profile covers only "
          "the start of the repetitions",
          size_text(options_.max_data_bytes)));
      break;
    }
  }
  return said;
}

std::string PerfSampler::log_tail() const {
  const std::string text = last_lines(work_dir_ / kPerfLog, 5);
  return text.empty() ? "perf printed nothing" : text;
}

}  // namespace perflab::cli
