// The event store's page cache (examples/eventstore/page_cache.hpp) against
// SQLite's default one, in one process: commits of 20 inserts with random
// keys (the event store's message ids) on a connection whose 64 MiB cache is
// full, the case in which the default cache walked all of itself at most
// commits. SQLite is shut down and reconfigured between the two.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "page_cache.hpp"
#include "ratio_report.hpp"

namespace {

constexpr int kRowsPerCommit = 20;
// Enough rows that the table and its key index outgrow the 64 MiB cache, so
// that the cache is full when the timing starts.
constexpr int kPrefillRows = 320000;
constexpr int kCommitsPerCheckpoint = 200;

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "?"));
  }
}

class RandomKeyTable {
 public:
  explicit RandomKeyTable(const std::filesystem::path& path) {
    check(sqlite3_open(path.c_str(), &db_), db_, "open");
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA cache_size = -65536");  // the event store writer's
    // Checkpoints run between timed commits (as the event store's own thread
    // runs them), not inside one.
    exec("PRAGMA wal_autocheckpoint = 0");
    exec("CREATE TABLE t (id TEXT PRIMARY KEY, body BLOB NOT NULL)");
    check(sqlite3_prepare_v2(db_, "INSERT INTO t (id, body) VALUES (?1, zeroblob(150))", -1,
                             &insert_, nullptr),
          db_, "prepare");
  }
  RandomKeyTable(const RandomKeyTable&) = delete;
  RandomKeyTable& operator=(const RandomKeyTable&) = delete;
  ~RandomKeyTable() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

  void exec(const char* sql) { check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), db_, sql); }

  void commit_rows(int rows) {
    exec("BEGIN");
    for (int i = 0; i < rows; ++i) {
      char id[40];
      std::snprintf(id, sizeof id, "%016llx-%016llx", static_cast<unsigned long long>(random_()),
                    static_cast<unsigned long long>(random_()));
      sqlite3_bind_text(insert_, 1, id, -1, SQLITE_TRANSIENT);
      check(sqlite3_step(insert_), db_, "insert");
      sqlite3_reset(insert_);
    }
    exec("COMMIT");
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::mt19937_64 random_{42};
};

void BM_CommitRandomKeys(benchmark::State& state, bool bounded) {
  sqlite3_shutdown();
  if (!eventstore::configure_page_cache(bounded)) {
    state.SkipWithError("SQLite refused the page cache configuration");
    return;
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("perflab_page_cache_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    RandomKeyTable table(dir / "t.db");
    for (int done = 0; done < kPrefillRows; done += 20000) table.commit_rows(20000);
    table.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    std::int64_t commits = 0;
    for (auto _ : state) {
      table.commit_rows(kRowsPerCommit);
      if (++commits % kCommitsPerCheckpoint == 0) {
        state.PauseTiming();
        table.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        state.ResumeTiming();
      }
    }
    state.SetItemsProcessed(state.iterations() * kRowsPerCommit);
  }
  std::filesystem::remove_all(dir);
  sqlite3_shutdown();
}

BENCHMARK_CAPTURE(BM_CommitRandomKeys, default_cache, false);
BENCHMARK_CAPTURE(BM_CommitRandomKeys, bounded_cache, true);

}  // namespace

int main(int argc, char** argv) {
  using perflab::bench::Budget;
  const std::vector<Budget> budgets = {
      {"commit of 20 random-key inserts, full 64 MiB cache, vs SQLite's default cache",
       "BM_CommitRandomKeys/bounded_cache", "BM_CommitRandomKeys/default_cache", 0.8},
  };
  return perflab::bench::run_with_budgets(argc, argv, budgets);
}
