// The file the recorder (inside the traced process) writes and perflab reads
// afterwards: the only contract between src/track/record and
// src/track/interpret. Binary, little-endian, native struct layout (both
// sides are built together, for the same machine).
//
//   DumpHeader
//   then sections, each a SectionHeader followed by `bytes` of payload:
//     kTotals    DumpTotals
//     kMaps      the text of /proc/self/maps (all snapshots of it, concatenated)
//     kCmdline   /proc/self/cmdline (NUL-separated arguments; never the environment)
//     kStacks    for each stack: DumpStack, then `depth` u64 return addresses
//     kTimeline  DumpSample[]
//     kAllocator text, when malloc is not glibc's alone: "defined-by <path>"
//                (the program's own malloc wins over the recorder's) or
//                "bypassed <path>" (a library's malloc the recorder's shadows)
//   kEnd closes the file; a file without it is truncated and rejected.
#pragma once

#include <cstdint>

namespace perflab::track {

inline constexpr char kDumpMagic[8] = {'P', 'L', 'T', 'R', 'A', 'C', 'E', '1'};
// Both sides are built together and the reader accepts its own version only:
// a dump is read by the perflab that launched the recorder, moments later.
// 3: DumpSample::alloc_bytes.
inline constexpr std::uint32_t kDumpVersion = 3;

// Why a dump was written.
enum class DumpReason : std::uint32_t {
  kExit = 1,   // normal exit (exit(), return from main)
  kQuickExit,  // _exit / _Exit
  kExec,       // about to exec another program
  kSignal,     // a fatal signal (the number is in DumpHeader::signal)
  kSnapshot,   // periodic: the process may have died without a chance to write
};

// What the recorder captured.
enum class DumpMode : std::uint32_t { kCount = 1, kStacks = 2 };

// How stacks were walked.
enum class DumpUnwinder : std::uint32_t { kNone = 0, kFramePointer = 1, kLibunwind = 2 };

struct DumpHeader {
  char magic[8];
  std::uint32_t version;
  DumpMode mode;
  DumpReason reason;
  DumpUnwinder unwinder;
  std::int32_t signal;       // for kSignal
  std::uint32_t generation;  // 0 for the traced command; +1 per fork
  std::int64_t pid;
  std::int64_t parent_pid;
  std::int64_t start_unix_ns;  // when recording started (CLOCK_REALTIME)
  std::int64_t duration_ns;    // from start to this dump (CLOCK_MONOTONIC)
};

enum class SectionKind : std::uint32_t {
  kTotals = 1,
  kMaps = 2,
  kCmdline = 3,
  kStacks = 4,
  kTimeline = 5,
  kAllocator = 6,
  kEnd = 0x454e4421,  // "!DNE"
};

struct SectionHeader {
  SectionKind kind;
  std::uint32_t reserved;
  std::uint64_t bytes;
};

// Heap sizes (live, peak, timeline, bytes freed) are requested bytes in
// stacks mode. Counting mode keeps no header to remember a block's requested
// size, so there they are glibc's usable sizes of the blocks (the request
// rounded up to glibc's granularity); `bytes` allocated is requested in both.
struct DumpTotals {
  std::uint64_t allocs;
  std::uint64_t frees;
  std::uint64_t bytes;            // requested by all allocations
  std::uint64_t bytes_freed;      // sizes of the freed blocks
  std::uint64_t live_bytes;       // heap still allocated at the dump
  std::uint64_t temporary;        // freed before the thread's next allocation
  std::uint64_t peak_heap_bytes;  // see recorder: exact for one thread, sampled otherwise
  std::uint64_t peak_rss_bytes;
  std::uint64_t inherited_frees;  // frees of blocks a fork parent allocated
  std::uint64_t threads;          // threads that allocated
  std::uint64_t dropped_stacks;   // allocations whose stack did not fit the tables
  std::uint64_t unwind_samples;   // auto mode: stacks walked both ways
  std::uint64_t unwind_agreed;    // ... of which frame pointers matched libunwind
};

// In counting mode there is one stack, of depth 0, with the totals.
struct DumpStack {
  std::uint32_t depth;  // return addresses that follow, innermost first
  std::uint32_t reserved;
  std::uint64_t allocs;
  std::uint64_t bytes;
  std::uint64_t frees;
  std::uint64_t bytes_freed;
  std::uint64_t temporary;
};

// One point of the timeline. `allocs` and `alloc_bytes` are cumulative since
// start, summed from the same counters as DumpTotals::allocs and ::bytes (so
// alloc_bytes is requested bytes in both modes); `heap_bytes` is live heap in
// the unit DumpTotals explains.
struct DumpSample {
  std::int64_t time_ns;  // since start
  std::uint64_t heap_bytes;
  std::uint64_t rss_bytes;
  std::uint64_t allocs;
  std::uint64_t alloc_bytes;
};

}  // namespace perflab::track
