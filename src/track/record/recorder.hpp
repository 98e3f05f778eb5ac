// The recorder: what runs inside the traced process (libperflab_track.so,
// loaded with LD_PRELOAD). It does as little as it can: wraps every heap block
// in a 16-byte header naming the call stack that allocated it, counts per
// stack in per-thread tables, and writes a dump file (dump_format.hpp) at
// exit, exec, fatal signals and periodically. No exceptions, no locks on the
// allocation path, no allocation of its own (tables live in mmap'd memory),
// and a recursion guard for what libc or libunwind allocate on its behalf.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "../dump_format.hpp"

// Internal calls must not go through the PLT: only the interposed C and C++
// entry points (interpose.cc, process_hooks.cc) are exported.
#pragma GCC visibility push(hidden)

namespace perflab::track::record {

// The stack id of blocks that are not counted: the recorder's own allocations.
inline constexpr std::uint32_t kUntrackedStack = 0xffffffffu;

// How blocks handed to the program are laid out, fixed before the first one.
enum class Layout : std::uint8_t {
  kUnknown = 0,  // not configured yet
  // Stacks mode: a BlockHeader (block_header.hpp) in front of every block names
  // the stack that allocated it, so a free is charged to that stack.
  kHeadered,
  // Counting mode, or not recording: glibc's blocks untouched. Cheapest, but a
  // free knows only glibc's usable size of the block, not the size requested.
  kBare,
};

// ---- per-thread stack tables ----------------------------------------------------

inline constexpr std::uint32_t kEntriesPerTable = 1u << 16;
inline constexpr std::uint32_t kIndexSlots = 1u << 17;      // open addressing, load <= 0.5
inline constexpr std::uint32_t kFramesPerTable = 1u << 21;  // return addresses
inline constexpr std::uint32_t kMaxTables = 4096;           // table 0 is the shared fallback
inline constexpr int kMaxDepth = 64;

// Written by one thread (the table's owner): relaxed load + store, plain moves
// on x86, yet readable by the dumping thread without a data race.
struct Owned {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n) noexcept {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

// The first frames of a stack are kept in its entry as well as in the arena:
// interning compares them without touching another cache line.
inline constexpr int kInlineFrames = 7;

// 128 bytes, aligned: both lines arrive together (adjacent-line prefetch).
struct alignas(128) StackEntry {
  std::uint64_t hash;
  std::uint32_t frames_at;  // offset into the table's frame arena
  std::uint32_t depth;
  Owned allocs, bytes, frees, bytes_freed, temporary;
  // Frees of this stack's blocks on other threads.
  std::atomic<std::uint64_t> remote_frees{0}, remote_bytes_freed{0};
  std::uint64_t head[kInlineFrames];  // frames [0, min(depth, kInlineFrames))
};
static_assert(sizeof(StackEntry) == 128);

// A small direct-mapped cache in front of the index: the stacks a thread
// allocates from most stay in its first level cache this way, where the
// index's slots are spread over half a megabyte.
inline constexpr std::uint32_t kRecentStacks = 64;
struct RecentStack {
  std::uint64_t hash;  // 0 = empty
  std::uint32_t entry;
};

struct ThreadTable {
  std::uint32_t index;                   // this table's number, in stack ids
  std::atomic<std::uint32_t> published;  // entries [0, published) are complete
  std::uint32_t frames_used;             // owner only
  StackEntry* entries;
  std::uint32_t* slots;  // entry index + 1, 0 = empty; owner only
  std::uint64_t* frames;
  Owned live_bytes;                   // allocated minus freed by the owner
  Owned peak_live;                    // of live_bytes, meaningful with one thread
  ThreadTable* next_free;             // free list, under the tables lock
  RecentStack recent[kRecentStacks];  // owner only
  // Written by other threads: on a line of their own, away from the owner's.
  alignas(64) std::atomic<std::uint64_t> remote_freed{0};  // freed by other threads
  std::atomic<std::uint64_t> dropped{0};                   // allocations whose stack did not fit
};

// ---- configuration and global state -------------------------------------------------

struct Config {
  bool recording = false;  // false: blocks still get headers, nothing is counted or written
  DumpMode mode = DumpMode::kStacks;
  DumpUnwinder unwinder = DumpUnwinder::kLibunwind;  // as configured; see State::unwinder
  bool auto_unwinder = true;  // decide between frame pointers and libunwind from samples
  bool follow_fork = true;
  std::int64_t sample_interval_ns = 100'000'000;
  std::int64_t snapshot_interval_ns = 1'000'000'000;
  char dir[2048] = {};
  char dump_path[2400] = {};  // this process's dump file
};

struct State {
  Config config;
  Layout layout = Layout::kUnknown;  // set once, before the first block
  std::atomic<ThreadTable*> tables[kMaxTables] = {};
  std::atomic<std::uint32_t> table_count{0};
  std::atomic<bool> tables_lock{false};
  ThreadTable* free_tables = nullptr;  // under tables_lock
  std::atomic<std::uint32_t> generation{0};
  std::atomic<long> dump_owner{0};    // thread id writing a dump (or forking), 0 = none
  std::atomic<bool> finished{false};  // the final dump was written
  std::atomic<DumpUnwinder> unwinder{DumpUnwinder::kLibunwind};  // in use now
  std::atomic<bool> deciding_unwinder{false};                    // auto mode still sampling
  std::int64_t start_mono_ns = 0;
  std::int64_t start_unix_ns = 0;
  std::atomic<std::uint64_t> fallback_allocs{0};  // table 0's allocations (it has no owner)
  std::atomic<std::uint64_t> fallback_bytes{0};   // ... their requested bytes
  std::atomic<std::uint64_t> fallback_live{0};    // ... in live-heap units (see table_live)
  std::atomic<std::uint64_t> peak_sampled{0};
  std::atomic<std::uint64_t> peak_rss{0};
  std::atomic<std::uint64_t> inherited_frees{0};
  std::atomic<std::uint32_t> allocating_threads{0};
  std::uintptr_t self_text_begin = 0, self_text_end = 0;  // our own code, skipped in stacks
};

extern constinit State g_state;
inline State& state() noexcept { return g_state; }

// Lazily configures the recorder from the environment; safe to call early and often.
void ensure_initialized() noexcept;

// The calling thread's table, acquired on first use; the shared fallback
// table 0 when the thread has exited or no table could be made.
ThreadTable* own_table() noexcept;
ThreadTable* fallback_table() noexcept;

// Finds or adds `frames` (whose stack_hash is `hash`) in the owner's table;
// returns the entry index (0 = the table's "no stack" entry, also used when
// the table is full).
std::uint32_t intern_stack(ThreadTable& table, void* const* frames, int depth,
                           std::uint64_t hash) noexcept;

// The hash intern_stack indexes by: one add and one multiply per frame (the
// frame-pointer walk computes it as it goes), then a final mix. Never 0.
inline std::uint64_t stack_hash_step(std::uint64_t hash, void* frame) noexcept {
  return (hash + reinterpret_cast<std::uintptr_t>(frame)) * 0x9e3779b97f4a7c15ull;
}
inline std::uint64_t stack_hash_finish(std::uint64_t hash) noexcept {
  return (hash ^ (hash >> 32)) | 1;
}
std::uint64_t stack_hash(void* const* frames, int depth) noexcept;

// The entry of the calling stack in `table` (the owner's): walks the stack
// with the unwinder in use and interns it. `entry_frame` is the frame of the
// interposed function the program called (__builtin_frame_address(0) there):
// a frame-pointer walk starts at its caller, with none of ours to skip.
std::uint32_t caller_stack(ThreadTable& table, void* entry_frame) noexcept;

// In a forked child: hands other threads' tables to the free list and clears
// every counter, so the child's profile holds only what the child does.
void reset_after_fork_in_child() noexcept;

// Auto mode's evidence: stacks compared, and how many frame pointers got right.
void unwinder_agreement(std::uint64_t& samples, std::uint64_t& agreed) noexcept;

// Writes this process's dump file (atomically: temp file, then rename).
void write_dump(DumpReason reason, int signal) noexcept;

// One dump (or fork) at a time. Waits for another thread's dump to finish
// (dumps take milliseconds; after 10 s the other thread is presumed stuck);
// returns false at once when the calling thread already holds it, i.e. a
// signal arrived while it was dumping.
bool lock_dumps() noexcept;
void unlock_dumps() noexcept;

// Live bytes of one table: allocated from it minus freed, on any thread.
// Requested bytes with the headered layout, glibc's usable bytes with the
// bare one (a bare block's requested size is unknown when it is freed).
inline std::uint64_t table_live(const ThreadTable& table) noexcept {
  const std::uint64_t shared =
      table.index == 0 ? state().fallback_live.load(std::memory_order_relaxed) : 0;
  return table.live_bytes.get() + shared - table.remote_freed.load(std::memory_order_relaxed);
}

// Current time, CLOCK_MONOTONIC, in ns.
std::int64_t monotonic_ns() noexcept;

// Resident set size of this process now (from /proc/self/statm).
std::uint64_t current_rss_bytes() noexcept;

// What dump_format.hpp's kAllocator section says ("" when malloc is glibc's).
const char* allocator_note() noexcept;

// The timeline recorded so far; `count` receives the number of samples.
const DumpSample* timeline_samples(std::uint64_t& count) noexcept;

}  // namespace perflab::track::record

namespace perflab::track::record {

// Final dumps for the ways a process image ends without running destructors.
void dump_before_exec() noexcept;
void dump_before_quick_exit() noexcept;

// Keeps a copy of /proc/self/maps before a library is unloaded, so its
// addresses can still be symbolized afterwards.
void remember_maps_before_unload() noexcept;
// The maps remembered so far (concatenated snapshots).
const char* remembered_maps(std::uint64_t& bytes) noexcept;

int real_dlclose(void* handle) noexcept;

// The libc functions the exec hooks forward to (resolved with dlsym).
int real_execve(const char* path, char* const argv[], char* const envp[]) noexcept;
int real_execvpe(const char* file, char* const argv[], char* const envp[]) noexcept;
int real_fexecve(int fd, char* const argv[], char* const envp[]) noexcept;

}  // namespace perflab::track::record

#pragma GCC visibility pop
