// In-process allocation counting.
//
// Linking perflab::alloc (libperflab_alloc.so) into an executable replaces the
// malloc family and every form of operator new/delete for the whole process:
// the library comes before libc in the symbol lookup order, counts each call
// and forwards the real work to glibc's own allocator. Nothing has to be
// called to start counting; this header only reads the counters.
//
// What counts (see docs/alloc.md for the full table):
//   - an allocation is a call that returned memory: malloc, calloc, realloc
//     and reallocarray that returned a new block, posix_memalign,
//     aligned_alloc, memalign, valloc, pvalloc and every operator new and
//     new[] form. Failed calls (nullptr, bad_alloc, ENOMEM, EINVAL) are not
//     counted; aligned_alloc fails with EINVAL unless the alignment is a
//     power of two (C17), where glibc 2.36's own rounds it up.
//   - a free is a deallocation of a non-null pointer: free, every operator
//     delete and delete[] form, and the old block of a successful realloc.
//   - realloc(p, n) with p != nullptr and n > 0 that succeeds counts one free
//     (of p) and one allocation (of n bytes), even when glibc grows p in place;
//     realloc(nullptr, n) is an allocation; realloc(p, 0) is a free (glibc
//     frees p and returns nullptr). reallocarray follows the same rules.
//   - bytes_allocated adds the bytes requested (calloc: nmemb * size);
//     bytes_freed adds malloc_usable_size() of each freed block, which is at
//     least what was requested for it.
//   - the live balance adds malloc_usable_size() of each new block and
//     subtracts it for each freed one, so requested and usable sizes never mix.
//
// Counting is per thread: each thread owns a counter slot that only it
// writes, so the hot path takes no lock and no atomic read-modify-write.
// Any thread may read any counter at any time without a data race.
#pragma once

#include <cstdint>

/// Marks perflab::alloc's exported API (the library hides everything else).
#define PERFLAB_ALLOC_API __attribute__((visibility("default")))

namespace perflab {

namespace detail {
struct AllocSlot;  // a thread's counter slot, private to src/alloc
}  // namespace detail

/// A snapshot of allocation counters, or the difference of two snapshots.
struct AllocCounts {
  std::uint64_t allocs = 0;           // allocation calls that returned memory
  std::uint64_t frees = 0;            // deallocation calls on non-null pointers
  std::uint64_t bytes_allocated = 0;  // bytes requested by those allocation calls
  std::uint64_t bytes_freed = 0;      // usable bytes of the freed blocks
  // The highest live balance reached. For thread_alloc_counts(): the highest
  // value of live_bytes since the thread started. For process_alloc_counts():
  // the sum of every thread's (live and exited) own peak, an upper bound of
  // the process peak that is exact when one thread allocates. For an
  // AllocScope: the highest rise of the live balance above its value when the
  // scope started (or restarted), never negative; exact process-wide for
  // AllocScope::Of::kProcess.
  std::int64_t peak_live_bytes = 0;
  // Usable bytes allocated minus usable bytes freed. Per thread it is a
  // balance, not ownership: a block freed by another thread than the one that
  // allocated it lowers the freeing thread's balance, which may go negative.
  std::int64_t live_bytes = 0;

  /// Returns the counter deltas `*this - earlier`: allocs, frees,
  /// bytes_allocated, bytes_freed and live_bytes subtract; peak_live_bytes is
  /// copied from *this, because a peak does not subtract (an AllocScope
  /// computes its own peak). REQUIRES: earlier was taken before *this, from
  /// the same source (same thread, or both process-wide).
  PERFLAB_ALLOC_API AllocCounts operator-(const AllocCounts& earlier) const noexcept;

  bool operator==(const AllocCounts&) const = default;
};

/// Returns the counters of the calling thread since it started.
/// Zero for a thread that has not allocated yet. If more than 4096 threads are
/// alive at once, the extra threads have no slot of their own: their calls are
/// counted in process_alloc_counts() only and this returns zeros for them.
/// Thread-safety: reads only the calling thread's slot; never allocates.
PERFLAB_ALLOC_API AllocCounts thread_alloc_counts() noexcept;

/// Returns the counters summed over every thread of the process, including
/// threads that have exited (their counters are folded into a retired total
/// when they exit). The sum is consistent with respect to exiting threads (no
/// thread is counted twice or missed) and exact when no other thread is
/// allocating at the time of the call; with concurrent allocations each field
/// is a recent value. In the child of fork() it continues from the parent's
/// totals at the fork: the parent's other threads count as exited there.
/// Thread-safety: any thread; never allocates; cost grows with the number of
/// threads that ever ran at once (one cache line each).
PERFLAB_ALLOC_API AllocCounts process_alloc_counts() noexcept;

/// Returns true when perflab's replacement is the malloc this process uses.
/// False when another replacement won the symbol lookup: a sanitizer runtime,
/// or an allocator in LD_PRELOAD (libc_malloc_debug.so included) or linked
/// before perflab::alloc. In that case the counters miss most or all
/// allocations and should not be reported; the program still runs, with
/// blocks handed out by the other allocator (see docs/alloc.md, Limits).
/// Thread-safety: any thread; never allocates.
PERFLAB_ALLOC_API bool alloc_counting_active() noexcept;

/// Counts the allocations of a code region: counts() returns what happened
/// since construction (or the last restart()).
///
///   perflab::AllocScope scope;
///   parse(request);
///   std::uint64_t n = scope.counts().allocs;
///
/// Of::kThread (the default) counts the calling thread only, at the cost of
/// a few loads; allocations made by other threads are not included.
/// Of::kProcess counts every thread, and while such a scope exists every
/// allocation in the process also updates a shared live/peak pair with an
/// atomic add (precise peak mode), so peak_live_bytes is the exact rise of the
/// process's live balance. That costs every thread a contended atomic per
/// call: use kProcess scopes for measurement runs, not around production code.
///
/// Thread-safety: counts() may be called from any thread. A kThread scope
/// must be constructed, restarted and destroyed on one thread. Scopes nest:
/// an outer scope's peak is exact once its inner scopes have been destroyed;
/// overlapping kProcess scopes on different threads give exact peaks only if
/// they nest in time (the later one ends first).
/// Never allocates. Not copyable or movable.
class PERFLAB_ALLOC_API AllocScope {
 public:
  enum class Of { kThread, kProcess };

  /// Starts counting now. A kThread scope in a thread that has no counter
  /// slot (see thread_alloc_counts()) reads zeros.
  explicit AllocScope(Of of = Of::kThread) noexcept;
  ~AllocScope();
  AllocScope(const AllocScope&) = delete;
  AllocScope& operator=(const AllocScope&) = delete;

  /// Returns the counts since construction or the last restart(); see
  /// AllocCounts::peak_live_bytes for the meaning of the peak.
  AllocCounts counts() const noexcept;

  /// Starts counting again from now, as if the scope had just been made.
  void restart() noexcept;

 private:
  Of of_;
  detail::AllocSlot* slot_ = nullptr;  // kThread: the owning thread's slot
  AllocCounts start_;
  std::int64_t outer_peak_ = 0;  // the peak mark to restore when this scope ends
};

}  // namespace perflab
