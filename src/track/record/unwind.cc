// Stack capture: a frame-pointer walk when the program keeps frame pointers
// (cheap: two loads a frame), libunwind otherwise. In auto mode the first
// samples are walked both ways and frame pointers are chosen only if they
// agree with libunwind.
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <algorithm>
#include <cstring>

#include "thread_state.hpp"

namespace perflab::track::record {
namespace {

// Every kAutoStride-th stack is walked both ways until kAutoSamples are
// compared: spread out, so the startup allocations of the loader and libc
// (built without frame pointers) do not decide for the whole program.
constexpr std::uint32_t kAutoSamples = 256;
constexpr std::uint32_t kAutoStride = 16;
std::atomic<std::uint32_t> g_auto_calls{0};
std::atomic<std::uint32_t> g_auto_seen{0};
std::atomic<std::uint32_t> g_auto_agreed{0};

bool is_own_code(void* address) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  const State& s = state();
  return a >= s.self_text_begin && a < s.self_text_end;
}

// Drops the recorder's own frames from the front of a captured stack.
int skip_own_frames(void** frames, int depth) noexcept {
  int skip = 0;
  while (skip < depth && is_own_code(frames[skip])) ++skip;
  if (skip > 0)
    std::memmove(frames, frames + skip, sizeof(void*) * static_cast<std::size_t>(depth - skip));
  return depth - skip;
}

// Follows saved frame pointers, hashing the frames as it goes (the multiply
// chain overlaps the chain of loads). Every frame address must lie on this
// thread's stack, above the previous one: a function built without frame
// pointers that uses rbp for data then ends the walk instead of sending it
// into the weeds.
[[gnu::noinline]] int walk_frame_pointers(void** frames, int max_depth, std::uint64_t& hash,
                                          void* start = nullptr) noexcept {
  auto* fp = static_cast<std::uintptr_t*>(start != nullptr ? start : __builtin_frame_address(0));
  const std::uintptr_t low = reinterpret_cast<std::uintptr_t>(fp);
  const std::uintptr_t high = tls.stack_high != 0 ? tls.stack_high : low + (8u << 20);
  int depth = 0;
  std::uint64_t h = 0;
  while (depth < max_depth) {
    const auto at = reinterpret_cast<std::uintptr_t>(fp);
    if (at < low || at + 16 > high || (at & 7) != 0) break;
    const std::uintptr_t ret = fp[1];
    if (ret < 4096) break;
    // The recorder's own frames are innermost: leave them out as we go.
    if (depth != 0 || !is_own_code(reinterpret_cast<void*>(ret))) {
      void* call_site = reinterpret_cast<void*>(ret - 1);  // not the next instruction
      frames[depth++] = call_site;
      h = stack_hash_step(h, call_site);
    }
    const std::uintptr_t next = fp[0];
    if (next <= at) break;
    fp = reinterpret_cast<std::uintptr_t*>(next);
  }
  hash = stack_hash_finish(h);
  return depth;
}

[[gnu::noinline]] int walk_libunwind(void** frames, int max_depth) noexcept {
  const int depth = unw_backtrace(frames, max_depth);
  // unw_backtrace reports return addresses (the innermost is our own IP).
  for (int i = 0; i < depth; ++i) frames[i] = static_cast<char*>(frames[i]) - 1;
  return depth < 0 ? 0 : depth;
}

// The frame-pointer walk agrees with libunwind when it gives the same frames
// and stops at most a few short of it: the walk ends where code without frame
// pointers begins, which in a program built with them is libc's start-up code
// calling main (__libc_start_call_main, __libc_start_main, _start).
bool walks_agree(void* const* by_fp, int fp_depth, void* const* by_libunwind, int depth) noexcept {
  constexpr int kStartupFrames = 3;
  return fp_depth >= 2 && fp_depth <= depth && depth - fp_depth <= kStartupFrames &&
         std::memcmp(by_fp, by_libunwind, sizeof(void*) * static_cast<std::size_t>(fp_depth)) == 0;
}

// Walks the caller's stack, skipping the recorder's own frames.
int capture_stack(void** frames, int max_depth) noexcept {
  State& s = state();
  // Without known stack bounds a frame-pointer walk is not safe.
  if (tls.stack_high == 0) return skip_own_frames(frames, walk_libunwind(frames, max_depth));
  if (s.deciding_unwinder.load(std::memory_order_relaxed)) {
    if (g_auto_calls.fetch_add(1, std::memory_order_relaxed) % kAutoStride != 0)
      return skip_own_frames(frames, walk_libunwind(frames, max_depth));
    const std::uint32_t seen = g_auto_seen.fetch_add(1, std::memory_order_relaxed);
    if (seen < kAutoSamples) {
      void* by_fp[kMaxDepth];
      std::uint64_t unused_hash = 0;
      const int fp_depth = walk_frame_pointers(by_fp, kMaxDepth, unused_hash);
      const int depth = skip_own_frames(frames, walk_libunwind(frames, max_depth));
      if (walks_agree(by_fp, fp_depth, frames, depth))
        g_auto_agreed.fetch_add(1, std::memory_order_relaxed);
      if (seen + 1 == kAutoSamples) {
        // Frame pointers only when (nearly) every sample agreed.
        const bool use_fp =
            g_auto_agreed.load(std::memory_order_relaxed) * 100 >= kAutoSamples * 95;
        s.unwinder.store(use_fp ? DumpUnwinder::kFramePointer : DumpUnwinder::kLibunwind,
                         std::memory_order_relaxed);
        s.deciding_unwinder.store(false, std::memory_order_relaxed);
      }
      return depth;
    }
  }
  return skip_own_frames(frames, walk_libunwind(frames, max_depth));
}

}  // namespace

std::uint32_t caller_stack(ThreadTable& table, void* entry_frame) noexcept {
  State& s = state();
  void* frames[kMaxDepth];
  if (tls.stack_high != 0 && !s.deciding_unwinder.load(std::memory_order_relaxed) &&
      s.unwinder.load(std::memory_order_relaxed) == DumpUnwinder::kFramePointer) [[likely]] {
    std::uint64_t hash = 0;
    const int depth = walk_frame_pointers(frames, kMaxDepth, hash, entry_frame);
    return intern_stack(table, frames, depth, hash);
  }
  ++tls.guard;  // libunwind may allocate
  const int depth = capture_stack(frames, kMaxDepth);
  --tls.guard;
  return intern_stack(table, frames, depth, stack_hash(frames, depth));
}

void unwinder_agreement(std::uint64_t& samples, std::uint64_t& agreed) noexcept {
  samples = std::min(g_auto_seen.load(std::memory_order_relaxed), kAutoSamples);
  agreed = g_auto_agreed.load(std::memory_order_relaxed);
}

}  // namespace perflab::track::record
