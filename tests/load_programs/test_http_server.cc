// load_test_server: a small single-threaded HTTP/1.1 server for perflab's
// load-generator tests. It answers every request with "ok\n" unless a fault
// flag says otherwise, so tests can show how the client handles stalls, closed
// and reset connections, garbage, silence, error statuses and short bodies.
//
// Fault counters are server-wide and 1-based: request n is affected by
// "--X-every K" when n % K == 0; when several apply, the first in kUsage wins.
// Stats: requests = requests parsed, connections = connections accepted,
// resets/closes = connections the server reset/closed by --reset-every and
// --close-every.
#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: load_test_server [--port N] [--port-file PATH] [--exit-after-s S]\n"
    "  faults: --stall-after N --stall-ms M, --close-every K, --reset-every K,\n"
    "          --garbage-every K, --silent-every K, --status-every K:CODE, --truncate-every K\n"
    "  shape:  --connection-close, --chunked, --body-size B, --delay-us U\n"
    "  cost:   --work-us U (spins U microseconds of CPU per request: a build that\n"
    "          does more work per request, for compare's known-regression tests)\n"
    "  output: --log-requests PATH, --stats-file PATH\n";
constexpr std::string_view kGarbage = "this is not http\r\n\r\n";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
// Promises 100 body bytes and sends 10; the connection is closed right after.
constexpr std::string_view kTruncated =
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nxxxxxxxxxx";
constexpr std::uint64_t kMaxBodySize = 64u << 20;
constexpr std::uint64_t kLogFlushEvery = 100;
constexpr std::size_t kMaxIovecs = 16;
constexpr std::uint64_t kListenId = 0, kSignalId = 1, kTimerId = 2, kFirstConnectionId = 16;

using Clock = std::chrono::steady_clock;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::uint16_t port = 0;
  std::string port_file, log_requests, stats_file;
  std::uint64_t stall_after = 0, stall_ms = 0;
  std::uint64_t close_every = 0, reset_every = 0, garbage_every = 0, silent_every = 0;
  std::uint64_t status_every = 0, truncate_every = 0;
  int status_code = 0;
  bool connection_close = false, chunked = false;
  std::string body = "ok\n";
  std::uint64_t delay_us = 0;
  std::uint64_t work_us = 0;
  std::uint64_t exit_after_s = 120;  // 0 = run until signalled
};

std::uint64_t parse_number(std::string_view flag, std::string_view text, std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) {
    throw UsageError(std::string(flag) + ": bad number '" + std::string(text) + "'");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw UsageError(std::string(flag) + " needs a value");
      return argv[++i];
    };
    auto number = [&](std::uint64_t max = UINT64_MAX) { return parse_number(flag, value(), max); };
    if (flag == "--port") {
      o.port = static_cast<std::uint16_t>(number(65535));
    } else if (flag == "--port-file") {
      o.port_file = value();
    } else if (flag == "--log-requests") {
      o.log_requests = value();
    } else if (flag == "--stats-file") {
      o.stats_file = value();
    } else if (flag == "--stall-after") {
      o.stall_after = number();
    } else if (flag == "--stall-ms") {
      o.stall_ms = number(3'600'000);
    } else if (flag == "--close-every") {  // for every "every" flag, 0 means off
      o.close_every = number();
    } else if (flag == "--reset-every") {
      o.reset_every = number();
    } else if (flag == "--garbage-every") {
      o.garbage_every = number();
    } else if (flag == "--silent-every") {
      o.silent_every = number();
    } else if (flag == "--truncate-every") {
      o.truncate_every = number();
    } else if (flag == "--status-every") {
      const std::string_view spec = value();
      const auto colon = spec.find(':');
      if (colon == std::string_view::npos) throw UsageError("--status-every needs K:CODE");
      o.status_every = parse_number(flag, spec.substr(0, colon), UINT64_MAX);
      o.status_code = static_cast<int>(parse_number(flag, spec.substr(colon + 1), 599));
      if (o.status_code < 100) throw UsageError("--status-every: CODE must be 100..599");
    } else if (flag == "--connection-close") {
      o.connection_close = true;
    } else if (flag == "--chunked") {
      o.chunked = true;
    } else if (flag == "--body-size") {
      o.body.assign(number(kMaxBodySize), 'x');
    } else if (flag == "--delay-us") {
      o.delay_us = number(3'600'000'000);
    } else if (flag == "--work-us") {
      o.work_us = number(1'000'000);
    } else if (flag == "--exit-after-s") {
      o.exit_after_s = number(86'400);
    } else {
      throw UsageError("unknown argument '" + std::string(flag) + "'");
    }
  }
  if ((o.stall_after == 0) != (o.stall_ms == 0)) {
    throw UsageError("--stall-after and --stall-ms go together and must be > 0");
  }
  return o;
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;  // an empty chunk would end the body early
  char size[32];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<std::size_t>(n)).append(data).append("\r\n");
}

// What happens to the connection once an action's bytes have been written.
enum class After { kKeepOpen, kClose, kReset };

class Server {
 public:
  explicit Server(Options options) : options_(std::move(options)), read_buffer_(64 * 1024) {
    ok_ = build_response(200, options_.body, options_.connection_close);
    ok_close_ = build_response(200, options_.body, true);
    // HEAD: the same headers (Content-Length included), no body.
    head_ok_ = ok_.substr(0, ok_.find("\r\n\r\n") + 4);
    head_ok_close_ = ok_close_.substr(0, ok_close_.find("\r\n\r\n") + 4);
    if (options_.status_every != 0) {
      status_ = build_response(options_.status_code, "error\n", options_.connection_close);
      status_close_ = build_response(options_.status_code, "error\n", true);
    }
    http_parser_settings_init(&settings_);
    settings_.on_message_begin = &Server::on_message_begin;
    settings_.on_url = &Server::on_url;
    settings_.on_body = &Server::on_body;
    settings_.on_message_complete = &Server::on_message_complete;
  }

  ~Server() {
    for (auto& entry : connections_) ::close(entry.second->fd);
    for (const int fd : {listen_fd_, signal_fd_, timer_fd_, epoll_fd_}) {
      if (fd >= 0) ::close(fd);
    }
    if (log_ != nullptr) std::fclose(log_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int run() {
    setup();
    const auto deadline = Clock::now() + std::chrono::seconds(options_.exit_after_s);
    std::vector<epoll_event> events(256);
    while (!stopping_) {
      int timeout_ms = -1;
      if (options_.exit_after_s != 0) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        timeout_ms = static_cast<int>(left.count());
      }
      const int n =
          ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR) throw_errno("epoll_wait");
      for (int i = 0; i < n; ++i) dispatch(events[static_cast<std::size_t>(i)]);
      run_due_actions();
    }
    write_stats();
    return 0;
  }

 private:
  struct Connection {
    Server* server = nullptr;
    int fd = -1;
    std::uint64_t id = 0;
    http_parser parser{};
    std::string url, body;  // of the request being parsed
    // Responses due for sending, pointing into the prebuilt ones so a large --body-size is
    // never copied; out_offset bytes of the first are already sent.
    std::deque<std::string_view> out;
    std::size_t out_offset = 0;
    std::size_t pending = 0;    // scheduled actions not yet applied
    bool ignore_input = false;  // no more requests will be parsed; input is drained
    bool peer_closed = false;   // read returned 0
    After after_flush = After::kKeepOpen;
    std::uint32_t epoll_events = 0;
  };

  // A response (or close) waiting for its time; delay_us is constant, so the
  // queue stays sorted by due time and per-connection order is preserved.
  struct Scheduled {
    Clock::time_point due;
    std::uint64_t connection_id;
    std::string_view bytes;  // points into one of the prebuilt responses
    After after;
  };

  std::string build_response(int status, std::string_view body, bool close) const {
    const char* reason = http_status_str(static_cast<http_status>(status));
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " +
                    (std::strcmp(reason, "<unknown>") == 0 ? "Status" : reason) + "\r\n";
    r += options_.chunked ? std::string("Transfer-Encoding: chunked\r\n")
                          : "Content-Length: " + std::to_string(body.size()) + "\r\n";
    r += "Content-Type: text/plain\r\n";
    if (close) r += "Connection: close\r\n";
    r += "\r\n";
    if (!options_.chunked) return r + std::string(body);
    append_chunk(r, body.substr(0, body.size() / 2));
    append_chunk(r, body.substr(body.size() / 2));
    return r + "0\r\n\r\n";
  }

  void setup() {
    // 1000+ concurrent connections need more than the usual soft limit of 1024 fds.
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    ::signal(SIGPIPE, SIG_IGN);
    if (!options_.log_requests.empty()) {
      log_ = std::fopen(options_.log_requests.c_str(), "a");
      if (log_ == nullptr) throw_errno(options_.log_requests.c_str());
    }

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw_errno("epoll_create1");

    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw_errno("socket");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(options_.port);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw_errno("bind");
    }
    if (::listen(listen_fd_, SOMAXCONN) != 0) throw_errno("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw_errno("getsockname");
    }
    watch(listen_fd_, kListenId, EPOLLIN);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) throw_errno("sigprocmask");
    signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) throw_errno("signalfd");
    watch(signal_fd_, kSignalId, EPOLLIN);

    // A timerfd, not epoll_wait's millisecond timeout, so --delay-us keeps microseconds.
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) throw_errno("timerfd_create");
    watch(timer_fd_, kTimerId, EPOLLIN);

    if (!options_.port_file.empty()) write_port_file(ntohs(addr.sin_port));
  }

  void watch(int fd, std::uint64_t id, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl");
  }

  // Written to PATH.tmp and renamed, so a test polling PATH never reads half a number.
  void write_port_file(std::uint16_t port) const {
    const std::string tmp = options_.port_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) throw_errno(tmp.c_str());
    std::fprintf(f, "%u\n", static_cast<unsigned>(port));
    if (std::fclose(f) != 0) throw_errno(tmp.c_str());
    if (std::rename(tmp.c_str(), options_.port_file.c_str()) != 0) throw_errno("rename");
  }

  void write_stats() {
    if (log_ != nullptr) std::fflush(log_);
    if (options_.stats_file.empty()) return;
    std::FILE* f = std::fopen(options_.stats_file.c_str(), "w");
    if (f == nullptr) throw_errno(options_.stats_file.c_str());
    std::fprintf(f, "requests=%llu connections=%llu resets=%llu closes=%llu\n",
                 static_cast<unsigned long long>(requests_),
                 static_cast<unsigned long long>(connections_accepted_),
                 static_cast<unsigned long long>(resets_),
                 static_cast<unsigned long long>(closes_));
    std::fclose(f);
  }

  void dispatch(const epoll_event& ev) {
    // epoll_event is packed on x86-64: its u64 may be misaligned, so it is
    // copied out rather than bound to a reference (find() takes one).
    const std::uint64_t id = ev.data.u64;
    if (id == kListenId) return accept_all();
    if (id == kSignalId) {
      stopping_ = true;
      return;
    }
    if (id == kTimerId) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] const auto r = ::read(timer_fd_, &expirations, sizeof expirations);
      return;  // run() applies the due actions after every batch of events
    }
    const auto it = connections_.find(id);
    if (it == connections_.end()) return;  // closed earlier in this batch
    Connection& c = *it->second;
    if ((ev.events & (EPOLLERR | EPOLLHUP)) != 0) return close_connection(c, After::kClose);
    if ((ev.events & EPOLLOUT) != 0 && !flush(c)) return;
    if ((ev.events & EPOLLIN) != 0) read_from(c);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          std::perror("load_test_server: accept4");
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      ++connections_accepted_;
      // Pipelined responses are separate sends; Nagle would hold them for the client's ACK.
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Connection>();
      c->server = this;
      c->fd = fd;
      c->id = next_connection_id_++;
      http_parser_init(&c->parser, HTTP_REQUEST);
      c->parser.data = c.get();
      c->epoll_events = EPOLLIN;
      watch(fd, c->id, EPOLLIN);
      connections_.emplace(c->id, std::move(c));
    }
  }

  void read_from(Connection& c) {
    const ssize_t n = ::recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) close_connection(c, After::kClose);
      return;
    }
    if (n == 0) {
      c.peer_closed = true;
      finish_or_wait(c);
      return;
    }
    if (c.ignore_input) return;  // silent or closing: drain and drop
    const auto size = static_cast<std::size_t>(n);
    const std::size_t parsed =
        http_parser_execute(&c.parser, &settings_, read_buffer_.data(), size);
    const http_errno error = HTTP_PARSER_ERRNO(&c.parser);
    if (error == HPE_PAUSED || c.ignore_input) return;  // a request stopped the parsing
    if (error != HPE_OK) {
      schedule(c, kBadRequest, After::kClose);
    } else if (parsed != size || c.parser.upgrade != 0) {
      schedule(c, {}, After::kClose);  // Upgrade/CONNECT: nothing we speak follows
    }
  }

  static Connection& connection_of(http_parser* p) { return *static_cast<Connection*>(p->data); }
  static int on_message_begin(http_parser* p) {
    connection_of(p).url.clear();
    connection_of(p).body.clear();
    return 0;
  }
  static int on_url(http_parser* p, const char* at, std::size_t length) {
    connection_of(p).url.append(at, length);
    return 0;
  }
  static int on_body(http_parser* p, const char* at, std::size_t length) {
    connection_of(p).body.append(at, length);
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    Connection& c = connection_of(p);
    c.server->on_request(c);
    return 0;
  }

  void on_request(Connection& c) {
    const std::uint64_t n = ++requests_;
    spin_for_work();
    log_request(c);
    const bool close = options_.connection_close || http_should_keep_alive(&c.parser) == 0;
    auto hits = [n](std::uint64_t every) { return every != 0 && n % every == 0; };
    if (n == options_.stall_after) {
      // Blocking the whole loop is the point: every connection waits, as behind a GC pause.
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.stall_ms));
      schedule(c, close ? ok_close_ : ok_, close ? After::kClose : After::kKeepOpen);
    } else if (hits(options_.close_every)) {
      ++closes_;
      schedule(c, {}, After::kClose);
    } else if (hits(options_.reset_every)) {
      ++resets_;
      schedule(c, {}, After::kReset);
    } else if (hits(options_.garbage_every)) {
      schedule(c, kGarbage, After::kKeepOpen);
    } else if (hits(options_.silent_every)) {
      stop_parsing(c);
    } else if (hits(options_.status_every)) {
      schedule(c, close ? status_close_ : status_, close ? After::kClose : After::kKeepOpen);
    } else if (hits(options_.truncate_every)) {
      schedule(c, kTruncated, After::kClose);
    } else if (c.parser.method == HTTP_HEAD) {
      schedule(c, close ? head_ok_close_ : head_ok_, close ? After::kClose : After::kKeepOpen);
    } else {
      schedule(c, close ? ok_close_ : ok_, close ? After::kClose : After::kKeepOpen);
    }
  }

  void log_request(const Connection& c) {
    if (log_ == nullptr) return;
    std::string line = http_method_str(static_cast<http_method>(c.parser.method));
    line.append(" ").append(c.url).append(" ");
    for (const char ch : c.body) {
      if (ch == '\n') {
        line += "\\n";
      } else {
        line += ch;
      }
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), log_);
    if (requests_ % kLogFlushEvery == 0) std::fflush(log_);
  }

  // CPU time, not waiting: what a request costs the server.
  void spin_for_work() const {
    if (options_.work_us == 0) return;
    timespec start{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    const std::int64_t budget_ns = static_cast<std::int64_t>(options_.work_us) * 1000;
    volatile std::uint64_t sink = 0;
    for (;;) {
      for (int i = 0; i < 256; ++i) sink = sink + static_cast<std::uint64_t>(i);
      timespec now{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      const std::int64_t spent =
          (now.tv_sec - start.tv_sec) * 1'000'000'000LL + (now.tv_nsec - start.tv_nsec);
      if (spent >= budget_ns) return;
    }
  }

  // No request after this one is parsed; pausing makes http_parser_execute return now.
  void stop_parsing(Connection& c) {
    c.ignore_input = true;
    if (HTTP_PARSER_ERRNO(&c.parser) == HPE_OK) http_parser_pause(&c.parser, 1);
  }

  void schedule(Connection& c, std::string_view bytes, After after) {
    const auto due = Clock::now() + std::chrono::microseconds(options_.delay_us);
    queue_.push_back(Scheduled{due, c.id, bytes, after});
    ++c.pending;
    if (after != After::kKeepOpen) stop_parsing(c);
  }

  void run_due_actions() {
    const auto now = Clock::now();
    while (!queue_.empty() && queue_.front().due <= now) {
      const Scheduled action = queue_.front();
      queue_.pop_front();
      const auto it = connections_.find(action.connection_id);
      if (it == connections_.end()) continue;
      Connection& c = *it->second;
      --c.pending;
      if (!action.bytes.empty()) c.out.push_back(action.bytes);
      if (action.after > c.after_flush) c.after_flush = action.after;
      flush(c);
    }
    itimerspec spec{};  // all zero disarms the timer
    if (!queue_.empty()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          queue_.front().due.time_since_epoch())
                          .count();
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    // steady_clock is CLOCK_MONOTONIC on Linux, so its time points are absolute timer values.
    ::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  // Sends what the socket takes, several queued responses per call. Returns false if the
  // connection was closed.
  bool flush(Connection& c) {
    while (!c.out.empty()) {
      std::array<iovec, kMaxIovecs> iov{};
      std::size_t count = 0;
      for (auto it = c.out.begin(); it != c.out.end() && count < iov.size(); ++it, ++count) {
        const std::string_view piece = count == 0 ? it->substr(c.out_offset) : *it;
        iov[count] = {const_cast<char*>(piece.data()), piece.size()};
      }
      msghdr message{};
      message.msg_iov = iov.data();
      message.msg_iovlen = count;
      const ssize_t n = ::sendmsg(c.fd, &message, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        close_connection(c, After::kClose);
        return false;
      }
      for (auto sent = static_cast<std::size_t>(n); sent > 0;) {
        const std::size_t left = c.out.front().size() - c.out_offset;
        if (sent < left) {
          c.out_offset += sent;
          break;
        }
        sent -= left;
        c.out.pop_front();
        c.out_offset = 0;
      }
    }
    return finish_or_wait(c);
  }

  // Closes a connection with nothing left to do, else updates what epoll watches.
  bool finish_or_wait(Connection& c) {
    if (c.out.empty()) {
      if (c.after_flush != After::kKeepOpen || (c.peer_closed && c.pending == 0)) {
        close_connection(c, c.after_flush);
        return false;
      }
    }
    // After the peer's FIN, EPOLLIN would fire forever; only wait for room to write.
    const std::uint32_t wanted = (c.peer_closed ? 0u : std::uint32_t{EPOLLIN}) |
                                 (c.out.empty() ? 0u : std::uint32_t{EPOLLOUT});
    if (wanted != c.epoll_events) {
      epoll_event ev{};
      ev.events = wanted;
      ev.data.u64 = c.id;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) throw_errno("epoll_ctl");
      c.epoll_events = wanted;
    }
    return true;
  }

  void close_connection(Connection& c, After how) {
    if (how == After::kReset) {
      const linger abort_on_close{1, 0};  // close() then sends RST instead of FIN
      ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    ::close(c.fd);
    connections_.erase(c.id);  // c is gone from here on
  }

  Options options_;
  std::string ok_, ok_close_, head_ok_, head_ok_close_, status_,
      status_close_;  // prebuilt; queue_ points into them
  http_parser_settings settings_{};
  std::vector<char> read_buffer_;
  int epoll_fd_ = -1, listen_fd_ = -1, signal_fd_ = -1, timer_fd_ = -1;
  std::FILE* log_ = nullptr;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::uint64_t next_connection_id_ = kFirstConnectionId;
  std::deque<Scheduled> queue_;
  std::uint64_t requests_ = 0, connections_accepted_ = 0, resets_ = 0, closes_ = 0;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "load_test_server: error: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    Server server(std::move(options));
    return server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_test_server: error: %s\n", e.what());
    return 1;
  }
}
