// PtraceSampler: a tracer thread per stretch of sampling. Letting go of the
// process is ending that thread: the kernel then releases every tracee as it
// is (exit_ptrace), without the PTRACE_INTERRUPT that PTRACE_DETACH needs,
// which would make a thread blocked in epoll_wait return EINTR.
#include "cpu_sampler.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "cpu_sampler_fold.hpp"
#include "cpu_sampler_proc.hpp"
#include "cpu_sampler_unwind.hpp"

namespace perflab::cli {

using Clock = std::chrono::steady_clock;

struct PtraceSampler::Shared {
  pid_t pid = -1;
  pid_t pgid = -1;
  std::chrono::nanoseconds period{};
  int sample_hz = 0;
  std::uint64_t start_time = 0;  // /proc/PID/stat's: tells the process from a reused pid

  std::mutex mutex;
  std::condition_variable changed;
  bool end = false;                          // guarded: the tracer is to let go and return
  std::optional<std::string> attach_result;  // guarded: "" attached, else why not
  pid_t tracer_tid = 0;                      // guarded

  // The tracer's alone while it runs; the owner's between tracers (the
  // join hands them over).
  std::unique_ptr<RemoteUnwinder> unwinder;
  SampledStacks stacks;
  std::string maps;       // every different snapshot of /proc/PID/maps
  std::string last_maps;  // the latest
  PtraceSamplerCounts counts;
};

namespace {

constexpr std::size_t kMaxUnwindFrames = 128;
// An on-CPU thread stops within microseconds; one that has not after this
// is in a long kernel path, and its sample is given up (it is restarted
// whenever it does stop).
constexpr auto kStopTimeout = std::chrono::milliseconds(50);
// Between samples, how often stops the tracer did not cause (signals, new
// threads) are looked for: each holds its thread until then.
constexpr auto kEventPoll = std::chrono::milliseconds(1);
constexpr auto kReleaseTimeout = std::chrono::seconds(1);
constexpr int kTracerNice = -10;

void* as_pointer(unsigned long value) { return reinterpret_cast<void*>(value); }

bool is_stop_signal(int signal) {
  return signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU;
}

// A wait status of a tracee, by what the tracer must do about it.
enum class StopKind {
  kTrap,       // PTRACE_EVENT_STOP by SIGTRAP: our interrupt, a new thread's first stop
  kGroupStop,  // PTRACE_EVENT_STOP by a stop signal: job control stops the process
  kSignal,     // signal-delivery-stop: the signal is to be passed on
  kClone,      // PTRACE_EVENT_CLONE: a new thread, traced already
  kExited,     // a thread other than the leader ended, and was reaped here
  kOther,
};

struct Stop {
  StopKind kind = StopKind::kOther;
  int signal = 0;
};

Stop classify(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED || info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    return {StopKind::kExited, 0};
  }
  if (info.si_code != CLD_TRAPPED) return {};
  // waitid's si_status of a ptrace stop is waitpid's status >> 8.
  const int signal = info.si_status & 0xff;
  const int event = info.si_status >> 8;
  if (event == PTRACE_EVENT_STOP) {
    return {is_stop_signal(signal) ? StopKind::kGroupStop : StopKind::kTrap, signal};
  }
  if (event == PTRACE_EVENT_CLONE) return {StopKind::kClone, 0};
  if (event == 0) return {StopKind::kSignal, signal};
  return {};
}

// The tracer blocks in waitid until the thread it interrupted stops, and
// is woken at once when it does; polling instead (yield, sleep) costs
// milliseconds of stopped thread on a busy machine, where a yielding or
// sleeping tracer waits for a CPU. This signal, from a timer of the
// tracer's, ends a wait for a thread that does not stop (EINTR).
int wake_signal() { return SIGRTMIN + 6; }

extern "C" void on_wake_signal(int) {}

// Installs the (empty) handler once; false when the signal is someone
// else's already, and the tracer must poll.
bool wake_signal_ready() {
  static const bool ready = [] {
    struct sigaction old {};
    if (::sigaction(wake_signal(), nullptr, &old) != 0) return false;
    if (old.sa_handler == &on_wake_signal) return true;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO) != 0) return false;
    struct sigaction action {};
    action.sa_handler = &on_wake_signal;  // no SA_RESTART: waitid must return
    sigemptyset(&action.sa_mask);
    return ::sigaction(wake_signal(), &action, nullptr) == 0;
  }();
  return ready;
}

// A one-shot timer that sends wake_signal() to the thread that made it.
class StopAlarm {
 public:
  StopAlarm() {
    if (!wake_signal_ready()) return;
    sigevent event{};
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = wake_signal();
    event._sigev_un._tid = ::gettid();
    ok_ = ::timer_create(CLOCK_MONOTONIC, &event, &timer_) == 0;
  }
  ~StopAlarm() {
    if (ok_) ::timer_delete(timer_);
  }
  StopAlarm(const StopAlarm&) = delete;
  StopAlarm& operator=(const StopAlarm&) = delete;

  bool ok() const { return ok_; }
  void arm(std::chrono::nanoseconds after) {
    itimerspec when{};
    when.it_value.tv_sec = static_cast<time_t>(after.count() / 1'000'000'000);
    when.it_value.tv_nsec = static_cast<long>(after.count() % 1'000'000'000);
    ::timer_settime(timer_, 0, &when, nullptr);
  }
  void disarm() {
    const itimerspec never{};
    ::timer_settime(timer_, 0, &never, nullptr);
  }

 private:
  timer_t timer_{};
  bool ok_ = false;
};

// Without the alarm: polling, a yield or two first (usually enough).
void back_off(int attempt) {
  if (attempt < 8) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(attempt < 64 ? 10 : 100));
  }
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&&) = delete;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Tracee {
  FileDescriptor stat;
  bool listening = false;    // in a group-stop, restarted with PTRACE_LISTEN
  bool interrupted = false;  // a PTRACE_INTERRUPT of ours has not stopped it yet
};

// One stretch of tracing, on its own thread: every ptrace request comes from
// it (the kernel refuses a tracee's requests from other threads).
class Tracer {
 public:
  explicit Tracer(PtraceSampler::Shared& shared) : shared_(shared), pid_(shared.pid) {}

  // The thread's body. Returning lets go of every tracee.
  void run() {
    // The server waits, stopped, whenever the tracer waits for a CPU: ahead
    // of the load generator's threads where perflab may (root, or
    // CAP_SYS_NICE); it needs little CPU.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kTracerNice);
    std::string error;
    bool attached = proc::live_start_time(pid_) == shared_.start_time && attach_all(error);
    if (!attached && error.empty()) error = fmt::format("process {} has ended", pid_);
    if (attached && !shared_.unwinder) {
      try {
        shared_.unwinder = std::make_unique<RemoteUnwinder>(pid_);
      } catch (const std::exception& e) {
        attached = false;
        error = e.what();
      }
    }
    if (attached) snapshot_maps();
    {
      std::lock_guard lock(shared_.mutex);
      shared_.attach_result = attached ? "" : error;
      shared_.tracer_tid = ::gettid();
    }
    shared_.changed.notify_all();
    if (!attached) return;
    sample_until_told();
    snapshot_maps();
  }

 private:
  void sample_until_told() {
    Clock::time_point next = Clock::now() + shared_.period;
    std::unique_lock lock(shared_.mutex);
    while (!shared_.end) {
      lock.unlock();
      const Clock::time_point now = Clock::now();
      if (now >= next) {
        tick();
        next += shared_.period;
        if (next <= now) next = now + shared_.period;  // fell behind: skip, do not bunch
      } else if (stop_pending()) {
        poll_all();
      }
      lock.lock();
      shared_.changed.wait_until(lock, std::min(next, Clock::now() + kEventPoll),
                                 [this] { return shared_.end; });
    }
  }

  void snapshot_maps() {
    auto text = proc::read_text(fmt::format("/proc/{}/maps", pid_));
    if (text && !text->empty() && *text != shared_.last_maps) {
      shared_.maps += *text;
      shared_.last_maps = std::move(*text);
    }
  }

  // Seizes every thread, again until a listing shows no new one (threads
  // started by threads not yet seized).
  bool attach_all(std::string& error) {
    for (int round = 0; round < 100; ++round) {
      const auto tids = proc::list_threads(pid_);
      if (!tids) return false;
      bool added = false;
      for (const pid_t tid : *tids) {
        if (tracees_.contains(tid)) continue;
        if (::ptrace(PTRACE_SEIZE, tid, nullptr, as_pointer(PTRACE_O_TRACECLONE)) == 0) {
          adopt(tid);
          added = true;
          continue;
        }
        const int seize_error = errno;
        if (seize_error == ESRCH) continue;  // the thread ended meanwhile
        const pid_t tracer = proc::tracer_of(pid_, tid);
        if (seize_error == EPERM && tracer == ::gettid()) {  // a thread cloned since: ours
          adopt(tid);
          added = true;
          continue;
        }
        error = seize_error == EPERM && tracer > 0
                    ? fmt::format("process {} is traced by process {} already (a debugger?)", pid_,
                                  tracer)
                    : ptrace_refusal_reason(seize_error);
        return false;
      }
      if (!added) return true;
    }
    return true;
  }

  void adopt(pid_t tid) {
    if (tracees_.contains(tid)) return;
    const int fd =
        ::open(fmt::format("/proc/{}/task/{}/stat", pid_, tid).c_str(), O_RDONLY | O_CLOEXEC);
    tracees_.emplace(tid, Tracee{FileDescriptor(fd)});
    ++shared_.counts.threads;
  }

  // Any tracee with a stop to handle? One system call for all of them:
  // WNOWAIT leaves the stop to poll_all, and without WEXITED no exit is
  // reported (or reaped). The server leads its own process group.
  bool stop_pending() {
    siginfo_t info{};
    const int result = ::waitid(P_PGID, static_cast<id_t>(shared_.pgid), &info,
                                WSTOPPED | WNOHANG | WNOWAIT | __WALL);
    return result == 0 && info.si_pid != 0;
  }

  struct Polled {
    std::optional<siginfo_t> info;
    bool gone = false;  // not a tracee of ours any more
  };

  // One event of `tid`: at once, or (`block`) waiting for it until the
  // alarm goes off. The leader is never waited for with WEXITED: its exit
  // status is for whoever reaps the process.
  Polled poll_one(pid_t tid, bool block = false) {
    siginfo_t info{};
    const int flags = WSTOPPED | __WALL | (block ? 0 : WNOHANG) | (tid == pid_ ? 0 : WEXITED);
    int result = 0;
    do {
      result = ::waitid(P_PID, static_cast<id_t>(tid), &info, flags);
    } while (result < 0 && errno == EINTR && !block);
    if (result < 0) return {std::nullopt, errno != EINTR};
    if (info.si_pid == 0) return {};
    return {info, false};
  }

  // Restarts `tid` after `stop` as it would have gone on untraced.
  void restart(pid_t tid, Tracee& tracee, const Stop& stop) {
    switch (stop.kind) {
      case StopKind::kClone: {
        unsigned long child = 0;
        if (::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child) == 0 && child > 0) {
          adopt(static_cast<pid_t>(child));
        }
        ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
        break;
      }
      case StopKind::kGroupStop:
        // Stays stopped, yet SIGCONT will wake it (a trap reported here).
        tracee.listening = true;
        tracee.interrupted = false;
        ::ptrace(PTRACE_LISTEN, tid, nullptr, nullptr);
        break;
      case StopKind::kTrap:
        tracee.listening = false;
        tracee.interrupted = false;
        ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
        break;
      case StopKind::kSignal:
        ::ptrace(PTRACE_CONT, tid, nullptr, as_pointer(static_cast<unsigned long>(stop.signal)));
        break;
      case StopKind::kOther:
        ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
        break;
      case StopKind::kExited:
        break;
    }
  }

  // Handles every pending event of every tracee.
  void poll_all() {
    std::vector<pid_t> tids;
    for (const auto& [tid, tracee] : tracees_) tids.push_back(tid);
    for (const pid_t tid : tids) {
      for (int events = 0; events < 16; ++events) {
        const Polled polled = poll_one(tid);
        if (polled.gone) {
          tracees_.erase(tid);
          break;
        }
        if (!polled.info) break;
        const Stop stop = classify(*polled.info);
        const auto it = tracees_.find(tid);
        if (stop.kind == StopKind::kExited || it == tracees_.end()) {
          tracees_.erase(tid);
          break;
        }
        restart(tid, it->second, stop);
      }
    }
  }

  void tick() {
    poll_all();
    std::vector<pid_t> running;
    for (const auto& [tid, tracee] : tracees_) {
      if (!tracee.listening && !tracee.interrupted &&
          proc::thread_state(tracee.stat.get()) == 'R') {
        running.push_back(tid);
      }
    }
    for (const pid_t tid : running) sample(tid);
  }

  void sample(pid_t tid) {
    const auto it = tracees_.find(tid);
    const Clock::time_point interrupted_at = Clock::now();
    if (it == tracees_.end() || ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) return;
    it->second.interrupted = true;
    if (alarm_.ok()) alarm_.arm(kStopTimeout);
    take_sample(tid, interrupted_at);
    if (alarm_.ok()) alarm_.disarm();
  }

  void take_sample(pid_t tid, Clock::time_point interrupted_at) {
    const Clock::time_point deadline = interrupted_at + kStopTimeout;
    for (int attempt = 0;; ++attempt) {
      const Polled polled = poll_one(tid, alarm_.ok());
      if (polled.gone) {
        tracees_.erase(tid);
        return;
      }
      if (polled.info) {
        const Stop stop = classify(*polled.info);
        if (stop.kind == StopKind::kExited) {
          tracees_.erase(tid);
          return;
        }
        Tracee& tracee = tracees_.at(tid);  // std::map: adopt() keeps it in place
        if (stop.kind == StopKind::kTrap) {
          const Clock::time_point stopped_at = Clock::now();
          const bool unwound = shared_.unwinder->unwind(tid, frames_, kMaxUnwindFrames);
          restart(tid, tracee, stop);  // the stack is copied: run on at once
          shared_.counts.stopped_ns += static_cast<std::uint64_t>(
              std::chrono::nanoseconds(Clock::now() - stopped_at).count());
          if (unwound) {
            ++shared_.stacks[frames_];
            ++shared_.counts.samples;
          } else {
            ++shared_.counts.missed;
          }
          return;
        }
        restart(tid, tracee, stop);
        if (stop.kind == StopKind::kGroupStop) return;  // stopped: nothing runs to sample
        continue;  // a signal or a clone came first; the interrupt is still due
      }
      if (Clock::now() >= deadline) {
        ++shared_.counts.missed;
        return;
      }
      if (!alarm_.ok()) back_off(attempt);
    }
  }

  PtraceSampler::Shared& shared_;
  const pid_t pid_;
  StopAlarm alarm_;  // made on the tracer thread, for it
  std::map<pid_t, Tracee> tracees_;
  std::vector<std::uint64_t> frames_;
};

}  // namespace

std::string ptrace_refusal_reason(int error) {
  std::string text = fmt::format("ptrace is refused ({})", std::strerror(error));
  if (error == ENOSYS) return text + ": a seccomp filter (a container's?) blocks it";
  if (error != EPERM && error != EACCES) return text;
  const auto scope_text = proc::read_text("/proc/sys/kernel/yama/ptrace_scope");
  const int scope = scope_text && !scope_text->empty() ? (*scope_text)[0] - '0' : -1;
  if (scope == 3) {
    return text + ": kernel.yama.ptrace_scope is 3, which forbids ptrace until the machine reboots";
  }
  if (scope == 2) {
    return text +
           ": kernel.yama.ptrace_scope is 2, so only a process with CAP_SYS_PTRACE may trace; "
           "run perflab with that capability, or allow parents to trace their children: "
           "sysctl kernel.yama.ptrace_scope=1";
  }
  return text + ": perflab traces its own child, which Yama allows" +
         (scope >= 0 ? fmt::format(" (kernel.yama.ptrace_scope is {})", scope) : "") +
         ", so a seccomp filter or security module refuses it (in a container: add "
         "CAP_SYS_PTRACE, e.g. docker run --cap-add SYS_PTRACE, or allow ptrace in its seccomp "
         "profile)";
}

std::optional<std::string> PtraceSampler::unavailable_reason() {
  const pid_t child = ::fork();
  if (child < 0) return fmt::format("cannot fork a process to trace ({})", std::strerror(errno));
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) ::pause();
  }
  std::optional<std::string> reason;
  if (::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) != 0) reason = ptrace_refusal_reason(errno);
  ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, __WALL) < 0 && errno == EINTR) {
  }
  return reason;
}

PtraceSampler::PtraceSampler(pid_t pid, int sample_hz) : shared_(std::make_unique<Shared>()) {
  if (sample_hz <= 0) throw std::invalid_argument("sample_hz must be positive");
  shared_->pid = pid;
  shared_->sample_hz = sample_hz;
  shared_->period = std::chrono::nanoseconds(1'000'000'000 / sample_hz);
  shared_->pgid = ::getpgid(pid);
  const auto start_time = proc::live_start_time(pid);
  if (!start_time || shared_->pgid < 0) {
    throw std::runtime_error(fmt::format("process {} is not running", pid));
  }
  shared_->start_time = *start_time;
  start_tracer();
  std::string error;
  {
    std::unique_lock lock(shared_->mutex);
    shared_->changed.wait(lock, [this] { return shared_->attach_result.has_value(); });
    error = *shared_->attach_result;
  }
  if (!error.empty()) {
    end_tracer();
    stopped_ = true;
    throw std::runtime_error(error);
  }
}

PtraceSampler::~PtraceSampler() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw
  }
}

void PtraceSampler::start_tracer() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->end = false;
    shared_->attach_result.reset();
    shared_->tracer_tid = 0;
  }
  tracer_ = std::thread([shared = shared_.get()] { Tracer(*shared).run(); });
}

void PtraceSampler::end_tracer() {
  if (!tracer_.joinable()) return;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->end = true;
  }
  shared_->changed.notify_all();
  tracer_.join();
  const pid_t tracer_tid = shared_->tracer_tid;
  // The join returns when the thread's stack is free, a moment before the
  // kernel releases its tracees: until then a wait could still see a stop.
  const Clock::time_point deadline = Clock::now() + kReleaseTimeout;
  while (tracer_tid > 0 && proc::tracer_of(shared_->pid, shared_->pid) == tracer_tid &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void PtraceSampler::suspend() {
  if (!stopped_) end_tracer();
}

void PtraceSampler::resume() {
  if (!stopped_ && !tracer_.joinable()) start_tracer();
}

void PtraceSampler::stop() {
  if (stopped_) return;
  stopped_ = true;
  end_tracer();
}

CpuStacks PtraceSampler::collect() {
  stop();
  return fold_sampled_stacks(shared_->stacks, shared_->maps);
}

PtraceSamplerCounts PtraceSampler::counts() const { return shared_->counts; }

int PtraceSampler::sample_hz() const { return shared_->sample_hz; }

}  // namespace perflab::cli
