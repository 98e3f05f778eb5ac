// Writes the dump file with nothing but system calls on memory the recorder
// owns, so it can run at exit, before exec, from a fatal-signal handler, and
// from the sampler thread while the program keeps allocating.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "thread_state.hpp"

namespace perflab::track::record {
namespace {

class Writer {
 public:
  explicit Writer(int fd) noexcept : fd_(fd) {}
  ~Writer() { flush(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void put(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      if (used_ == sizeof buffer_) flush();
      const std::size_t take = n < sizeof buffer_ - used_ ? n : sizeof buffer_ - used_;
      std::memcpy(buffer_ + used_, p, take);
      used_ += take;
      p += take;
      n -= take;
    }
  }
  template <class T>
  void put(const T& value) noexcept {
    put(&value, sizeof value);
  }
  void flush() noexcept {
    std::size_t done = 0;
    while (done < used_) {
      const ssize_t n = ::write(fd_, buffer_ + done, used_ - done);
      if (n <= 0) {
        failed_ = true;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    used_ = 0;
  }
  bool failed() const noexcept { return failed_; }

 private:
  int fd_;
  bool failed_ = false;
  std::size_t used_ = 0;
  char buffer_[16384];
};

void put_section(Writer& out, SectionKind kind, std::uint64_t bytes) noexcept {
  out.put(SectionHeader{kind, 0, bytes});
}

// A /proc file's size is unknown until read: read it whole into a scratch
// mapping-free buffer chain by reading twice (size, then content).
std::uint64_t proc_file_size(const char* path) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char chunk[4096];
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return total;
}

void copy_proc_file(Writer& out, const char* path, std::uint64_t bytes) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  char chunk[4096];
  std::uint64_t left = bytes;
  if (fd >= 0) {
    while (left > 0) {
      const ssize_t n = ::read(fd, chunk, left < sizeof chunk ? left : sizeof chunk);
      if (n <= 0) break;
      out.put(chunk, static_cast<std::size_t>(n));
      left -= static_cast<std::uint64_t>(n);
    }
    ::close(fd);
  }
  // The file may have shrunk between the two reads: pad to the promised size.
  std::memset(chunk, '\n', sizeof chunk);
  while (left > 0) {
    const std::size_t n = left < sizeof chunk ? left : sizeof chunk;
    out.put(chunk, n);
    left -= n;
  }
}

// Table 0 has no owner; its allocations are counted in State.
std::uint64_t entry_allocs(const ThreadTable& t, std::uint32_t e) noexcept {
  const std::uint64_t shared = t.index == 0 && e == 0 ? state().fallback_allocs.load() : 0;
  return t.entries[e].allocs.get() + shared;
}
std::uint64_t entry_bytes(const ThreadTable& t, std::uint32_t e) noexcept {
  const std::uint64_t shared = t.index == 0 && e == 0 ? state().fallback_bytes.load() : 0;
  return t.entries[e].bytes.get() + shared;
}

std::uint64_t entry_frees(const StackEntry& e) noexcept {
  return e.frees.get() + e.remote_frees.load(std::memory_order_relaxed);
}
std::uint64_t entry_bytes_freed(const StackEntry& e) noexcept {
  return e.bytes_freed.get() + e.remote_bytes_freed.load(std::memory_order_relaxed);
}

}  // namespace

std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool lock_dumps() noexcept {
  State& s = state();
  const long self = ::syscall(SYS_gettid);
  const std::int64_t give_up = monotonic_ns() + 10'000'000'000;
  for (;;) {
    long owner = 0;
    if (s.dump_owner.compare_exchange_strong(owner, self, std::memory_order_acquire)) return true;
    if (owner == self) return false;
    if (monotonic_ns() > give_up) return false;
    sched_yield();
  }
}

void unlock_dumps() noexcept { state().dump_owner.store(0, std::memory_order_release); }

void write_dump(DumpReason reason, int signal) noexcept {
  State& s = state();
  if (!s.config.recording || s.config.dump_path[0] == '\0') return;
  if (!lock_dumps()) return;
  ++tls.guard;
  char temp[sizeof s.config.dump_path + 16];
  std::memcpy(temp, s.config.dump_path, std::strlen(s.config.dump_path) + 1);
  std::strcat(temp, ".tmp");
  const int fd = ::open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    {
      Writer out(fd);
      DumpHeader header{};
      std::memcpy(header.magic, kDumpMagic, sizeof header.magic);
      header.version = kDumpVersion;
      header.mode = s.config.mode;
      header.reason = reason;
      header.unwinder =
          s.config.mode == DumpMode::kStacks ? s.unwinder.load() : DumpUnwinder::kNone;
      header.signal = signal;
      header.generation = s.generation.load(std::memory_order_relaxed);
      header.pid = ::getpid();
      header.parent_pid = ::getppid();
      header.start_unix_ns = s.start_unix_ns;
      header.duration_ns = monotonic_ns() - s.start_mono_ns;
      out.put(header);

      const std::uint32_t table_count = s.table_count.load(std::memory_order_acquire);
      const std::uint32_t tables = table_count < kMaxTables ? table_count : kMaxTables;
      DumpTotals totals{};
      std::uint64_t stacks_bytes = 0;
      std::uint64_t live = 0;
      for (std::uint32_t t = 0; t < tables; ++t) {
        const ThreadTable* table = s.tables[t].load(std::memory_order_acquire);
        if (table == nullptr) continue;
        live += table_live(*table);
        totals.dropped_stacks += table->dropped.load(std::memory_order_relaxed);
        if (s.allocating_threads.load(std::memory_order_relaxed) <= 1 &&
            table->peak_live.get() > totals.peak_heap_bytes)
          totals.peak_heap_bytes = table->peak_live.get();
        const std::uint32_t published = table->published.load(std::memory_order_acquire);
        for (std::uint32_t e = 0; e < published; ++e) {
          const StackEntry& entry = table->entries[e];
          const std::uint64_t allocs = entry_allocs(*table, e);
          const std::uint64_t frees = entry_frees(entry);
          if (allocs == 0 && frees == 0) continue;
          totals.allocs += allocs;
          totals.bytes += entry_bytes(*table, e);
          totals.frees += frees;
          totals.bytes_freed += entry_bytes_freed(entry);
          totals.temporary += entry.temporary.get();
          stacks_bytes += sizeof(DumpStack) + sizeof(std::uint64_t) * entry.depth;
        }
      }
      const std::uint64_t sampled = s.peak_sampled.load(std::memory_order_relaxed);
      if (sampled > totals.peak_heap_bytes) totals.peak_heap_bytes = sampled;
      // Counters read mid-update (or, in counting mode, frees of a fork
      // parent's blocks) can make the sum wrap: clamped.
      totals.live_bytes = live < (1ull << 62) ? live : 0;
      if (totals.live_bytes > totals.peak_heap_bytes) totals.peak_heap_bytes = totals.live_bytes;
      const std::uint64_t rss = current_rss_bytes();
      totals.peak_rss_bytes =
          s.peak_rss.load(std::memory_order_relaxed) > rss ? s.peak_rss.load() : rss;
      totals.inherited_frees = s.inherited_frees.load(std::memory_order_relaxed);
      totals.threads = s.allocating_threads.load(std::memory_order_relaxed);
      unwinder_agreement(totals.unwind_samples, totals.unwind_agreed);
      put_section(out, SectionKind::kTotals, sizeof totals);
      out.put(totals);

      // Maps remembered before libraries were unloaded come first, the
      // current ones last (a reader lets later mappings win).
      std::uint64_t history_bytes = 0;
      const char* history = remembered_maps(history_bytes);
      const std::uint64_t maps = proc_file_size("/proc/self/maps");
      put_section(out, SectionKind::kMaps, history_bytes + maps);
      if (history_bytes != 0) out.put(history, history_bytes);
      copy_proc_file(out, "/proc/self/maps", maps);
      const std::uint64_t cmdline = proc_file_size("/proc/self/cmdline");
      put_section(out, SectionKind::kCmdline, cmdline);
      copy_proc_file(out, "/proc/self/cmdline", cmdline);

      // Entries published after the sizing pass are left for the next dump.
      put_section(out, SectionKind::kStacks, stacks_bytes);
      std::uint64_t written = 0;
      for (std::uint32_t t = 0; t < tables && written < stacks_bytes; ++t) {
        const ThreadTable* table = s.tables[t].load(std::memory_order_acquire);
        if (table == nullptr) continue;
        const std::uint32_t published = table->published.load(std::memory_order_acquire);
        for (std::uint32_t e = 0; e < published && written < stacks_bytes; ++e) {
          const StackEntry& entry = table->entries[e];
          DumpStack stack{};
          stack.allocs = entry_allocs(*table, e);
          stack.frees = entry_frees(entry);
          if (stack.allocs == 0 && stack.frees == 0) continue;
          const std::uint64_t size = sizeof(DumpStack) + sizeof(std::uint64_t) * entry.depth;
          if (written + size > stacks_bytes) break;
          stack.depth = entry.depth;
          stack.bytes = entry_bytes(*table, e);
          stack.bytes_freed = entry_bytes_freed(entry);
          stack.temporary = entry.temporary.get();
          out.put(stack);
          out.put(&table->frames[entry.frames_at], sizeof(std::uint64_t) * entry.depth);
          written += size;
        }
      }
      // A counter that became non-zero between the passes can leave a gap: pad
      // with empty stacks (depth 0, no counts) which readers skip.
      while (written + sizeof(DumpStack) <= stacks_bytes) {
        out.put(DumpStack{});
        written += sizeof(DumpStack);
      }
      for (; written < stacks_bytes; ++written) out.put(static_cast<char>(0));

      std::uint64_t samples = 0;
      const DumpSample* timeline = timeline_samples(samples);
      put_section(out, SectionKind::kTimeline, samples * sizeof(DumpSample));
      out.put(timeline, samples * sizeof(DumpSample));
      if (const char* note = allocator_note(); note[0] != '\0') {
        put_section(out, SectionKind::kAllocator, std::strlen(note));
        out.put(note, std::strlen(note));
      }
      put_section(out, SectionKind::kEnd, 0);
      out.flush();
      if (out.failed()) {
        ::close(fd);
        ::unlink(temp);
        --tls.guard;
        unlock_dumps();
        return;
      }
    }
    ::close(fd);
    ::rename(temp, s.config.dump_path);
  }
  --tls.guard;
  unlock_dumps();
}

}  // namespace perflab::track::record
