// SIGTERM and SIGINT as a request to stop, handled on a thread of their own.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace eventstore {

/// Turns SIGTERM and SIGINT into one call of a stop function. The signals are
/// blocked in every thread and taken with sigtimedwait() by a watcher thread,
/// so a signal never interrupts a thread, and one that arrives while the
/// process starts up or shuts down (a second SIGTERM, say) can never kill it
/// with the default action: it waits, or is dropped at exit.
/// Thread-safety: construct on the main thread before any other thread
/// starts (threads inherit the blocked mask); the rest on that thread.
class StopSignals {
 public:
  /// Blocks SIGTERM and SIGINT for this thread and the threads it starts.
  StopSignals();
  /// Stops watching (see unwatch()).
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  /// From now on, the first SIGTERM or SIGINT (also one that arrived before
  /// this call) runs on_stop on the watcher thread; later ones are ignored.
  void watch(std::function<void()> on_stop);
  /// Ends the watcher thread; the signals stay blocked. Call before whatever
  /// on_stop refers to is destroyed.
  void unwatch();

 private:
  std::thread watcher_;
  std::atomic<bool> quit_{false};
};

}  // namespace eventstore
