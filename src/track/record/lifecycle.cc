// The recorder's life in the traced process: configuration from the
// environment, the sampler thread (timeline and periodic snapshots), fork,
// exec, _exit and fatal signals. Each of these ends with a dump, so whatever
// way the process ends, its profile survives.
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "thread_state.hpp"

namespace perflab::track::record {

namespace {

constexpr std::uint64_t kMaxSamples = 1u << 20;
DumpSample* g_samples = nullptr;
std::atomic<std::uint64_t> g_sample_count{0};
std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
std::atomic<bool> g_sampler_stop{false};
constexpr std::uint64_t kMapsHistoryBytes = 4u << 20;
char* g_maps_history = nullptr;  // mmap'd; snapshots of /proc/self/maps taken before dlclose
std::atomic<std::uint64_t> g_maps_used{0};
std::atomic<bool> g_maps_lock{false};

using ExecveFn = int (*)(const char*, char* const[], char* const[]);
using ExecvpeFn = int (*)(const char*, char* const[], char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);
ExecveFn g_real_execve = nullptr;
ExecvpeFn g_real_execvpe = nullptr;
FexecveFn g_real_fexecve = nullptr;

int own_text_range(dl_phdr_info* info, std::size_t, void* data) {
  const auto target = reinterpret_cast<std::uintptr_t>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    const std::uintptr_t end = begin + ph.p_memsz;
    if (target >= begin && target < end) {
      state().self_text_begin = begin;
      state().self_text_end = end;
      return 1;
    }
  }
  return 0;
}

bool equals(const char* a, const char* b) noexcept {
  return a != nullptr && std::strcmp(a, b) == 0;
}

// Claims this process image's dump file: <dir>/<pid>-<n>.dump, the lowest n
// free (an exec'd image of the same pid takes the next one). The empty file
// marks a process that ran, even if it never managed to write a dump.
void claim_dump_path() noexcept {
  Config& c = state().config;
  for (int n = 0; n < 1000; ++n) {
    std::snprintf(c.dump_path, sizeof c.dump_path, "%s/%d-%d.dump", c.dir,
                  static_cast<int>(::getpid()), n);
    const int fd = ::open(c.dump_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
  }
  c.dump_path[0] = '\0';
  c.recording = false;
}

void configure() noexcept {
  State& s = state();
  Config& c = s.config;
  const char* dir = std::getenv("PERFLAB_TRACK_DIR");
  if (dir == nullptr || dir[0] != '/' || std::strlen(dir) >= sizeof c.dir) {
    c.recording = false;
    s.layout = Layout::kBare;
    return;
  }
  std::memcpy(c.dir, dir, std::strlen(dir) + 1);
  c.recording = true;
  if (equals(std::getenv("PERFLAB_TRACK_MODE"), "count")) c.mode = DumpMode::kCount;
  // Before anything here could allocate: the layout never changes once a
  // block exists.
  s.layout = c.mode == DumpMode::kStacks ? Layout::kHeadered : Layout::kBare;
  const char* unwind = std::getenv("PERFLAB_TRACK_UNWIND");
  if (equals(unwind, "fp")) {
    c.auto_unwinder = false;
    c.unwinder = DumpUnwinder::kFramePointer;
  } else if (equals(unwind, "libunwind")) {
    c.auto_unwinder = false;
    c.unwinder = DumpUnwinder::kLibunwind;
  }
  s.unwinder.store(c.unwinder, std::memory_order_relaxed);
  s.deciding_unwinder.store(c.auto_unwinder, std::memory_order_relaxed);
  if (equals(std::getenv("PERFLAB_TRACK_FORK"), "ignore")) c.follow_fork = false;
  if (const char* ms = std::getenv("PERFLAB_TRACK_INTERVAL_MS"); ms != nullptr) {
    const long v = std::strtol(ms, nullptr, 10);
    if (v > 0 && v <= 60'000) c.sample_interval_ns = v * 1'000'000;
  }
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  s.start_unix_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  s.start_mono_ns = monotonic_ns();
  dl_iterate_phdr(&own_text_range, reinterpret_cast<void*>(&configure));
  void* samples = mmap(nullptr, kMaxSamples * sizeof(DumpSample), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  g_samples = samples == MAP_FAILED ? nullptr : static_cast<DumpSample*>(samples);
  void* history = mmap(nullptr, kMapsHistoryBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  g_maps_history = history == MAP_FAILED ? nullptr : static_cast<char*>(history);
  claim_dump_path();
}

std::uint64_t live_heap_bytes() noexcept {
  State& s = state();
  const std::uint32_t count = s.table_count.load(std::memory_order_acquire);
  std::uint64_t live = 0;
  for (std::uint32_t t = 0; t < count && t < kMaxTables; ++t) {
    const ThreadTable* table = s.tables[t].load(std::memory_order_acquire);
    if (table != nullptr) live += table_live(*table);
  }
  return live;
}

// Allocations so far and their requested bytes: the same per-thread counters
// the dump's totals sum, so the allocation path pays nothing for the timeline.
struct Allocated {
  std::uint64_t allocs = 0;
  std::uint64_t bytes = 0;
};

Allocated total_allocated() noexcept {
  State& s = state();
  const std::uint32_t count = s.table_count.load(std::memory_order_acquire);
  Allocated total;
  for (std::uint32_t t = 0; t < count && t < kMaxTables; ++t) {
    const ThreadTable* table = s.tables[t].load(std::memory_order_acquire);
    if (table == nullptr) continue;
    const std::uint32_t published = table->published.load(std::memory_order_acquire);
    for (std::uint32_t e = 0; e < published; ++e) {
      total.allocs += table->entries[e].allocs.get();
      total.bytes += table->entries[e].bytes.get();
    }
    if (t == 0) {
      total.allocs += s.fallback_allocs.load(std::memory_order_relaxed);
      total.bytes += s.fallback_bytes.load(std::memory_order_relaxed);
    }
  }
  return total;
}

void take_sample() noexcept {
  State& s = state();
  // Other threads' counters are read mid-update: a free seen before its
  // allocation can make the sum wrap for an instant, so it is clamped.
  std::uint64_t heap = live_heap_bytes();
  if (heap > (1ull << 62)) heap = 0;
  const std::uint64_t rss = current_rss_bytes();
  if (heap > s.peak_sampled.load(std::memory_order_relaxed))
    s.peak_sampled.store(heap, std::memory_order_relaxed);
  if (rss > s.peak_rss.load(std::memory_order_relaxed))
    s.peak_rss.store(rss, std::memory_order_relaxed);
  const std::uint64_t n = g_sample_count.load(std::memory_order_relaxed);
  if (g_samples == nullptr || n >= kMaxSamples) return;
  const Allocated allocated = total_allocated();
  g_samples[n] =
      DumpSample{monotonic_ns() - s.start_mono_ns, heap, rss, allocated.allocs, allocated.bytes};
  g_sample_count.store(n + 1, std::memory_order_release);
}

void* sampler_main(void*) {
  ++tls.guard;  // nothing this thread allocates is the program's
  State& s = state();
  std::int64_t next_snapshot = monotonic_ns() + s.config.snapshot_interval_ns;
  while (!g_sampler_stop.load(std::memory_order_acquire)) {
    timespec pause{s.config.sample_interval_ns / 1'000'000'000,
                   s.config.sample_interval_ns % 1'000'000'000};
    nanosleep(&pause, nullptr);
    if (g_sampler_stop.load(std::memory_order_acquire) || s.finished.load()) break;
    take_sample();
    if (monotonic_ns() >= next_snapshot) {
      write_dump(DumpReason::kSnapshot, 0);
      next_snapshot = monotonic_ns() + s.config.snapshot_interval_ns;
    }
  }
  return nullptr;
}

void start_sampler() noexcept {
  if (!state().config.recording) return;
  RecursionGuard guard;
  sigset_t all, old;
  sigfillset(&all);
  // The sampler must never receive the program's signals.
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  if (pthread_create(&thread, nullptr, &sampler_main, nullptr) == 0) pthread_detach(thread);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void final_dump(DumpReason reason, int signal) noexcept {
  State& s = state();
  if (s.finished.exchange(true)) return;
  take_sample();
  write_dump(reason, signal);
}

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                                 SIGABRT, SIGTERM, SIGINT, SIGQUIT};

void on_fatal_signal(int sig) {
  const int saved = errno;
  final_dump(DumpReason::kSignal, sig);
  errno = saved;
  // SA_RESETHAND restored the default action. Raised again, the signal is
  // delivered as soon as this handler returns (a real fault would also recur
  // on re-executing the instruction; one sent with kill or raise would not).
  raise(sig);
}

void install_signal_handlers() noexcept {
  for (int sig : kFatalSignals) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) continue;
    // A program's own handler (or an ignored signal) is left alone.
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction ours {};
    ours.sa_handler = &on_fatal_signal;
    sigemptyset(&ours.sa_mask);
    ours.sa_flags = SA_RESETHAND | SA_ONSTACK;
    sigaction(sig, &ours, nullptr);
  }
}

// No dump may be half-written across a fork. (A fork from a signal handler
// that interrupted this thread's own dump finds the lock held by itself.)
bool g_fork_holds_dumps = false;
void before_fork() noexcept { g_fork_holds_dumps = lock_dumps(); }
void after_fork_in_parent() noexcept {
  if (g_fork_holds_dumps) unlock_dumps();
}
void after_fork_in_child() noexcept {
  State& s = state();
  if (g_fork_holds_dumps) unlock_dumps();
  s.generation.fetch_add(1, std::memory_order_relaxed);
  s.finished.store(false, std::memory_order_relaxed);
  g_sample_count.store(0, std::memory_order_relaxed);
  reset_after_fork_in_child();
  if (!s.config.recording) return;
  if (!s.config.follow_fork) {
    s.config.recording = false;
    tls.table = nullptr;  // the counting fast paths start only from a table
    return;
  }
  s.start_mono_ns = monotonic_ns();
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  s.start_unix_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  claim_dump_path();
  start_sampler();
}

char g_allocator_note[2048] = {};

bool is_glibc(const char* path) noexcept {
  const char* name = std::strrchr(path, '/');
  name = name != nullptr ? name + 1 : path;
  return std::strncmp(name, "libc.so", 7) == 0;
}

// A program can bring its own malloc. Defined in the executable, it wins
// over ours (the executable comes first in symbol lookup): the recorder sees
// only what reaches it some other way (operator new). Defined in a library
// the program links (jemalloc, tcmalloc), ours wins and the calls go to
// glibc instead. Either way the profile says so.
void note_allocator() noexcept {
  Dl_info ours{};
  if (dladdr(reinterpret_cast<void*>(&is_glibc), &ours) == 0) return;
  Dl_info who{};
  void* resolved = dlsym(RTLD_DEFAULT, "malloc");
  if (resolved != nullptr && dladdr(resolved, &who) != 0 && who.dli_fbase != ours.dli_fbase) {
    char exe[1024] = {};
    const char* path = who.dli_fname;
    if (path == nullptr || path[0] == '\0') {  // the main program has no name in the link map
      const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
      path = n > 0 ? exe : "the program";
    }
    std::snprintf(g_allocator_note, sizeof g_allocator_note, "defined-by %s", path);
    return;
  }
  void* next = dlsym(RTLD_NEXT, "malloc");
  if (next != nullptr && dladdr(next, &who) != 0 && who.dli_fname != nullptr &&
      !is_glibc(who.dli_fname))
    std::snprintf(g_allocator_note, sizeof g_allocator_note, "bypassed %s", who.dli_fname);
}

[[gnu::constructor]] void on_load() {
  ensure_initialized();
  if (!state().config.recording) return;
  RecursionGuard guard;
  g_real_execve = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execve"));
  g_real_execvpe = reinterpret_cast<ExecvpeFn>(dlsym(RTLD_NEXT, "execvpe"));
  g_real_fexecve = reinterpret_cast<FexecveFn>(dlsym(RTLD_NEXT, "fexecve"));
  pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child);
  note_allocator();
  install_signal_handlers();
  start_sampler();
}

[[gnu::destructor]] void on_unload() {
  g_sampler_stop.store(true, std::memory_order_release);
  final_dump(DumpReason::kExit, 0);
}

}  // namespace

void dump_before_exec() noexcept {
  // The image is about to be replaced: this is its last chance to write.
  final_dump(DumpReason::kExec, 0);
  // If exec fails, the program goes on and later dumps overwrite this one.
  state().finished.store(false);
}

void dump_before_quick_exit() noexcept {
  g_sampler_stop.store(true, std::memory_order_release);
  final_dump(DumpReason::kQuickExit, 0);
}

int real_dlclose(void* handle) noexcept {
  using DlcloseFn = int (*)(void*);
  static DlcloseFn real = nullptr;
  if (real == nullptr) real = reinterpret_cast<DlcloseFn>(dlsym(RTLD_NEXT, "dlclose"));
  return real(handle);
}

void remember_maps_before_unload() noexcept {
  if (!state().config.recording || g_maps_history == nullptr) return;
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (g_maps_lock.exchange(true, std::memory_order_acquire)) {
  }
  std::uint64_t used = g_maps_used.load(std::memory_order_relaxed);
  for (;;) {
    if (used >= kMapsHistoryBytes) break;
    const ssize_t n = ::read(fd, g_maps_history + used, kMapsHistoryBytes - used);
    if (n <= 0) break;
    used += static_cast<std::uint64_t>(n);
  }
  g_maps_used.store(used, std::memory_order_release);
  g_maps_lock.store(false, std::memory_order_release);
  ::close(fd);
}

const char* allocator_note() noexcept { return g_allocator_note; }

const char* remembered_maps(std::uint64_t& bytes) noexcept {
  bytes = g_maps_used.load(std::memory_order_acquire);
  return g_maps_history;
}

int real_execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  if (g_real_execve == nullptr)
    g_real_execve = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execve"));
  return g_real_execve(path, argv, envp);
}
int real_execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  if (g_real_execvpe == nullptr)
    g_real_execvpe = reinterpret_cast<ExecvpeFn>(dlsym(RTLD_NEXT, "execvpe"));
  return g_real_execvpe(file, argv, envp);
}
int real_fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  if (g_real_fexecve == nullptr)
    g_real_fexecve = reinterpret_cast<FexecveFn>(dlsym(RTLD_NEXT, "fexecve"));
  return g_real_fexecve(fd, argv, envp);
}

void ensure_initialized() noexcept {
  int expected = 0;
  if (g_init_state.load(std::memory_order_acquire) == 2) return;
  if (g_init_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    ++tls.guard;
    configure();
    --tls.guard;
    g_init_state.store(2, std::memory_order_release);
    return;
  }
  if (expected == 1 && tls.guard > 0) return;  // re-entered from configure() itself
  while (g_init_state.load(std::memory_order_acquire) != 2) {
  }
}

std::uint64_t current_rss_bytes() noexcept {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char* p = text;
  while (*p != '\0' && *p != ' ') ++p;  // skip "size"
  const unsigned long long pages = std::strtoull(p, nullptr, 10);
  return pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

const DumpSample* timeline_samples(std::uint64_t& count) noexcept {
  count = g_samples == nullptr ? 0 : g_sample_count.load(std::memory_order_acquire);
  return g_samples;
}

}  // namespace perflab::track::record
