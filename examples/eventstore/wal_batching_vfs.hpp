// A SQLite VFS over the default one that gathers the WAL writes of one
// transaction and hands them to the kernel in one write at its commit.
//
// SQLite writes each WAL frame as two writes (a 24-byte header, then the
// page), so a transaction of n pages costs 2n system calls, each through the
// file system's write path. Buffered, the whole transaction is one pwrite,
// made when SQLite writes the page of the commit frame (the frame whose
// header carries the database size), before the commit is made visible to
// readers or acknowledged: an acknowledged write is in the kernel exactly as
// without the VFS. A failed flush fails that write, so the commit fails as it
// would have. Every other operation on the WAL (read, sync, truncate, size,
// close) flushes first, so SQLite always sees the file it wrote.
#pragma once

#include <cstdint>

namespace eventstore {

/// The VFS's name for sqlite3_open_v2, registered (not as the default) on the
/// first call. Thread-safe. Throws std::runtime_error when SQLite has no
/// default VFS to wrap or refuses the registration.
const char* wal_batching_vfs_name();

/// WAL writes SQLite asked for and writes made to the file, since the process
/// started, over every connection using the VFS. For tests. Thread-safe.
struct WalBatchingCounts {
  std::uint64_t requested = 0;
  std::uint64_t issued = 0;
};
WalBatchingCounts wal_batching_counts() noexcept;

}  // namespace eventstore
