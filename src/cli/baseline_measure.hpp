// What `perflab baseline` measures around the load generator: the server's
// readiness and CPU time from /proc, allocations per operation from the
// tracker's timeline, and how repetitions are merged. Kept apart from the
// command's flow (baseline_command.cc) so each piece reads on its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "perflab/load.hpp"
#include "perflab/profile.hpp"

namespace perflab::cli {

/// CPU seconds a process has used so far (its own threads, not its children).
struct ProcessCpu {
  double user_s = 0;
  double sys_s = 0;
  /// Nanosecond-precise time on CPU of the threads alive now (the sum of
  /// /proc/PID/task/*/schedstat); < 0 when the kernel does not keep it.
  /// user_s and sys_s count in clock ticks (10 ms), too coarse for a short
  /// repetition; this is what cpu_per_op_us uses when both ends have it.
  double on_cpu_s = -1;

  double total_s() const noexcept { return on_cpu_s >= 0 ? on_cpu_s : user_s + sys_s; }
};

/// Reads utime and stime of /proc/PID/stat (in clock ticks, sysconf(_SC_CLK_TCK))
/// and the threads' schedstat run times.
/// std::nullopt when the process is gone or the file cannot be parsed.
std::optional<ProcessCpu> read_process_cpu(pid_t pid);

/// VmHWM of /proc/PID/status (the kernel's peak resident set) in bytes;
/// std::nullopt when the process is gone or the line is missing.
std::optional<std::uint64_t> read_peak_rss_bytes(pid_t pid);

/// Something a TCP client can connect to: the load URL's host and port,
/// resolved once. Throws LoadError when the host does not resolve.
class TcpProbe {
 public:
  TcpProbe(const std::string& host, std::uint16_t port);
  /// True when a connection to any of the addresses is accepted within
  /// `timeout_ms` (the connection is closed at once). Never throws.
  bool accepts(int timeout_ms) const;
  /// "host:port", for messages.
  const std::string& name() const { return name_; }

 private:
  struct Address {
    int family = 0;
    std::vector<unsigned char> bytes;  // a sockaddr of its family
  };
  std::vector<Address> addresses_;
  std::string name_;
};

/// The last `count` lines of the text file at `path`, each indented by two
/// spaces; a note instead when it is empty or cannot be read.
std::string tail_lines(const std::string& path, std::size_t count);

/// A cumulative counter of the tracker's timeline (`allocs`, `alloc_bytes`)
/// at `time_s` since the traced program started: linear between the
/// timeline's samples, rising from 0 at time 0 to the first sample, and flat
/// after the last one. 0 for an empty timeline.
double cumulative_at(const std::vector<TimelineSample>& timeline,
                     std::uint64_t TimelineSample::*counter, double time_s);

/// Samples a process's resident set (/proc/PID/statm) on a thread of its own
/// every `period_s`, from construction until stop() or destruction, so RSS
/// growth is measured whether or not the allocation tracker runs. Times are
/// seconds since `origin`. Thread-safety: one owner thread calls stop().
class RssSampler {
 public:
  RssSampler(pid_t pid, std::chrono::steady_clock::time_point origin, double period_s);
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  /// Ends the sampling (idempotent) and returns the samples, oldest first
  /// (time_s and rss_bytes set). Samples stop when the process is gone.
  std::vector<TimelineSample> stop();

 private:
  void run();

  pid_t pid_;
  std::chrono::steady_clock::time_point origin_;
  double period_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<TimelineSample> samples_;
  std::thread thread_;
};

/// The median of `values` (the mean of the two middle ones for an even count).
/// REQUIRES: `values` is not empty.
double median(std::vector<double> values);

/// Adds repetition `next` to `total`, as if the two had been one run: the
/// histograms merge exactly, counts add, the durations add (so the rates are
/// completed over the summed durations), the largest lag wins. REQUIRES:
/// both ran the same LoadSpec (same request mix).
void merge_load_result(LoadResult& total, const LoadResult& next);

}  // namespace perflab::cli
