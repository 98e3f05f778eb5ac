// perflab load URL: drives an HTTP service (closed or open loop) and writes
// the run's profile directory. Glue: the engine is perflab::run_load
// (src/load), the files are perflab::ProfileWriter's (src/profile).
#include <fmt/core.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "perflab/compare.hpp"
#include "perflab/load.hpp"
#include "perflab/version.hpp"
#include "run_support.hpp"

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;

// 128 + SIGINT, as a shell reports a command stopped by Ctrl-C; the profile
// of what ran is still written.
constexpr int kExitInterrupted = 130;

struct LoadOptions {
  std::string url;
  std::string load_file;
  std::optional<int> connections;
  std::optional<int> threads;
  std::string duration;
  std::string rate;
  std::string method;
  std::vector<std::string> headers;
  std::string body;
  std::string timeout;
  std::string connect_timeout;
  std::vector<int> expect_status;
  std::string expect_body;
  std::optional<std::uint64_t> seed;
  std::string output;
  double max_error_rate = 0.01;
  bool no_profile = false;
  bool quiet = false;
};

std::atomic<bool> g_stop{false};

extern "C" void on_interrupt(int) {
  g_stop.store(true, std::memory_order_relaxed);
  // A second Ctrl-C ends the process the usual way (no profile is left: the
  // writer's temporary directory is hidden and never renamed into place).
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

std::string read_body_argument(const std::string& body) {
  if (body.empty() || body[0] != '@') return body;
  const std::string path = body.substr(1);
  std::optional<std::string> text = read_file(path);
  if (!text)
    throw LoadError("--body: cannot read \"" + path + "\" (give @FILE of a readable file)");
  return std::move(*text);
}

std::pair<std::string, std::string> split_header(const std::string& header) {
  const std::size_t colon = header.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw LoadError("--header \"" + header + "\": expected \"Name: value\"");
  }
  std::string value = header.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  return {header.substr(0, colon), value};
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The load's expectation and every request's own.
std::vector<ResponseExpectation*> expectations(LoadSpec& spec) {
  std::vector<ResponseExpectation*> all{&spec.expect};
  for (RequestSpec& request : spec.requests) {
    if (request.expect) all.push_back(&*request.expect);
  }
  return all;
}

// The load file first, then every flag given on the command line over it.
LoadSpec build_spec(const LoadOptions& o) {
  LoadSpec spec;
  if (!o.load_file.empty()) spec = parse_load_file(o.load_file);
  const bool file_has_requests = !o.load_file.empty() && !spec.requests.empty();
  if (!o.url.empty()) spec.url = parse_http_url(o.url);
  if (o.connections) spec.connections = *o.connections;
  if (o.threads) spec.threads = *o.threads;
  if (!o.duration.empty()) spec.duration_s = parse_duration_s(o.duration, "--duration");
  if (!o.timeout.empty()) spec.timeout_s = parse_duration_s(o.timeout, "--timeout");
  if (!o.connect_timeout.empty()) {
    spec.connect_timeout_s = parse_duration_s(o.connect_timeout, "--connect-timeout");
  }
  if (o.seed) spec.seed = *o.seed;
  // A flag replaces what the load file says, for every request of its mix.
  for (const std::string& header : o.headers) {
    const auto [name, value] = split_header(header);
    const auto same_name = [&name = name](const std::pair<std::string, std::string>& h) {
      return equal_ignoring_case(h.first, name);
    };
    std::erase_if(spec.headers, same_name);
    for (RequestSpec& request : spec.requests) std::erase_if(request.headers, same_name);
    spec.headers.emplace_back(name, value);
  }
  for (ResponseExpectation* expect : expectations(spec)) {
    if (!o.expect_status.empty()) expect->statuses = o.expect_status;
    if (!o.expect_body.empty()) expect->body_contains = o.expect_body;
  }

  if (!o.rate.empty()) {
    spec.mode = LoadMode::kOpen;
    spec.schedule = parse_rate_schedule(o.rate, spec.duration_s, "--rate");
  } else if (!o.duration.empty()) {
    apply_duration(spec, spec.duration_s);
  }
  if (spec.mode == LoadMode::kOpen && spec.schedule) spec.duration_s = spec.schedule->duration_s();

  const bool request_flags = !o.method.empty() || !o.body.empty();
  if (file_has_requests && request_flags && spec.requests.size() > 1) {
    throw LoadError("--method/--body describe one request, but the load file has a mix of " +
                    std::to_string(spec.requests.size()) +
                    "; change the requests in the load file instead");
  }
  if (spec.requests.empty()) spec.requests.emplace_back();
  if (request_flags) {
    RequestSpec& request = spec.requests.front();
    if (!o.body.empty()) request.body = read_body_argument(o.body);
    if (!o.method.empty()) {
      request.method = o.method;
    } else if (!o.body.empty() && request.method == "GET") {
      request.method = "POST";
    }
  }
  validate_load_spec(spec);
  return spec;
}

// Once a second on a terminal: how the run is going.
class ProgressPrinter : public LoadObserver {
 public:
  void on_interval(const LoadInterval& interval) override {
    if (interval.length_s <= 0) return;
    const double rate = static_cast<double>(interval.completed) / interval.length_s;
    const double p99_ms = interval.latency.total_count() > 0
                              ? static_cast<double>(interval.latency.value_at_percentile(99)) / 1e6
                              : 0.0;
    fmt::print(stderr, "  {:6.1f}s  {:9.1f} req/s  p99 {:8.3f} ms  errors {}\n",
               interval.start_s + interval.length_s, rate, p99_ms, interval.errors);
  }
};

// report.html of the run, from the files just written (summary.json,
// latency.hlog) in the profile's temporary directory.
std::string run_report_html(const ProfileWriter& writer) {
  CompareInput run = read_compare_input(writer.temp_path());
  run.path = writer.final_path().string();
  return format_run_html(run);
}

std::string error_kinds(const LoadResult& result) {
  std::string text;
  for (std::size_t kind = 0; kind < kLoadErrorKindCount; ++kind) {
    if (result.errors[kind] == 0) continue;
    text += fmt::format(" {} {}", load_error_kind_name(static_cast<LoadErrorKind>(kind)),
                        result.errors[kind]);
    if (static_cast<LoadErrorKind>(kind) == LoadErrorKind::kStatus && result.last_bad_status > 0) {
      text +=
          fmt::format(" (last one {}; --expect-status sets the good ones)", result.last_bad_status);
    }
  }
  return text;
}

std::string readme(const LoadSpec& spec, const std::string& load_text) {
  std::string command;
  for (const std::string& word : invocation()) command += (command.empty() ? "" : " ") + word;
  std::string text = fmt::format(
      "# perflab load profile\n\n    {}\n\n- perflab {}\n- target http://{}{}\n- {} loop, {} "
      "thread(s), {} connection(s)\n\n"
      "Files: summary.json (figures: the `load` group), latency.hlog (HdrHistogram interval log:\n"
      "untagged = latency from due time, Tag=service = from send; values in ns).\n",
      command, kVersion, spec.url.host_header, spec.url.target,
      spec.mode == LoadMode::kOpen ? "open" : "closed", spec.threads, spec.connections);
  if (!load_text.empty()) text += "\nThe load file is kept beside it as load.json.\n";
  return text;
}

int run_load_command(const LoadOptions& o) {
  if (!(o.max_error_rate >= 0 && o.max_error_rate <= 1)) {
    throw LoadError("--max-error-rate: must be between 0 and 1");
  }
  const LoadSpec spec = build_spec(o);
  // Kept in the profile, so the run can be made again (parse_load_file read it already).
  const std::string load_text = o.load_file.empty() ? "" : read_file(o.load_file).value_or("");

  std::optional<ProfileWriter> writer;
  if (!o.no_profile) {
    const std::string output = o.output.empty() ? timestamped_profile_path("load") : o.output;
    const fs::path parent = fs::path(output).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    writer.emplace(output);
  }

  ProgressPrinter progress;
  const bool live = !o.quiet && isatty(STDERR_FILENO) == 1;
  std::optional<LatencyLogRecorder> log;
  if (writer) log.emplace(*writer, spec.mode, live ? &progress : nullptr);
  LoadObserver* observer = log ? static_cast<LoadObserver*>(&*log) : live ? &progress : nullptr;

  struct sigaction action {};
  action.sa_handler = &on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  if (!o.quiet) {
    fmt::print(stderr, "perflab load: http://{}{} for {:.1f} s{}\n", spec.url.host_header,
               spec.url.target,
               spec.mode == LoadMode::kOpen ? spec.schedule->duration_s() : spec.duration_s,
               spec.mode == LoadMode::kOpen
                   ? fmt::format(", open loop at {:.1f} req/s", spec.schedule->mean_rate())
                   : fmt::format(", closed loop"));
  }
  const std::time_t started = std::time(nullptr);
  const LoadResult result = run_load(spec, LoadRunOptions{observer, 1.0, &g_stop});
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);

  nlohmann::json load = load_summary_json(result);
  // What the load generator itself cost: its CPU beside the service's, and a
  // peak memory that does not grow with the run's length.
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const double user_s = static_cast<double>(self.ru_utime.tv_sec) + self.ru_utime.tv_usec / 1e6;
  const double sys_s = static_cast<double>(self.ru_stime.tv_sec) + self.ru_stime.tv_usec / 1e6;
  load["generator"] = {
      {"cpu_user_s", user_s},
      {"cpu_sys_s", sys_s},
      {"cpu_per_request_us",
       result.completed > 0 ? (user_s + sys_s) * 1e6 / static_cast<double>(result.completed) : 0.0},
      {"peak_rss_bytes", static_cast<std::uint64_t>(self.ru_maxrss) * 1024}};
  load["url"] = "http://" + spec.url.host_header + spec.url.target;
  describe_load(spec, load);
  if (!o.load_file.empty()) load["load_file"] = o.load_file;
  char start_text[32];
  std::tm utc{};
  gmtime_r(&started, &utc);
  std::strftime(start_text, sizeof start_text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  nlohmann::json summary = {
      {"run",
       {{"tool", "perflab load"},
        {"command", invocation()},
        {"host", host_name()},
        {"start", start_text},
        {"duration_s", result.elapsed_s},
        {"repetitions", 1},
        {"perflab_version", kVersion}}},
      {"load", load},
  };

  fs::path written;
  if (writer) {
    log->finish();
    writer->write_summary(summary);
    writer->write_text("README.md", readme(spec, load_text));
    writer->write_text("report.html", run_report_html(*writer));
    if (!load_text.empty()) writer->write_text("load.json", load_text);
    written = writer->commit();
  }
  if (!o.quiet) {
    fmt::print("{}", format_load_report(result));
    if (writer) fmt::print("profile written to {}\n", written.string());
  }
  if (result.interrupted) return kExitInterrupted;
  if (result.completed == 0) {
    fmt::print(stderr, "perflab: error: no request completed ({} errors:{})\n",
               result.error_count(), error_kinds(result));
    return kExitFail;
  }
  if (result.error_rate() > o.max_error_rate) {
    fmt::print(stderr,
               "perflab: error: error rate {:.2f}% is above --max-error-rate {:.2f}% ({})\n",
               100 * result.error_rate(), 100 * o.max_error_rate, error_kinds(result).substr(1));
    return kExitFail;
  }
  return kExitPass;
}

void add_load_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<LoadOptions>();
  CLI::App* load = app.add_subcommand(
      "load", "Drive an HTTP service (closed or open loop) and record its latencies");
  load->footer(
      "Examples:\n"
      "  perflab load http://127.0.0.1:8080/ -c 50 -d 30s\n"
      "  perflab load http://127.0.0.1:8080/rpc -R 5000 -d 30s --body @write.json\n"
      "  perflab load --load load.json -o profiles/before\n"
      "Rates: N (constant), A..B (ramp over --duration), A/10s,B/20s,C..D/30s (steps).\n"
      "Exit codes: 0 ok; 1 no request completed or the error rate was above --max-error-rate;\n"
      "2 bad usage, URL or load file, or no server at the URL; 130 interrupted (profile kept).");
  load->add_option("url", o->url, "http://host[:port]/path (or \"url\" in the load file)");
  load->add_option("--load", o->load_file, "Load file (JSON): request mix, mode, rate, duration");
  load->add_option("-c,--connections", o->connections, "Keep-alive connections (default 10)")
      ->check(CLI::Range(1, 100000));
  load->add_option("-t,--threads", o->threads, "Event-loop threads (default 1)")
      ->check(CLI::Range(1, 256));
  load->add_option("-d,--duration", o->duration, "How long: 30s, 500ms, 2m (default 10s)");
  load->add_option("-R,--rate", o->rate, "Open loop at this rate (requests/s); see below");
  load->add_option("-X,--method", o->method, "Request method (default GET; POST with --body)");
  load->add_option("-H,--header", o->headers, "\"Name: value\", repeatable");
  load->add_option("--body", o->body, "Request body, or @FILE; may hold {seq} {rand:N} {uuid} ...");
  load->add_option("--timeout", o->timeout, "Per request, from send (default 10s)");
  load->add_option("--connect-timeout", o->connect_timeout, "Per connection attempt (default 2s)");
  load->add_option("--expect-status", o->expect_status, "Good statuses (default: any 2xx)")
      ->delimiter(',');
  load->add_option("--expect-body", o->expect_body, "Text a good response's body contains");
  load->add_option("--seed", o->seed, "Seed for {rand:N} and {uuid}");
  load->add_option("-o,--output", o->output, "Profile directory (default profiles/load-<time>)");
  load->add_flag("--no-profile", o->no_profile, "Print the summary only; write no files");
  load->add_option("--max-error-rate", o->max_error_rate,
                   "Exit 1 when errors / requests is above this (default 0.01)");
  load->add_flag("-q,--quiet", o->quiet, "No progress and no summary");
  load->callback([o, &exit_code] { exit_code = run_load_command(*o); });
}

}  // namespace

void register_load_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_load_command);
}

}  // namespace perflab::cli
