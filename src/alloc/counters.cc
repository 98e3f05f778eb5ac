// Slot ownership (claim on a thread's first call, fold on its exit, fork),
// the slow paths of the hot path, the process-wide sum and precise peak mode.
//
// Nothing here may allocate: every function can run inside malloc.
#include "counters.hpp"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

// Test seam: tests/alloc_programs/fork_counts.cc defines it to hold a thread
// half-way through a fold while another thread forks. Weak and undefined in
// every other program, so a fold pays one load and a branch for it.
extern "C" __attribute__((weak, visibility("default"))) void perflab_alloc_test_mid_fold() noexcept;

namespace perflab::alloc_internal {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// What a thread with tls_slot == nullptr is doing; decides where its calls go.
enum class SlotState : std::uint8_t {
  kNone = 0,  // has not claimed a slot yet
  kClaiming,  // inside claim_slot (recursion guard)
  kRetired,   // exited (key destructor ran) or no slot was free
};

constinit AllocSlot slots[kMaxSlots];
// One past the highest slot ever claimed; readers sum slots below it.
constinit std::atomic<std::size_t> slots_used{0};

// Counters of exited threads and of threads without a slot, added atomically
// (rare: thread exit, or calls made after a thread's slot was folded).
struct RetiredTotals {
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> bytes_allocated{0};
  std::atomic<std::uint64_t> bytes_freed{0};
  std::atomic<std::int64_t> live{0};
  std::atomic<std::int64_t> peak_sum{0};
};
constinit RetiredTotals retired;

// A sequence lock for readers: a fold increments folds_started before it
// moves a slot into `retired` and folds_finished after, and a reader retries
// when a fold overlapped its sum.
constinit std::atomic<std::uint64_t> folds_started{0};
constinit std::atomic<std::uint64_t> folds_finished{0};

// Held by each fold and across fork(), so a child never inherits a half-done
// fold: it would count part of a slot twice, and readers would wait forever
// for a folds_finished increment no thread of the child will make. Folds are
// rare (thread exit) and short, so a spin lock does; readers never take it.
constinit std::atomic<bool> fold_lock{false};

constinit std::atomic<std::int64_t> precise_live_bytes{0};
constinit std::atomic<std::int64_t> precise_peak_bytes{0};

__thread SlotState tls_state __attribute__((tls_model("initial-exec")));

pthread_once_t key_once = PTHREAD_ONCE_INIT;
pthread_key_t exit_key;
bool exit_key_ok = false;

void lock_folds() noexcept {
  while (fold_lock.exchange(true, std::memory_order_acquire)) sched_yield();
}

void unlock_folds() noexcept { fold_lock.store(false, std::memory_order_release); }

// REQUIRES: the fold lock is held.
void fold_slot(AllocSlot& slot) noexcept {
  folds_started.fetch_add(1, kRelaxed);
  // Orders the increment above before the slot and retired stores below, so a
  // reader that sees any of them also sees folds_started move.
  std::atomic_thread_fence(std::memory_order_release);
  retired.allocs.fetch_add(slot.allocs.load(kRelaxed), kRelaxed);
  retired.frees.fetch_add(slot.frees.load(kRelaxed), kRelaxed);
  retired.bytes_allocated.fetch_add(slot.bytes_allocated.load(kRelaxed), kRelaxed);
  retired.bytes_freed.fetch_add(slot.bytes_freed.load(kRelaxed), kRelaxed);
  retired.live.fetch_add(slot.live.load(kRelaxed), kRelaxed);
  retired.peak_sum.fetch_add(slot.peak.load(kRelaxed), kRelaxed);
  if (&perflab_alloc_test_mid_fold != nullptr) perflab_alloc_test_mid_fold();
  slot.allocs.store(0, kRelaxed);
  slot.frees.store(0, kRelaxed);
  slot.bytes_allocated.store(0, kRelaxed);
  slot.bytes_freed.store(0, kRelaxed);
  slot.live.store(0, kRelaxed);
  slot.peak.store(0, kRelaxed);
  slot.mark_peak.store(0, kRelaxed);
  folds_finished.fetch_add(1, std::memory_order_release);
}

// Key destructor: runs in the exiting thread after its C++ thread_local
// destructors. Later calls of that thread go to the retired totals.
void on_thread_exit(void* value) noexcept {
  auto* slot = static_cast<AllocSlot*>(value);
  tls_slot = nullptr;
  tls_state = SlotState::kRetired;
  lock_folds();
  fold_slot(*slot);
  unlock_folds();
  slot->in_use.store(false, std::memory_order_release);
}

// fork() handlers. glibc runs the prepare handler before it takes its own
// malloc locks, and no fold waits for anything, so this cannot deadlock.
void on_fork_prepare() noexcept { lock_folds(); }

void on_fork_parent() noexcept { unlock_folds(); }

// The child has one thread, the one that called fork(). The slots of the
// parent's other threads belong to nobody now: fold them into the retired
// totals, as their exit would have, so the child's process counts continue
// from the parent's at the fork and the slots are free for the child's own
// threads. The forking thread keeps its slot and its counts.
void on_fork_child() noexcept {
  const AllocSlot* own = tls_slot;
  const std::size_t used = slots_used.load(kRelaxed);
  for (std::size_t i = 0; i < used; ++i) {
    AllocSlot& slot = slots[i];
    if (&slot == own || !slot.in_use.load(kRelaxed)) continue;
    fold_slot(slot);
    slot.in_use.store(false, kRelaxed);
  }
  // The prepare handler already kept folds from being cut in half; a reader
  // must still never wait for a fold that no thread of the child will finish.
  folds_started.store(folds_finished.load(kRelaxed), kRelaxed);
  unlock_folds();
}

void create_exit_key() noexcept {
  // pthread_key_create does not allocate; a key below 32 also keeps
  // pthread_setspecific allocation-free for every thread.
  exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

// Registers the key destructor at load time rather than on the first call of
// some thread, so the key is among the first 32 of the process.
[[gnu::constructor]] void register_thread_hooks() noexcept {
  pthread_once(&key_once, create_exit_key);
  pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
}

AllocSlot* claim_slot() noexcept {
  tls_state = SlotState::kClaiming;
  pthread_once(&key_once, create_exit_key);
  for (std::size_t i = 0; i < kMaxSlots; ++i) {
    AllocSlot& slot = slots[i];
    bool expected = false;
    if (slot.in_use.load(kRelaxed) ||
        !slot.in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      continue;
    }
    std::size_t used = slots_used.load(kRelaxed);
    while (used < i + 1 && !slots_used.compare_exchange_weak(used, i + 1, kRelaxed)) {
    }
    // Published before pthread_setspecific: if that ever allocates (keys past
    // the first 32), the nested call takes the fast path instead of recursing.
    tls_slot = &slot;
    tls_state = SlotState::kNone;
    if (exit_key_ok) pthread_setspecific(exit_key, &slot);
    return &slot;
  }
  tls_state = SlotState::kRetired;
  return nullptr;
}

void raise_to(std::atomic<std::int64_t>& peak, std::int64_t value) noexcept {
  std::int64_t seen = peak.load(kRelaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, kRelaxed)) {
  }
}

}  // namespace

__thread AllocSlot* tls_slot __attribute__((tls_model("initial-exec")));
constinit std::atomic<std::uint32_t> precise_users{0};

AllocSlot* own_slot() noexcept {
  if (tls_slot != nullptr) return tls_slot;
  if (tls_state != SlotState::kNone) return nullptr;
  return claim_slot();
}

void count_alloc_slow(std::size_t requested, std::size_t usable) noexcept {
  if (tls_state == SlotState::kNone && claim_slot() != nullptr) {
    count_alloc(requested, usable);
    return;
  }
  retired.allocs.fetch_add(1, kRelaxed);
  retired.bytes_allocated.fetch_add(requested, kRelaxed);
  retired.live.fetch_add(static_cast<std::int64_t>(usable), kRelaxed);
  if (precise_users.load(kRelaxed) != 0) precise_add(static_cast<std::int64_t>(usable));
}

void count_free_slow(std::size_t usable) noexcept {
  if (tls_state == SlotState::kNone && claim_slot() != nullptr) {
    count_free(usable);
    return;
  }
  retired.frees.fetch_add(1, kRelaxed);
  retired.bytes_freed.fetch_add(usable, kRelaxed);
  retired.live.fetch_sub(static_cast<std::int64_t>(usable), kRelaxed);
  if (precise_users.load(kRelaxed) != 0) precise_add(-static_cast<std::int64_t>(usable));
}

void precise_add(std::int64_t delta) noexcept {
  const std::int64_t live = precise_live_bytes.fetch_add(delta, kRelaxed) + delta;
  if (delta > 0) raise_to(precise_peak_bytes, live);
}

AllocCounts read_slot(const AllocSlot& slot) noexcept {
  AllocCounts c;
  c.allocs = slot.allocs.load(kRelaxed);
  c.frees = slot.frees.load(kRelaxed);
  c.bytes_allocated = slot.bytes_allocated.load(kRelaxed);
  c.bytes_freed = slot.bytes_freed.load(kRelaxed);
  c.live_bytes = slot.live.load(kRelaxed);
  c.peak_live_bytes = slot.peak.load(kRelaxed);
  return c;
}

AllocCounts read_process() noexcept {
  for (;;) {
    const std::uint64_t finished = folds_finished.load(std::memory_order_acquire);
    const std::uint64_t started = folds_started.load(std::memory_order_acquire);
    if (started != finished) {  // a thread is being folded right now
      sched_yield();
      continue;
    }
    AllocCounts sum;
    sum.allocs = retired.allocs.load(kRelaxed);
    sum.frees = retired.frees.load(kRelaxed);
    sum.bytes_allocated = retired.bytes_allocated.load(kRelaxed);
    sum.bytes_freed = retired.bytes_freed.load(kRelaxed);
    sum.live_bytes = retired.live.load(kRelaxed);
    sum.peak_live_bytes = retired.peak_sum.load(kRelaxed);
    const std::size_t used = slots_used.load(kRelaxed);
    for (std::size_t i = 0; i < used; ++i) {
      const AllocCounts c = read_slot(slots[i]);
      sum.allocs += c.allocs;
      sum.frees += c.frees;
      sum.bytes_allocated += c.bytes_allocated;
      sum.bytes_freed += c.bytes_freed;
      sum.live_bytes += c.live_bytes;
      sum.peak_live_bytes += c.peak_live_bytes;
    }
    // Pairs with the release fence in fold_slot: if any value read above came
    // from a fold, the load below sees that fold's folds_started increment.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (folds_started.load(kRelaxed) == started) return sum;
  }
}

std::int64_t precise_live() noexcept { return precise_live_bytes.load(kRelaxed); }

std::int64_t precise_peak() noexcept { return precise_peak_bytes.load(kRelaxed); }

std::int64_t precise_mark() noexcept {
  return precise_peak_bytes.exchange(precise_live_bytes.load(kRelaxed), kRelaxed);
}

void precise_restore(std::int64_t peak) noexcept { raise_to(precise_peak_bytes, peak); }

}  // namespace perflab::alloc_internal
