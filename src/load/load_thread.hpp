// One load thread: an epoll event loop over its share of the connections,
// sending on schedule (open loop) or back to back (closed loop). Everything it
// needs is allocated before the run starts; the request path only reads,
// parses, records into its own histograms and writes.
#pragma once

#include <array>
#include <atomic>
#include <bitset>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "perflab/load.hpp"
#include "request_template.hpp"

namespace perflab::load_detail {

struct Syscalls;

/// One request kind, ready to send and to check.
struct RequestPlan {
  std::string name;
  RequestRenderer renderer;
  std::bitset<600> good_status;  // indexed by status code
  std::string body_needle;       // empty: no body check
};

/// Everything the threads share, immutable during the run.
struct LoadPlan {
  std::vector<RequestPlan> requests;
  std::vector<std::uint16_t> cycle;  // weighted_cycle(): kind of request number seq % size
  Endpoint endpoint;
  LoadMode mode = LoadMode::kClosed;
  std::optional<RateSchedule> schedule;
  int threads = 1;
  int connections = 1;
  std::int64_t duration_ns = 0;
  std::int64_t timeout_ns = 0;
  std::int64_t connect_timeout_ns = 0;
  std::int64_t interval_ns = 1'000'000'000;
  std::uint64_t seed = 1;
  std::size_t render_capacity = 0;  // largest templated request; 0 when all are static
  std::size_t longest_needle = 0;   // longest body check; 0 when none
  const Syscalls* syscalls = nullptr;
};

/// Interval histograms handed from a load thread to the run's main thread,
/// once per interval: the only lock, and never on the request path.
struct IntervalMailbox {
  std::mutex mutex;
  Histogram latency = make_latency_histogram();
  Histogram service = make_latency_histogram();
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  std::atomic<std::int64_t> published_through{-1};  // last interval index handed over
  std::atomic<bool> finished{false};                // the thread has published its last
};

/// What a thread counted; histograms go through the mailbox instead.
struct ThreadTotals : LoadCounts {
  std::int64_t last_response_ns = 0;
  std::vector<RequestResult> requests;  // per kind; empty when there is one kind
};

/// The start signal: threads wait for start_ns to be set (> 0).
struct StartSignal {
  std::atomic<std::int64_t> start_ns{0};
  std::atomic<int> ready{0};
  std::atomic<bool> abort{false};  // the run failed on the main thread: stop now
};

class LoadThread {
 public:
  /// `first_connection` and `connection_count`: this thread's share.
  /// Allocates everything the run needs; throws std::bad_alloc or
  /// std::system_error (epoll_create) here, never later.
  LoadThread(const LoadPlan& plan, int thread_index, std::uint32_t first_connection,
             std::uint32_t connection_count, IntervalMailbox& mailbox,
             const std::atomic<bool>* stop);
  ~LoadThread();
  LoadThread(const LoadThread&) = delete;
  LoadThread& operator=(const LoadThread&) = delete;

  /// Waits for `start`, runs to the end of the schedule or duration (or the
  /// stop flag), drains in-flight requests for up to the timeout, and
  /// publishes the last interval. noexcept: errors are counted, not thrown.
  void run(StartSignal& start) noexcept;

  ThreadTotals& totals() noexcept { return totals_; }

 private:
  void begin_connect(Connection& connection, std::int64_t now);
  void on_connected(Connection& connection, std::int64_t now);
  void connection_failed(Connection& connection, LoadErrorKind kind, std::int64_t now);
  void close_connection(Connection& connection);
  void reconnect_later(Connection& connection, std::int64_t now);
  void on_event(Connection& connection, std::uint32_t events, std::int64_t now);
  void on_readable(Connection& connection, std::int64_t now);
  void on_response(Connection& connection, std::int64_t now);
  void continue_write(Connection& connection, std::int64_t now);
  void set_wants_write(Connection& connection, bool wanted);
  void send_request(Connection& connection, std::uint64_t seq, std::int64_t due_ns);
  void next_request(Connection& connection, std::int64_t now);
  void dispatch_due(std::int64_t now);
  void scan_deadlines(std::int64_t now);
  void reconnect_queued(std::int64_t now);
  std::uint32_t index_of(const Connection& connection) const noexcept {
    return static_cast<std::uint32_t>(&connection - connections_.data());
  }
  void count_error(LoadErrorKind kind, const Connection* connection);
  void publish_interval(std::int64_t index);
  void wait_for_events(std::int64_t until_ns);
  void connect_before_start();

  const LoadPlan& plan_;
  const int thread_index_;
  IntervalMailbox& mailbox_;
  const std::atomic<bool>* stop_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;
  std::vector<std::uint32_t> idle_;  // open loop: connections ready for the next due request
  std::vector<std::uint32_t> reconnect_now_;  // closed by the server; reopened after the events
  std::vector<std::uint32_t> answered_;       // got a response this round; send after it
  std::unique_ptr<char[]> read_buffer_;
  Rng rng_;
  ThreadTotals totals_;
  Histogram interval_latency_ = make_latency_histogram();
  Histogram interval_service_ = make_latency_histogram();
  std::uint64_t interval_completed_ = 0;
  std::uint64_t interval_errors_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t end_ns_ = 0;
  std::int64_t next_interval_ns_ = 0;
  std::int64_t interval_index_ = 0;
  std::uint64_t next_seq_ = 0;            // open: schedule index; closed: local counter
  std::uint64_t seq_limit_ = 0;           // open: the schedule's request count
  std::int64_t next_due_ns_ = 0;          // open: due time of next_seq_
  bool sending_over_ = false;             // past the end: no new requests
  bool connecting_before_start_ = false;  // connections open, but nothing is sent yet
  const std::atomic<bool>* abort_ = nullptr;
  int in_flight_ = 0;
};

}  // namespace perflab::load_detail
