#include "stop_signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <system_error>

namespace eventstore {
namespace {

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

StopSignals::StopSignals() {
  const sigset_t set = stop_signal_set();
  if (const int error = pthread_sigmask(SIG_BLOCK, &set, nullptr))
    throw std::system_error(error, std::generic_category(), "cannot block SIGTERM and SIGINT");
}

StopSignals::~StopSignals() { unwatch(); }

void StopSignals::watch(std::function<void()> on_stop) {
  unwatch();
  quit_ = false;
  watcher_ = std::thread([this, on_stop = std::move(on_stop)] {
    const sigset_t set = stop_signal_set();
    bool stopped = false;
    // A short timeout, so that unwatch() is never kept waiting long.
    const timespec timeout{0, 100 * 1000 * 1000};
    while (!quit_.load()) {
      const int signal = sigtimedwait(&set, nullptr, &timeout);
      if (signal < 0) continue;  // EAGAIN (timeout) or EINTR
      if (!stopped) {
        stopped = true;
        on_stop();
      }
    }
  });
}

void StopSignals::unwatch() {
  quit_ = true;
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace eventstore
