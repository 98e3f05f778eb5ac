#include "track/interpret/debug_files.hpp"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace perflab::track {

namespace {

namespace fs = std::filesystem;

// Where libdwfl's standard search looks for a .gnu_debuglink name.
std::string debuglink_target(const char* file_name, const char* debuglink_file) {
  const fs::path dir = fs::path(file_name).parent_path();
  std::error_code ec;
  for (const fs::path& candidate :
       {dir / debuglink_file, dir / ".debug" / debuglink_file,
        fs::path("/usr/lib/debug") / dir.relative_path() / debuglink_file}) {
    if (candidate != fs::path(file_name) && fs::is_regular_file(candidate, ec))
      return candidate.string();
  }
  return {};
}

bool has_section(Elf* elf, const char* wanted) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return false;
  for (Elf_Scn* section = elf_nextscn(elf, nullptr); section != nullptr;
       section = elf_nextscn(elf, section)) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr || header.sh_type == SHT_NOBITS) continue;
    const char* name = elf_strptr(elf, names, header.sh_name);
    if (name != nullptr && std::strcmp(name, wanted) == 0) return true;
  }
  return false;
}

}  // namespace

int find_debuginfo(Dwfl_Module* module, void** userdata, const char* module_name, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name) {
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  const bool debuginfod = urls != nullptr && urls[0] != '\0';
  if (!debuginfod) {
    const int fd = dwfl_build_id_find_debuginfo(module, userdata, module_name, base, file_name,
                                                debuglink_file, debuglink_crc, debuginfo_file_name);
    if (fd >= 0) return fd;
    // The standard search would end in debuginfod: enter it only when its
    // debuglink step will find a file first.
    if (debuglink_file == nullptr || file_name == nullptr ||
        debuglink_target(file_name, debuglink_file).empty())
      return -1;
  }
  return dwfl_standard_find_debuginfo(module, userdata, module_name, base, file_name,
                                      debuglink_file, debuglink_crc, debuginfo_file_name);
}

std::string separate_debug_file(Dwfl_Module* module) {
  Dwarf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module, &bias);
  if (elf == nullptr || has_section(elf, ".debug_info") || has_section(elf, ".zdebug_info"))
    return {};
  const unsigned char* id = nullptr;
  GElf_Addr id_address = 0;
  const int id_length = dwfl_module_build_id(module, &id, &id_address);
  if (id_length > 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string path = "/usr/lib/debug/.build-id/";
    for (int i = 0; i < id_length; ++i) {
      path += kHex[id[i] >> 4];
      path += kHex[id[i] & 15];
      if (i == 0) path += '/';
    }
    path += ".debug";
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) return path;
  }
  const char* main_file = nullptr;
  dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, &main_file, nullptr);
  GElf_Word crc = 0;
  const char* link = dwelf_elf_gnu_debuglink(elf, &crc);
  if (main_file == nullptr || link == nullptr) return {};
  return debuglink_target(main_file, link);
}

bool has_compressed_dwarf(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool compressed = false;
  if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr); elf != nullptr) {
    std::size_t names = 0;
    if (elf_getshdrstrndx(elf, &names) == 0) {
      for (Elf_Scn* section = elf_nextscn(elf, nullptr); section != nullptr;
           section = elf_nextscn(elf, section)) {
        GElf_Shdr header;
        if (gelf_getshdr(section, &header) == nullptr) continue;
        const char* name = elf_strptr(elf, names, header.sh_name);
        if (name == nullptr) continue;
        if (std::strcmp(name, ".zdebug_info") == 0 ||
            (std::strcmp(name, ".debug_info") == 0 && (header.sh_flags & SHF_COMPRESSED) != 0)) {
          compressed = true;
          break;
        }
      }
    }
    elf_end(elf);
  }
  ::close(fd);
  return compressed;
}

}  // namespace perflab::track
