// Runs Google Benchmark binaries as child processes and reads their JSON.
// posix_spawn rather than fork: it reports a failed exec as its own return
// value, so "not executable" needs no pipe of our own from the child.
#include "bench_run.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "spawn_actions.hpp"

extern char** environ;

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;

// Enough of the binary's stderr to show why it failed, never the whole of a
// chatty run.
constexpr std::size_t kStderrTailBytes = 16 * 1024;
constexpr std::size_t kStderrTailLines = 10;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

// A name with a '/' is a path; a bare name is looked up on PATH, as a shell does.
fs::path resolve_binary(const std::string& name) {
  if (name.empty()) fail("no benchmark binary given");
  const auto check = [&name](const fs::path& path) {
    std::error_code error;
    if (!fs::exists(path, error)) {
      fail("benchmark binary \"" + name + "\" does not exist");
    }
    if (fs::is_directory(path, error)) fail("benchmark binary \"" + name + "\" is a directory");
    if (access(path.c_str(), X_OK) != 0) {
      fail("benchmark binary \"" + name + "\" is not executable (" + std::strerror(errno) + ")");
    }
    return path;
  };
  if (name.find('/') != std::string::npos) return check(name);
  const char* path_variable = std::getenv("PATH");
  std::stringstream directories(path_variable != nullptr ? path_variable : "/usr/bin:/bin");
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    const fs::path candidate = fs::path(directory.empty() ? "." : directory) / name;
    std::error_code error;
    if (fs::is_regular_file(candidate, error) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  fail("benchmark binary \"" + name +
       "\" was not found on PATH (give a path, e.g. ./build/my_bench)");
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  std::string out;
  const std::size_t first = lines.size() > count ? lines.size() - count : 0;
  for (std::size_t i = first; i < lines.size(); ++i) out += "\n  " + lines[i];
  return out;
}

// Owns a file descriptor so every early throw closes it.
class Descriptor {
 public:
  explicit Descriptor(int fd = -1) : fd_(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct ChildOutcome {
  int status = 0;
  std::string stderr_tail;
};

ChildOutcome run_child(const fs::path& binary, const std::vector<std::string>& argv_words,
                       bool show_output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  Descriptor read_end(pipe_fds[0]);
  Descriptor write_end(pipe_fds[1]);

  SpawnActions actions;
  posix_spawn_file_actions_adddup2(actions.get(), write_end.get(), STDERR_FILENO);
  if (!show_output) {
    posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  std::vector<char*> argv;
  for (const std::string& word : argv_words) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);

  // Our own stdout is buffered; flush it so the binary's lines come after ours.
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, binary.c_str(), actions.get(), nullptr, argv.data(), environ);
  if (spawn_error != 0) {
    fail("cannot start benchmark binary \"" + argv_words[0] + "\" (" + std::strerror(spawn_error) +
         ")");
  }
  write_end.reset();  // the child holds the only write end: EOF when it exits

  ChildOutcome outcome;
  char buffer[4096];
  for (;;) {
    const ssize_t got = read(read_end.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    const auto length = static_cast<std::size_t>(got);
    if (show_output) std::fwrite(buffer, 1, length, stderr);
    outcome.stderr_tail.append(buffer, length);
    if (outcome.stderr_tail.size() > 2 * kStderrTailBytes) {
      outcome.stderr_tail.erase(0, outcome.stderr_tail.size() - kStderrTailBytes);
    }
  }
  while (waitpid(pid, &outcome.status, 0) < 0) {
    if (errno != EINTR) fail(std::string("waitpid: ") + std::strerror(errno));
  }
  return outcome;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    const char* name = strsignal(signal_number);
    return "was killed by signal " + std::to_string(signal_number) + " (" +
           (name != nullptr ? name : "?") + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

bool is_iteration(const nlohmann::json& run) {
  return run.is_object() && run.value("run_type", std::string("iteration")) == "iteration";
}

std::string run_name(const nlohmann::json& run) {
  return run.value("run_name", run.value("name", std::string()));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) fail("cannot write " + path.string() + " (" + std::strerror(errno) + ")");
}

}  // namespace

BenchmarkRun run_benchmark_binary(const std::vector<std::string>& command,
                                  const std::vector<std::string>& extra_arguments,
                                  const fs::path& out_file, bool show_output) {
  if (command.empty()) fail("no benchmark binary given");
  const std::string& name = command.front();
  const fs::path binary = resolve_binary(name);
  std::vector<std::string> words = command;
  words.insert(words.end(), extra_arguments.begin(), extra_arguments.end());
  words.push_back("--benchmark_out=" + out_file.string());
  words.push_back("--benchmark_out_format=json");

  std::error_code ignored;
  fs::remove(out_file, ignored);  // a stale file must not pass for this run's output
  const auto started = std::chrono::steady_clock::now();
  const ChildOutcome outcome = run_child(binary, words, show_output);
  BenchmarkRun run;
  run.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (!WIFEXITED(outcome.status) || WEXITSTATUS(outcome.status) != 0) {
    const std::string tail = last_lines(outcome.stderr_tail, kStderrTailLines);
    fail("benchmark binary \"" + name + "\" " + describe_status(outcome.status) +
         (tail.empty() ? " and printed nothing on stderr"
                       : "; the last lines of its stderr:" + tail));
  }
  run.output_text = read_text(out_file);
  if (run.output_text.empty()) {
    // Google Benchmark writes no file at all when the filter matches nothing.
    const std::string tail = last_lines(outcome.stderr_tail, 3);
    fail("benchmark binary \"" + name +
         "\" wrote no JSON (is it a Google Benchmark binary, and does --filter match any of "
         "its benchmarks?)" +
         (tail.empty() ? "" : "; the last lines of its stderr:" + tail));
  }
  try {
    run.output = nlohmann::json::parse(run.output_text);
  } catch (const nlohmann::json::exception& e) {
    fail("benchmark binary \"" + name + "\" wrote invalid JSON to " + out_file.string() + " (" +
         e.what() + ")");
  }
  if (!run.output.is_object() || !run.output.contains("benchmarks") ||
      !run.output["benchmarks"].is_array()) {
    fail("benchmark binary \"" + name + "\" wrote JSON without a \"benchmarks\" array to " +
         out_file.string());
  }
  std::size_t iterations = 0;
  for (const nlohmann::json& result : run.output["benchmarks"]) {
    if (!is_iteration(result)) continue;
    if (result.value("error_occurred", false)) {
      fail("benchmark " + run_name(result) + " of \"" + name +
           "\" reported an error: " + result.value("error_message", std::string("?")));
    }
    ++iterations;
  }
  if (iterations == 0) {
    fail("benchmark binary \"" + name +
         "\" ran no benchmark (does --filter match any of its benchmarks?)");
  }
  return run;
}

InterleavedRuns run_interleaved(const std::vector<std::string>& base_command,
                                const std::vector<std::string>& candidate_command, int rounds,
                                const std::string& filter, const fs::path& work_dir) {
  if (rounds < 1) fail("interleaved runs need at least one round");
  std::vector<std::string> extra = {"--benchmark_repetitions=1"};
  if (!filter.empty()) extra.push_back("--benchmark_filter=" + filter);

  struct Side {
    const std::vector<std::string>* command;
    std::string label;
    nlohmann::json merged;
    std::map<std::string, int> counts;
  };
  Side sides[2] = {{&base_command, "base", nlohmann::json(), {}},
                   {&candidate_command, "candidate", nlohmann::json(), {}}};
  for (Side& side : sides) {
    side.merged = {{"benchmarks", nlohmann::json::array()}};
  }

  for (int round = 0; round < rounds; ++round) {
    for (Side& side : sides) {  // A then B: neighbours in time share the machine's state
      const fs::path out = work_dir / (side.label + "-" + std::to_string(round) + ".json");
      BenchmarkRun run = run_benchmark_binary(*side.command, extra, out, false);
      std::error_code ignored;
      fs::remove(out, ignored);
      if (round == 0 && run.output.contains("context")) {
        side.merged["context"] = run.output["context"];
      }
      for (nlohmann::json& result : run.output["benchmarks"]) {
        if (!is_iteration(result)) continue;
        // Numbered as repetitions of one run, which is what the rounds amount to.
        result["repetition_index"] = round;
        result["repetitions"] = rounds;
        ++side.counts[run_name(result)];
        side.merged["benchmarks"].push_back(std::move(result));
      }
    }
  }

  for (const auto& [name, count] : sides[0].counts) {
    auto other = sides[1].counts.find(name);
    if (other != sides[1].counts.end() && other->second != count) {
      fail("benchmark " + name + " ran " + std::to_string(count) + " times in the base and " +
           std::to_string(other->second) + " times in the candidate over " +
           std::to_string(rounds) + " rounds; the runs cannot be paired");
    }
  }

  InterleavedRuns runs{work_dir / "base.json", work_dir / "candidate.json", rounds};
  write_text(runs.base_json, sides[0].merged.dump(2) + "\n");
  write_text(runs.candidate_json, sides[1].merged.dump(2) + "\n");
  return runs;
}

}  // namespace perflab::cli
