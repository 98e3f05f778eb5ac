// The load thread's event loop. Level-triggered epoll with EPOLLIN always
// armed: a request is written straight after its predecessor's response is
// parsed, so a request costs one read and one write, and EPOLLOUT (two
// epoll_ctl calls) is armed only when the kernel did not take a whole request.
#include "load_thread.hpp"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <system_error>
#include <thread>

#include "syscalls.hpp"

namespace perflab::load_detail {
namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// Deadlines and reconnects are checked this often: a timeout fires at most
// this late, and a thread with nothing to do still wakes to see the stop flag.
constexpr std::int64_t kScanPeriodNs = 10'000'000;
constexpr std::int64_t kReconnectBackoffFirstNs = 10'000'000;
constexpr std::int64_t kReconnectBackoffMaxNs = 500'000'000;
constexpr std::int64_t kStopDrainNs = 1'000'000'000;

std::int64_t seconds_to_ns(double seconds) { return std::llround(seconds * 1e9); }

}  // namespace

LoadThread::LoadThread(const LoadPlan& plan, int thread_index, std::uint32_t first_connection,
                       std::uint32_t connection_count, IntervalMailbox& mailbox,
                       const std::atomic<bool>* stop)
    : plan_(plan),
      thread_index_(thread_index),
      mailbox_(mailbox),
      stop_(stop),
      connections_(connection_count),
      read_buffer_(std::make_unique<char[]>(kReadBufferSize)),
      rng_(plan.seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(thread_index + 1)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  idle_.reserve(connection_count);
  reconnect_now_.reserve(connection_count);
  answered_.reserve(connection_count);
  for (std::uint32_t i = 0; i < connection_count; ++i) {
    Connection& connection = connections_[i];
    connection.id = first_connection + i;
    if (plan.render_capacity > 0) {
      connection.out_buffer = std::make_unique<char[]>(plan.render_capacity);
    }
    if (plan.longest_needle > 0) connection.parser.enable_body_search(plan.longest_needle);
  }
  if (plan.requests.size() > 1) {
    totals_.requests.reserve(plan.requests.size());
    for (const RequestPlan& request : plan.requests) {
      RequestResult result;
      result.name = request.name;
      totals_.requests.push_back(std::move(result));
    }
  }
}

LoadThread::~LoadThread() {
  for (Connection& connection : connections_) close_connection(connection);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void LoadThread::count_error(LoadErrorKind kind, const Connection* connection) {
  ++totals_.errors[static_cast<std::size_t>(kind)];
  ++interval_errors_;
  if (connection != nullptr && !totals_.requests.empty()) {
    ++totals_.requests[connection->kind].errors;
  }
}

void LoadThread::close_connection(Connection& connection) {
  if (connection.fd >= 0) close(connection.fd);  // also removes it from the epoll set
  if (connection.in_flight()) --in_flight_;
  connection.fd = -1;
  connection.state = Connection::State::kDown;
  connection.wants_write = false;
}

void LoadThread::reconnect_later(Connection& connection, std::int64_t now) {
  // Back off only while connecting fails, so a dead server is not spun on;
  // a connection the server merely closed is replaced at once.
  std::int64_t delay = 0;
  if (connection.connect_failures > 0) {
    delay = kReconnectBackoffFirstNs << std::min(connection.connect_failures - 1, 8);
    delay = std::min(delay, kReconnectBackoffMaxNs);
  }
  connection.reconnect_at_ns = now + delay;
  // Not reconnected here: this runs inside a send or a read of the same
  // connection, and a server that keeps failing would recurse without end.
  if (delay == 0 && !sending_over_ && !connection.queued_reconnect) {
    connection.queued_reconnect = true;
    reconnect_now_.push_back(index_of(connection));
  }
}

void LoadThread::reconnect_queued(std::int64_t now) {
  // begin_connect may queue more (a connect refused at once backs off, so not
  // this round); take the list as it is now.
  const std::size_t count = reconnect_now_.size();
  for (std::size_t i = 0; i < count; ++i) {
    Connection& connection = connections_[reconnect_now_[i]];
    connection.queued_reconnect = false;
    if (connection.state == Connection::State::kDown && !sending_over_) {
      begin_connect(connection, now);
    }
  }
  reconnect_now_.erase(reconnect_now_.begin(),
                       reconnect_now_.begin() + static_cast<std::ptrdiff_t>(count));
}

void LoadThread::connection_failed(Connection& connection, LoadErrorKind kind, std::int64_t now) {
  // A connection that fails before its first response backs off like a
  // refused connect: a server that accepts and drops at once is not spun on.
  if (kind == LoadErrorKind::kConnect || !connection.answered) ++connection.connect_failures;
  count_error(kind,
              kind != LoadErrorKind::kConnect && connection.in_flight() ? &connection : nullptr);
  close_connection(connection);
  reconnect_later(connection, now);
}

void LoadThread::begin_connect(Connection& connection, std::int64_t now) {
  bool connected = false;
  const int fd = start_connect(plan_.endpoint, *plan_.syscalls, connected);
  if (fd < 0) {
    ++connection.connect_failures;
    count_error(LoadErrorKind::kConnect, nullptr);
    connection.state = Connection::State::kDown;
    reconnect_later(connection, now);
    return;
  }
  connection.fd = fd;
  connection.parser.reset_connection();
  epoll_event event{};
  event.events = connected ? EPOLLIN : (EPOLLIN | EPOLLOUT);
  event.data.u32 = index_of(connection);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    connection_failed(connection, LoadErrorKind::kConnect, now);
    return;
  }
  connection.wants_write = !connected;
  if (connected) {
    on_connected(connection, now);
  } else {
    connection.state = Connection::State::kConnecting;
    connection.deadline_ns = now + plan_.connect_timeout_ns;
  }
}

void LoadThread::on_connected(Connection& connection, std::int64_t now) {
  connection.answered = false;
  connection.state = Connection::State::kIdle;
  ++totals_.connects;
  if (connection.wants_write) set_wants_write(connection, false);
  if (!connecting_before_start_) next_request(connection, now);
}

void LoadThread::set_wants_write(Connection& connection, bool wanted) {
  epoll_event event{};
  event.events = wanted ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  event.data.u32 = index_of(connection);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event);
  connection.wants_write = wanted;
}

// An idle connection takes the next request: at once in closed loop; in open
// loop only a request already due, else it waits in idle_.
void LoadThread::next_request(Connection& connection, std::int64_t now) {
  if (sending_over_) return;
  if (plan_.mode == LoadMode::kClosed) {
    const std::uint64_t seq = next_seq_++ * static_cast<std::uint64_t>(plan_.threads) +
                              static_cast<std::uint64_t>(thread_index_);
    send_request(connection, seq, 0);
    return;
  }
  if (next_seq_ < seq_limit_ && next_due_ns_ <= now) {
    const std::uint64_t seq = next_seq_;
    const std::int64_t due = next_due_ns_;
    next_seq_ += static_cast<std::uint64_t>(plan_.threads);
    next_due_ns_ = next_seq_ < seq_limit_
                       ? start_ns_ + seconds_to_ns(plan_.schedule->due_time_s(next_seq_))
                       : kNever;
    send_request(connection, seq, due);
    return;
  }
  if (!connection.queued_idle) {
    connection.queued_idle = true;
    idle_.push_back(index_of(connection));
  }
}

void LoadThread::dispatch_due(std::int64_t now) {
  while (!idle_.empty() && next_seq_ < seq_limit_ && next_due_ns_ <= now) {
    Connection& connection = connections_[idle_.back()];
    idle_.pop_back();
    connection.queued_idle = false;
    if (connection.state != Connection::State::kIdle) continue;  // closed while idle
    next_request(connection, now);
  }
}

void LoadThread::send_request(Connection& connection, std::uint64_t seq, std::int64_t due_ns) {
  const std::uint16_t kind = plan_.cycle[seq % plan_.cycle.size()];
  const RequestPlan& request = plan_.requests[kind];
  connection.kind = kind;
  if (request.renderer.is_static()) {
    connection.out = request.renderer.static_bytes().data();
    connection.out_length = request.renderer.static_bytes().size();
  } else {
    const TemplateContext context{seq, connection.id, static_cast<std::uint32_t>(thread_index_)};
    connection.out_length = request.renderer.render(connection.out_buffer.get(), context, rng_);
    connection.out = connection.out_buffer.get();
  }
  connection.out_sent = 0;
  connection.parser.expect_response(request.renderer.expects_no_body(), request.body_needle);
  // The clock is read here, not at the top of the loop, so service time does
  // not include the handling of other connections' events.
  const std::int64_t sent = now_ns();
  connection.sent_ns = sent;
  connection.due_ns = plan_.mode == LoadMode::kOpen ? due_ns : sent;
  connection.deadline_ns = sent + plan_.timeout_ns;
  if (plan_.mode == LoadMode::kOpen) {
    const std::int64_t lag = sent - due_ns;
    if (lag > totals_.max_lag_ns) totals_.max_lag_ns = lag;
    if (lag > kLateThresholdNs) ++totals_.late;
  }
  ++totals_.sent;
  ++in_flight_;
  connection.state = Connection::State::kSending;
  continue_write(connection, sent);
}

void LoadThread::continue_write(Connection& connection, std::int64_t now) {
  while (connection.out_sent < connection.out_length) {
    const ssize_t written =
        plan_.syscalls->write(connection.fd, connection.out + connection.out_sent,
                              connection.out_length - connection.out_sent);
    if (written > 0) {
      connection.out_sent += static_cast<std::size_t>(written);
      totals_.bytes_written += static_cast<std::uint64_t>(written);
      continue;
    }
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!connection.wants_write) set_wants_write(connection, true);
      return;
    }
    connection_failed(connection, LoadErrorKind::kWrite, now);
    return;
  }
  if (connection.wants_write) set_wants_write(connection, false);
  connection.state = Connection::State::kAwaiting;
}

void LoadThread::on_event(Connection& connection, std::uint32_t events, std::int64_t now) {
  switch (connection.state) {
    case Connection::State::kConnecting: {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      const int error = finish_connect(connection.fd);
      if (error != 0) {
        connection_failed(connection, LoadErrorKind::kConnect, now);
        return;
      }
      on_connected(connection, now);
      return;
    }
    case Connection::State::kSending:
      if ((events & EPOLLOUT) != 0) continue_write(connection, now);
      if (connection.state != Connection::State::kDown &&
          (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        on_readable(connection, now);
      }
      return;
    case Connection::State::kIdle:
    case Connection::State::kAwaiting:
      on_readable(connection, now);
      return;
    case Connection::State::kDown:
      return;
  }
}

void LoadThread::on_readable(Connection& connection, std::int64_t now) {
  ssize_t got;
  do {
    got = plan_.syscalls->read(connection.fd, read_buffer_.get(), kReadBufferSize);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (connection.in_flight()) {
      connection_failed(connection, LoadErrorKind::kRead, now);
    } else {
      close_connection(connection);  // an idle connection reset: not a request's error
      reconnect_later(connection, now);
    }
    return;
  }
  if (got == 0) {
    if (!connection.in_flight()) {
      close_connection(connection);  // the server closed an idle keep-alive connection
      reconnect_later(connection, now);
      return;
    }
    const ResponseParser::Progress progress = connection.parser.feed_eof();
    if (progress == ResponseParser::Progress::kComplete) {
      on_response(connection, now_ns());
    } else {
      connection_failed(connection, LoadErrorKind::kRead, now);
    }
    return;
  }
  totals_.bytes_read += static_cast<std::uint64_t>(got);
  if (!connection.in_flight()) {
    connection_failed(connection, LoadErrorKind::kParse, now);  // bytes nobody asked for
    return;
  }
  switch (connection.parser.feed(read_buffer_.get(), static_cast<std::size_t>(got))) {
    case ResponseParser::Progress::kIncomplete:
      return;
    case ResponseParser::Progress::kError:
      connection_failed(connection, LoadErrorKind::kParse, now);
      return;
    case ResponseParser::Progress::kComplete:
      on_response(connection, now_ns());
      return;
  }
}

void LoadThread::on_response(Connection& connection, std::int64_t now) {
  const RequestPlan& request = plan_.requests[connection.kind];
  const int status = connection.parser.status_code();
  const bool good = status >= 0 && static_cast<std::size_t>(status) < request.good_status.size() &&
                    request.good_status.test(static_cast<std::size_t>(status)) &&
                    connection.parser.body_matched();
  --in_flight_;
  connection.state = Connection::State::kIdle;
  connection.answered = true;
  connection.connect_failures = 0;
  totals_.last_response_ns = now;
  // The server answered before it had the whole request (an early error, say):
  // the rest can no longer be sent on this connection, nor a next request.
  const bool request_unfinished = connection.out_sent < connection.out_length;
  if (good) {
    const std::int64_t latency = now - connection.due_ns;
    const std::int64_t service = now - connection.sent_ns;
    interval_latency_.record_value(latency);
    interval_service_.record_value(service);
    ++interval_completed_;
    ++totals_.completed;
    if (!totals_.requests.empty()) {
      RequestResult& kind = totals_.requests[connection.kind];
      kind.latency.record_value(latency);
      kind.service.record_value(service);
      ++kind.completed;
    }
  } else {
    ++totals_.errors[static_cast<std::size_t>(LoadErrorKind::kStatus)];
    totals_.last_bad_status = status;
    ++interval_errors_;
    if (!totals_.requests.empty()) ++totals_.requests[connection.kind].errors;
  }
  if (!connection.parser.keep_alive() || request_unfinished) {
    close_connection(connection);
    reconnect_later(connection, now);
    return;
  }
  // Sent after this round of events, all together: the server then finds
  // several requests at once and answers them in one wakeup of its own, which
  // saves both sides context switches (measured: fewer per request than wrk).
  answered_.push_back(index_of(connection));
}

void LoadThread::scan_deadlines(std::int64_t now) {
  for (Connection& connection : connections_) {
    switch (connection.state) {
      case Connection::State::kDown:
        if (!sending_over_ && connection.reconnect_at_ns <= now) begin_connect(connection, now);
        break;
      case Connection::State::kConnecting:
        if (now >= connection.deadline_ns) {
          connection_failed(connection, LoadErrorKind::kConnect, now);
        }
        break;
      case Connection::State::kSending:
      case Connection::State::kAwaiting:
        if (now >= connection.deadline_ns) {
          connection_failed(connection, LoadErrorKind::kTimeout, now);
        }
        break;
      case Connection::State::kIdle:
        break;
    }
  }
}

void LoadThread::publish_interval(std::int64_t index) {
  {
    std::lock_guard<std::mutex> lock(mailbox_.mutex);
    mailbox_.latency.add(interval_latency_);
    mailbox_.service.add(interval_service_);
    mailbox_.completed += interval_completed_;
    mailbox_.errors += interval_errors_;
  }
  mailbox_.published_through.store(index, std::memory_order_release);
  interval_latency_.reset();
  interval_service_.reset();
  interval_completed_ = 0;
  interval_errors_ = 0;
}

void LoadThread::wait_for_events(std::int64_t until_ns) {
  epoll_event events[kMaxEvents];
  const std::int64_t wait = std::max<std::int64_t>(0, until_ns - now_ns());
  const timespec timeout{static_cast<time_t>(wait / 1'000'000'000),
                         static_cast<long>(wait % 1'000'000'000)};
  // epoll_pwait2 takes a nanosecond timeout: open-loop sends wake on time
  // rather than on the next millisecond.
  int ready = epoll_pwait2(epoll_fd_, events, kMaxEvents, &timeout, nullptr);
  if (ready < 0 && errno == ENOSYS) {
    ready =
        epoll_wait(epoll_fd_, events, kMaxEvents,
                   static_cast<int>(std::min<std::int64_t>((wait + 999'999) / 1'000'000, 1000)));
  }
  if (ready <= 0) return;
  const std::int64_t now = now_ns();
  for (int i = 0; i < ready; ++i) {
    Connection& connection = connections_[events[i].data.u32];
    if (connection.fd < 0) continue;
    on_event(connection, events[i].events, now);
  }
  for (const std::uint32_t index : answered_) {
    Connection& connection = connections_[index];
    if (connection.state == Connection::State::kIdle) next_request(connection, now);
  }
  answered_.clear();
}

// Opens every connection before the run starts (bounded by the connect
// timeout), so the first requests are not late by the time connecting took.
void LoadThread::connect_before_start() {
  connecting_before_start_ = true;
  std::int64_t now = now_ns();
  for (Connection& connection : connections_) begin_connect(connection, now);
  const std::int64_t deadline = now + plan_.connect_timeout_ns;
  const auto connecting = [this] {
    return std::any_of(connections_.begin(), connections_.end(), [](const Connection& c) {
      return c.state == Connection::State::kConnecting;
    });
  };
  while (now < deadline && connecting()) {
    wait_for_events(std::min(deadline, now + kScanPeriodNs));
    now = now_ns();
  }
  connecting_before_start_ = false;
}

void LoadThread::run(StartSignal& start) noexcept {
  // Precise wakeups for open-loop sends: the default 50 us timer slack would
  // add itself to every sleep.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  connect_before_start();
  start.ready.fetch_add(1, std::memory_order_acq_rel);
  while ((start_ns_ = start.start_ns.load(std::memory_order_acquire)) == 0) {
    std::this_thread::yield();
  }
  if (start_ns_ < 0) {  // the run was abandoned before it began
    mailbox_.finished.store(true, std::memory_order_release);
    return;
  }
  abort_ = &start.abort;
  end_ns_ = start_ns_ + plan_.duration_ns;
  next_interval_ns_ = start_ns_ + plan_.interval_ns;
  if (plan_.mode == LoadMode::kOpen) {
    next_seq_ = static_cast<std::uint64_t>(thread_index_);
    seq_limit_ = plan_.schedule->request_count();
    next_due_ns_ = next_seq_ < seq_limit_
                       ? start_ns_ + seconds_to_ns(plan_.schedule->due_time_s(next_seq_))
                       : kNever;
  }
  std::int64_t now = now_ns();
  for (Connection& connection : connections_) {
    if (connection.state == Connection::State::kIdle) next_request(connection, now);
  }

  std::int64_t next_scan_ns = now + kScanPeriodNs;
  std::int64_t drain_deadline_ns = kNever;
  for (;;) {
    now = now_ns();
    while (now >= next_interval_ns_) {
      publish_interval(interval_index_++);
      next_interval_ns_ += plan_.interval_ns;
    }
    if (!sending_over_) {
      // Requests due by now go out before the end is checked: a wakeup a
      // little late must not turn them into unsent ones.
      if (plan_.mode == LoadMode::kOpen) dispatch_due(now);
      const bool stopped = (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) ||
                           abort_->load(std::memory_order_relaxed);
      if (stopped || now >= end_ns_ || (plan_.mode == LoadMode::kOpen && next_seq_ >= seq_limit_)) {
        sending_over_ = true;
        totals_.interrupted = stopped;
        // Stopped by hand: wait a little for answers, not a whole timeout.
        drain_deadline_ns =
            now + (stopped ? std::min(plan_.timeout_ns, kStopDrainNs) : plan_.timeout_ns);
        if (plan_.mode == LoadMode::kOpen && next_seq_ < seq_limit_) {
          // Due before the end but never sent: the run fell this far behind.
          const std::uint64_t threads = static_cast<std::uint64_t>(plan_.threads);
          std::uint64_t unsent = (seq_limit_ - next_seq_ + threads - 1) / threads;
          if (stopped) {
            const double stop_s = static_cast<double>(now - start_ns_) / 1e9;
            unsent = 0;
            for (std::uint64_t seq = next_seq_;
                 seq < seq_limit_ && plan_.schedule->due_time_s(seq) <= stop_s; seq += threads) {
              ++unsent;
            }
          }
          totals_.unsent = unsent;
        }
      }
    }
    if (sending_over_ && (in_flight_ == 0 || now >= drain_deadline_ns)) break;
    if (now >= next_scan_ns) {
      scan_deadlines(now);
      next_scan_ns = now + kScanPeriodNs;
    }
    std::int64_t wake = std::min(next_interval_ns_, next_scan_ns);
    wake = std::min(wake, sending_over_ ? drain_deadline_ns : end_ns_);
    if (!sending_over_ && !idle_.empty()) wake = std::min(wake, next_due_ns_);
    if (!reconnect_now_.empty()) wake = now;
    wait_for_events(wake);
    if (!reconnect_now_.empty()) reconnect_queued(now_ns());
  }
  // Requests still unanswered when the drain gave up timed out.
  for (Connection& connection : connections_) {
    if (connection.in_flight()) count_error(LoadErrorKind::kTimeout, &connection);
  }
  publish_interval(interval_index_);
  mailbox_.finished.store(true, std::memory_order_release);
  for (Connection& connection : connections_) close_connection(connection);
}

}  // namespace perflab::load_detail
