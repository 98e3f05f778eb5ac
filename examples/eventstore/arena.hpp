// A per-connection arena for the pooled mode's HTTP header fields. Beast
// allocates every header field separately through the fields' allocator;
// with this one they come from a block the connection owns and is reset
// between requests, so parsing a request and writing a response allocate
// nothing from the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace eventstore {

/// Bump allocation from a fixed block, with the heap as overflow.
/// deallocate() of arena memory is a no-op; reset() makes the whole block
/// free again. Thread-safety: one thread at a time (a connection's).
class Arena {
 public:
  Arena(std::byte* block, std::size_t size) noexcept : block_(block), size_(size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// `bytes` aligned to alignof(std::max_align_t); from the heap when the
  /// block is used up (counted in overflows()). Throws std::bad_alloc then.
  void* allocate(std::size_t bytes) {
    constexpr std::size_t kAlign = alignof(std::max_align_t);
    const std::size_t rounded = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (rounded <= size_ - used_) {
      void* p = block_ + used_;
      used_ += rounded;
      return p;
    }
    ++overflows_;
    return ::operator new(bytes);
  }

  void deallocate(void* p) noexcept {
    const auto* byte = static_cast<const std::byte*>(p);
    // Arena memory is reclaimed by reset(); only overflow goes back to the heap.
    if (byte >= block_ && byte < block_ + size_) return;
    ::operator delete(p);
  }

  /// Makes the whole block available again. Precondition: nothing allocated
  /// from the block is in use any more.
  void reset() noexcept { used_ = 0; }

  std::size_t used() const noexcept { return used_; }
  std::uint64_t overflows() const noexcept { return overflows_; }

 private:
  std::byte* block_;
  std::size_t size_;
  std::size_t used_ = 0;
  std::uint64_t overflows_ = 0;
};

/// A std::allocator-compatible handle to an Arena. Copies share the arena.
template <class T>
class ArenaAllocator {
 public:
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  explicit ArenaAllocator(Arena& arena) noexcept : arena_(&arena) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena_(other.arena()) {}

  T* allocate(std::size_t n) { return static_cast<T*>(arena_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { arena_->deallocate(p); }

  Arena* arena() const noexcept { return arena_; }

  template <class U>
  bool operator==(const ArenaAllocator<U>& other) const noexcept {
    return arena_ == other.arena();
  }
  template <class U>
  bool operator!=(const ArenaAllocator<U>& other) const noexcept {
    return arena_ != other.arena();
  }

 private:
  Arena* arena_;
};

}  // namespace eventstore
