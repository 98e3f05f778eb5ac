// perflab track on programs nobody here wrote: sqlite3 running SQL, python3
// running a script, and nginx, whose master forks workers that must each get
// a profile. Everything runs on 127.0.0.1 and stops by itself.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "perflab/profile.hpp"

namespace perflab {
namespace {

namespace fs = std::filesystem;

int run_quietly(const std::string& command) {
  const int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    const fs::path p = fs::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

bool module_seen(const AllocProfile& p, const std::string& part) {
  for (const ProfileFrame& f : p.frames)
    if (f.module.find(part) != std::string::npos) return true;
  return false;
}

// Cumulative samples never go back, and the last, taken at exit, reaches the
// totals: allocations and the bytes they requested.
void expect_timeline_adds_up(const AllocProfile& p) {
  ASSERT_FALSE(p.timeline.empty());
  for (std::size_t i = 1; i < p.timeline.size(); ++i) {
    EXPECT_GE(p.timeline[i].allocs, p.timeline[i - 1].allocs) << "sample " << i;
    EXPECT_GE(p.timeline[i].alloc_bytes, p.timeline[i - 1].alloc_bytes) << "sample " << i;
  }
  EXPECT_EQ(p.timeline.back().allocs, p.allocs);
  EXPECT_EQ(p.timeline.back().alloc_bytes, p.bytes);
}

class TrackRealProgramsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("perflab-real-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TrackRealProgramsTest, Sqlite3RunningSqlIsProfiled) {
  const std::string sqlite = find_program("sqlite3");
  if (sqlite.empty()) GTEST_SKIP() << "sqlite3 not installed (Debian package sqlite3)";
  const std::string sql =
      "create table t(a, b); "
      "with recursive c(x) as (select 1 union all select x + 1 from c where x < 5000) "
      "insert into t select x, hex(randomblob(40)) from c; "
      "create index ib on t(b); select count(*) from t where b like 'A%';";
  ASSERT_EQ(run_quietly(std::string(PERFLAB_CLI) + " track -q -o " + (dir_ / "p").string() +
                        " -- " + sqlite + " :memory: \"" + sql + "\""),
            0);
  const AllocProfile p = read_alloc_profile(dir_ / "p");
  EXPECT_GT(p.allocs, 5000u);
  EXPECT_TRUE(module_seen(p, "libsqlite3")) << "allocations are attributed to sqlite's library";
  const nlohmann::json s = read_summary(dir_ / "p");
  EXPECT_EQ(s["run"]["exit"], "exited with status 0");
}

TEST_F(TrackRealProgramsTest, Python3RunningAScriptIsProfiled) {
  const std::string python = find_program("python3");
  if (python.empty()) GTEST_SKIP() << "python3 not installed (Debian package python3)";
  // PYTHONMALLOC=malloc sends every Python object through malloc, so the
  // 100000 strings the script keeps are 100000 allocations at least.
  ASSERT_EQ(run_quietly("PYTHONMALLOC=malloc " + std::string(PERFLAB_CLI) +
                        " track -q --interval-ms 5 -o " + (dir_ / "p").string() + " -- " + python +
                        " -c \"x = [str(i) * 3 for i in range(100000)]; print(len(x))\""),
            0);
  const AllocProfile p = read_alloc_profile(dir_ / "p");
  EXPECT_GT(p.allocs, 100000u);
  EXPECT_TRUE(module_seen(p, "python3")) << "frames in the interpreter";
  expect_timeline_adds_up(p);
  EXPECT_GT(p.timeline.back().alloc_bytes, 100000u * 3) << "the strings alone";
}

// heaptrack (the anchor) and perflab track count the same allocation calls of
// the same program, exactly.
TEST_F(TrackRealProgramsTest, AllocationCountEqualsHeaptracksForTheSameProgram) {
  const std::string heaptrack = find_program("heaptrack");
  const std::string print = find_program("heaptrack_print");
  if (heaptrack.empty() || print.empty())
    GTEST_SKIP() << "heaptrack not installed (Debian package heaptrack)";
  const std::string out = (dir_ / "ht").string();
  ASSERT_EQ(run_quietly("cd " + dir_.string() + " && " + heaptrack + " -o " + out + " " +
                        KNOWN_ALLOCS + " threads"),
            0);
  std::string trace;
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.path().filename().string().rfind("ht", 0) == 0) trace = entry.path().string();
  ASSERT_FALSE(trace.empty()) << "heaptrack wrote no trace";
  FILE* pipe = popen((print + " " + trace + " 2>/dev/null").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::uint64_t heaptrack_calls = 0;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    unsigned long long n = 0;
    if (std::sscanf(line, "calls to allocation functions: %llu", &n) == 1) heaptrack_calls = n;
  }
  pclose(pipe);
  ASSERT_GT(heaptrack_calls, 0u);
  ASSERT_EQ(run_quietly(std::string(PERFLAB_CLI) + " track -q -o " + (dir_ / "p").string() +
                        " -- " + KNOWN_ALLOCS + " threads"),
            0);
  EXPECT_EQ(read_summary(dir_ / "p")["alloc"]["allocs"].get<std::uint64_t>(), heaptrack_calls);
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One HTTP request; true when nginx answered.
bool get_once(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char request[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::write(fd, request, sizeof request - 1) > 0) {
      char reply[256];
      ok = ::read(fd, reply, sizeof reply) > 0;
    }
  }
  ::close(fd);
  return ok;
}

TEST_F(TrackRealProgramsTest, NginxMasterAndItsForkedWorkersEachGetAProfile) {
  const std::string nginx = find_program("nginx");
  if (nginx.empty()) GTEST_SKIP() << "nginx not installed (Debian package nginx-light)";
  const int port = free_port();
  const fs::path conf = dir_ / "nginx.conf";
  for (const char* sub : {"logs", "tmp"}) fs::create_directories(dir_ / sub);
  std::ofstream(conf) << "worker_processes 2;\ndaemon off;\nmaster_process on;\n"
                      << "pid " << (dir_ / "nginx.pid").string() << ";\n"
                      << "error_log " << (dir_ / "logs/error.log").string() << ";\n"
                      << "events { worker_connections 64; }\n"
                      << "http {\n  access_log off;\n"
                      << "  client_body_temp_path " << (dir_ / "tmp").string() << ";\n"
                      << "  server { listen 127.0.0.1:" << port
                      << "; location / { return 200 \"ok\\n\"; } }\n}\n";
  const std::string profile = (dir_ / "p").string();
  const pid_t perflab = ::fork();
  ASSERT_GE(perflab, 0);
  if (perflab == 0) {
    ::execl(PERFLAB_CLI, PERFLAB_CLI, "track", "-q", "-o", profile.c_str(), "--", nginx.c_str(),
            "-p", dir_.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    served = get_once(port);
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (int i = 0; i < 20 && served; ++i) get_once(port);
  ::kill(perflab, SIGTERM);  // perflab passes it on: nginx's fast shutdown
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 400 && !ended; ++i) {
    ended = ::waitpid(perflab, &status, WNOHANG) == perflab;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!ended) {
    ::kill(perflab, SIGKILL);
    ::waitpid(perflab, &status, 0);
    FAIL() << "perflab track of nginx did not stop within 20 s of SIGTERM";
  }
  ASSERT_TRUE(served) << "nginx never answered on port " << port;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const AllocProfile master = read_alloc_profile(profile);
  EXPECT_GT(master.allocs, 100u);
  int workers = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(profile) / "processes")) {
    const nlohmann::json s = read_summary(entry.path());
    if (s["track"]["fork_generation"].get<int>() >= 1) ++workers;
  }
  EXPECT_GE(workers, 2) << "both workers (forked by the master) have their own profile";
}

}  // namespace
}  // namespace perflab
