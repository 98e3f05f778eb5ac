// perflab::load: an HTTP/1.1 load generator, closed and open loop, with
// coordinated-omission-correct latencies (wrk2's model) and a per-thread
// event loop that neither locks nor allocates on the request path.
//
//   LoadSpec spec = parse_load_file("load.json");     // or build one in code
//   LoadResult result = run_load(spec);
//   fmt::print("{}", format_load_report(result));
//
// The `perflab load` command is a thin layer over this header; it also
// writes latency.hlog and summary.json into a profile directory.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perflab/drive.hpp"
#include "perflab/histogram.hpp"
#include "perflab/profile.hpp"

namespace perflab {

/// A bad URL, load file, template or option. The message names the field and
/// says what would be accepted; the CLI prints it and exits 2.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// What to send
// ---------------------------------------------------------------------------

/// An http:// URL split for the load generator. https is refused (LoadError).
struct HttpUrl {
  std::string host;         // as written, without brackets for IPv6 literals
  std::uint16_t port = 80;  // from the URL, default 80
  std::string target;       // path and query, "/" when the URL has none
  std::string host_header;  // the Host header to send: host, plus ":port" if not 80

  friend bool operator==(const HttpUrl&, const HttpUrl&) = default;
};

/// Parses "http://host[:port][/path][?query]". Throws LoadError naming the
/// problem (missing scheme, https, empty host, bad port, fragment, spaces).
HttpUrl parse_http_url(std::string_view url);

/// What one GET answered.
struct HttpGetResult {
  int status = 0;
  std::string content_type;  // the Content-Type header, empty when absent
  std::string body;          // decoded from chunked transfer encoding if used
};

/// One GET of `url` on a fresh connection (Connection: close), for small
/// resources such as a server's /metrics or health URL, not for load.
/// Throws LoadError naming the URL and the cause when the host does not
/// resolve, nobody accepts the connection, the whole exchange takes longer
/// than `timeout_s`, the response is not valid HTTP/1.x, or its body is
/// larger than `max_body_bytes`. Thread-safe (no shared state).
HttpGetResult http_get(const HttpUrl& url, double timeout_s,
                       std::size_t max_body_bytes = std::size_t{16} << 20);

/// What counts as a good response. Empty `statuses` means any 2xx.
struct ResponseExpectation {
  std::vector<int> statuses;
  std::string body_contains;  // when non-empty, the body must contain it (searched as it streams)
};

/// One kind of request of a load. Path and body are templates: `{seq}` (the
/// request's sequence number over the run), `{rand:N}` (uniform in [0, N)),
/// `{uuid}` (random version-4 UUID), `{conn}` (connection index over the run),
/// `{thread}` (load thread index). Any other brace text is sent as written,
/// so JSON bodies need no escaping.
struct RequestSpec {
  std::string name = "request";  // names the request in reports and hlog tags
  std::uint32_t weight = 1;      // share of the mix: weight / sum of weights
  std::string method = "GET";
  std::string target;  // path template; empty: the URL's target
  std::vector<std::pair<std::string, std::string>> headers;  // added to the load's headers
  std::string body;                           // template; sent with Content-Length when non-empty
  std::optional<ResponseExpectation> expect;  // overrides the load's expectation
};

/// Closed loop: each connection sends its next request as soon as it has the
/// answer to the last. Open loop: requests are due on a RateSchedule; latency
/// counts from the due time.
enum class LoadMode { kClosed, kOpen };

/// A whole load: where, what, how hard and how long.
struct LoadSpec {
  HttpUrl url;
  std::vector<RequestSpec> requests;  // at least one; the mix is exact, not random
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  ResponseExpectation expect;                                // default for every request
  LoadMode mode = LoadMode::kClosed;
  std::optional<RateSchedule> schedule;  // required in open loop, ignored in closed
  int threads = 1;                       // event-loop threads; 1 <= threads <= connections
  int connections = 10;                  // keep-alive connections over all threads
  double duration_s = 10;                // closed loop; open loop uses the schedule's
  double timeout_s = 10;                 // per request, from send to complete response
  double connect_timeout_s = 2;          // per connection attempt
  std::uint64_t seed = 1;                // for {rand:N} and {uuid}
};

/// Parses a duration: "30s", "500ms", "250us", "2m", "1h", "1.5s", or a bare
/// number of seconds. Throws LoadError naming `what` unless it is finite and > 0.
double parse_duration_s(std::string_view text, std::string_view what);

/// Parses a rate schedule as the command line writes it: "5000" (constant for
/// `duration_s`), "1000..5000" (a ramp over `duration_s`), or comma-separated
/// steps each with its own duration, "1000/10s,1000..4000/20s,0/5s" (then
/// `duration_s` is ignored). Throws LoadError naming `what`.
RateSchedule parse_rate_schedule(std::string_view text, double duration_s, std::string_view what);

/// Parses a load file: a JSON object (docs/load.md has the schema). Relative
/// body_file paths resolve against `base_dir`. Throws LoadError naming the
/// field ("requests[1].weight: must be a positive integer").
LoadSpec parse_load_json(const nlohmann::json& json, const std::filesystem::path& base_dir = ".");
/// Reads and parses `path`; errors also name the file.
LoadSpec parse_load_file(const std::filesystem::path& path);
/// Throws LoadError when `spec` cannot run (no requests, threads > connections,
/// open loop without a schedule, a template that does not compile, ...).
void validate_load_spec(const LoadSpec& spec);

// ---------------------------------------------------------------------------
// What came back
// ---------------------------------------------------------------------------

/// How a request can fail. Every failed request counts once, in one kind.
enum class LoadErrorKind : int {
  kConnect = 0,  // connection refused, unreachable, or connect timed out
  kRead,         // reset, or closed by the server before the response was complete
  kWrite,        // the request could not be sent
  kTimeout,      // no complete response within timeout_s
  kStatus,       // a response whose status (or body) was not expected
  kParse,        // bytes that are not a valid HTTP/1.1 response
};
inline constexpr std::size_t kLoadErrorKindCount = 6;
/// "connect", "read", "write", "timeout", "status", "parse".
const char* load_error_kind_name(LoadErrorKind kind) noexcept;

/// Per request kind of the mix.
struct RequestResult {
  std::string name;
  std::uint64_t completed = 0;  // responses that were as expected
  std::uint64_t errors = 0;
  Histogram latency = make_latency_histogram();
  Histogram service = make_latency_histogram();

  /// Adds another part of the same request kind's results (threads, repetitions).
  void add(const RequestResult& other) noexcept;
};

/// The counts of a run, or of one load thread's share of it; they add up.
struct LoadCounts {
  std::array<std::uint64_t, kLoadErrorKindCount> errors{};
  std::uint64_t sent = 0;       // requests written (started)
  std::uint64_t completed = 0;  // responses received and as expected
  std::uint64_t connects = 0;   // successful connections, reconnects included
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t late = 0;       // open loop: sent > kLateThresholdNs after due
  std::uint64_t unsent = 0;     // open loop: due within the run but never sent
  std::int64_t max_lag_ns = 0;  // open loop: largest send - due
  int last_bad_status = 0;      // the status of the last kStatus error (0: none)
  bool interrupted = false;     // stopped early through LoadRunOptions::stop

  /// Sums the counts, keeps the larger lag and the later bad status.
  void add(const LoadCounts& other) noexcept;
};

/// A finished run. Latencies in nanoseconds.
struct LoadResult : LoadCounts {
  LoadMode mode = LoadMode::kClosed;
  int threads = 0;
  int connections = 0;
  /// Open loop: from each request's due time (coordinated omission corrected).
  /// Closed loop: the same as `service` (no schedule to be behind).
  Histogram latency = make_latency_histogram();
  /// From the moment the request was written to its complete response.
  Histogram service = make_latency_histogram();
  std::vector<RequestResult> requests;  // in the order of LoadSpec::requests
  double duration_s = 0;                // the run's planned length (schedule or duration)
  double elapsed_s = 0;                 // from start to the last response
  double target_rate = 0;               // open loop: the schedule's mean rate
  double achieved_rate = 0;             // completed / duration_s
  double throughput_rps = 0;            // completed / elapsed_s

  std::uint64_t error_count() const noexcept;
  /// errors / (completed + errors); 0 when nothing was attempted.
  double error_rate() const noexcept;
};

/// One interval of a run (normally one second), for live progress and the
/// interval log. The histograms hold only this interval's requests, merged
/// over threads; they are valid during the call only.
struct LoadInterval {
  double start_s = 0;  // since the run started
  double length_s = 0;
  const Histogram& latency;
  const Histogram& service;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
};

/// Called from the thread that called run_load() (never from a load thread).
class LoadObserver {
 public:
  virtual ~LoadObserver() = default;
  /// The run began; `start_epoch_s` is wall-clock time (for hlog StartTime).
  virtual void on_start(double /*start_epoch_s*/) {}
  virtual void on_interval(const LoadInterval& /*interval*/) {}
};

struct LoadRunOptions {
  LoadObserver* observer = nullptr;
  double interval_s = 1.0;                  // observer interval, > 0
  const std::atomic<bool>* stop = nullptr;  // set to stop early (e.g. from SIGINT)
};

/// Runs `spec` and returns what it measured. Every connection is opened
/// before the clock starts (so the first requests are not late by the time
/// connecting took). Setup problems throw LoadError: a bad spec, a host that
/// does not resolve, no server accepting connections at the URL (each address
/// tried once), more connections than the open-files limit allows (the soft
/// limit is raised to the hard one first). A server that refuses, resets,
/// stalls or sends garbage during the run is not an exception: those are
/// counted in LoadResult::errors by kind, and the run still ends on time
/// (every wait has a timeout; a stopped run drains for at most 1 s). An
/// exception from the observer stops the run and is rethrown after the
/// threads have joined. Memory does not grow with the duration.
/// Thread-safety: independent runs may proceed concurrently.
LoadResult run_load(const LoadSpec& spec, const LoadRunOptions& options = {});

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// The `load` group of summary.json: mode, rate, connections, requests,
/// errors by kind, throughput_rps, latency percentiles in microseconds
/// (corrected and uncorrected), lag, and per-request-kind figures.
nlohmann::json load_summary_json(const LoadResult& result);

/// A human summary: counts, rates, latency p50/p90/p99/p99.9/max from due
/// time and from send, and errors by kind.
std::string format_load_report(const LoadResult& result);

/// The interval log of a run's latencies.
inline constexpr const char* kLatencyLogFile = "latency.hlog";

/// Streams a run's latency.hlog into a profile being written, one interval
/// line per observer interval (memory stays flat however long the run): an
/// untagged line with the latency from due time (what HdrHistogram's tools
/// plot by default; coordinated-omission corrected in open loop) and a
/// "Tag=service" line with the time from send. Values are nanoseconds,
/// Interval_Max milliseconds. Forwards every call to `next` (live progress).
/// Not thread-safe; run_load() calls it from one thread.
class LatencyLogRecorder : public LoadObserver {
 public:
  /// Throws ProfileError when the file cannot be created.
  LatencyLogRecorder(ProfileWriter& profile, LoadMode mode, LoadObserver* next = nullptr);
  ~LatencyLogRecorder() override;
  LatencyLogRecorder(const LatencyLogRecorder&) = delete;
  LatencyLogRecorder& operator=(const LatencyLogRecorder&) = delete;

  void on_start(double start_epoch_s) override;
  void on_interval(const LoadInterval& interval) override;
  /// Flushes and closes the file; throws ProfileError (and marks the profile
  /// failed) when any write failed.
  void finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace perflab
