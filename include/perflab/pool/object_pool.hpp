// ObjectPool<T>: reuse of objects across requests, the C++ counterpart of Go's
// sync.Pool. Users include <perflab/pool.hpp>; this file is part of it.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "perflab/pool/detail/pool_core.hpp"
#include "perflab/pool/options.hpp"

namespace perflab {

/// The default reset hook: leaves a returned object as it is.
struct NoReset {
  template <class T>
  void operator()(T&) const noexcept {}
};

/// A reset hook that calls `clear()`, for strings, vectors, maps and the like.
struct ClearReset {
  template <class T>
  void operator()(T& object) const noexcept(noexcept(object.clear())) {
    object.clear();
  }
};

template <class T, class Reset>
class ObjectPool;

/// Move-only handle to an object taken from an ObjectPool; gives it back when
/// destroyed, so an object cannot be forgotten on an early return or exception.
/// Precondition: the handle does not outlive its pool.
/// Thread-safety: a handle may be moved to and destroyed on any thread.
template <class T, class Reset = NoReset>
class Pooled {
 public:
  Pooled() noexcept = default;
  Pooled(Pooled&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)),
        object_(std::exchange(other.object_, nullptr)) {}
  Pooled& operator=(Pooled&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = std::exchange(other.pool_, nullptr);
      object_ = std::exchange(other.object_, nullptr);
    }
    return *this;
  }
  Pooled(const Pooled&) = delete;
  Pooled& operator=(const Pooled&) = delete;
  ~Pooled() { reset(); }

  T& operator*() const noexcept { return *object_; }
  T* operator->() const noexcept { return object_; }
  T* get() const noexcept { return object_; }
  explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Gives the object back now (running the pool's reset hook); the handle
  /// becomes empty. Does nothing on an empty handle.
  void reset() noexcept {
    if (object_ != nullptr) pool_->put(std::exchange(object_, nullptr));
  }

  /// Takes the object out of the handle without giving it back. The caller
  /// must later pass it to the pool's put() (or count it as a leak).
  [[nodiscard]] T* release() noexcept { return std::exchange(object_, nullptr); }

 private:
  friend class ObjectPool<T, Reset>;
  Pooled(ObjectPool<T, Reset>* pool, T* object) noexcept : pool_(pool), object_(object) {}

  ObjectPool<T, Reset>* pool_ = nullptr;
  T* object_ = nullptr;
};

/// A pool of reusable T objects.
///
/// get() hands out an idle object (a hit) or constructs a new one (a miss, so
/// the pool never runs dry); returning an object runs the Reset hook on it and
/// keeps it for reuse, up to the idle caps of PoolOptions, beyond which it is
/// destroyed and counted as a drop. Each thread keeps a small cache reached
/// without locks or atomic read-modify-writes; caches exchange batches with a
/// shared depot under a mutex. A thread's cache goes back to the depot when the
/// thread exits.
///
/// Reset is a callable `void(T&)` run on every returned object; it must not
/// throw. Objects are made by the factory given to the constructor (default
/// `new T()`), which must return memory from `new`: the pool deletes them.
///
/// Thread-safety: get, take, put, stats, trim and prewarm may be called from
/// any threads at once; an object may be returned on another thread than the
/// one it was taken on.
/// Preconditions: the pool outlives every handle and raw object taken from it;
/// no thread uses the pool while it is being destroyed. Objects are destroyed
/// with no lock held, so T may itself hold objects of this or other pools.
/// Destroying a pool with objects still out calls PoolOptions::on_leak (with
/// the sites they were taken at when track_sites).
template <class T, class Reset = NoReset>
class ObjectPool {
 public:
  using Handle = Pooled<T, Reset>;
  using Factory = std::function<T*()>;

  /// Throws std::invalid_argument when options are inconsistent (min_idle above
  /// max_idle_shared, max_idle_per_thread above 2^20).
  explicit ObjectPool(PoolOptions options = {}, Reset reset = Reset{}, Factory factory = nullptr)
      : reset_(std::move(reset)),
        factory_(std::move(factory)),
        core_(std::move(options), detail::ItemHooks{&ObjectPool::create_item,
                                                    &ObjectPool::destroy_item, this, sizeof(T)}) {}

  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  /// An object in a handle that gives it back on destruction. Throws what the
  /// factory (T's constructor) throws on a miss; never throws on a hit.
  [[nodiscard]] Handle get(SourceLocation where = SourceLocation::current()) {
    return Handle(this, take(where));
  }

  /// An object the caller must give back with put(). Same errors as get().
  [[nodiscard]] T* take(SourceLocation where = SourceLocation::current()) {
    return static_cast<T*>(core_.get(where));
  }

  /// Gives back an object from get()/take() of this pool: runs the reset hook
  /// and keeps it for reuse, or destroys it when the idle caps are reached.
  /// Precondition: object came from this pool and is not already back.
  void put(T* object) noexcept {
    reset_(*object);
    core_.put(object);
  }

  /// Counters summed over all threads. Takes the depot lock; not for hot paths.
  PoolStats stats() const { return core_.stats(); }

  /// Frees idle objects down to PoolOptions::min_idle: the depot and the
  /// calling thread's cache. Other threads' caches stay theirs (at most
  /// max_idle_per_thread each) until those threads exit.
  void trim() { core_.trim(); }

  /// Constructs `objects` idle objects into the depot now (up to
  /// max_idle_shared), so the first gets under load are hits. Throws what the
  /// factory throws, after destroying what it made.
  void prewarm(std::size_t objects) { core_.prewarm(objects); }

  const PoolOptions& options() const noexcept { return core_.options(); }

 private:
  static void* create_item(void* context) {
    auto* self = static_cast<ObjectPool*>(context);
    return self->factory_ ? self->factory_() : new T();
  }
  static void destroy_item(void*, void* item) noexcept { delete static_cast<T*>(item); }

  [[no_unique_address]] Reset reset_;
  Factory factory_;
  detail::PoolCore core_;  // last: destroyed first, while reset_ and factory_ live
};

/// Builds an ObjectPool whose reset hook type is deduced, e.g.
/// `auto pool = make_object_pool<Row>(opts, [](Row& r) { r.clear(); });`
/// (returned through a unique_ptr because a pool cannot move).
template <class T, class Reset>
std::unique_ptr<ObjectPool<T, Reset>> make_object_pool(PoolOptions options, Reset reset) {
  return std::make_unique<ObjectPool<T, Reset>>(std::move(options), std::move(reset));
}

}  // namespace perflab
