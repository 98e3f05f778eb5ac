// What /proc says about the process the built-in sampler traces: its
// threads, their states, who traces them, whether it is still the process
// it was. Internal to the sampler. Every function is thread-safe (no shared
// state) and never throws but std::bad_alloc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace perflab::cli::proc {

/// The text of a /proc file (any file), or nullopt when it cannot be read.
std::optional<std::string> read_text(const std::string& path);

/// The process's start time (clock ticks after boot, field 22 of
/// /proc/PID/stat), or nullopt when it is gone or a zombie. Equal start
/// times tell the process from another that reuses its pid.
std::optional<std::uint64_t> live_start_time(pid_t pid);

/// The state letter of a thread from an open /proc/PID/task/TID/stat:
/// 'R' running or runnable, 'S' sleeping, 't' in a ptrace stop, ...; '?'
/// when unreadable.
char thread_state(int stat_fd);

/// Who traces thread `tid` of `pid` (its TracerPid: 0 when nobody), or -1
/// when unknown.
pid_t tracer_of(pid_t pid, pid_t tid);

/// The threads of `pid` (/proc/PID/task), or nullopt when it is gone.
std::optional<std::vector<pid_t>> list_threads(pid_t pid);

}  // namespace perflab::cli::proc
