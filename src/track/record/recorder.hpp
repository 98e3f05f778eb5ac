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

// ---- the block header --------------------------------------------------------

// Sits right before every block handed to the program. `check` ties it to the
// block's address so a pointer perflab did not allocate (memory from before
// the recorder, or from __libc_malloc called directly) is recognized and
// passed to glibc untouched.
struct BlockHeader {
  std::uint64_t size : 48;        // requested bytes
  std::uint64_t align_shift : 8;  // log2 of the alignment when > 16, else 0
  std::uint64_t generation : 8;   // fork generation that allocated it
  std::uint32_t stack;            // table << 16 | entry
  std::uint32_t check;
};
static_assert(sizeof(BlockHeader) == 16, "the header keeps blocks 16-byte aligned");

// The stack id of blocks that are not counted: the recorder's own allocations.
inline constexpr std::uint32_t kUntrackedStack = 0xffffffffu;

inline std::uint32_t header_check(const void* block, std::uint32_t stack) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(block);
  return static_cast<std::uint32_t>((a >> 4) ^ (a >> 36)) ^ (stack * 0x85ebca6bu) ^ 0x5bd1e995u;
}

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

struct alignas(64) StackEntry {
  std::uint64_t hash;
  std::uint32_t frames_at;  // offset into the table's frame arena
  std::uint32_t depth;
  Owned allocs, bytes, frees, bytes_freed, temporary;
  // Frees of this stack's blocks on other threads.
  std::atomic<std::uint64_t> remote_frees{0}, remote_bytes_freed{0};
};

struct ThreadTable {
  std::uint32_t index;                   // this table's number, in stack ids
  std::atomic<std::uint32_t> published;  // entries [0, published) are complete
  std::uint32_t frames_used;             // owner only
  StackEntry* entries;
  std::uint32_t* slots;  // entry index + 1, 0 = empty; owner only
  std::uint64_t* frames;
  Owned live_bytes;                            // allocated minus freed by the owner
  std::atomic<std::uint64_t> remote_freed{0};  // freed by other threads
  Owned peak_live;                             // of live_bytes, meaningful with one thread
  std::atomic<std::uint64_t> dropped{0};       // allocations whose stack did not fit
  ThreadTable* next_free;                      // free list, under the tables lock
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
  std::atomic<ThreadTable*> tables[kMaxTables] = {};
  std::atomic<std::uint32_t> table_count{0};
  std::atomic<bool> tables_lock{false};
  ThreadTable* free_tables = nullptr;  // under tables_lock
  std::atomic<std::uint32_t> generation{0};
  std::atomic<bool> dumping{false};
  std::atomic<bool> finished{false};                             // the final dump was written
  std::atomic<DumpUnwinder> unwinder{DumpUnwinder::kLibunwind};  // in use now
  std::atomic<bool> deciding_unwinder{false};                    // auto mode still sampling
  std::int64_t start_mono_ns = 0;
  std::int64_t start_unix_ns = 0;
  std::atomic<std::uint64_t> fallback_allocs{0};  // table 0's allocations (it has no owner)
  std::atomic<std::uint64_t> fallback_bytes{0};
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

// Finds or adds `frames` in the owner's table; returns the entry index (0 =
// the table's "no stack" entry, also used when the table is full).
std::uint32_t intern_stack(ThreadTable& table, void* const* frames, int depth) noexcept;

// In a forked child: hands other threads' tables to the free list and clears
// every counter, so the child's profile holds only what the child does.
void reset_after_fork_in_child() noexcept;

// Auto mode's evidence: stacks compared, and how many frame pointers got right.
void unwinder_agreement(std::uint64_t& samples, std::uint64_t& agreed) noexcept;

// Walks the caller's stack, skipping the recorder's own frames.
int capture_stack(void** frames, int max_depth) noexcept;

// Writes this process's dump file (atomically: temp file, then rename).
void write_dump(DumpReason reason, int signal) noexcept;

// Live bytes of one table: allocated from it minus freed, on any thread.
inline std::uint64_t table_live(const ThreadTable& table) noexcept {
  const std::uint64_t shared =
      table.index == 0 ? state().fallback_bytes.load(std::memory_order_relaxed) : 0;
  return table.live_bytes.get() + shared - table.remote_freed.load(std::memory_order_relaxed);
}

// Current time, CLOCK_MONOTONIC, in ns.
std::int64_t monotonic_ns() noexcept;

// Resident set size of this process now (from /proc/self/statm).
std::uint64_t current_rss_bytes() noexcept;

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
