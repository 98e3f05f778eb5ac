// Reads the recorder's dump files (../dump_format.hpp) back, validating every
// length against the file so a truncated or foreign file is an error, never a
// crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "../dump_format.hpp"

namespace perflab::track {

struct RawStack {
  std::vector<std::uint64_t> frames;  // call sites, innermost first; empty = no stack
  DumpStack counts;
};

// One process image's recording.
struct ProcessDump {
  std::filesystem::path file;
  int sequence = 0;  // n of <pid>-<n>.dump: images of one pid in exec order
  DumpHeader header{};
  DumpTotals totals{};
  std::string maps;               // /proc/PID/maps text
  std::vector<std::string> argv;  // the image's command line
  std::vector<RawStack> stacks;
  std::vector<DumpSample> timeline;
  // Set when malloc is not glibc's alone (dump_format.hpp, kAllocator): the
  // file whose malloc the program's calls reach instead of the recorder's, or
  // the allocator library the recorder's malloc shadowed.
  std::string malloc_defined_by;
  std::string allocator_bypassed;
};

/// Reads one dump. Throws ProfileError naming the file and what is wrong
/// (not a dump, unknown version, truncated, a section overrunning the file).
ProcessDump read_dump(const std::filesystem::path& file);

/// Every complete dump in `dir`, ordered by pid then sequence. Empty
/// placeholder files (a process that died before its first dump) are listed
/// in `silent` rather than read.
std::vector<ProcessDump> read_dumps(const std::filesystem::path& dir,
                                    std::vector<std::filesystem::path>* silent = nullptr);

}  // namespace perflab::track
