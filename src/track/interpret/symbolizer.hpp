// Turns the raw return addresses the recorder captured in a traced process
// into function names, source lines and module paths, afterwards and outside
// that process, from the files its memory map names (elfutils libdwfl).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "perflab/profile.hpp"
#include "track/interpret/proc_maps.hpp"

namespace perflab::track {

/// What a Symbolizer reads.
struct SymbolizerOptions {
  /// Also read DWARF from compressed separate debug files, the kind
  /// distributions' debug packages install (libc6-dbg, *-dbgsym): source lines
  /// and inlined frames inside system libraries, at the price of
  /// decompressing all of it (libc's: about 10 MB, tens of milliseconds).
  /// Without it such modules give function names from their symbol tables;
  /// DWARF in the file itself, or in an uncompressed separate file (how
  /// projects usually split their own debug info), is always read.
  bool compressed_debug_files = false;
};

/// Symbolizes addresses of one process, given its mappings.
///
/// Each mapped ELF file is loaded at the bias its mappings imply (PIE
/// executables and shared libraries anywhere, non-PIE executables at their
/// link address), with separate debug info found the standard elfutils way:
/// next to the file, in a .debug directory, or under /usr/lib/debug (by
/// build-id or by path); debuginfod too when DEBUGINFOD_URLS is set (see
/// SymbolizerOptions for compressed debug files). Files
/// are opened in the constructor; debug info is read on the first address
/// that needs it. Results are cached per address, so each unique address is
/// resolved once (a process's stacks repeat a lot).
///
/// Function names: C++ names demangled from the DWARF linkage name
/// ("fixture::Widget::make_thing(int)", "int fixture::twice<int>(int)"); C
/// names as the source spells them ("qsort", not its alias "__GI_qsort"); for
/// a C++ function DWARF gives no linkage name (internal linkage, with GCC) the
/// ELF symbol, or for an inlined one its DWARF name qualified by namespaces and
/// classes, without parameters ("ns::(anonymous namespace)::helper"); without
/// DWARF the ELF symbol (.symtab, else .dynsym). Source files are absolute
/// paths (relative ones joined to the compilation directory), lines from the
/// DWARF line table. Missing information leaves a field empty or 0; nothing
/// here fails for an address. Works with GCC's and Clang's DWARF 4 and 5
/// (Clang emits no .debug_aranges; the CUs' own ranges serve instead).
///
/// Not thread-safe: one Symbolizer is used by one thread at a time (lookups
/// fill caches). Movable, not copyable; a moved-from Symbolizer may only be
/// destroyed or assigned to.
class Symbolizer {
 public:
  /// Takes all mappings of one process (parse_proc_maps). Mappings of files
  /// that are missing, deleted, or not ELF yield module-only frames. When
  /// mappings overlap (concatenated snapshots of a process that unloaded one
  /// library and loaded another in its place), the one listed last wins.
  /// Throws std::runtime_error only when libdwfl cannot be initialised.
  explicit Symbolizer(std::vector<MappedModule> mappings, SymbolizerOptions options = {});
  ~Symbolizer();
  Symbolizer(Symbolizer&&) noexcept;
  Symbolizer& operator=(Symbolizer&&) noexcept;
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// The frame of `address`, a call site in the traced process (a return
  /// address minus 1): `address` itself; `module`, the path of the mapping
  /// that holds it; `function`, the physical (not inlined) function; `file`
  /// and `line`, where that function makes the call (when the call site lies
  /// in inlined code, the line of the outermost inlined call). An address in
  /// no mapping gives a frame with only `address` set. Never throws but
  /// std::bad_alloc.
  ProfileFrame symbolize(std::uint64_t address);

  /// The frames of `address` with inlining undone, innermost first: element 0
  /// is the innermost inlined function with the line of `address` itself,
  /// each next element the function it was inlined into with the line of that
  /// inlined call, and the last element equals symbolize(address). Without
  /// inlining (or without DWARF) it holds that one frame. Never empty. Never
  /// throws but std::bad_alloc.
  std::vector<ProfileFrame> symbolize_inlined(std::uint64_t address);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perflab::track
