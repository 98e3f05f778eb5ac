// The headered layout's block header, and what glibc's own chunk header tells
// about a block (its usable size), for the bare layout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "recorder.hpp"

#pragma GCC visibility push(hidden)

namespace perflab::track::record {

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

inline constexpr std::size_t kHeaderBytes = sizeof(BlockHeader);

inline std::uint32_t header_check(const void* block, std::uint32_t stack) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(block);
  return static_cast<std::uint32_t>((a >> 4) ^ (a >> 36)) ^ (stack * 0x85ebca6bu) ^ 0x5bd1e995u;
}

inline BlockHeader* header_of(void* user) noexcept { return static_cast<BlockHeader*>(user) - 1; }

// The header if the block is one of ours, else nullptr.
inline BlockHeader* our_header(void* user) noexcept {
  if ((reinterpret_cast<std::uintptr_t>(user) & 15) != 0) return nullptr;
  BlockHeader* h = header_of(user);
  return h->check == header_check(user, h->stack) ? h : nullptr;
}

// Where the block glibc handed out begins (what goes back to __libc_free).
inline void* base_of(void* user, const BlockHeader& h) noexcept {
  const std::size_t offset = h.align_shift == 0 ? kHeaderBytes : std::size_t{1} << h.align_shift;
  return static_cast<char*>(user) - offset;
}

// Where the program's block begins in what glibc handed out.
inline void* user_of(void* base, unsigned align_shift) noexcept {
  return static_cast<char*>(base) +
         (align_shift == 0 ? kHeaderBytes : std::size_t{1} << align_shift);
}

inline void write_header(void* user, std::size_t size, unsigned align_shift,
                         std::uint32_t stack) noexcept {
  BlockHeader* h = header_of(user);
  h->size = size;
  h->align_shift = align_shift;
  h->generation = state().generation.load(std::memory_order_relaxed) & 0xff;
  h->stack = stack;
  h->check = header_check(user, stack);
}

// The usable size of a block __libc_malloc (or memalign, calloc, realloc)
// returned, read from glibc's chunk header just before it: the chunk size
// without its flag bits, less the size word (two words for an mmap'd chunk).
// This is what malloc_usable_size computes, without a call.
inline std::size_t glibc_usable(const void* block) noexcept {
  const std::size_t word = static_cast<const std::size_t*>(block)[-1];
  constexpr std::size_t kIsMmapped = 2;
  return (word & ~std::size_t{7}) - 8 - ((word & kIsMmapped) << 2);
}

}  // namespace perflab::track::record

#pragma GCC visibility pop
