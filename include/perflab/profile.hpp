// perflab profile component: the profile directory, the only contract between
// perflab's producers (track, load) and consumers (report, compare).
//
// A run writes one directory, built under a temporary name next to its final
// path and renamed into place when complete, so a half-written run is never
// read. See docs/profile.md for the files and summary.json's schema.
//
// Link perflab::profile (depends on nlohmann_json, zlib and the protobuf lite
// runtime). Errors are reported by throwing ProfileError; nothing here aborts
// on bad input. Free functions are thread-safe (they share no state); a
// ProfileWriter is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace perflab {

/// The schema tag every summary.json carries.
inline constexpr const char* kProfileSchema = "perflab.profile/1";

/// File names inside a profile directory (docs/profile.md describes each).
inline constexpr const char* kSummaryFile = "summary.json";
inline constexpr const char* kAllocsPprofFile = "allocs.pb.gz";
inline constexpr const char* kAllocsFoldedFile = "allocs.folded";             // value: count
inline constexpr const char* kAllocsBytesFoldedFile = "allocs_bytes.folded";  // value: bytes
inline constexpr const char* kTimelineFile = "timeline.csv";
inline constexpr const char* kCpuPprofFile = "cpu.pb.gz";    // pprof: samples, cpu time
inline constexpr const char* kCpuFoldedFile = "cpu.folded";  // value: samples

/// One symbolized stack frame.
struct ProfileFrame {
  std::uint64_t address = 0;  // call-site address in the traced process (return address - 1)
  std::string function;       // demangled; empty when unknown
  std::string file;           // source file; empty when unknown
  int line = 0;               // 0 when unknown
  std::string module;         // path of the ELF object (executable or shared library)

  friend bool operator==(const ProfileFrame&, const ProfileFrame&) = default;
};

/// Where a module (ProfileFrame::module) was mapped in the traced process.
/// Optional: a frame whose module has no entry here is still written, only
/// without an address range (pprof then cannot relate its address to the file).
struct ProfileModule {
  std::string path;               // equals ProfileFrame::module of its frames
  std::uint64_t start = 0;        // first mapped address (of the executable segment)
  std::uint64_t limit = 0;        // one past the last mapped address; 0 when unknown
  std::uint64_t file_offset = 0;  // file offset mapped at `start`
  std::string build_id;           // hex GNU build id; empty when unknown

  friend bool operator==(const ProfileModule&, const ProfileModule&) = default;
};

/// Allocation figures of one unique call stack.
struct AllocSite {
  std::vector<std::uint32_t> frames;  // indices into AllocProfile::frames, leaf (allocator) first
  std::uint64_t allocs = 0;           // allocation calls from this stack
  std::uint64_t bytes = 0;            // bytes requested by them
  std::uint64_t temporary = 0;        // allocations freed before the thread's next allocation
  std::uint64_t leaked_objects = 0;   // still live when the process ended
  std::uint64_t leaked_bytes = 0;

  friend bool operator==(const AllocSite&, const AllocSite&) = default;
};

/// One point of the time series written to timeline.csv. `allocs` and
/// `alloc_bytes` are cumulative: the difference between two samples is what
/// was allocated between them.
struct TimelineSample {
  double time_s = 0;             // since the run started
  std::uint64_t heap_bytes = 0;  // live heap (requested bytes)
  std::uint64_t rss_bytes = 0;   // resident set size
  std::uint64_t allocs = 0;      // allocation calls so far
  double requests_per_s = 0;     // load only; 0 otherwise
  // Bytes requested by the allocations so far: the unit of AllocProfile::bytes,
  // whose value the last sample of a run reaches. Last so that existing
  // positional initializers keep their meaning. 0 when not recorded (no
  // tracker; a timeline.csv from before perflab wrote the column).
  std::uint64_t alloc_bytes = 0;

  friend bool operator==(const TimelineSample&, const TimelineSample&) = default;
};

/// Everything a profile records about allocations. Totals are kept apart from
/// the sites so a counting-only run (no stacks) still has them.
struct AllocProfile {
  std::vector<ProfileFrame> frames;
  std::vector<AllocSite> sites;
  std::vector<TimelineSample> timeline;
  std::vector<ProfileModule> modules;  // address ranges of frames' modules, when known
  std::uint64_t allocs = 0;
  std::uint64_t frees = 0;
  std::uint64_t bytes = 0;
  std::uint64_t temporary = 0;
  std::uint64_t peak_heap_bytes = 0;
  std::uint64_t leaked_objects = 0;
  std::uint64_t leaked_bytes = 0;
  std::uint64_t peak_rss_bytes = 0;
  double duration_s = 0;
};

/// A profile that cannot be read or written; what() names the file and field.
class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes one profile directory atomically: every file goes into a temporary
/// directory next to the final path (same parent, named
/// `.<name>.tmp-<pid>-<random>`), and commit() renames it into place. Until
/// commit() succeeds nothing exists at the final path; a writer destroyed
/// without a successful commit() removes its temporary directory.
///
///   perflab::ProfileWriter out("profiles/before");
///   out.write_summary(summary);
///   out.write_alloc_profile(profile);
///   out.write_text("README.md", readme);
///   out.commit();
///
/// Not thread-safe: one thread uses a writer. Neither copyable nor movable.
class ProfileWriter {
 public:
  /// Creates the temporary directory for `final_path`.
  /// Throws ProfileError when `final_path` already exists (the message says to
  /// choose another name or remove it), when its parent directory does not
  /// exist or is not writable, or on any other failure; the message names the
  /// path and the system's reason. The parent directory is not created.
  explicit ProfileWriter(std::filesystem::path final_path);

  /// Removes the temporary directory unless commit() succeeded. Never throws.
  ~ProfileWriter();

  ProfileWriter(const ProfileWriter&) = delete;
  ProfileWriter& operator=(const ProfileWriter&) = delete;
  ProfileWriter(ProfileWriter&&) = delete;
  ProfileWriter& operator=(ProfileWriter&&) = delete;

  /// Writes summary.json: `summary` with "schema": "perflab.profile/1" added
  /// (replacing any "schema" it has). REQUIRES: `summary` is a JSON object.
  /// Invalid UTF-8 in strings is replaced by U+FFFD rather than failing.
  /// Throws ProfileError when `summary` is not an object or the write fails.
  void write_summary(nlohmann::json summary);

  /// Writes allocs.pb.gz (pprof), allocs.folded (allocation counts),
  /// allocs_bytes.folded (bytes) and timeline.csv (header only when the
  /// profile has no timeline). Throws ProfileError when a site refers to a
  /// frame that does not exist, or the write fails.
  void write_alloc_profile(const AllocProfile& profile);

  /// Writes `content` to the file `name` in the profile (README.md,
  /// report.html, latency.hlog, ...). Writing a name twice replaces it.
  /// Throws ProfileError when `name` is empty, ".", contains '/', ".." or a
  /// NUL character, or the write fails.
  void write_text(const std::string& name, std::string_view content);

  /// For a file written while the run goes on (latency.hlog, a long run's
  /// timeline): returns the path of `name` inside the temporary directory, for
  /// the caller to open, append to and close before commit(), which fsyncs it
  /// with the rest. Memory then stays flat however long the run. Throws
  /// ProfileError for a bad name (as write_text) or after commit().
  std::filesystem::path streamed_file_path(const std::string& name);

  /// Marks the profile as unusable (a streamed write failed): commit() will
  /// refuse it, as it does after a failed write_text().
  void mark_failed() noexcept { failed_ = true; }

  /// Flushes every written file and the directory to disk (fsync), then
  /// renames the temporary directory to the final path; returns the final
  /// path. The rename never replaces anything: if the final path appeared in
  /// the meantime, ProfileError is thrown and the temporary directory stays
  /// until the writer is destroyed. Throws ProfileError when called twice, or
  /// when an earlier write failed (a partial file is never committed).
  std::filesystem::path commit();

  /// The path given to the constructor (trailing '/' removed).
  const std::filesystem::path& final_path() const { return final_path_; }
  /// The temporary directory files are written into until commit().
  const std::filesystem::path& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  void write_file(const std::string& name, std::string_view content);

  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::vector<std::string> files_;  // names written, fsynced by commit()
  bool committed_ = false;
  bool failed_ = false;  // a write failed: a partial file must never be committed
};

/// Reads `dir`/summary.json. Throws ProfileError naming the file when it is
/// missing or unreadable, not JSON (with the byte position of the error), not
/// a JSON object, or has no or an unknown "schema".
nlohmann::json read_summary(const std::filesystem::path& dir);

/// Reads `dir`/allocs.pb.gz (and `dir`/timeline.csv when present) back into
/// an AllocProfile: frames, sites, modules (one per pprof mapping), totals and
/// duration. Reads any pprof profile with the sample types alloc_objects,
/// alloc_space, inuse_objects and inuse_space (Go heap profiles too); an
/// inlined pprof location becomes one frame per function. Totals missing from
/// the file are summed from the sites. Throws ProfileError naming the file on
/// a missing file, a corrupt or truncated gzip stream, an unparsable or
/// inconsistent protobuf, or a malformed timeline.csv; never crashes on input.
AllocProfile read_alloc_profile(const std::filesystem::path& dir);

/// Least-squares slope of rss_bytes over time_s (bytes per second), over the
/// samples with finite time_s in [from_s, to_s]; std::nullopt without two
/// distinct times. Computed about the means, so a flat series is exactly 0
/// (the one-pass formula's cancellation left ~1e-7 B/s either side of it,
/// which was read as growth). Thread-safety: pure.
std::optional<double> rss_growth_per_s(const std::vector<TimelineSample>& timeline,
                                       double from_s = -std::numeric_limits<double>::infinity(),
                                       double to_s = std::numeric_limits<double>::infinity());

/// The summary.json groups an allocation profile fills:
///   {"alloc": {allocs, frees, bytes, peak_heap_bytes, leaked_bytes,
///              leaked_objects, temporary, alloc_rate_per_s,
///              allocs_per_op, bytes_per_op},
///    "memory": {peak_rss_bytes, rss_growth_bytes_per_s}}
/// alloc_rate_per_s = allocs / duration_s, present when duration_s > 0.
/// allocs_per_op and bytes_per_op are present when `ops` is given and > 0.
/// peak_rss_bytes is present when nonzero; rss_growth_bytes_per_s (least
/// squares slope of rss_bytes over time_s) when the timeline has two or more
/// distinct times; "memory" is absent when it would be empty. Merge the
/// result into the summary passed to write_summary.
nlohmann::json alloc_summary_json(const AllocProfile& profile,
                                  std::optional<std::uint64_t> ops = std::nullopt);

/// True for a frame of the allocator itself rather than of its caller:
/// malloc, calloc, realloc, operator new, __libc_*, perflab::track*, and the
/// standard allocator's internals (std::allocator, std::allocator_traits,
/// __gnu_cxx::new_allocator, ...). Decided by the function name only.
bool is_allocator_frame(const ProfileFrame& frame);

/// Index into profile.frames of the frame that best names who allocated at
/// `site`: the first frame from the leaf that is not an allocator frame and
/// not in a system header (/usr/include, /usr/lib/gcc: inlined library code);
/// failing that the first non-allocator frame; failing that the leaf. Returns
/// std::nullopt when the site has no (valid) frames.
std::optional<std::uint32_t> most_useful_frame(const AllocProfile& profile, const AllocSite& site);

/// A short plain-text report, at most 100 columns wide: the totals (allocs,
/// frees, bytes, peak heap, leaked, temporary, rate), then the `top` call
/// sites by allocation count, by bytes and by leaked bytes, each shown by its
/// most_useful_frame() with file:line and its figures.
std::string format_alloc_report(const AllocProfile& profile, std::size_t top = 10);

/// Sampled call stacks (a CPU profile) as folded stacks: "root;...;leaf"
/// (frame names joined by ';', which no name contains) -> number of samples.
using FoldedStacks = std::map<std::string, std::uint64_t>;

/// cpu.folded: one line per stack with a nonzero count, "root;...;leaf N",
/// in the map's (sorted) order. Never throws but for std::bad_alloc.
std::string format_folded_stacks(const FoldedStacks& stacks);

/// cpu.pb.gz: the gzip-compressed pprof Profile of `stacks` sampled at
/// `sample_hz` (> 0) for `duration_s` seconds. Sample types samples/count and
/// cpu/nanoseconds (samples * 1e9 / sample_hz, the default), period type
/// cpu/nanoseconds; one Location and one Function per distinct frame name,
/// without addresses or mappings. An empty frame name (";;") becomes
/// "[unknown]". Throws ProfileError when sample_hz is not positive or the
/// profile is too large for pprof (2 GiB serialized).
std::string encode_cpu_pprof(const FoldedStacks& stacks, double sample_hz, double duration_s);

}  // namespace perflab
