// The built-in CPU sampler's stack walk: the call stack of a thread of
// another process, which the caller holds in a ptrace stop, unwound with
// elfutils' unwinder (libdwfl) from the modules' call-frame information.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

// libdwfl's handle, as <elfutils/libdwfl.h> declares it.
typedef struct Dwfl Dwfl;

namespace perflab::cli {

/// Unwinds threads of one process, remotely.
///
/// The process's modules are read from /proc/PID/maps when constructed, and
/// again (at most once a second) when a stack's innermost address lies in no
/// known module (a library loaded later). Each module's call-frame
/// information (.eh_frame, .debug_frame) is read once, on first use, and
/// kept: after the first samples a walk costs tens of microseconds. Memory
/// is read with process_vm_readv, registers with PTRACE_GETREGS. Where a
/// module has no CFI for an address, elfutils falls back to the frame
/// pointer.
///
/// Not thread-safe, and bound to the thread that traces the process: every
/// call, construction and destruction included, must come from the thread
/// that attached to it with ptrace (PTRACE_GETREGS is refused to others).
/// Neither copyable nor movable.
class RemoteUnwinder {
 public:
  /// Reads the modules of process `pid`. Throws std::runtime_error when
  /// libdwfl cannot read them or attach to the process (gone, /proc
  /// unreadable).
  explicit RemoteUnwinder(pid_t pid);
  ~RemoteUnwinder();
  RemoteUnwinder(const RemoteUnwinder&) = delete;
  RemoteUnwinder& operator=(const RemoteUnwinder&) = delete;

  /// Replaces `frames` with thread `tid`'s stack, innermost first: the
  /// address the thread stopped at, then each caller's return address minus
  /// one (an address inside its call instruction, which symbolizes to the
  /// call's line), at most `max_frames` of them. The walk ends at the
  /// outermost frame, or where the unwinder cannot go on (no CFI and no frame
  /// pointer, unreadable memory): the frames found so far are kept.
  /// REQUIRES: `tid` is a thread of the process, in a ptrace stop of the
  /// calling thread's. Returns false (with `frames` empty) when not even the
  /// registers could be read. Never throws but std::bad_alloc.
  bool unwind(pid_t tid, std::vector<std::uint64_t>& frames, std::size_t max_frames);

 private:
  void report_modules();

  pid_t pid_;
  Dwfl* dwfl_ = nullptr;
  std::chrono::steady_clock::time_point reported_at_;
};

}  // namespace perflab::cli
