// perflab baseline --load LOAD.json -- SERVER ARGS: starts a server (under
// the allocation tracker unless --track off), waits until it listens, warms
// it up, drives it K times with the same load, stops it, and writes one
// profile with the merged figures and every repetition's samples, which
// `perflab compare` needs. Glue: the load is perflab::run_load's, the
// tracker track_launch's and src/track/interpret's, the files ProfileWriter's.
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "baseline_measure.hpp"
#include "commands.hpp"
#include "cpu_profile.hpp"
#include "exit_codes.hpp"
#include "perflab/compare.hpp"
#include "perflab/load.hpp"
#include "perflab/profile.hpp"
#include "perflab/version.hpp"
#include "run_support.hpp"
#include "server_metrics.hpp"
#include "track/interpret/dump_reader.hpp"
#include "track/interpret/profile_builder.hpp"
#include "track_launch.hpp"

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
constexpr int kExitInterrupted = 130;
constexpr double kMaxErrorRate = 0.01;  // as perflab load's default
constexpr int kTrackIntervalMs = 20;    // timeline resolution for allocs_per_op
constexpr const char* kServerLogFile = "server.log";
constexpr double kScrapeTimeoutS = 2.0;  // one GET of the server's metrics
constexpr double kRssPeriodS = 0.1;      // RSS samples for rss_growth_bytes_per_s
// Below 6 repetitions no pair of order statistics covers the median at 95%.
constexpr std::size_t kMinGrowthSamples = 6;

struct BaselineOptions {
  std::vector<std::string> command;
  std::string name;
  std::string output;
  std::string load_file;
  std::string url;
  int repeat = 5;
  std::string duration;
  std::string warmup = "1s";
  std::string track = "count";
  std::string ready_timeout = "30s";
  std::string stop_grace = "5s";
  std::string metrics_path = "/metrics";
  bool quiet = false;
  bool cpu_profile = false;
  std::string cpu_sampler = "auto";
};

std::atomic<bool> g_stop{false};

extern "C" void on_baseline_interrupt(int) { g_stop.store(true, std::memory_order_relaxed); }

// A duration flag that may also be 0 ("0", "0s"): no warm-up, no grace.
double parse_duration_or_zero(const std::string& text, const char* what) {
  if (text == "0" || text == "0s" || text == "0ms") return 0;
  return parse_duration_s(text, what);
}

// The load file with --url and --duration over it (as perflab load does).
LoadSpec build_spec(const BaselineOptions& o) {
  LoadSpec spec = parse_load_file(o.load_file);
  if (!o.url.empty()) spec.url = parse_http_url(o.url);
  if (spec.url.host.empty()) {
    throw LoadError(o.load_file + ": no \"url\" (give one in the load file or with --url)");
  }
  if (!o.duration.empty()) apply_duration(spec, parse_duration_s(o.duration, "--duration"));
  if (spec.mode == LoadMode::kOpen && spec.schedule) spec.duration_s = spec.schedule->duration_s();
  if (spec.requests.empty()) spec.requests.emplace_back();
  validate_load_spec(spec);
  return spec;
}

// The warm-up: the same requests for `seconds`; in open loop at the
// schedule's mean rate (a ramp's peak could swamp a cold server).
std::optional<LoadSpec> warmup_spec(const LoadSpec& spec, double seconds) {
  if (seconds <= 0) return std::nullopt;
  LoadSpec warm = spec;
  warm.duration_s = seconds;
  if (spec.mode == LoadMode::kOpen && spec.schedule) {
    const double rate = spec.schedule->mean_rate();
    if (!(rate > 0)) return std::nullopt;
    warm.schedule = RateSchedule::constant(rate, seconds);
  }
  return warm;
}

std::string utc_text(std::time_t when) {
  char text[32];
  std::tm utc{};
  gmtime_r(&when, &utc);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Writes every repetition into one latency.hlog: the header once, and each
// repetition's intervals shifted by the time since the first one began, so
// the log reads as one run with gaps between repetitions.
class RepetitionLog : public LoadObserver {
 public:
  explicit RepetitionLog(LatencyLogRecorder& log) : log_(log) {}

  void on_start(double start_epoch_s) override {
    const Clock::time_point now = Clock::now();
    if (!first_) {
      first_ = now;
      log_.on_start(start_epoch_s);
    }
    offset_s_ = seconds_between(*first_, now);
  }
  void on_interval(const LoadInterval& interval) override {
    const LoadInterval shifted{
        interval.start_s + offset_s_, interval.length_s, interval.latency, interval.service,
        interval.completed,           interval.errors};
    log_.on_interval(shifted);
  }

 private:
  LatencyLogRecorder& log_;
  std::optional<Clock::time_point> first_;
  double offset_s_ = 0;
};

// Owns the running server: every wait on it goes through here, so it is
// reaped exactly once, and it is stopped when the run leaves early (an
// exception): a baseline never leaves its server running.
class ServerGuard {
 public:
  ServerGuard(pid_t pid, double grace_s) : pid_(pid), grace_s_(grace_s) {}
  ~ServerGuard() {
    if (ended_) return;
    try {
      stop_program(pid_, grace_s_);
    } catch (...) {  // a destructor must not throw
    }
  }
  ServerGuard(const ServerGuard&) = delete;
  ServerGuard& operator=(const ServerGuard&) = delete;

  pid_t pid() const { return pid_; }
  /// How the server ended, if it has; never blocks.
  const std::optional<ChildResult>& poll() {
    if (!ended_) ended_ = try_wait_program(pid_);
    return ended_;
  }
  /// Stops the server now (unless it ended already) and reports how it ended.
  const ChildResult& stop() {
    if (!ended_) ended_ = stop_program(pid_, grace_s_);
    return *ended_;
  }

 private:
  pid_t pid_;
  double grace_s_;
  std::optional<ChildResult> ended_;
};

// Restores SIGINT and SIGTERM to what they were, however the run ends.
class InterruptHandlers {
 public:
  InterruptHandlers() {
    g_stop.store(false);
    struct sigaction action {};
    action.sa_handler = &on_baseline_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptHandlers() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// What one measured repetition gave.
struct Repetition {
  double start_s = 0;  // since the server was started
  double end_s = 0;
  nlohmann::json load;            // load_summary_json of this repetition
  std::optional<ProcessCpu> cpu;  // the server's CPU during it
  std::optional<double> allocs_per_op;
  std::optional<double> bytes_per_op;   // when the timeline has bytes
  std::optional<double> pool_hit_rate;  // from the server's metrics around it
  std::optional<double> rss_growth;     // bytes per second during it
  std::uint64_t completed = 0;
};

// Why the server is not ready, or nullopt once it accepts connections.
std::optional<std::string> wait_until_ready(ServerGuard& server, const TcpProbe& probe,
                                            double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    if (g_stop.load()) return "interrupted";
    if (const auto& ended = server.poll()) {
      return fmt::format("the server {} before listening on {}", ended->status_text, probe.name());
    }
    if (probe.accepts(50)) return std::nullopt;
    if (Clock::now() >= deadline) {
      return fmt::format("the server is not listening on {} after {:g} s (--ready-timeout)",
                         probe.name(), timeout_s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string readme(const BaselineOptions& o, const LoadSpec& spec, std::size_t repetitions,
                   const std::string& exit, const std::string& cpu_files) {
  return fmt::format(
      "# perflab baseline profile\n\n    {}\n\n"
      "- perflab {}\n- server: `{}` ({})\n- load file: {} (copied beside it as load.json), "
      "target http://{}{}, {} loop, {} connection(s)\n"
      "- {} measured repetition(s) after a {} warm-up; allocation tracking: {}\n\n"
      "Files: summary.json (the merged figures, and every repetition's in `samples`),\n"
      "latency.hlog (HdrHistogram interval log of all repetitions; untagged = latency from due "
      "time,\nTag=service = from send; values in ns), server.log (the server's output){}{}.\n"
      "The environment of the run is not recorded.\n",
      join(invocation()), kVersion, join(o.command), exit, o.load_file, spec.url.host_header,
      spec.url.target, spec.mode == LoadMode::kOpen ? "open" : "closed", spec.connections,
      repetitions, o.warmup, o.track,
      o.track == "off" ? ""
                       : ", allocs.pb.gz, allocs.folded, allocs_bytes.folded and timeline.csv "
                         "(the server's allocations over the whole run)",
      cpu_files);
}

// The alloc and memory groups, and allocs_per_op of each repetition, from
// the tracker's dumps of the server process.
struct AllocFigures {
  std::optional<AllocProfile> profile;
  std::string warning;
};

AllocFigures read_allocations(const fs::path& dumps, pid_t server) {
  AllocFigures figures;
  // A damaged dump costs the alloc figures, never the load figures measured.
  try {
    std::vector<track::ProcessDump> all = track::read_dumps(dumps);
    const track::ProcessDump* main = nullptr;
    for (const auto& d : all)
      if (d.header.pid == server) main = &d;  // the last image of the server's pid
    if (main == nullptr) {
      figures.warning = "the server left no allocation data";
      return figures;
    }
    figures.profile = track::build_alloc_profile(*main);
  } catch (const std::exception& e) {
    figures.warning = fmt::format("the server's allocation data cannot be read ({})", e.what());
  }
  return figures;
}

int run_baseline(const BaselineOptions& o) {
  const double warmup_s = parse_duration_or_zero(o.warmup, "--warmup");
  const double ready_timeout_s = parse_duration_s(o.ready_timeout, "--ready-timeout");
  const double grace_s = parse_duration_or_zero(o.stop_grace, "--stop-grace");
  const LoadSpec spec = build_spec(o);
  const std::optional<LoadSpec> warm = warmup_spec(spec, warmup_s);
  const TcpProbe probe(spec.url.host, spec.url.port);
  // Another server on the port would be measured instead of this one.
  if (probe.accepts(50)) {
    throw std::runtime_error(fmt::format(
        "something already listens on {}: stop it first, or give the server another port "
        "(and the load file its URL)",
        probe.name()));
  }
  const bool tracked = o.track != "off";
  const LaunchPlan plan =
      plan_launch(o.command, tracked ? Tracking::kTracked : Tracking::kUntracked);
  const std::string load_text = read_file(o.load_file).value_or("");
  std::optional<CpuSamplerChoice> cpu_sampler;
  if (o.cpu_profile) {
    try {
      cpu_sampler = choose_cpu_sampler(parse_cpu_sampler(o.cpu_sampler));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("--cpu-profile: {}", e.what()));
    }
  }

  const std::string output = !o.output.empty() ? o.output
                             : !o.name.empty() ? (fs::path("profiles") / o.name).string()
                                               : timestamped_profile_path("baseline");
  const fs::path parent = fs::path(output).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  ProfileWriter writer(output);
  const fs::path log_path = writer.streamed_file_path(kServerLogFile);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw ProfileError(
        fmt::format("cannot create {} ({})", log_path.string(), std::strerror(errno)));
  }
  LaunchEnv env;
  fs::path dumps;
  if (tracked) {
    dumps = writer.temp_path() / ".dumps";
    fs::create_directory(dumps);
    // A server that drops privileges must still be able to write its dump.
    ::chmod(writer.temp_path().c_str(), 0755);
    ::chmod(dumps.c_str(), 0777);
    env.dump_dir = fs::absolute(dumps).string();
    env.mode = o.track;
    env.unwind = "auto";
    env.fork = "follow";
    env.interval_ms = kTrackIntervalMs;
  }
  LatencyLogRecorder log(writer, spec.mode);
  RepetitionLog repetition_log(log);
  InterruptHandlers interrupt_handlers;

  const std::time_t started = std::time(nullptr);
  const Clock::time_point server_start = Clock::now();
  pid_t pid = -1;
  try {
    pid = start_program(plan, tracked ? &env : nullptr, log_fd, ProgramRole::kService);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
  ServerGuard server(pid, grace_s);
  if (!o.quiet) {
    fmt::print(stderr, "perflab baseline: started {} (pid {}{}); waiting for {}\n", o.command[0],
               pid, tracked ? fmt::format(", tracking: {}", o.track) : "", probe.name());
  }

  if (auto why = wait_until_ready(server, probe, ready_timeout_s)) {
    if (!g_stop.load()) {
      server.stop();
      throw std::runtime_error(fmt::format("{} (last lines of its output:)\n{}", *why,
                                           tail_lines(log_path.string(), 20)));
    }
  }

  std::vector<Repetition> repetitions;
  std::optional<LoadResult> merged;
  std::string died;  // how the server ended when it did so during the run
  // The CPU profile covers the repetitions only; a failing sampler costs the
  // profile's CPU files, never the run.
  std::optional<CpuProfiler> profiler;
  const auto server_gone = [&] {
    // The built-in sampler's ptrace stops would read as the server's end.
    const CpuProfiler::Pause paused = profiler ? profiler->pause() : CpuProfiler::Pause();
    if (const auto& ended = server.poll(); ended && died.empty()) died = ended->status_text;
    return !died.empty();
  };
  if (warm && !g_stop.load()) {
    if (!o.quiet) fmt::print(stderr, "  warm-up {:g} s\n", warmup_s);
    run_load(*warm, LoadRunOptions{nullptr, 1.0, &g_stop});
  }
  // The pools as the server reports them after the warm-up, then after each
  // repetition: each repetition's hit rate is its own, not the warm-up's.
  const bool scrape = o.metrics_path != "none";
  HttpUrl metrics_url = spec.url;
  metrics_url.target = o.metrics_path;
  std::optional<PoolScrape> pools_first;
  if (scrape && !g_stop.load()) pools_first = scrape_pools(metrics_url, kScrapeTimeoutS);
  std::optional<PoolScrape> pools_last = pools_first;
  RssSampler rss(pid, server_start, kRssPeriodS);
  std::string cpu_warning;
  const fs::path perf_dir = writer.temp_path() / ".perf";
  if (cpu_sampler && !g_stop.load()) {
    try {
      fs::create_directory(perf_dir);
      profiler.emplace(*cpu_sampler, pid, perf_dir);
      if (!o.quiet) {
        fmt::print(stderr, "  cpu profile by {} ({})\n", profiler->tool(), cpu_sampler->reason);
      }
    } catch (const std::exception& e) {
      cpu_warning = e.what();
    }
  }
  for (int k = 0; k < o.repeat && !g_stop.load() && !server_gone(); ++k) {
    Repetition rep;
    const std::optional<ProcessCpu> cpu_before = read_process_cpu(pid);
    rep.start_s = seconds_between(server_start, Clock::now());
    LoadResult result;
    try {
      // Each repetition draws its own random template values ({uuid},
      // {rand:N}): a replay of the warm-up's or the last repetition's would
      // write ids the server already has. Seeds stay fixed per repetition
      // index, so a base and a candidate still get the same requests.
      LoadSpec repetition_spec = spec;
      repetition_spec.seed = spec.seed + 1 + static_cast<std::uint64_t>(k);
      result = run_load(repetition_spec, LoadRunOptions{&repetition_log, 1.0, &g_stop});
    } catch (const LoadError&) {
      // run_load throws when nobody accepts connections: the server died
      // between repetitions. What was measured so far is kept.
      if (server_gone()) break;
      throw;
    }
    rep.end_s = seconds_between(server_start, Clock::now());
    const std::optional<ProcessCpu> cpu_after = read_process_cpu(pid);
    // A repetition the server did not live through measured its death, not
    // its performance: it is dropped (its intervals stay in latency.hlog).
    if (g_stop.load() || server_gone()) break;
    if (cpu_before && cpu_after) {
      rep.cpu =
          ProcessCpu{cpu_after->user_s - cpu_before->user_s, cpu_after->sys_s - cpu_before->sys_s,
                     cpu_before->on_cpu_s >= 0 && cpu_after->on_cpu_s >= 0
                         ? cpu_after->on_cpu_s - cpu_before->on_cpu_s
                         : -1};
    }
    rep.completed = result.completed;
    rep.load = load_summary_json(result);
    if (pools_last) {
      if (std::optional<PoolScrape> now = scrape_pools(metrics_url, kScrapeTimeoutS)) {
        rep.pool_hit_rate = pool_hit_rate(pool_delta(*pools_last, *now));
        pools_last = std::move(now);
      }
    }
    if (!merged) {
      merged = result;
    } else {
      merge_load_result(*merged, result);
    }
    if (!o.quiet) {
      fmt::print(stderr, "  repetition {}/{}: {:9.1f} req/s  p99 {:9.1f} us  errors {}{}\n", k + 1,
                 o.repeat, result.throughput_rps, rep.load["latency_p99_us"].get<double>(),
                 result.error_count(),
                 rep.cpu && rep.completed > 0
                     ? fmt::format("  cpu/op {:.1f} us",
                                   rep.cpu->total_s() * 1e6 / static_cast<double>(rep.completed))
                     : "");
    }
    repetitions.push_back(std::move(rep));
  }
  server_gone();
  std::optional<CpuStacks> cpu_stacks;
  std::string cpu_tool;
  int cpu_hz = 0;
  std::vector<std::string> cpu_notes;
  if (profiler) {
    cpu_tool = profiler->tool();
    cpu_hz = profiler->sample_hz();
    try {
      profiler->stop();
      if (!g_stop.load()) cpu_stacks = profiler->collect();
      cpu_notes = profiler->warnings();
    } catch (const std::exception& e) {
      cpu_warning = e.what();
    }
    profiler.reset();
  }
  if (o.cpu_profile) {
    std::error_code ignored;
    fs::remove_all(perf_dir, ignored);
  }
  const std::vector<TimelineSample> rss_samples = rss.stop();
  const std::optional<std::uint64_t> peak_rss = read_peak_rss_bytes(pid);
  const ChildResult stopped = server.stop();
  const double duration_s = seconds_between(server_start, Clock::now());

  if (g_stop.load()) {
    fmt::print(stderr, "perflab baseline: interrupted; no profile written\n");
    return kExitInterrupted;
  }
  if (repetitions.empty()) {
    throw std::runtime_error(fmt::format(
        "no repetition was measured (the server {} during the warm-up; last lines of its "
        "output:)\n{}",
        died.empty() ? stopped.status_text : died, tail_lines(log_path.string(), 20)));
  }
  const std::string exit =
      died.empty() ? "stopped by perflab: " + stopped.status_text : died + " during the run";
  if (!died.empty()) {
    fmt::print(stderr,
               "perflab: warning: the server {} during the run; the {} repetition(s) completed "
               "before are kept. Last lines of its output:\n{}",
               died, repetitions.size(), tail_lines(log_path.string(), 20));
  } else if (stopped.exit_code == 128 + SIGKILL || stopped.exit_code < 0) {
    fmt::print(stderr,
               "perflab: warning: the server did not end within --stop-grace {} after SIGTERM "
               "({}); its allocation data may stop at its last snapshot\n",
               o.stop_grace, stopped.status_text);
  }

  // Allocations: the tracker's timeline counts from the server's start, and
  // the repetition windows were measured from perflab's fork of it; the
  // few milliseconds of exec and loader between the two are well inside one
  // 20 ms sample, so the windows are used as they are.
  std::uint64_t total_completed = 0;
  for (const Repetition& rep : repetitions) total_completed += rep.completed;
  std::optional<AllocProfile> allocs;
  if (tracked) {
    AllocFigures figures = read_allocations(dumps, pid);
    if (!figures.warning.empty()) fmt::print(stderr, "perflab: warning: {}\n", figures.warning);
    allocs = std::move(figures.profile);
    if (allocs) {
      for (Repetition& rep : repetitions) {
        if (rep.completed == 0) continue;
        const auto per_op = [&](std::uint64_t TimelineSample::*counter) {
          const double delta = cumulative_at(allocs->timeline, counter, rep.end_s) -
                               cumulative_at(allocs->timeline, counter, rep.start_s);
          return delta / static_cast<double>(rep.completed);
        };
        rep.allocs_per_op = per_op(&TimelineSample::allocs);
        // 0 bytes with allocations: a recorder without the bytes column.
        if (!allocs->timeline.empty() &&
            (allocs->timeline.back().alloc_bytes > 0 || allocs->bytes == 0)) {
          rep.bytes_per_op = per_op(&TimelineSample::alloc_bytes);
        }
      }
    }
    fs::remove_all(dumps);
  }

  // The samples: one value per repetition, in run order. A metric one
  // repetition could not measure is left out rather than given a hole.
  nlohmann::json samples = nlohmann::json::object();
  for (const char* metric : {"throughput_rps", "latency_p50_us", "latency_p90_us", "latency_p99_us",
                             "latency_p999_us", "latency_max_us", "error_rate"}) {
    nlohmann::json values = nlohmann::json::array();
    for (const Repetition& rep : repetitions) values.push_back(rep.load[metric]);
    samples[metric] = values;
  }
  std::vector<double> hit_rates, rss_growths;
  for (Repetition& rep : repetitions) {
    rep.rss_growth = rss_growth_per_s(rss_samples, rep.start_s, rep.end_s);
    if (rep.pool_hit_rate) hit_rates.push_back(*rep.pool_hit_rate);
    if (rep.rss_growth) rss_growths.push_back(*rep.rss_growth);
  }
  if (!hit_rates.empty() && hit_rates.size() == repetitions.size()) {
    samples["pool_hit_rate"] = hit_rates;
  }
  if (!rss_growths.empty() && rss_growths.size() == repetitions.size()) {
    samples["rss_growth_bytes_per_s"] = rss_growths;
  }
  std::vector<double> cpu_per_op, allocs_per_op, bytes_per_op;
  ProcessCpu cpu_total;
  bool cpu_complete = true;
  for (const Repetition& rep : repetitions) {
    if (!rep.cpu || rep.completed == 0) {
      cpu_complete = false;
      continue;
    }
    cpu_total.user_s += rep.cpu->user_s;
    cpu_total.sys_s += rep.cpu->sys_s;
    cpu_per_op.push_back(rep.cpu->total_s() * 1e6 / static_cast<double>(rep.completed));
  }
  for (const Repetition& rep : repetitions) {
    if (rep.allocs_per_op) allocs_per_op.push_back(*rep.allocs_per_op);
    if (rep.bytes_per_op) bytes_per_op.push_back(*rep.bytes_per_op);
  }
  if (cpu_complete) samples["cpu_per_op_us"] = cpu_per_op;
  if (!allocs_per_op.empty() && allocs_per_op.size() == repetitions.size()) {
    samples["allocs_per_op"] = allocs_per_op;
  }
  if (!bytes_per_op.empty() && bytes_per_op.size() == repetitions.size()) {
    samples["bytes_per_op"] = bytes_per_op;
  }

  nlohmann::json windows = nlohmann::json::array();
  for (const Repetition& rep : repetitions) {
    windows.push_back({{"start_s", rep.start_s}, {"end_s", rep.end_s}});
  }
  nlohmann::json load = load_summary_json(*merged);
  load["url"] = "http://" + spec.url.host_header + spec.url.target;
  load["load_file"] = o.load_file;
  describe_load(spec, load);
  load["merged_repetitions"] = repetitions.size();
  nlohmann::json summary = {
      {"run",
       {{"tool", "perflab baseline"},
        {"command", invocation()},
        {"server_command", o.command},
        {"host", host_name()},
        {"start", utc_text(started)},
        {"duration_s", duration_s},
        {"repetitions", repetitions.size()},
        {"repetition_windows", windows},
        {"warmup_s", warmup_s},
        {"track", o.track},
        {"server_pid", pid},
        {"exit", exit},
        {"perflab_version", kVersion}}},
      {"load", load},
      {"samples", samples},
  };
  if (cpu_complete && !cpu_per_op.empty()) {
    summary["cpu"] = {{"user_s", cpu_total.user_s},
                      {"sys_s", cpu_total.sys_s},
                      {"cpu_per_op_us", median(cpu_per_op)}};
  }
  if (allocs) {
    nlohmann::json groups = alloc_summary_json(*allocs, total_completed);
    nlohmann::json& alloc = groups["alloc"];
    if (samples.contains("allocs_per_op")) {
      alloc["allocs_per_op"] = median(allocs_per_op);
    } else {
      alloc.erase("allocs_per_op");
    }
    // Totals over the whole run (start-up and warm-up included) per measured
    // request would mislead: the measured windows' figures replace them.
    if (samples.contains("bytes_per_op")) {
      alloc["bytes_per_op"] = median(bytes_per_op);
    } else {
      alloc.erase("bytes_per_op");
    }
    summary["alloc"] = alloc;
  }
  // The kernel's peak is exact; the tracker's is sampled every 20 ms.
  nlohmann::json memory = nlohmann::json::object();
  if (peak_rss) {
    memory["peak_rss_bytes"] = *peak_rss;
  } else if (allocs && allocs->peak_rss_bytes > 0) {
    memory["peak_rss_bytes"] = allocs->peak_rss_bytes;
  }
  // Over the measured repetitions only: start-up growth is not a leak. The
  // sampler's series is used (it runs tracked or not); the interval is that
  // of the median of the repetitions' own slopes, so a soak can say whether
  // the growth is distinguishable from zero.
  const std::vector<TimelineSample>& rss_series = !rss_samples.empty() ? rss_samples
                                                  : allocs             ? allocs->timeline
                                                                       : rss_samples;
  if (auto growth =
          rss_growth_per_s(rss_series, repetitions.front().start_s, repetitions.back().end_s)) {
    memory["rss_growth_bytes_per_s"] = *growth;
  }
  std::optional<MedianInterval> growth_interval;
  if (samples.contains("rss_growth_bytes_per_s") && rss_growths.size() >= kMinGrowthSamples) {
    growth_interval = median_interval(rss_growths, 0.05);
    memory["rss_growth_interval"] = {{"median", growth_interval->median},
                                     {"low", growth_interval->low},
                                     {"high", growth_interval->high},
                                     {"confidence", 0.95}};
  }
  if (pools_first && pools_last) {
    const PoolScrape measured = pool_delta(*pools_first, *pools_last);
    summary["pools"] = pools_json(measured);
    memory["pool_idle_bytes"] = pool_idle_bytes(*pools_last);
  }
  if (!memory.empty()) summary["memory"] = memory;
  std::uint64_t cpu_samples = 0;
  if (cpu_stacks) {
    for (const auto& [stack, count] : *cpu_stacks) cpu_samples += count;
    summary["cpu"]["profile"] = {
        {"samples", cpu_samples}, {"tool", cpu_tool}, {"reason", cpu_sampler->reason}};
  }
  if (!cpu_warning.empty()) {
    fmt::print(stderr, "perflab: warning: no CPU profile: {}\n", cpu_warning);
  }
  for (const std::string& note : cpu_notes) {
    fmt::print(stderr, "perflab: warning: CPU profile: {}\n", note);
  }

  log.finish();
  if (allocs) writer.write_alloc_profile(*allocs);
  if (cpu_stacks) {
    const double profiled_s = repetitions.back().end_s - repetitions.front().start_s;
    writer.write_text(kCpuFoldedFile, format_folded_stacks(*cpu_stacks));
    writer.write_text(kCpuPprofFile, encode_cpu_pprof(*cpu_stacks, cpu_hz, profiled_s));
  }
  writer.write_summary(summary);
  writer.write_text("README.md",
                    readme(o, spec, repetitions.size(), exit,
                           cpu_stacks ? fmt::format(", cpu.pb.gz and cpu.folded (the server's "
                                                    "call stacks during the repetitions, "
                                                    "sampled by {}: {})",
                                                    cpu_tool, cpu_sampler->reason)
                                      : ""));
  if (!load_text.empty()) writer.write_text("load.json", load_text);
  // report.html from the files just written; a report that cannot be made
  // must not cost the run its profile.
  try {
    CompareInput run = read_compare_input(writer.temp_path());
    run.path = writer.final_path().string();
    writer.write_text("report.html", format_run_html(run));
  } catch (const CompareError& e) {
    fmt::print(stderr, "perflab: warning: no report.html ({})\n", e.what());
  }
  const fs::path written = writer.commit();

  if (!o.quiet) {
    fmt::print("{}", format_load_report(*merged));
    if (summary.contains("cpu") && summary["cpu"].contains("cpu_per_op_us")) {
      fmt::print("  server cpu/op  {:.1f} us (median of {})\n",
                 summary["cpu"]["cpu_per_op_us"].get<double>(), repetitions.size());
    }
    if (cpu_stacks) {
      fmt::print("  cpu profile    {} samples ({}, {})\n", cpu_samples, kCpuPprofFile,
                 kCpuFoldedFile);
    }
    if (summary.contains("alloc") && summary["alloc"].contains("allocs_per_op")) {
      fmt::print(
          "  allocs/op      {:.2f}{} (median of {})\n",
          summary["alloc"]["allocs_per_op"].get<double>(),
          summary["alloc"].contains("bytes_per_op")
              ? fmt::format(", {:.0f} bytes/op", summary["alloc"]["bytes_per_op"].get<double>())
              : "",
          repetitions.size());
    }
    if (summary.contains("pools")) {
      const PoolScrape measured = pool_delta(*pools_first, *pools_last);
      fmt::print(
          "  pools          hit rate {:.2f}% over the repetitions; {:.1f} KiB idle after the "
          "load\n",
          100 * pool_hit_rate(measured).value_or(0), pool_idle_bytes(*pools_last) / 1024);
    }
    if (growth_interval) {
      const bool flat = growth_interval->low <= 0 && growth_interval->high >= 0;
      fmt::print(
          "  rss growth     {:+.0f} B/s (median of {}; 95% interval {:+.0f} .. {:+.0f} B/s): "
          "{}\n",
          growth_interval->median, rss_growths.size(), growth_interval->low, growth_interval->high,
          flat ? "within noise of zero" : "not zero");
    }
    fmt::print("profile written to {}\n", written.string());
  }
  if (!died.empty()) return kExitFail;
  if (merged->error_rate() > kMaxErrorRate) {
    fmt::print(stderr,
               "perflab: error: error rate {:.2f}% is above {:.0f}% over the {} repetitions\n",
               100 * merged->error_rate(), 100 * kMaxErrorRate, repetitions.size());
    return kExitFail;
  }
  return kExitPass;
}

void add_baseline_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BaselineOptions>();
  CLI::App* baseline = app.add_subcommand(
      "baseline", "Start a server, drive it K times with a load file, and write its baseline");
  baseline->footer(
      "Example: perflab baseline --name before --load load.json -- ./server --port 8080\n"
      "Exit codes: 0 ok; 1 the error rate was above 1% or the server died during the run\n"
      "(the profile is still written); 2 bad usage or load file, or the server never listened;\n"
      "130 interrupted (no profile is written).");
  auto* name = baseline->add_option("--name", o->name, "Write profiles/NAME");
  baseline
      ->add_option("-o,--output", o->output, "Profile directory (default profiles/baseline-<time>)")
      ->excludes(name);
  baseline->add_option("--load", o->load_file, "Load file (JSON): URL, request mix, mode, rate")
      ->required();
  baseline->add_option("--url", o->url, "Overrides the load file's url");
  baseline->add_option("--repeat", o->repeat, "Measured repetitions")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  baseline->add_option("--duration", o->duration,
                       "Length of each repetition (default: the load file's)");
  baseline->add_option("--warmup", o->warmup, "Unrecorded load before the repetitions (0: none)")
      ->capture_default_str();
  baseline
      ->add_option("--track", o->track,
                   "Allocation tracking: count (totals), stacks (call stacks), off")
      ->check(CLI::IsMember({"count", "stacks", "off"}))
      ->capture_default_str();
  baseline
      ->add_option("--ready-timeout", o->ready_timeout, "How long the server may take to listen")
      ->capture_default_str();
  baseline
      ->add_option("--stop-grace", o->stop_grace,
                   "From SIGTERM to SIGKILL when stopping the server")
      ->capture_default_str();
  auto* cpu_profile =
      baseline->add_flag("--cpu-profile", o->cpu_profile,
                         "Sample the server's call stacks during the repetitions (cpu.pb.gz, "
                         "cpu.folded)");
  baseline
      ->add_option("--cpu-sampler", o->cpu_sampler,
                   "With --cpu-profile: perf, builtin (perflab's ptrace sampler), or auto (perf "
                   "where it can sample, else builtin)")
      ->check(CLI::IsMember({"auto", "perf", "builtin"}))
      ->needs(cpu_profile)
      ->capture_default_str();
  baseline
      ->add_option("--metrics-path", o->metrics_path,
                   "Where the server serves OpenMetrics with perflab pools, scraped around each "
                   "repetition for the pools group and pool_hit_rate ('none': do not ask)")
      ->check([](const std::string& path) {
        return path == "none" || path.starts_with('/') ? std::string()
                                                       : "must start with '/' or be 'none'";
      })
      ->capture_default_str();
  baseline->add_flag("-q,--quiet", o->quiet, "No progress and no summary");
  baseline->add_option("command", o->command, "The server and its arguments (after --)")
      ->required()
      ->expected(-1);
  baseline->callback([o, &exit_code] { exit_code = run_baseline(*o); });
}

}  // namespace

void register_baseline_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_baseline_command);
}

}  // namespace perflab::cli
