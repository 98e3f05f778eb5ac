#include "perflab/pool/buffer_pool.hpp"

#include <bit>
#include <new>
#include <stdexcept>
#include <utility>

#include "perflab/pool/registry.hpp"

namespace perflab {
namespace {

void* new_block(void* context) { return ::operator new(*static_cast<const std::size_t*>(context)); }
void delete_block(void*, void* block) noexcept { ::operator delete(block); }

}  // namespace

void Buffer::append_slow(const char* bytes, std::size_t n) {
  // The source may lie inside this buffer (b.append(b.view())): growing frees
  // the old block, so re-base the source onto the new one.
  const bool inside = data_ != nullptr && bytes >= data_ && bytes < data_ + size_;
  const std::size_t offset = inside ? static_cast<std::size_t>(bytes - data_) : 0;
  grow_to(size_ + n);
  if (inside) bytes = data_ + offset;
  std::memcpy(data_ + size_, bytes, n);
  size_ += n;
}

Buffer::Buffer(Buffer&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      where_(other.where_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release_block();
    pool_ = std::exchange(other.pool_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    where_ = other.where_;
  }
  return *this;
}

void Buffer::grow_to(std::size_t bytes) {
  // Doubling keeps appends amortized O(1) across size classes.
  const std::size_t wanted = std::max(bytes, capacity_ * 2);
  std::size_t capacity = 0;
  char* block = nullptr;
  if (pool_ != nullptr) {
    block = pool_->take_block(wanted, capacity, where_);
  } else {
    block = static_cast<char*>(::operator new(wanted));
    capacity = wanted;
  }
  if (size_ != 0) std::memcpy(block, data_, size_);
  release_block();
  data_ = block;
  capacity_ = capacity;
}

void Buffer::release_block() noexcept {
  if (data_ == nullptr) return;
  if (pool_ != nullptr) {
    pool_->give_block(data_, capacity_);
  } else {
    ::operator delete(data_);
  }
}

BufferPool::BufferPool(BufferPoolOptions options) : options_(std::move(options)) {
  if (!std::has_single_bit(options_.min_class_bytes) ||
      !std::has_single_bit(options_.max_class_bytes))
    throw std::invalid_argument(
        "perflab BufferPool: min_class_bytes and max_class_bytes must be powers of two");
  if (options_.min_class_bytes > options_.max_class_bytes)
    throw std::invalid_argument("perflab BufferPool: min_class_bytes exceeds max_class_bytes");
  min_shift_ = static_cast<unsigned>(std::countr_zero(options_.min_class_bytes));
  const std::size_t classes =
      static_cast<std::size_t>(std::countr_zero(options_.max_class_bytes)) - min_shift_ + 1;
  // Each class core reads its block size through the hooks' context pointer;
  // the sizes live in a stable array so the pointers stay valid.
  class_sizes_ = std::make_unique<std::size_t[]>(classes);
  for (std::size_t i = 0; i < classes; ++i) {
    class_sizes_[i] = options_.min_class_bytes << i;
    PoolOptions per_class;
    per_class.max_idle_per_thread = options_.max_idle_per_thread;
    per_class.max_idle_shared = options_.max_idle_shared;
    per_class.min_idle = options_.min_idle;
    per_class.track_sites = options_.track_sites;
    // Class cores stay out of the registry (the pool registers once for all
    // classes below) but their leak reports carry the pool's name and class.
    per_class.on_leak = [this, size = class_sizes_[i]](const LeakReport& report) {
      report_leak(report, std::to_string(size));
    };
    classes_.push_back(std::make_unique<detail::PoolCore>(
        std::move(per_class),
        detail::ItemHooks{&new_block, &delete_block, &class_sizes_[i], class_sizes_[i]}));
  }
  if (!options_.name.empty()) {
    PoolRegistry& registry =
        options_.registry != nullptr ? *options_.registry : PoolRegistry::global();
    registry_id_ = registry.add([this](std::vector<PoolRegistry::Entry>& out) {
      for (std::size_t i = 0; i < classes_.size(); ++i) {
        out.push_back(PoolRegistry::Entry{options_.name, std::to_string(class_bytes(i)),
                                          classes_[i]->stats()});
      }
      out.push_back(PoolRegistry::Entry{options_.name, "oversize", oversize_stats()});
    });
  }
}

BufferPool::~BufferPool() {
  if (registry_id_ != 0) {
    PoolRegistry& registry =
        options_.registry != nullptr ? *options_.registry : PoolRegistry::global();
    registry.remove(registry_id_);
  }
  const PoolStats oversize = oversize_stats();
  if (oversize.in_use > 0) {
    // Sites of oversize buffers are not tracked: they never enter a class core.
    report_leak(LeakReport{{}, oversize.in_use, {}}, "oversize");
  }
  classes_.clear();  // class cores report their own leaks, while options_ lives
}

void BufferPool::report_leak(const LeakReport& report, const std::string& size_class) const {
  LeakReport labeled = report;
  labeled.pool = (options_.name.empty() ? std::string("(unnamed buffer pool)") : options_.name) +
                 " size_class=" + size_class;
  if (options_.on_leak) {
    options_.on_leak(labeled);
  } else {
    print_leak_report(labeled);
  }
}

PoolStats BufferPool::oversize_stats() const noexcept {
  // Every oversize buffer is a miss when taken and a drop when returned.
  PoolStats s;
  s.gets = s.misses = oversize_gets_.load(std::memory_order_relaxed);
  s.returns = s.drops = oversize_returns_.load(std::memory_order_relaxed);
  s.in_use = static_cast<std::int64_t>(s.gets) - static_cast<std::int64_t>(s.returns);
  return s;
}

std::size_t BufferPool::class_of(std::size_t bytes) const noexcept {
  if (bytes <= options_.min_class_bytes) return 0;
  if (bytes > options_.max_class_bytes) return classes_.size();
  return static_cast<std::size_t>(std::bit_width(bytes - 1)) - min_shift_;
}

Buffer BufferPool::get(std::size_t min_capacity, SourceLocation where) {
  std::size_t capacity = 0;
  char* block = take_block(min_capacity, capacity, where);
  return Buffer(this, block, capacity, where);
}

char* BufferPool::take_block(std::size_t bytes, std::size_t& capacity,
                             const SourceLocation& where) {
  const std::size_t index = class_of(bytes);
  if (index == classes_.size()) {
    oversize_gets_.fetch_add(1, std::memory_order_relaxed);
    capacity = bytes;
    return static_cast<char*>(::operator new(bytes));
  }
  capacity = class_sizes_[index];
  return static_cast<char*>(classes_[index]->get(where));
}

void BufferPool::give_block(char* block, std::size_t capacity) noexcept {
  const std::size_t index = class_of(capacity);
  if (index == classes_.size()) {
    oversize_returns_.fetch_add(1, std::memory_order_relaxed);
    ::operator delete(block);
    return;
  }
  classes_[index]->put(block);
}

PoolStats BufferPool::stats() const {
  PoolStats total;
  for (const auto& core : classes_) total += core->stats();
  total += oversize_stats();
  return total;
}

void BufferPool::trim() {
  for (auto& core : classes_) core->trim();
}

}  // namespace perflab
