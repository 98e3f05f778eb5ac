// Internals of perflab::profile shared by its source files: the file-system
// layer, gzip, and the encoders and decoders of each file format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perflab/profile.hpp"

namespace perflab::profile_detail {

// --- file_io.cc: every system call the profile component makes (STYLE.md 7) ---

// Creates `path` (mode 0777 & ~umask); returns 0 or the errno.
int make_directory(const std::filesystem::path& path);
// Renames `from` to `to` unless `to` exists; returns 0 or the errno (EEXIST
// when `to` exists, whether or not the file system supports RENAME_NOREPLACE).
int rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to);
// Writes `content` to `path` (created or truncated, mode 0644). Throws ProfileError.
void write_file(const std::filesystem::path& path, std::string_view content);
// fsync()s a file or directory. Throws ProfileError.
void sync_path(const std::filesystem::path& path);
// The file's content, or nullopt when it does not exist. Throws ProfileError
// on any other failure (unreadable, a directory, ...).
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path);
// Removes `path` and everything below it; errors are ignored.
void remove_tree(const std::filesystem::path& path) noexcept;
// The system's message for `error` (strerror).
std::string error_text(int error);

// --- gzip.cc ---

// `data` as one gzip member (deterministic: no name, mtime 0).
std::string gzip_compress(std::string_view data);
// The uncompressed content of the gzip stream `data` (concatenated members
// allowed). Throws ProfileError "<what>: ..." when it is not gzip, corrupt,
// truncated, or inflates beyond `limit` bytes.
std::string gzip_decompress(std::string_view data, const std::string& what, std::size_t limit);

// --- pprof_encode.cc, pprof_decode.cc ---

// The pprof comment holding the totals: "perflab: allocs=N frees=N ...".
inline constexpr std::string_view kTotalsCommentPrefix = "perflab:";

// Throws ProfileError when a site refers to a frame index out of range.
void check_site_frames(const AllocProfile& profile);
// The serialized (uncompressed) pprof Profile of `profile`.
std::string encode_pprof(const AllocProfile& profile);
// Parses a serialized pprof Profile; timeline is left empty. Throws
// ProfileError "<what>: ..." when it is not a valid allocation profile.
AllocProfile decode_pprof(std::string_view bytes, const std::string& what);

// --- folded.cc ---

enum class FoldedValue { kAllocs, kBytes };
// One line per site with a nonzero value: frames root first joined by ';',
// a space, the value.
std::string format_folded(const AllocProfile& profile, FoldedValue value);
// A frame's text in folded stacks and reports: the function name, else
// "<module file name>+0x<offset in file>" when the module's range is known,
// else "<module file name>@0x<address>", else "0x<address>". ';' becomes ':'
// and control characters become spaces, so the text never breaks a line.
std::string frame_text(const ProfileFrame& frame, const std::vector<ProfileModule>& modules);

// --- timeline.cc ---

// New columns go last, so readers that go by position keep working.
inline constexpr std::string_view kTimelineHeader =
    "time_s,heap_bytes,rss_bytes,allocs,requests_per_s,alloc_bytes";
// Written before alloc_bytes was: still read, with alloc_bytes 0.
inline constexpr std::string_view kTimelineHeaderWithoutAllocBytes =
    "time_s,heap_bytes,rss_bytes,allocs,requests_per_s";
std::string format_timeline_csv(const std::vector<TimelineSample>& timeline);
// Reads either header. Throws ProfileError "<what>: line N: ..." on a
// malformed file.
std::vector<TimelineSample> parse_timeline_csv(std::string_view text, const std::string& what);

// --- numbers (timeline.cc) ---

// Shortest text that reads back as the same double: plain decimals for
// magnitudes in [1e-4, 1e15) ("0.25", "1000000"), exponents beyond ("1e+20").
std::string format_double(double value);

}  // namespace perflab::profile_detail
