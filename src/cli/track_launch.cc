#include "track_launch.hpp"

#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end > start ? dirs.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

// An ELF executable without a program interpreter is statically linked: the
// dynamic loader never runs, so LD_PRELOAD has no effect on it.
bool is_static_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh)) return false;
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(
        static_cast<std::streamoff>(eh.e_phoff + static_cast<std::uint64_t>(i) * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return false;
    if (ph.p_type == PT_INTERP) return false;
  }
  return eh.e_type == ET_EXEC || eh.e_type == ET_DYN;
}

std::string find_preload_library() {
  if (const char* env = std::getenv("PERFLAB_TRACK_LIBRARY"); env != nullptr && *env != '\0') {
    if (::access(env, R_OK) == 0) return env;
    throw std::runtime_error(fmt::format("PERFLAB_TRACK_LIBRARY={} cannot be read", env));
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed =
        self.parent_path().parent_path() / "lib" / "perflab" / "libperflab_track.so";
    if (fs::exists(installed)) return installed.string();
    const fs::path installed64 =
        self.parent_path().parent_path() / "lib64" / "perflab" / "libperflab_track.so";
    if (fs::exists(installed64)) return installed64.string();
  }
#ifdef PERFLAB_TRACK_BUILD_LIBRARY
  if (fs::exists(PERFLAB_TRACK_BUILD_LIBRARY)) return PERFLAB_TRACK_BUILD_LIBRARY;
#endif
  throw std::runtime_error(
      "the recorder library libperflab_track.so was not found next to perflab (lib/perflab/); "
      "rebuild with -DPERFLAB_BUILD_TRACK=ON or set PERFLAB_TRACK_LIBRARY");
}

pid_t g_child = -1;

void forward_signal(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

LaunchPlan plan_launch(const std::vector<std::string>& command, Tracking tracking) {
  if (command.empty() || command[0].empty())
    throw std::runtime_error(
        "no command to track (usage: perflab track [OPTIONS] -- CMD [ARGS...])");
  LaunchPlan plan;
  plan.argv = command;
  plan.executable = find_in_path(command[0]);
  if (plan.executable.empty())
    throw std::runtime_error(
        fmt::format("command not found: {} (not in PATH; give a path)", command[0]));
  struct stat st {};
  if (::stat(plan.executable.c_str(), &st) != 0)
    throw std::runtime_error(
        fmt::format("cannot run {} ({})", plan.executable, std::strerror(errno)));
  if (S_ISDIR(st.st_mode) || ::access(plan.executable.c_str(), X_OK) != 0)
    throw std::runtime_error(
        fmt::format("cannot run {} (not an executable file)", plan.executable));
  if (tracking == Tracking::kUntracked) return plan;
  if (is_static_elf(plan.executable))
    throw std::runtime_error(fmt::format(
        "{} is statically linked, so it cannot be tracked: the tracker is loaded with LD_PRELOAD, "
        "which only dynamically linked programs honour (rebuild it dynamically linked, or link "
        "perflab::alloc into it to count allocations in-process)",
        plan.executable));
  plan.preload = find_preload_library();
  return plan;
}

pid_t start_program(const LaunchPlan& plan, const LaunchEnv* env, int output_fd, ProgramRole role) {
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(
        fmt::format("cannot start {} ({})", plan.executable, std::strerror(errno)));
  std::vector<char*> argv;
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Everything the child needs is built before fork: between fork and exec
  // only async-signal-safe calls are made (perflab may have threads).
  std::string preload = plan.preload;
  if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing != '\0')
    preload += std::string(":") + existing;
  const std::string interval = env != nullptr ? std::to_string(env->interval_ms) : "";
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(error_pipe[0]);
    ::close(error_pipe[1]);
    throw std::runtime_error(fmt::format("cannot fork ({})", std::strerror(error)));
  }
  if (pid == 0) {
    ::close(error_pipe[0]);
    if (role == ProgramRole::kService) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      // The parent may have died before prctl: then nobody would send it.
      if (::getppid() != parent) ::_exit(127);
      // Its own group is not the terminal's foreground: a read of the
      // terminal would stop it (SIGTTIN) mid-run. A service reads no stdin.
      const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    }
    if (output_fd >= 0) {
      ::dup2(output_fd, STDOUT_FILENO);
      ::dup2(output_fd, STDERR_FILENO);
      if (output_fd > STDERR_FILENO) ::close(output_fd);
    }
    if (env != nullptr) {
      ::setenv("LD_PRELOAD", preload.c_str(), 1);
      ::setenv("PERFLAB_TRACK_DIR", env->dump_dir.c_str(), 1);
      ::setenv("PERFLAB_TRACK_MODE", env->mode.c_str(), 1);
      ::setenv("PERFLAB_TRACK_UNWIND", env->unwind.c_str(), 1);
      ::setenv("PERFLAB_TRACK_FORK", env->fork.c_str(), 1);
      ::setenv("PERFLAB_TRACK_INTERVAL_MS", interval.c_str(), 1);
    }
    ::execv(plan.executable.c_str(), argv.data());
    const int error = errno;
    (void)!::write(error_pipe[1], &error, sizeof error);
    ::_exit(127);
  }
  // Set from both sides, so the group exists whichever runs first.
  if (role == ProgramRole::kService) ::setpgid(pid, pid);
  ::close(error_pipe[1]);
  // The pipe closes on a successful exec (O_CLOEXEC), or carries exec's errno.
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(error_pipe[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (got == sizeof exec_error) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error(
        fmt::format("cannot run {} ({})", plan.executable, std::strerror(exec_error)));
  }
  return pid;
}

namespace {

ChildResult describe_status(pid_t pid, int status) {
  ChildResult result;
  result.pid = pid;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    result.status_text = fmt::format("exited with status {}", result.exit_code);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    result.status_text = fmt::format("was killed by {}", signal_name(WTERMSIG(status)));
  }
  return result;
}

[[noreturn]] void throw_wait_error(pid_t pid) {
  throw std::runtime_error(
      fmt::format("cannot wait for process {} ({})", pid, std::strerror(errno)));
}

}  // namespace

ChildResult wait_program(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_wait_error(pid);
  }
  return describe_status(pid, status);
}

std::optional<ChildResult> try_wait_program(pid_t pid) {
  int status = 0;
  pid_t got = 0;
  do {
    got = ::waitpid(pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw_wait_error(pid);
  if (got == 0) return std::nullopt;
  return describe_status(pid, status);
}

ChildResult stop_program(pid_t pid, double grace_s) {
  // Polled rather than waited with a timer: no signal handler (SIGCHLD,
  // SIGALRM) of perflab's is disturbed, and 10 ms is nothing beside a grace.
  const auto wait_for = [pid](double seconds) -> std::optional<ChildResult> {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (true) {
      if (auto done = try_wait_program(pid)) return done;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  // A program leading its own group (ProgramRole::kService) takes its
  // group along; one in perflab's group is signalled alone.
  const bool own_group = ::getpgid(pid) == pid && pid != ::getpgrp();
  const pid_t target = own_group ? -pid : pid;
  // The group outlives its leader when the leader is a wrapper script or a
  // forking server: what is left of it is stopped too, so no server keeps
  // the port after perflab is done.
  const auto group_alive = [&] { return own_group && ::kill(-pid, 0) == 0; };
  const auto wait_group = [&](double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (group_alive() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  std::optional<ChildResult> done = try_wait_program(pid);
  if (!done) {
    ::kill(target, SIGTERM);
    done = wait_for(grace_s);
  }
  if (done) {
    if (group_alive()) {
      ::kill(-pid, SIGTERM);
      wait_group(grace_s);
      if (group_alive()) ::kill(-pid, SIGKILL);
      wait_group(5.0);
    }
    return *done;
  }
  ::kill(target, SIGKILL);
  if (auto killed = wait_for(5.0)) {
    if (group_alive()) ::kill(-pid, SIGKILL);
    return *killed;
  }
  ChildResult stuck;
  stuck.pid = pid;
  stuck.exit_code = -1;
  stuck.status_text = "did not end even after SIGKILL";
  return stuck;
}

ChildResult launch_and_wait(const LaunchPlan& plan, const LaunchEnv& env) {
  const pid_t pid = start_program(plan, &env);
  g_child = pid;
  struct sigaction forward {};
  forward.sa_handler = &forward_signal;
  sigemptyset(&forward.sa_mask);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_term, old_hup, old_int, old_quit;
  sigaction(SIGTERM, &forward, &old_term);
  sigaction(SIGHUP, &forward, &old_hup);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  g_child = -1;
  return describe_status(pid, status);
}

}  // namespace perflab::cli
