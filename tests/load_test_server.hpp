// LoadTestServer: runs tests/load_programs/test_http_server.cc (the binary named
// by the compile definition PERFLAB_LOAD_TEST_SERVER) for one test, on an
// ephemeral port of 127.0.0.1, and stops it when the test ends.
//
//   perflab::testing::LoadTestServer server({"--close-every", "2"});
//   ... drive load at server.url("/path") ...
//   server.stop();
//   EXPECT_NE(server.stats().find("closes="), std::string::npos);
//
// Not thread-safe: use one object from one thread.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#ifndef PERFLAB_LOAD_TEST_SERVER
#error "PERFLAB_LOAD_TEST_SERVER must name the load_test_server binary"
#endif

extern char** environ;

namespace perflab::testing {

namespace detail {

inline std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

inline std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace detail

class LoadTestServer {
 public:
  // Starts the server with `args` plus --port-file, --stats-file and
  // --log-requests in a private temporary directory, and waits up to 10 s for
  // it to listen. Throws std::runtime_error (with the server's exit status if
  // it died, e.g. "exited with status 2" for bad arguments) on failure.
  explicit LoadTestServer(std::vector<std::string> args) {
    make_dir();
    try {
      args.insert(args.begin(), PERFLAB_LOAD_TEST_SERVER);
      for (const auto& [flag, file] :
           {std::pair{"--port-file", "port"}, std::pair{"--stats-file", "stats"},
            std::pair{"--log-requests", "requests.log"}}) {
        args.emplace_back(flag);
        args.push_back((dir_ / file).string());
      }
      spawn(args);
      wait_for_port();
    } catch (...) {
      stop();
      remove_dir();
      throw;
    }
  }

  // Stops the server if still running and removes the temporary directory.
  ~LoadTestServer() {
    stop();
    remove_dir();
  }

  LoadTestServer(const LoadTestServer&) = delete;
  LoadTestServer& operator=(const LoadTestServer&) = delete;

  std::uint16_t port() const { return port_; }

  // "http://127.0.0.1:PORT" + path; path should start with '/'.
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // SIGTERM, then SIGKILL if the server has not exited after 5 s; reaps it.
  // The server writes its stats and flushes its request log on SIGTERM.
  // Idempotent.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      const pid_t r = ::waitpid(pid_, &exit_status_, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &exit_status_, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
  }

  // "requests=<n> connections=<n> resets=<n> closes=<n>\n".
  // REQUIRES: stop() was called (the server writes the file as it exits).
  std::string stats() const { return detail::read_whole_file(dir_ / "stats"); }

  // One "<method> <url> <body>\n" line per request, body newlines as "\n".
  // REQUIRES: stop() was called (the log is flushed only every 100 requests).
  std::string request_log() const { return detail::read_whole_file(dir_ / "requests.log"); }

 private:
  void make_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/perflab_load_server_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    dir_ = pattern;
  }

  void remove_dir() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  void spawn(std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int error = ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (error != 0) {
      throw std::system_error(error, std::generic_category(),
                              std::string("posix_spawn ") + PERFLAB_LOAD_TEST_SERVER);
    }
    pid_ = pid;
  }

  // The server renames the port file into place, so its presence means it is complete.
  void wait_for_port() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const auto port_file = dir_ / "port";
    for (;;) {
      std::error_code ec;
      if (std::filesystem::exists(port_file, ec)) {
        const unsigned long port = std::stoul(detail::read_whole_file(port_file));
        if (port == 0 || port > 65535) throw std::runtime_error("load_test_server: bad port file");
        port_ = static_cast<std::uint16_t>(port);
        return;
      }
      const pid_t r = ::waitpid(pid_, &exit_status_, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        throw std::runtime_error("load_test_server " + detail::describe_wait_status(exit_status_) +
                                 " before listening");
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("load_test_server did not listen within 10 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  std::uint16_t port_ = 0;
};

// A port on 127.0.0.1 that nothing listens on at the time of the call (for
// connection-refused tests); std::nullopt if no socket could be bound.
// Another process may take it afterwards, which is unlikely in a test.
inline std::optional<std::uint16_t> unused_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::optional<std::uint16_t> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);  // never listened, so connecting to the port is refused
  return port;
}

}  // namespace perflab::testing
