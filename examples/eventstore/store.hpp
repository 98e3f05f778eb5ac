// The event store's storage: messages in streams, with the semantics of
// Message DB, kept in one SQLite database file in WAL mode.
//
// A stream is named `category-id` (the category is the part before the first
// '-'; a name without '-' is a category, never a stream). Positions in a
// stream start at 0; the global position (from 1) orders every message in the
// store. A stream's version is the position of its last message (absent when
// the stream is empty). An id is unique across the store.
//
// Thread-safety: every member may be called from any number of threads at
// once. Writes are committed by one thread of the Store's own, on one
// connection (SQLite allows one writer): the writes queued while it commits
// are committed together next, in one transaction, each still getting its own
// result or error (group commit). submit() queues a write and returns at once,
// so a server thread goes on serving other connections meanwhile; write()
// waits. Reads run on the caller's thread, concurrently with writes, on reader
// connections from a pool (one per call in progress, kept open for reuse). A
// Store also owns a thread that checkpoints the WAL into the database; do not
// fork() while one exists. One Store per file per process.
//
// Durability: an acknowledged write (write() returned) survives the process
// being killed (SIGKILL) and restarted: it is committed to the WAL before
// write() returns. With Durability::full it also survives power loss (fsync per
// commit), at a large cost per write.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace eventstore {

/// Reads return at most this many messages per call; a larger batch_size is
/// lowered to it (page with the position of the last message + 1).
inline constexpr std::int64_t kMaxBatchSize = 10000;

/// A stored message, as a view into the store's row buffers. Valid only during
/// the MessageSink call that receives it.
struct MessageView {
  std::string_view id;
  std::string_view stream_name;
  std::string_view type;
  std::int64_t position = 0;         // in its stream, from 0
  std::int64_t global_position = 0;  // in the store, from 1
  std::string_view data;             // JSON text, as written
  std::string_view metadata;         // JSON text as written, or empty when none
  std::string_view time;             // UTC, ISO 8601 with microseconds ("...Z")
};

/// Receives the messages of a read, in order. Implementations copy what they
/// keep: the views die when on_message returns.
class MessageSink {
 public:
  virtual void on_message(const MessageView& message) = 0;

 protected:
  ~MessageSink() = default;
};

/// A message to write. data and metadata are JSON texts stored verbatim
/// (metadata empty = none); the caller has validated them.
struct NewMessage {
  std::string_view id;    // unique; the caller generates one when the client gave none
  std::string_view type;  // non-empty
  std::string_view data;
  std::string_view metadata;
};

struct WriteResult {
  std::int64_t position = 0;         // the message's position in its stream
  std::int64_t global_position = 0;  // and in the store
};

/// Lets a thread wait for an AsyncWrite: on_written() calls notify(), the
/// submitting thread wait(), which consumes the notification (so the waiter
/// serves the next write too). Thread-safety: one notify() per wait(), on any
/// threads; the waiter may destroy it as soon as wait() returns.
class WriteWaiter {
 public:
  void notify() noexcept {
    // Under the lock: wait() cannot return (and its caller destroy this)
    // before notify() is done touching it.
    std::lock_guard lock(mutex_);
    done_ = true;
    done_changed_.notify_one();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    done_changed_.wait(lock, [this] { return done_; });
    done_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
};

/// A write handed to Store::submit(): what to write going in, the outcome
/// coming out. The views must stay valid until on_written() is called.
class AsyncWrite {
 public:
  std::string_view stream_name;
  NewMessage message;
  std::optional<std::int64_t> expected_version;  // as write()'s
  /// Set before on_written(): the result, or the error write() would throw
  /// (VersionConflict, DuplicateId, or std::runtime_error for the database).
  WriteResult result;
  std::exception_ptr error;

  /// Called exactly once per accepted submit(), on the Store's committer
  /// thread, once the write is committed (or failed). Must be quick and must
  /// not call the Store: other writes wait for it.
  virtual void on_written() noexcept = 0;

 protected:
  ~AsyncWrite() = default;
};

struct CategoryQuery {
  std::int64_t position = 1;       // first global position to return; >= 0 (0 reads as 1)
  std::int64_t batch_size = 1000;  // >= 1, lowered to kMaxBatchSize
  /// Consumer group: only streams whose cardinal id hashes to member, that is
  /// consumer_group_hash(cardinal_id_of(stream)) % size == member. Both set or
  /// both unset; size >= 1, 0 <= member < size. batch_size counts the messages
  /// returned, not those skipped.
  std::optional<std::int64_t> consumer_group_member;
  std::optional<std::int64_t> consumer_group_size;
  /// Only messages whose metadata's correlationStreamName is in this category
  /// (empty = no filter). A category: no '-'. Messages without metadata, or
  /// with metadata that is not JSON, do not match.
  std::string_view correlation;
};

enum class Durability { process_crash, full };

struct StoreOptions {
  Durability durability = Durability::process_crash;
};

/// Base of every error the store reports for a request that cannot be served.
class StoreError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// write() with an expected version that is not the stream's version.
class VersionConflict : public StoreError {
 public:
  VersionConflict(std::string stream, std::int64_t expected, std::optional<std::int64_t> actual);
  const std::string& stream() const noexcept { return stream_; }
  std::int64_t expected() const noexcept { return expected_; }
  std::optional<std::int64_t> actual() const noexcept { return actual_; }

 private:
  std::string stream_;
  std::int64_t expected_;
  std::optional<std::int64_t> actual_;  // nullopt: the stream is empty
};

/// write() with an id that is already stored.
class DuplicateId : public StoreError {
  using StoreError::StoreError;
};

/// A name or argument the store refuses (a stream name that is a category,
/// a category name with '-', a batch size < 1, a bad consumer group...).
class InvalidArgument : public StoreError {
  using StoreError::StoreError;
};

/// The category of a stream name: the part before the first '-'.
std::string_view category_of(std::string_view stream_name) noexcept;

/// The cardinal id of a stream name: the id part (after the first '-') up to
/// the first '+' (compound ids); empty when the name has no id.
std::string_view cardinal_id_of(std::string_view stream_name) noexcept;

/// The consumer-group hash of a cardinal id (stable across runs and builds).
std::uint64_t consumer_group_hash(std::string_view cardinal_id) noexcept;

/// What the Store's checkpoints have cost the writes since it opened.
struct CheckpointStats {
  std::uint64_t checkpoints = 0;    // rounds that ended with the locked pass
  double writes_held_seconds = 0;   // total time the locked passes kept writes waiting
  double longest_hold_seconds = 0;  // the longest of them
};

class Store {
 public:
  /// Opens (creating when missing) the database at `path`. Throws
  /// std::runtime_error naming the path and SQLite's message when it cannot,
  /// and when the file is another SQLite database (not empty, no event store
  /// application_id) or an event store of another schema version. The first
  /// Store of a process installs the page cache of page_cache.hpp when SQLite
  /// has not started yet: construct it before other threads use SQLite.
  explicit Store(const std::string& path, StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Appends a message. expected_version: the stream's version the caller
  /// saw (-1 = the stream must be empty; nullopt = no check). Throws
  /// VersionConflict, DuplicateId, InvalidArgument (stream_name without '-' or
  /// with an empty category, empty id or type, expected_version < -1), or
  /// std::runtime_error on a database failure. Nothing is written when it throws.
  WriteResult write(std::string_view stream_name, const NewMessage& message,
                    std::optional<std::int64_t> expected_version = std::nullopt);

  /// Queues `write` for the committer and returns at once; write.on_written()
  /// follows on the committer thread. Throws InvalidArgument (as write(); then
  /// on_written() is never called) before queueing anything. `write` must
  /// stay alive and untouched until on_written() runs.
  void submit(AsyncWrite& write);

  /// Messages of a stream from `position` (>= 0), at most batch_size (>= 1,
  /// lowered to kMaxBatchSize), in position order. Returns the count. Throws
  /// InvalidArgument for a category name or a bad position or batch_size, and
  /// whatever the sink throws (the read is abandoned).
  std::size_t get_stream(std::string_view stream_name, std::int64_t position,
                         std::int64_t batch_size, MessageSink& sink);

  /// The last message of a stream (of `type`, when not empty); false when none.
  /// Throws InvalidArgument for a category name.
  bool get_last(std::string_view stream_name, std::string_view type, MessageSink& sink);

  /// The stream's version; nullopt when it has no messages. Throws
  /// InvalidArgument for a category name.
  std::optional<std::int64_t> stream_version(std::string_view stream_name);

  /// Messages of a category in global order from query.position, filtered by
  /// the query's consumer group and correlation. Returns the count. Throws
  /// InvalidArgument for a name with '-' or an invalid query.
  std::size_t get_category(std::string_view category, const CategoryQuery& query,
                           MessageSink& sink);

  /// Messages in the store (for health and tests): the last global position,
  /// since the store never deletes. O(log n).
  std::int64_t message_count();

  /// The checkpoints' counts so far. A round copies most of the WAL while
  /// writes go on, then the rest with writes held off, so that the WAL can
  /// start over; a long hold (a slow fsync) is a stall every write sees. A
  /// hold of 250 ms or more is also reported on stderr when it ends.
  /// Thread-safety: any thread; the three figures are read one by one, so
  /// they may straddle a checkpoint that ends meanwhile.
  CheckpointStats checkpoint_stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eventstore
