// The memory map of a traced process, as /proc/PID/maps shows it: which file
// is mapped where. The recorder snapshots the text; perflab parses it here,
// outside the traced process, and hands it to the Symbolizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::track {

/// One file-backed mapping: the line "start-end perms offset dev inode path".
struct MappedModule {
  std::uint64_t start = 0;        // first address of the mapping
  std::uint64_t end = 0;          // one past its last address
  std::uint64_t file_offset = 0;  // file offset that `start` maps
  bool executable = false;        // the 'x' permission
  std::string path;               // absolute path, without the " (deleted)" suffix
  bool deleted = false;           // the file was unlinked after it was mapped: the
                                  // file now at `path`, if any, is another one
};

/// Parses the text of /proc/PID/maps (one or several snapshots of it,
/// concatenated) into its file-backed mappings, in the order of the text.
///
/// Kept: every line whose path is absolute, including deleted files (marked
/// `deleted`, suffix stripped) and paths with spaces (everything after the
/// inode field is the path). Skipped: anonymous mappings (no path), the
/// kernel's pseudo-paths ([heap], [stack], [vdso], [vvar], [vsyscall],
/// [anon:...]), anon_inode:... and any other path not starting with '/', and
/// lines that do not parse (bad numbers, missing fields, start >= end).
/// Newlines in paths (shown by the kernel as "\012") are not unescaped.
///
/// Never throws but std::bad_alloc. Thread-safe (no shared state).
std::vector<MappedModule> parse_proc_maps(std::string_view text);

}  // namespace perflab::track
