// Where the symbolizer's separate debug info comes from, and which of it is
// worth reading.
#pragma once

#include <elfutils/libdwfl.h>

#include <string>

namespace perflab::track {

/// libdwfl's find_debuginfo callback: the standard search (build-id under
/// /usr/lib/debug, then the .gnu_debuglink name next to the file, in its
/// .debug directory and under /usr/lib/debug), without debuginfod unless
/// DEBUGINFOD_URLS is set. (libdwfl's own standard callback loads the
/// debuginfod client, and with it libcurl and its TLS stack, for every module
/// that has no debug info, even with no server configured.)
int find_debuginfo(Dwfl_Module* module, void** userdata, const char* module_name, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name);

/// The separate debug file the standard search would find for `module`
/// (by build-id under /usr/lib/debug, else by .gnu_debuglink), without
/// opening its DWARF; empty when the module's own file has DWARF or none is
/// found.
std::string separate_debug_file(Dwfl_Module* module);

/// Whether the ELF file at `path` holds compressed DWARF (.debug_info with
/// SHF_COMPRESSED, or .zdebug_info), as distributions' debug packages do.
/// Reads only the section headers. False when the file cannot be read.
bool has_compressed_dwarf(const char* path);

}  // namespace perflab::track
