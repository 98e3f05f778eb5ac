// BufferPool and Buffer: reusable byte buffers in size classes, for JSON
// output, key encoding and I/O scratch. Users include <perflab/pool.hpp>.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "perflab/pool/detail/pool_core.hpp"
#include "perflab/pool/options.hpp"

namespace perflab {

class BufferPool;

/// A growable byte buffer whose memory comes from a BufferPool (or the heap
/// when default-constructed) and goes back to it on destruction.
/// Move-only. Thread-safety: one thread at a time per Buffer; it may move to
/// and be destroyed on another thread. Precondition: it does not outlive its pool.
class Buffer {
 public:
  /// An empty buffer with no pool: growing it allocates from the heap.
  Buffer() noexcept = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release_block(); }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  std::string_view view() const noexcept { return {data_, size_}; }
  std::string str() const { return std::string(data_, size_); }

  /// Size 0; the capacity stays.
  void clear() noexcept { size_ = 0; }

  /// Makes capacity() >= bytes, moving the contents to a block of a larger
  /// size class. Throws std::bad_alloc when memory runs out.
  void reserve(std::size_t bytes) {
    if (bytes > capacity_) grow_to(bytes);
  }

  /// Sets the size; new bytes are zero.
  void resize(std::size_t bytes) {
    reserve(bytes);
    if (bytes > size_) std::memset(data_ + size_, 0, bytes - size_);
    size_ = bytes;
  }

  /// Appends `bytes` uninitialized bytes and returns where they start, for a
  /// read(2) or an encoder to fill. Shrink back with resize() if fewer were used.
  char* extend(std::size_t bytes) {
    reserve(size_ + bytes);
    char* at = data_ + size_;
    size_ += bytes;
    return at;
  }

  /// Appends n bytes. `bytes` may point into this buffer itself.
  void append(const void* bytes, std::size_t n) {
    if (size_ + n > capacity_) [[unlikely]] {
      append_slow(static_cast<const char*>(bytes), n);
      return;
    }
    if (n != 0) std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  void append(std::string_view text) { append(text.data(), text.size()); }
  void push_back(char c) {
    if (size_ == capacity_) [[unlikely]]
      grow_to(size_ + 1);
    data_[size_++] = c;
  }
  Buffer& operator+=(std::string_view text) {
    append(text);
    return *this;
  }

  /// Gives the memory back to the pool now; the buffer becomes empty, with no
  /// capacity, and may be reused (it then allocates from its pool again).
  void reset() noexcept {
    release_block();
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

 private:
  friend class BufferPool;
  Buffer(BufferPool* pool, char* data, std::size_t capacity, SourceLocation where) noexcept
      : pool_(pool), data_(data), capacity_(capacity), where_(where) {}
  void grow_to(std::size_t bytes);
  void append_slow(const char* bytes, std::size_t n);
  void release_block() noexcept;

  BufferPool* pool_ = nullptr;
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  SourceLocation where_;  // where get() was called: a larger block is taken "there" too
};

/// Settings of a BufferPool. Size-class bounds must be powers of two.
struct BufferPoolOptions {
  /// Registry name; the pool appears once per size class (label size_class).
  std::string name;
  /// The registry a named pool joins; nullptr means PoolRegistry::global().
  PoolRegistry* registry = nullptr;
  std::size_t min_class_bytes = 256;        // smallest block handed out
  std::size_t max_class_bytes = 64 * 1024;  // larger buffers bypass the pool
  std::size_t max_idle_per_thread = 16;     // blocks per size class per thread
  std::size_t max_idle_shared = 256;        // blocks per size class in the depot
  std::size_t min_idle = 0;                 // blocks per size class trim() keeps
  bool track_sites = PoolOptions{}.track_sites;
  std::function<void(const LeakReport&)> on_leak;
};

/// Byte blocks in power-of-two size classes (256 B to 64 KiB by default),
/// handed out as Buffers. A buffer returns to the class of its capacity; a
/// request above max_class_bytes bypasses the pool: it is allocated from the
/// heap and freed on return, and counted as a miss and then a drop.
///
/// Thread-safety: every member may be called from any threads at once.
/// Preconditions: the pool outlives its buffers; it is not used while being
/// destroyed. Destroying it with buffers out reports a leak per size class.
class BufferPool {
 public:
  /// Throws std::invalid_argument when a class bound is not a power of two or
  /// min_class_bytes > max_class_bytes.
  explicit BufferPool(BufferPoolOptions options = {});
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// An empty buffer with capacity() >= min_capacity (at least the smallest
  /// class). Throws std::bad_alloc when memory runs out; never on a hit.
  [[nodiscard]] Buffer get(std::size_t min_capacity = 0,
                           SourceLocation where = SourceLocation::current());

  /// Counters of every size class plus the bypassing buffers.
  PoolStats stats() const;
  std::size_t class_count() const noexcept { return classes_.size(); }
  std::size_t class_bytes(std::size_t index) const noexcept {
    return options_.min_class_bytes << index;
  }
  /// Counters of one size class. Precondition: index < class_count().
  PoolStats class_stats(std::size_t index) const { return classes_[index]->stats(); }

  /// Frees idle blocks down to min_idle per class (see ObjectPool::trim).
  void trim();

  const BufferPoolOptions& options() const noexcept { return options_; }

 private:
  friend class Buffer;
  // Index of the smallest class holding `bytes`, or class_count() if none does.
  std::size_t class_of(std::size_t bytes) const noexcept;
  char* take_block(std::size_t bytes, std::size_t& capacity, const SourceLocation& where);
  void give_block(char* block, std::size_t capacity) noexcept;
  PoolStats oversize_stats() const noexcept;
  void report_leak(const LeakReport& report, const std::string& size_class) const;

  BufferPoolOptions options_;
  unsigned min_shift_;
  std::unique_ptr<std::size_t[]> class_sizes_;  // block size per class, stable addresses
  std::vector<std::unique_ptr<detail::PoolCore>> classes_;
  std::atomic<std::uint64_t> oversize_gets_{0};
  std::atomic<std::uint64_t> oversize_returns_{0};
  std::uint64_t registry_id_ = 0;
};

}  // namespace perflab
