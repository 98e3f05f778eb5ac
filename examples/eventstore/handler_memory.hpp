// Per-connection memory for Asio's operation state, for the pooled mode.
// Every asynchronous operation (a read, a write, a post) needs a block for its
// state until it completes; by default Asio keeps one such block per thread
// for reuse, which a read and a write of different sizes keep trading away,
// costing a heap allocation per request. A connection has one operation
// pending at a time, so two blocks of its own cover every request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace eventstore {

/// Two fixed blocks, with the heap as overflow (a larger or a third
/// operation). Thread-safety: one thread at a time (the connection's).
class HandlerMemory {
 public:
  static constexpr std::size_t kBlockBytes = 1024;

  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* allocate(std::size_t bytes) {
    if (bytes <= kBlockBytes) {
      for (Block& block : blocks_) {
        if (!block.used) {
          block.used = true;
          return block.bytes;
        }
      }
    }
    ++overflows_;
    return ::operator new(bytes);
  }

  void deallocate(void* pointer) noexcept {
    for (Block& block : blocks_) {
      if (pointer == block.bytes) {
        block.used = false;
        return;
      }
    }
    ::operator delete(pointer);
  }

  /// Operations that did not fit in the blocks.
  std::uint64_t overflows() const noexcept { return overflows_; }

 private:
  struct Block {
    alignas(std::max_align_t) std::byte bytes[kBlockBytes];
    bool used = false;
  };
  Block blocks_[2];
  std::uint64_t overflows_ = 0;
};

/// The allocator Asio finds on a handler (its associated allocator) and
/// allocates the operation's state with.
template <class T>
class HandlerAllocator {
 public:
  using value_type = T;

  explicit HandlerAllocator(HandlerMemory& memory) noexcept : memory_(&memory) {}
  template <class U>
  HandlerAllocator(const HandlerAllocator<U>& other) noexcept : memory_(other.memory()) {}

  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(n * sizeof(T))); }
  void deallocate(T* pointer, std::size_t) noexcept { memory_->deallocate(pointer); }

  HandlerMemory* memory() const noexcept { return memory_; }

  template <class U>
  bool operator==(const HandlerAllocator<U>& other) const noexcept {
    return memory_ == other.memory();
  }
  template <class U>
  bool operator!=(const HandlerAllocator<U>& other) const noexcept {
    return memory_ != other.memory();
  }

 private:
  HandlerMemory* memory_;
};

/// A completion handler with HandlerMemory as its associated allocator
/// (Boost 1.74 has no asio::bind_allocator). Beast's composed operations
/// pass the allocator on to every operation they start.
template <class Handler>
class MemoryBoundHandler {
 public:
  using allocator_type = HandlerAllocator<void>;

  MemoryBoundHandler(HandlerMemory& memory, Handler handler)
      : memory_(&memory), handler_(std::move(handler)) {}

  allocator_type get_allocator() const noexcept { return allocator_type(*memory_); }

  template <class... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerMemory* memory_;
  Handler handler_;
};

template <class Handler>
MemoryBoundHandler<std::decay_t<Handler>> bind_memory(HandlerMemory& memory, Handler&& handler) {
  return MemoryBoundHandler<std::decay_t<Handler>>(memory, std::forward<Handler>(handler));
}

}  // namespace eventstore
