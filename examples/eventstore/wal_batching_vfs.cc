#include "wal_batching_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace eventstore {
namespace {

constexpr const char* kVfsName = "eventstore-wal-batching";
// Room for a large batch of writes (a few hundred pages); a transaction that
// outgrows it is written in pieces of this size, still far fewer than 2 per page.
constexpr std::size_t kBufferBytes = 2 * 1024 * 1024;
// A WAL frame header; the WAL file's own header is 32 bytes, a page >= 512.
constexpr int kFrameHeaderBytes = 24;

std::atomic<std::uint64_t> requested_writes{0};
std::atomic<std::uint64_t> issued_writes{0};

sqlite3_vfs* real_vfs = nullptr;  // set once, before the VFS is registered

// Our file object; the default VFS's file object follows it in the same block
// (szOsFile covers both).
struct BatchingFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool wal;
  bool commit_page_next;  // the last write was a commit frame's header
  char* buffer;           // WAL only, allocated on the first write
  std::size_t buffered;   // bytes in buffer
  sqlite3_int64 buffer_offset;
};

BatchingFile& self(sqlite3_file* file) { return *reinterpret_cast<BatchingFile*>(file); }
const sqlite3_io_methods& real_methods(BatchingFile& f) { return *f.real->pMethods; }

// SQLite's unix VFS writes at most 128 KiB - 1 per call (it masks the length
// to 17 bits), so a flush goes in pieces below that.
constexpr std::size_t kLargestWrite = 120 * 1024;

int flush(BatchingFile& f) {
  const std::size_t size = f.buffered;
  f.buffered = 0;
  for (std::size_t done = 0; done < size;) {
    const std::size_t piece = size - done < kLargestWrite ? size - done : kLargestWrite;
    issued_writes.fetch_add(1, std::memory_order_relaxed);
    const int rc = real_methods(f).xWrite(f.real, f.buffer + done, static_cast<int>(piece),
                                          f.buffer_offset + static_cast<sqlite3_int64>(done));
    if (rc != SQLITE_OK) return rc;
    done += piece;
  }
  return SQLITE_OK;
}

int write_through(BatchingFile& f, const void* data, int amount, sqlite3_int64 offset) {
  issued_writes.fetch_add(1, std::memory_order_relaxed);
  return real_methods(f).xWrite(f.real, data, amount, offset);
}

// Appends to the buffer (or overwrites bytes already in it: SQLite rewrites a
// frame of the open transaction in place when a page changes again).
int buffer_write(BatchingFile& f, const void* data, int amount, sqlite3_int64 offset) {
  const auto size = static_cast<std::size_t>(amount);
  if (f.buffer == nullptr) {
    f.buffer = static_cast<char*>(std::malloc(kBufferBytes));
    if (f.buffer == nullptr) return write_through(f, data, amount, offset);
  }
  const sqlite3_int64 end = f.buffer_offset + static_cast<sqlite3_int64>(f.buffered);
  if (f.buffered != 0 && offset >= f.buffer_offset &&
      offset + amount <= end) {  // inside what is buffered
    std::memcpy(f.buffer + (offset - f.buffer_offset), data, size);
    return SQLITE_OK;
  }
  if (f.buffered != 0 && (offset != end || f.buffered + size > kBufferBytes)) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (size > kLargestWrite) return write_through(f, data, amount, offset);
  if (f.buffered == 0) f.buffer_offset = offset;
  std::memcpy(f.buffer + f.buffered, data, size);
  f.buffered += size;
  return SQLITE_OK;
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  BatchingFile& f = self(file);
  if (!f.wal) return real_methods(f).xWrite(f.real, data, amount, offset);
  requested_writes.fetch_add(1, std::memory_order_relaxed);
  const bool commit_page = f.commit_page_next;
  f.commit_page_next = false;
  if (const int rc = buffer_write(f, data, amount, offset); rc != SQLITE_OK) return rc;
  if (amount == kFrameHeaderBytes) {
    // Bytes 4..7 of a frame header: the database size after a commit, zero
    // in every other frame.
    const auto* header = static_cast<const unsigned char*>(data);
    f.commit_page_next = (header[4] | header[5] | header[6] | header[7]) != 0;
  }
  // The commit frame is complete: the transaction goes to the kernel now,
  // before SQLite publishes it to readers and returns from COMMIT.
  return commit_page ? flush(f) : SQLITE_OK;
}

int x_close(sqlite3_file* file) {
  BatchingFile& f = self(file);
  const int flushed = flush(f);
  const int rc = real_methods(f).xClose(f.real);
  std::free(f.buffer);
  f.buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  BatchingFile& f = self(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xRead(f.real, out, amount, offset);
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  BatchingFile& f = self(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xTruncate(f.real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  BatchingFile& f = self(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xSync(f.real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  BatchingFile& f = self(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xFileSize(f.real, size);
}

// The rest only forward.
int x_lock(sqlite3_file* file, int level) {
  return real_methods(self(file)).xLock(self(file).real, level);
}
int x_unlock(sqlite3_file* file, int level) {
  return real_methods(self(file)).xUnlock(self(file).real, level);
}
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_methods(self(file)).xCheckReservedLock(self(file).real, out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  return real_methods(self(file)).xFileControl(self(file).real, op, arg);
}
int x_sector_size(sqlite3_file* file) {
  return real_methods(self(file)).xSectorSize(self(file).real);
}
int x_device_characteristics(sqlite3_file* file) {
  return real_methods(self(file)).xDeviceCharacteristics(self(file).real);
}
int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_methods(self(file)).xShmMap(self(file).real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_methods(self(file)).xShmLock(self(file).real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_methods(self(file)).xShmBarrier(self(file).real); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_methods(self(file)).xShmUnmap(self(file).real, delete_flag);
}
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  BatchingFile& f = self(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xFetch(f.real, offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return real_methods(self(file)).xUnfetch(self(file).real, offset, page);
}

// Version 3 (shared memory for the WAL index, memory-mapped I/O); opening
// fails below when the default VFS's files are older.
constexpr sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  BatchingFile& f = self(file);
  f.base.pMethods = nullptr;
  f.real = reinterpret_cast<sqlite3_file*>(&f + 1);
  f.wal = (flags & SQLITE_OPEN_WAL) != 0;
  f.commit_page_next = false;
  f.buffer = nullptr;
  f.buffered = 0;
  f.buffer_offset = 0;
  const int rc = real_vfs->xOpen(real_vfs, name, f.real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;  // pMethods stays null: SQLite closes nothing
  if (f.real->pMethods == nullptr || f.real->pMethods->iVersion < 3) {
    if (f.real->pMethods != nullptr) f.real->pMethods->xClose(f.real);
    return SQLITE_CANTOPEN;
  }
  f.base.pMethods = &kMethods;
  return SQLITE_OK;
}

sqlite3_vfs batching_vfs{};

}  // namespace

const char* wal_batching_vfs_name() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    real_vfs = sqlite3_vfs_find(nullptr);
    if (real_vfs == nullptr) {
      failure = "SQLite has no default VFS";
      return;
    }
    // Every other call (paths, randomness, time, ...) is the default VFS's.
    batching_vfs = *real_vfs;
    batching_vfs.pNext = nullptr;
    batching_vfs.zName = kVfsName;
    batching_vfs.szOsFile = static_cast<int>(sizeof(BatchingFile)) + real_vfs->szOsFile;
    batching_vfs.xOpen = x_open;
    if (sqlite3_vfs_register(&batching_vfs, 0) != SQLITE_OK) {
      failure = "SQLite refused to register the WAL-batching VFS";
    }
  });
  if (!failure.empty()) throw std::runtime_error("eventstore: " + failure);
  return kVfsName;
}

WalBatchingCounts wal_batching_counts() noexcept {
  return {requested_writes.load(std::memory_order_relaxed),
          issued_writes.load(std::memory_order_relaxed)};
}

}  // namespace eventstore
