#include "baseline_measure.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace perflab::cli {

std::optional<ProcessCpu> read_process_cpu(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces or ')':
  // the fields after it start past the last ')'.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 are skipped; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 13; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  if (!(fields >> utime >> stime)) return std::nullopt;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  ProcessCpu cpu{static_cast<double>(utime) / static_cast<double>(ticks),
                 static_cast<double>(stime) / static_cast<double>(ticks)};
  // Threads that exited between two reads take their time with them; a
  // server's worker threads normally live as long as it does.
  std::error_code error;
  double on_cpu_ns = 0;
  bool any = false;
  for (const auto& task :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), error)) {
    std::ifstream stat(task.path() / "schedstat");
    unsigned long long run_ns = 0;
    if (stat >> run_ns) {
      on_cpu_ns += static_cast<double>(run_ns);
      any = true;
    }
  }
  if (any && !error) cpu.on_cpu_s = on_cpu_ns / 1e9;
  return cpu;
}

std::optional<std::uint64_t> read_peak_rss_bytes(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream value(line.substr(6));
    std::uint64_t kib = 0;
    if (!(value >> kib)) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

TcpProbe::TcpProbe(const std::string& host, std::uint16_t port)
    : name_(host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                : fmt::format("{}:{}", host, port)) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    throw LoadError(fmt::format("cannot resolve {} ({})", host, ::gai_strerror(rc)));
  }
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(a->ai_addr);
    addresses_.push_back({a->ai_family, {bytes, bytes + a->ai_addrlen}});
  }
  ::freeaddrinfo(found);
}

bool TcpProbe::accepts(int timeout_ms) const {
  for (const Address& address : addresses_) {
    const int fd = ::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const auto* sa = reinterpret_cast<const sockaddr*>(address.bytes.data());
    const auto length = static_cast<socklen_t>(address.bytes.size());
    bool connected = ::connect(fd, sa, length) == 0;
    if (!connected && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int error = 0;
      socklen_t error_length = sizeof error;
      connected = ::poll(&p, 1, timeout_ms) == 1 &&
                  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) == 0 && error == 0;
    }
    ::close(fd);
    if (connected) return true;
  }
  return false;
}

std::string tail_lines(const std::string& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "  (server.log cannot be read)\n";
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(std::move(line));
    if (lines.size() > count) lines.pop_front();
  }
  if (lines.empty()) return "  (the server printed nothing)\n";
  std::string text;
  for (const std::string& l : lines) text += "  " + l + "\n";
  return text;
}

double cumulative_at(const std::vector<TimelineSample>& timeline,
                     std::uint64_t TimelineSample::*counter, double time_s) {
  if (timeline.empty() || time_s <= 0) return 0;
  const auto after =
      std::upper_bound(timeline.begin(), timeline.end(), time_s,
                       [](double t, const TimelineSample& sample) { return t < sample.time_s; });
  if (after == timeline.end()) return static_cast<double>(timeline.back().*counter);
  const double t1 = after->time_s;
  const double a1 = static_cast<double>((*after).*counter);
  const double t0 = after == timeline.begin() ? 0.0 : std::prev(after)->time_s;
  const double a0 =
      after == timeline.begin() ? 0.0 : static_cast<double>((*std::prev(after)).*counter);
  if (t1 <= t0) return a1;
  return a0 + (a1 - a0) * (time_s - t0) / (t1 - t0);
}

RssSampler::RssSampler(pid_t pid, std::chrono::steady_clock::time_point origin, double period_s)
    : pid_(pid), origin_(origin), period_s_(period_s), thread_([this] { run(); }) {}

RssSampler::~RssSampler() { stop(); }

std::vector<TimelineSample> RssSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return samples_;
}

void RssSampler::run() {
  const std::string statm = "/proc/" + std::to_string(pid_) + "/statm";
  const double page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(period_s_));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // statm's second field: resident pages. A process that is gone ends the series.
    std::ifstream in(statm);
    std::uint64_t size_pages = 0, resident_pages = 0;
    if (!(in >> size_pages >> resident_pages)) break;
    TimelineSample sample;
    sample.time_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - origin_).count();
    sample.rss_bytes = static_cast<std::uint64_t>(static_cast<double>(resident_pages) * page_bytes);
    samples_.push_back(sample);
    wake_.wait_for(lock, period, [this] { return stopping_; });
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

void merge_load_result(LoadResult& total, const LoadResult& next) {
  total.LoadCounts::add(next);
  total.latency.add(next.latency);
  total.service.add(next.service);
  for (std::size_t i = 0; i < total.requests.size() && i < next.requests.size(); ++i) {
    total.requests[i].add(next.requests[i]);
  }
  total.duration_s += next.duration_s;
  total.elapsed_s += next.elapsed_s;
  const double completed = static_cast<double>(total.completed);
  total.achieved_rate = total.duration_s > 0 ? completed / total.duration_s : 0;
  total.throughput_rps = total.elapsed_s > 0 ? completed / total.elapsed_s : 0;
}

}  // namespace perflab::cli
