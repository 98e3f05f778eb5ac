// The profile component's only contact with the file system: thin wrappers
// over POSIX calls that report errno, so every message can name the path and
// the system's reason.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "profile_internal.hpp"

namespace perflab::profile_detail {

namespace fs = std::filesystem;

namespace {

// Closes a descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  // Closes now, returning 0 or the errno: close() can report a failed write.
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& what, const fs::path& path, int error) {
  throw ProfileError(what + " '" + path.string() + "' (" + error_text(error) + ")");
}

}  // namespace

std::string error_text(int error) { return std::strerror(error); }

int make_directory(const fs::path& path) { return ::mkdir(path.c_str(), 0777) == 0 ? 0 : errno; }

int rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  const int error = errno;
  if (error != EINVAL && error != ENOSYS) return error == ENOTEMPTY ? EEXIST : error;
  // The file system does not support RENAME_NOREPLACE: check, then rename. A
  // directory created in between is replaced only if empty (rename(2) refuses
  // to replace a non-empty one), so no one's data is lost.
  struct stat info {};
  if (::lstat(to.c_str(), &info) == 0) return EEXIST;
  if (::rename(from.c_str(), to.c_str()) == 0) return 0;
  return errno == ENOTEMPTY ? EEXIST : errno;
}

void write_file(const fs::path& path, std::string_view content) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail("cannot create", path, errno);
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t written = ::write(fd.get(), data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path, errno);
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (const int error = fd.close_now(); error != 0) fail("cannot write", path, error);
}

void sync_path(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open", path, errno);
  // EINVAL: the file system does not support fsync (e.g. some FUSE mounts);
  // nothing more durable can be done there.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) fail("cannot flush to disk", path, errno);
}

std::optional<std::string> read_file_if_exists(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot open", path, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) fail("cannot read", path, errno);
  if (S_ISDIR(info.st_mode)) fail("cannot read", path, EISDIR);
  std::string content;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path, errno);
    }
    if (got == 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  return content;
}

void remove_tree(const fs::path& path) noexcept {
  std::error_code ignored;
  fs::remove_all(path, ignored);
}

}  // namespace perflab::profile_detail
