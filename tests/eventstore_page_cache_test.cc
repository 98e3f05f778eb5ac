// The page cache over SQLite's default one (examples/eventstore/page_cache):
// commits that split index pages no longer reach the default cache's
// truncation, truncations that have pages to drop still do, and the database
// read back is the one written. A process of its own: the cache must be
// installed before SQLite is first used.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <random>
#include <string>

#include "page_cache.hpp"
#include "scratch_dir.hpp"

namespace eventstore {
namespace {

using perflab::testing::ScratchDir;

// Before main, so before any test touches SQLite.
const bool installed_at_start = install_page_cache();

class Database {
 public:
  explicit Database(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
  }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() { sqlite3_close(db_); }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
    }
    sqlite3_free(error);
  }

  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      if (const unsigned char* bytes = sqlite3_column_text(statement, 0)) {
        value = reinterpret_cast<const char*>(bytes);
      }
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(statement);
    return value;
  }

  // Inserts rows whose keys land all over the index, as the event store's
  // message ids do, so that leaf pages split in the middle of the file.
  void insert_random_rows(int count, std::mt19937_64& random, const std::string& tag) {
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO t (id, tag, body) VALUES (?1, ?2, ?3)", -1,
                                 &statement, nullptr),
              SQLITE_OK);
    for (int i = 0; i < count; ++i) {
      const std::string id = std::to_string(random()) + "-" + std::to_string(random());
      sqlite3_bind_text(statement, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(statement, 2, tag.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_zeroblob(statement, 3, 200);
      ASSERT_EQ(sqlite3_step(statement), SQLITE_DONE) << sqlite3_errmsg(db_);
      sqlite3_reset(statement);
    }
    sqlite3_finalize(statement);
  }

 private:
  sqlite3* db_ = nullptr;
};

class PageCacheTest : public ::testing::Test {
 protected:
  PageCacheTest() : dir_("eventstore_page_cache"), db_((dir_.path() / "t.db").string()) {
    db_.exec("PRAGMA journal_mode = WAL");
    db_.exec("PRAGMA cache_size = -16384");
    db_.exec("CREATE TABLE t (id TEXT PRIMARY KEY, tag TEXT NOT NULL, body BLOB NOT NULL)");
  }

  ScratchDir dir_;
  Database db_;
  std::mt19937_64 random_{20261121};
};

TEST(PageCacheInstallTest, InstallsBeforeSqliteStartsAndLaterCallsAgree) {
  EXPECT_TRUE(installed_at_start);
  EXPECT_TRUE(install_page_cache());
}

TEST_F(PageCacheTest, CommitsThatSplitIndexPagesDoNotReachTheDefaultTruncation) {
  constexpr int kCommits = 300;
  const PageCacheCounts before = page_cache_counts();
  for (int i = 0; i < kCommits; ++i) {
    db_.exec("BEGIN");
    db_.insert_random_rows(20, random_, "committed");
    db_.exec("COMMIT");
  }
  const PageCacheCounts after = page_cache_counts();
  // Every commit truncates the cache to the database's size; 6,000 random keys
  // split the id index's leaves over a hundred times, each split parking a page
  // at the lock-byte page's number, which made the default cache walk all of
  // itself at that commit.
  EXPECT_GE(after.truncations - before.truncations, static_cast<unsigned long long>(kCommits));
  EXPECT_LE(after.forwarded - before.forwarded, 3u);
  EXPECT_EQ(db_.text("SELECT count(*) FROM t"), std::to_string(20 * kCommits));
  EXPECT_EQ(db_.text("PRAGMA integrity_check"), "ok");
}

TEST_F(PageCacheTest, ARolledBackGrowthIsDroppedAndTheFileReadsAsCommitted) {
  db_.exec("BEGIN");
  db_.insert_random_rows(500, random_, "committed");
  db_.exec("COMMIT");
  const std::string pages_before = db_.text("PRAGMA page_count");

  // The transaction grows the file by many pages, then is rolled back: the
  // cache holds pages past the database's end, which must be dropped.
  const PageCacheCounts before = page_cache_counts();
  db_.exec("BEGIN");
  db_.insert_random_rows(3000, random_, "rolled back");
  db_.exec("ROLLBACK");
  const PageCacheCounts after = page_cache_counts();
  EXPECT_GE(after.forwarded - before.forwarded, 1u);
  EXPECT_EQ(db_.text("PRAGMA page_count"), pages_before);

  // The same page numbers are allocated again, for other content.
  db_.exec("BEGIN");
  db_.insert_random_rows(3000, random_, "committed");
  db_.exec("COMMIT");
  EXPECT_EQ(db_.text("SELECT count(*) FROM t WHERE tag = 'committed'"), "3500");
  EXPECT_EQ(db_.text("SELECT count(*) FROM t WHERE tag <> 'committed'"), "0");
  EXPECT_EQ(db_.text("PRAGMA integrity_check"), "ok");

  // And a fresh connection, with a cold cache, reads the same.
  Database other((dir_.path() / "t.db").string());
  EXPECT_EQ(other.text("SELECT count(*) FROM t"), "3500");
  EXPECT_EQ(other.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace eventstore
