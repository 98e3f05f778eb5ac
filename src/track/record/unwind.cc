// Stack capture: a frame-pointer walk when the program keeps frame pointers
// (cheap: two loads a frame), libunwind otherwise. In auto mode the first
// samples are walked both ways and frame pointers are chosen only if they
// agree with libunwind.
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <cstring>

#include "thread_state.hpp"

namespace perflab::track::record {
namespace {

constexpr std::uint32_t kAutoSamples = 256;
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

// Follows saved frame pointers. Every frame address must lie on this thread's
// stack, above the previous one: a function built without frame pointers that
// uses rbp for data then ends the walk instead of sending it into the weeds.
[[gnu::noinline]] int walk_frame_pointers(void** frames, int max_depth) noexcept {
  auto* fp = static_cast<std::uintptr_t*>(__builtin_frame_address(0));
  const std::uintptr_t low = reinterpret_cast<std::uintptr_t>(fp);
  const std::uintptr_t high = tls_stack_high != 0 ? tls_stack_high : low + (8u << 20);
  int depth = 0;
  while (depth < max_depth) {
    const auto at = reinterpret_cast<std::uintptr_t>(fp);
    if (at < low || at + 16 > high || (at & 7) != 0) break;
    const std::uintptr_t ret = fp[1];
    if (ret < 4096) break;
    frames[depth++] = reinterpret_cast<void*>(ret - 1);  // the call site, not the next instruction
    const std::uintptr_t next = fp[0];
    if (next <= at) break;
    fp = reinterpret_cast<std::uintptr_t*>(next);
  }
  return depth;
}

[[gnu::noinline]] int walk_libunwind(void** frames, int max_depth) noexcept {
  const int depth = unw_backtrace(frames, max_depth);
  // unw_backtrace reports return addresses (the innermost is our own IP).
  for (int i = 0; i < depth; ++i) frames[i] = static_cast<char*>(frames[i]) - 1;
  return depth < 0 ? 0 : depth;
}

bool same_stack(void* const* a, int na, void* const* b, int nb) noexcept {
  return na == nb && std::memcmp(a, b, sizeof(void*) * static_cast<std::size_t>(na)) == 0;
}

}  // namespace

int capture_stack(void** frames, int max_depth) noexcept {
  State& s = state();
  // Without known stack bounds a frame-pointer walk is not safe.
  if (tls_stack_high == 0) return skip_own_frames(frames, walk_libunwind(frames, max_depth));
  if (s.deciding_unwinder.load(std::memory_order_relaxed)) {
    const std::uint32_t seen = g_auto_seen.fetch_add(1, std::memory_order_relaxed);
    if (seen < kAutoSamples) {
      void* by_fp[kMaxDepth];
      const int fp_depth = skip_own_frames(by_fp, walk_frame_pointers(by_fp, kMaxDepth));
      const int depth = skip_own_frames(frames, walk_libunwind(frames, max_depth));
      if (same_stack(by_fp, fp_depth, frames, depth))
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
  if (s.unwinder.load(std::memory_order_relaxed) == DumpUnwinder::kFramePointer)
    return skip_own_frames(frames, walk_frame_pointers(frames, max_depth));
  return skip_own_frames(frames, walk_libunwind(frames, max_depth));
}

}  // namespace perflab::track::record
