// The store over SQLite: one writer connection that commits the writes of
// concurrent callers together (group commit), a pool of reader connections,
// a checkpointer thread with its own connection, and statements prepared once
// per connection and reused.
#include "store.hpp"

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "page_cache.hpp"
#include "wal_batching_vfs.hpp"

namespace eventstore {

namespace {

// "perf" in ASCII: marks the file as an event store, so that another SQLite
// database is refused instead of being given a messages table.
constexpr int kApplicationId = 0x70657266;
constexpr int kSchemaVersion = 1;
// Long enough to ride out a checkpoint or WAL recovery by another connection;
// writers of this Store never wait on it (they queue on the mutex).
constexpr int kBusyTimeoutMs = 10000;
// Readers beyond this many idle ones are closed when returned: the pool keeps
// what the usual concurrency needs without holding a burst's connections open.
constexpr std::size_t kMaxIdleReaders = 16;
// WAL frames (pages) after which the checkpointer copies the WAL into the
// database: 32 MiB of 4 KiB pages, a few thousand writes.
constexpr int kCheckpointFrames = 8192;
// Unlocked checkpoint passes before the locked one: they stop once a pass
// copied at most kLockedPassFrames, or more than the pass before (the writer
// appends while they run).
constexpr int kMaxUnlockedPasses = 6;
constexpr int kLockedPassFrames = 256;
// A locked pass at least this long is reported on stderr.
constexpr std::int64_t kReportedHoldNs = 250'000'000;
// No connection maps the file (SQLite's mmap_size stays 0): every connection
// remaps it as the file grows, each remap a TLB shootdown on every CPU, and
// the main job's load ran 15-20% faster over 20 s copying pages in instead.

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE messages (
  global_position INTEGER PRIMARY KEY,
  stream_name TEXT NOT NULL,
  category TEXT NOT NULL,
  position INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT,
  id TEXT NOT NULL UNIQUE,
  time TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_stream ON messages (stream_name, position);
CREATE INDEX messages_category ON messages (category, global_position);
)sql";

// Every statement a connection runs more than once; each is prepared on first
// use and kept for the connection's life.
enum class Sql : std::size_t {
  begin_immediate,
  commit,
  rollback,
  stream_version,
  insert,
  id_exists,
  get_stream,
  get_last,
  get_last_of_type,
  get_category,
  get_category_correlated,
  last_global_position,
};
constexpr std::size_t kStatementCount = static_cast<std::size_t>(Sql::last_global_position) + 1;

#define EVENTSTORE_COLUMNS "global_position, stream_name, position, type, data, metadata, id, time"

// A correlation category c matches a correlationStreamName x when x == c or x
// starts with "c-": under binary collation, exactly when "c-" <= x < "c.".
// json_valid keeps a row with malformed metadata from failing the whole read.
constexpr std::array<const char*, kStatementCount> kSqlText = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT position FROM messages WHERE stream_name = ?1 ORDER BY position DESC LIMIT 1",
    "INSERT INTO messages (global_position, stream_name, category, position, type, data, "
    "metadata, id, time) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT 1 FROM messages WHERE id = ?1",
    "SELECT " EVENTSTORE_COLUMNS
    " FROM messages WHERE stream_name = ?1 AND position >= ?2 ORDER BY position LIMIT ?3",
    "SELECT " EVENTSTORE_COLUMNS
    " FROM messages WHERE stream_name = ?1 ORDER BY position DESC LIMIT 1",
    "SELECT " EVENTSTORE_COLUMNS
    " FROM messages WHERE stream_name = ?1 AND type = ?2 ORDER BY position DESC LIMIT 1",
    "SELECT " EVENTSTORE_COLUMNS
    " FROM messages WHERE category = ?1 AND global_position >= ?2"
    " ORDER BY global_position LIMIT ?3",
    "SELECT " EVENTSTORE_COLUMNS
    " FROM messages WHERE category = ?1 AND global_position >= ?2"
    " AND json_valid(metadata)"
    " AND (json_extract(metadata, '$.correlationStreamName') = ?4"
    " OR (json_extract(metadata, '$.correlationStreamName') >= ?5"
    " AND json_extract(metadata, '$.correlationStreamName') < ?6))"
    " ORDER BY global_position LIMIT ?3",
    "SELECT max(global_position) FROM messages",
};

#undef EVENTSTORE_COLUMNS

// One SQLite connection with its cached statements. Used by one thread at a
// time (the writer mutex or the reader pool sees to it), hence NOMUTEX.
class Connection {
 public:
  // `vfs`: a registered VFS's name, or null for the default one.
  Connection(const std::string& path, int open_flags, const char* vfs = nullptr) : path_(path) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   open_flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, vfs);
    if (rc != SQLITE_OK) {
      // db_ may be set even on failure and carries the message; close it here
      // since no destructor runs for a half-built object.
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      throw std::runtime_error("eventstore: cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  }

  ~Connection() {
    for (sqlite3_stmt* statement : statements_) sqlite3_finalize(statement);
    sqlite3_close_v2(db_);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const noexcept { return db_; }

  sqlite3_stmt* statement(Sql which) {
    sqlite3_stmt*& slot = statements_[static_cast<std::size_t>(which)];
    if (slot == nullptr) {
      const char* text = kSqlText[static_cast<std::size_t>(which)];
      if (sqlite3_prepare_v3(db_, text, -1, SQLITE_PREPARE_PERSISTENT, &slot, nullptr) !=
          SQLITE_OK) {
        fail("cannot prepare a statement");
      }
    }
    return slot;
  }

  // For one-off statements (schema, pragmas); the hot paths use statement().
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw std::runtime_error("eventstore: " + path_ + ": " + std::string(what) + ": " +
                             sqlite3_errmsg(db_));
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kStatementCount> statements_{};
};

// Binds and steps one cached statement; resets it on scope exit, whatever
// happened, so the connection holds no open read transaction or stale row.
class Query {
 public:
  Query(Connection& connection, Sql which)
      : connection_(connection), statement_(connection.statement(which)) {}
  ~Query() { sqlite3_reset(statement_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // SQLITE_STATIC: every bound view outlives the Query that steps it. An empty
  // view may have a null data(), which SQLite would take for NULL.
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(statement_, index, text.empty() ? "" : text.data(),
                      static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(statement_, index, value); }
  void bind_null(int index) { sqlite3_bind_null(statement_, index); }

  // True with a row to read, false when done; throws on an error.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    connection_.fail(sqlite3_sql(statement_));
  }

  // step() that reports a constraint violation to the caller instead of throwing.
  int step_checked() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE || (rc & 0xff) == SQLITE_CONSTRAINT) return rc;
    connection_.fail(sqlite3_sql(statement_));
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string_view text(int column) const {
    // sqlite3_column_text before sqlite3_column_bytes: the documented order
    // that leaves the returned pointer valid.
    const auto* bytes = sqlite3_column_text(statement_, column);
    if (bytes == nullptr) return {};
    return {reinterpret_cast<const char*>(bytes),
            static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
  }

  // The columns of EVENTSTORE_COLUMNS, as views valid until the next step.
  MessageView message() const {
    MessageView view;
    view.global_position = int64(0);
    view.stream_name = text(1);
    view.position = int64(2);
    view.type = text(3);
    view.data = text(4);
    view.metadata = text(5);
    view.id = text(6);
    view.time = text(7);
    return view;
  }

 private:
  Connection& connection_;
  sqlite3_stmt* statement_;
};

// BEGIN IMMEDIATE now, ROLLBACK on scope exit unless committed; SQLite may
// already have rolled back after some errors, hence the autocommit check.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {
    Query(connection_, Sql::begin_immediate).step();
  }
  ~Transaction() {
    if (sqlite3_get_autocommit(connection_.db()) == 0) {
      sqlite3_stmt* rollback = nullptr;
      try {
        rollback = connection_.statement(Sql::rollback);
      } catch (const std::exception&) {
        return;  // cannot even prepare: the connection is gone, nothing to undo
      }
      sqlite3_step(rollback);
      sqlite3_reset(rollback);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() { Query(connection_, Sql::commit).step(); }

 private:
  Connection& connection_;
};

std::int64_t pragma_int(Connection& connection, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(connection.db(), sql, -1, &statement, nullptr) != SQLITE_OK) {
    connection.fail(sql);
  }
  const int rc = sqlite3_step(statement);
  const std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
  sqlite3_finalize(statement);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) connection.fail(sql);
  return value;
}

std::string pragma_text(Connection& connection, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(connection.db(), sql, -1, &statement, nullptr) != SQLITE_OK) {
    connection.fail(sql);
  }
  const int rc = sqlite3_step(statement);
  std::string value;
  if (rc == SQLITE_ROW) {
    if (const auto* bytes = sqlite3_column_text(statement, 0)) {
      value = reinterpret_cast<const char*>(bytes);
    }
  }
  sqlite3_finalize(statement);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) connection.fail(sql);
  return value;
}

// Creates the schema in an empty database, or checks that an existing one is
// an event store of this schema version. Runs under BEGIN IMMEDIATE so two
// processes opening a new file at once do not both create it.
void ensure_schema(Connection& connection, const std::string& path) {
  Transaction transaction(connection);
  const std::int64_t application_id = pragma_int(connection, "PRAGMA application_id");
  const std::int64_t user_version = pragma_int(connection, "PRAGMA user_version");
  if (application_id == 0 && user_version == 0) {
    if (pragma_int(connection, "SELECT count(*) FROM sqlite_schema") != 0) {
      throw std::runtime_error("eventstore: " + path +
                               " is a SQLite database but not an event store (it has tables "
                               "and no event store application_id); give a new or empty file");
    }
    connection.exec(kSchemaSql);
    connection.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
    connection.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    transaction.commit();
    return;
  }
  if (application_id != kApplicationId) {
    throw std::runtime_error("eventstore: " + path +
                             " is a SQLite database of another application (application_id " +
                             std::to_string(application_id) + "); give a new or empty file");
  }
  if (user_version != kSchemaVersion) {
    throw std::runtime_error("eventstore: " + path + " has event store schema version " +
                             std::to_string(user_version) + ", this build reads version " +
                             std::to_string(kSchemaVersion));
  }
}

// Writes `value` as `width` decimal digits, zero-padded, and returns the end.
char* put_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

// "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", written by hand: snprintf and gmtime_r (which
// takes glibc's timezone lock) would cost more than the rest of the formatting.
constexpr std::size_t kTimeLength = 27;
std::string_view format_utc_now(std::array<char, kTimeLength>& out) {
  using namespace std::chrono;
  const auto now = floor<microseconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day date{day};
  const hh_mm_ss clock{now - day};
  char* p = out.data();
  p = put_digits(p, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(date.month()), 2);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(date.day()), 2);
  *p++ = 'T';
  p = put_digits(p, static_cast<unsigned>(clock.hours().count()), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<unsigned>(clock.minutes().count()), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<unsigned>(clock.seconds().count()), 2);
  *p++ = '.';
  p = put_digits(p, static_cast<unsigned>(clock.subseconds().count()), 6);
  *p++ = 'Z';
  return {out.data(), static_cast<std::size_t>(p - out.data())};
}

void require_stream_name(std::string_view stream_name) {
  const auto dash = stream_name.find('-');
  if (dash == std::string_view::npos) {
    throw InvalidArgument("stream_name '" + std::string(stream_name) +
                          "' is a category (no '-'); name a stream as category-id, or read a "
                          "category with get_category");
  }
  if (dash == 0) {
    throw InvalidArgument("stream_name '" + std::string(stream_name) +
                          "' has an empty category; name a stream as category-id");
  }
}

void require_category(std::string_view category, const char* argument) {
  if (category.empty()) {
    throw InvalidArgument(std::string(argument) + " is empty; give a category name");
  }
  if (category.find('-') != std::string_view::npos) {
    throw InvalidArgument(std::string(argument) + " '" + std::string(category) +
                          "' is a stream name (has '-'); give its category, the part before "
                          "the first '-'");
  }
}

void require_position(std::int64_t position) {
  if (position < 0) {
    throw InvalidArgument("position " + std::to_string(position) + " is negative; give >= 0");
  }
}

std::int64_t capped_batch_size(std::int64_t batch_size) {
  if (batch_size < 1) {
    throw InvalidArgument("batch_size " + std::to_string(batch_size) + " is < 1; give 1 to " +
                          std::to_string(kMaxBatchSize));
  }
  return batch_size < kMaxBatchSize ? batch_size : kMaxBatchSize;
}

}  // namespace

VersionConflict::VersionConflict(std::string stream, std::int64_t expected,
                                 std::optional<std::int64_t> actual)
    : StoreError("version conflict on stream '" + stream + "': expected version " +
                 std::to_string(expected) + ", actual " +
                 (actual ? std::to_string(*actual) : std::string("-1 (empty stream)"))),
      stream_(std::move(stream)),
      expected_(expected),
      actual_(actual) {}

std::string_view category_of(std::string_view stream_name) noexcept {
  return stream_name.substr(0, stream_name.find('-'));
}

std::string_view cardinal_id_of(std::string_view stream_name) noexcept {
  const auto dash = stream_name.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view id = stream_name.substr(dash + 1);
  return id.substr(0, id.find('+'));
}

// 64-bit FNV-1a: stable by definition (no seed, no platform dependence) and
// cheap enough to run per scanned row.
std::uint64_t consumer_group_hash(std::string_view cardinal_id) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : cardinal_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

struct Store::Impl {
  std::string path;
  StoreOptions options;

  // Group commit: callers queue their writes; the committer thread takes
  // everything queued and commits it in one transaction while later writes
  // queue for the next. One transaction per batch shares its fixed cost
  // (locks, the WAL pages every insert touches, the commit record) among
  // concurrent writers, and the callers' threads never wait for it.
  std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::vector<AsyncWrite*> queue;  // guarded by queue_mutex
  bool closing = false;            // guarded by queue_mutex
  std::thread committer;

  std::mutex writer_mutex;
  std::unique_ptr<Connection> writer;  // guarded by writer_mutex

  std::mutex readers_mutex;
  std::vector<std::unique_ptr<Connection>> idle_readers;  // guarded by readers_mutex

  // Checkpoints run on their own thread and connection, so that the writer
  // never waits for the fsyncs a checkpoint makes (milliseconds each), and the
  // WAL is restarted (overwritten, which costs half of appending) once it is
  // copied into the database.
  std::unique_ptr<Connection> checkpointer_connection;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_wanted;
  bool checkpoint_requested = false;           // guarded by checkpoint_mutex
  bool stopping = false;                       // guarded by checkpoint_mutex
  int wal_frames = 0;                          // guarded by writer_mutex
  int checkpoint_trigger = kCheckpointFrames;  // guarded by writer_mutex
  std::thread checkpointer;
  // Written by the checkpointer alone, read by checkpoint_stats().
  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::int64_t> held_ns{0};
  std::atomic<std::int64_t> longest_hold_ns{0};

  void commit_batch(const std::vector<AsyncWrite*>& batch);
  void run_committer();
  void run_checkpoints();
  void record_hold(std::chrono::steady_clock::duration held, int frames) noexcept;
  static int on_wal_commit(void* impl, sqlite3* db, const char* schema, int frames);

  // A reader connection for one call, back to the pool when it ends.
  class Reader {
   public:
    explicit Reader(Impl& impl) : impl_(impl) {
      {
        std::lock_guard lock(impl_.readers_mutex);
        if (!impl_.idle_readers.empty()) {
          connection_ = std::move(impl_.idle_readers.back());
          impl_.idle_readers.pop_back();
          return;
        }
      }
      // Opened outside the lock: opening reads the schema from disk.
      connection_ = std::make_unique<Connection>(impl_.path, SQLITE_OPEN_READWRITE);
    }
    ~Reader() {
      std::lock_guard lock(impl_.readers_mutex);
      if (impl_.idle_readers.size() < kMaxIdleReaders) {
        impl_.idle_readers.push_back(std::move(connection_));
      }
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    Connection& operator*() const { return *connection_; }

   private:
    Impl& impl_;
    std::unique_ptr<Connection> connection_;
  };
};

namespace {

// Appends one message inside the batch's transaction. Throws StoreError for
// this write alone: a conflict is found before anything changes, and a failed
// INSERT undoes only itself, so the transaction goes on for the others.
WriteResult append_message(Connection& connection, const AsyncWrite& write) {
  const NewMessage& message = write.message;
  std::optional<std::int64_t> version;
  {
    Query query(connection, Sql::stream_version);
    query.bind(1, write.stream_name);
    if (query.step()) version = query.int64(0);
  }
  if (write.expected_version && *write.expected_version != version.value_or(-1)) {
    throw VersionConflict(std::string(write.stream_name), *write.expected_version, version);
  }

  // Formatted here, in commit order, so that time order follows global order.
  std::array<char, kTimeLength> time_buffer;
  const std::string_view time = format_utc_now(time_buffer);
  const std::int64_t position = version.value_or(-1) + 1;
  Query insert(connection, Sql::insert);
  insert.bind(1, write.stream_name);
  insert.bind(2, category_of(write.stream_name));
  insert.bind(3, position);
  insert.bind(4, message.type);
  insert.bind(5, message.data);
  if (message.metadata.empty()) {
    insert.bind_null(6);
  } else {
    insert.bind(6, message.metadata);
  }
  insert.bind(7, message.id);
  insert.bind(8, time);
  if ((insert.step_checked() & 0xff) == SQLITE_CONSTRAINT) {
    // The id's index or the stream's (stream, position) index; the latter
    // only when another process writes the file behind this Store's back.
    const std::string why = sqlite3_errmsg(connection.db());
    Query exists(connection, Sql::id_exists);
    exists.bind(1, message.id);
    if (exists.step()) {
      throw DuplicateId("message id '" + std::string(message.id) + "' is already stored");
    }
    throw std::runtime_error("eventstore: insert into stream '" + std::string(write.stream_name) +
                             "': " + why);
  }
  return {position, sqlite3_last_insert_rowid(connection.db())};
}

}  // namespace

void Store::Impl::commit_batch(const std::vector<AsyncWrite*>& batch) {
  std::lock_guard lock(writer_mutex);
  try {
    Transaction transaction(*writer);
    for (AsyncWrite* write : batch) {
      try {
        write->result = append_message(*writer, *write);
      } catch (const StoreError&) {
        write->error = std::current_exception();
      }
    }
    transaction.commit();
  } catch (...) {
    // The transaction is rolled back: nothing of the batch is stored, and a
    // conflict found against its earlier writes may no longer hold.
    const std::exception_ptr error = std::current_exception();
    for (AsyncWrite* write : batch) write->error = error;
  }
}

void Store::Impl::run_committer() {
  // Two vectors traded back and forth keep their capacity: no allocation per batch.
  std::vector<AsyncWrite*> batch;
  std::unique_lock lock(queue_mutex);
  for (;;) {
    queue_changed.wait(lock, [this] { return !queue.empty() || closing; });
    if (queue.empty()) return;  // closing, and every accepted write is done
    batch.swap(queue);
    lock.unlock();
    commit_batch(batch);
    for (AsyncWrite* write : batch) write->on_written();
    batch.clear();
    lock.lock();
  }
}

// The writer's WAL hook, after each commit (under writer_mutex): asks for a
// checkpoint once the WAL has grown past the trigger.
int Store::Impl::on_wal_commit(void* opaque, sqlite3*, const char*, int frames) {
  auto& impl = *static_cast<Impl*>(opaque);
  if (frames < impl.wal_frames) impl.checkpoint_trigger = kCheckpointFrames;  // restarted
  impl.wal_frames = frames;
  if (frames >= impl.checkpoint_trigger) {
    impl.checkpoint_trigger = std::numeric_limits<int>::max();  // until it ran
    {
      std::lock_guard lock(impl.checkpoint_mutex);
      impl.checkpoint_requested = true;
    }
    impl.checkpoint_wanted.notify_one();
  }
  return SQLITE_OK;
}

void Store::Impl::run_checkpoints() {
  sqlite3* db = checkpointer_connection->db();
  std::unique_lock lock(checkpoint_mutex);
  for (;;) {
    checkpoint_wanted.wait(lock, [this] { return checkpoint_requested || stopping; });
    if (stopping) return;
    checkpoint_requested = false;
    lock.unlock();
    // Errors are left for the next round: the WAL keeps the data meanwhile.
    // Each pass copies what was written during the one before, until little
    // is left for the pass under the writer's lock.
    int log_frames = 0;
    int copied_frames = 0;
    int previous_copy = std::numeric_limits<int>::max();
    for (int pass = 0; pass < kMaxUnlockedPasses; ++pass) {
      // A pass copies the WAL as it was when the pass began: about what the
      // writer appended during the pass before.
      const int copied_before = copied_frames;
      if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                    &copied_frames) != SQLITE_OK) {
        break;
      }
      const int copy = copied_frames - copied_before;
      // Little left, or the writer outruns the passes: the locked pass now.
      if (pass > 0 && (copy <= kLockedPassFrames || copy >= previous_copy)) break;
      previous_copy = copy;
    }
    {
      // The WAL restarts (and is then overwritten, not appended to) only when
      // a write begins with all of it copied; under steady load writes came in
      // during the passes above. Copy the rest with the writer held off.
      std::lock_guard writer_lock(writer_mutex);
      const auto held_from = std::chrono::steady_clock::now();
      const int copied_before = copied_frames;
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                &copied_frames);
      // When a reader's old snapshot kept the WAL from restarting, try again
      // after it grew by a little, not at every commit.
      checkpoint_trigger = log_frames + kCheckpointFrames / 8;
      record_hold(std::chrono::steady_clock::now() - held_from, copied_frames - copied_before);
    }
    lock.lock();
  }
}

void Store::Impl::record_hold(std::chrono::steady_clock::duration held, int frames) noexcept {
  const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(held).count();
  checkpoints.fetch_add(1, std::memory_order_relaxed);
  held_ns.fetch_add(ns, std::memory_order_relaxed);
  if (ns > longest_hold_ns.load(std::memory_order_relaxed)) {
    longest_hold_ns.store(ns, std::memory_order_relaxed);
  }
  // Every write waited this long: worth a line where the operator looks.
  if (ns >= kReportedHoldNs) {
    std::fprintf(stderr,
                 "eventstore: a checkpoint held writes for %.0f ms (copying the last %d WAL "
                 "pages into %s and syncing it)\n",
                 static_cast<double>(ns) / 1e6, frames, path.c_str());
  }
}

Store::Store(const std::string& path, StoreOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->options = options;
  // Before the first connection, which starts SQLite: the cache is process-wide.
  install_page_cache();
  // Only the writer writes the WAL: it alone needs its writes batched.
  auto writer = std::make_unique<Connection>(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                             wal_batching_vfs_name());
  // Before journal_mode=WAL, which would otherwise convert a foreign database.
  ensure_schema(*writer, path);
  if (pragma_text(*writer, "PRAGMA journal_mode = WAL") != "wal") {
    throw std::runtime_error("eventstore: " + path + ": cannot use WAL journal mode");
  }
  // NORMAL in WAL mode: a commit is written to the WAL (the OS has it, so it
  // survives the process) without an fsync; FULL adds the fsync per commit.
  writer->exec(options.durability == Durability::full ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL");
  // The writer keeps the pages it touches (index leaves all over the file)
  // across transactions: no other connection writes, so they stay valid. (A
  // cache this large made every commit walk all of it: see page_cache.hpp.)
  writer->exec("PRAGMA cache_size = -65536");
  // Gives back the disk after a WAL grew while readers kept it from restarting.
  writer->exec("PRAGMA journal_size_limit = 67108864");
  // Replaces SQLite's automatic checkpoint, which the writer would run itself.
  sqlite3_wal_hook(writer->db(), &Impl::on_wal_commit, impl_.get());
  impl_->writer = std::move(writer);

  auto checkpointer = std::make_unique<Connection>(path, SQLITE_OPEN_READWRITE);
  // The checkpoint's fsyncs follow the connection's synchronous setting.
  checkpointer->exec(options.durability == Durability::full ? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL");
  impl_->checkpointer_connection = std::move(checkpointer);
  impl_->checkpointer = std::thread([impl = impl_.get()] { impl->run_checkpoints(); });
  impl_->committer = std::thread([impl = impl_.get()] { impl->run_committer(); });
}

Store::~Store() {
  {
    std::lock_guard lock(impl_->queue_mutex);
    impl_->closing = true;
  }
  impl_->queue_changed.notify_one();
  if (impl_->committer.joinable()) impl_->committer.join();
  {
    std::lock_guard lock(impl_->checkpoint_mutex);
    impl_->stopping = true;
  }
  impl_->checkpoint_wanted.notify_one();
  if (impl_->checkpointer.joinable()) impl_->checkpointer.join();
}

void Store::submit(AsyncWrite& write) {
  require_stream_name(write.stream_name);
  if (write.message.id.empty()) throw InvalidArgument("message id is empty; give a unique id");
  if (write.message.type.empty()) throw InvalidArgument("message type is empty; give a type");
  if (write.expected_version && *write.expected_version < -1) {
    throw InvalidArgument("expected_version " + std::to_string(*write.expected_version) +
                          " is < -1; give -1 (empty stream) or a position");
  }
  Impl& impl = *impl_;
  bool was_empty = false;
  {
    std::lock_guard lock(impl.queue_mutex);
    was_empty = impl.queue.empty();
    impl.queue.push_back(&write);
  }
  // Only an empty queue can have the committer asleep; later writes join it.
  if (was_empty) impl.queue_changed.notify_one();
}

namespace {

// submit() and a wait: write() for callers that have nothing else to do.
class BlockingWrite final : public AsyncWrite {
 public:
  void on_written() noexcept override { waiter.notify(); }
  WriteWaiter waiter;
};

}  // namespace

WriteResult Store::write(std::string_view stream_name, const NewMessage& message,
                         std::optional<std::int64_t> expected_version) {
  BlockingWrite write;
  write.stream_name = stream_name;
  write.message = message;
  write.expected_version = expected_version;
  submit(write);
  write.waiter.wait();
  if (write.error) std::rethrow_exception(write.error);
  return write.result;
}

std::size_t Store::get_stream(std::string_view stream_name, std::int64_t position,
                              std::int64_t batch_size, MessageSink& sink) {
  require_stream_name(stream_name);
  require_position(position);
  const std::int64_t limit = capped_batch_size(batch_size);

  Impl::Reader reader(*impl_);
  Query query(*reader, Sql::get_stream);
  query.bind(1, stream_name);
  query.bind(2, position);
  query.bind(3, limit);
  std::size_t count = 0;
  while (query.step()) {
    sink.on_message(query.message());
    ++count;
  }
  return count;
}

bool Store::get_last(std::string_view stream_name, std::string_view type, MessageSink& sink) {
  require_stream_name(stream_name);

  Impl::Reader reader(*impl_);
  Query query(*reader, type.empty() ? Sql::get_last : Sql::get_last_of_type);
  query.bind(1, stream_name);
  if (!type.empty()) query.bind(2, type);
  if (!query.step()) return false;
  sink.on_message(query.message());
  return true;
}

std::optional<std::int64_t> Store::stream_version(std::string_view stream_name) {
  require_stream_name(stream_name);

  Impl::Reader reader(*impl_);
  Query query(*reader, Sql::stream_version);
  query.bind(1, stream_name);
  if (!query.step()) return std::nullopt;
  return query.int64(0);
}

std::size_t Store::get_category(std::string_view category, const CategoryQuery& query,
                                MessageSink& sink) {
  require_category(category, "category");
  require_position(query.position);
  const std::int64_t limit = capped_batch_size(query.batch_size);
  const bool grouped = query.consumer_group_member || query.consumer_group_size;
  if (grouped) {
    if (!query.consumer_group_member || !query.consumer_group_size) {
      throw InvalidArgument(
          "consumer_group_member and consumer_group_size go together; give both or neither");
    }
    if (*query.consumer_group_size < 1) {
      throw InvalidArgument("consumer_group_size " + std::to_string(*query.consumer_group_size) +
                            " is < 1; give the number of members");
    }
    if (*query.consumer_group_member < 0 ||
        *query.consumer_group_member >= *query.consumer_group_size) {
      throw InvalidArgument("consumer_group_member " +
                            std::to_string(*query.consumer_group_member) + " is outside 0.." +
                            std::to_string(*query.consumer_group_size - 1));
    }
  }
  std::string correlation_low;   // "c-"
  std::string correlation_high;  // "c.": '.' follows '-' in byte order
  if (!query.correlation.empty()) {
    require_category(query.correlation, "correlation");
    correlation_low.append(query.correlation).push_back('-');
    correlation_high.append(query.correlation).push_back('.');
  }

  Impl::Reader reader(*impl_);
  Query rows(*reader, query.correlation.empty() ? Sql::get_category : Sql::get_category_correlated);
  rows.bind(1, category);
  rows.bind(2, query.position);
  // A consumer group is filtered here while stepping, so SQL cannot count the
  // batch: no limit there (-1), the loop stops at `limit` matching rows.
  rows.bind(3, grouped ? std::int64_t{-1} : limit);
  if (!query.correlation.empty()) {
    rows.bind(4, query.correlation);
    rows.bind(5, correlation_low);
    rows.bind(6, correlation_high);
  }
  const std::uint64_t size = grouped ? static_cast<std::uint64_t>(*query.consumer_group_size) : 1;
  const std::uint64_t member =
      grouped ? static_cast<std::uint64_t>(*query.consumer_group_member) : 0;
  std::size_t count = 0;
  while (count < static_cast<std::size_t>(limit) && rows.step()) {
    const MessageView message = rows.message();
    if (grouped && consumer_group_hash(cardinal_id_of(message.stream_name)) % size != member) {
      continue;
    }
    sink.on_message(message);
    ++count;
  }
  return count;
}

std::int64_t Store::message_count() {
  Impl::Reader reader(*impl_);
  Query query(*reader, Sql::last_global_position);
  query.step();
  return query.int64(0);
}

CheckpointStats Store::checkpoint_stats() const noexcept {
  const Impl& impl = *impl_;
  CheckpointStats stats;
  stats.checkpoints = impl.checkpoints.load(std::memory_order_relaxed);
  stats.writes_held_seconds =
      static_cast<double>(impl.held_ns.load(std::memory_order_relaxed)) / 1e9;
  stats.longest_hold_seconds =
      static_cast<double>(impl.longest_hold_ns.load(std::memory_order_relaxed)) / 1e9;
  return stats;
}

}  // namespace eventstore
