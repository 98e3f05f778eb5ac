#include "track/interpret/symbolizer.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "track/interpret/debug_files.hpp"

namespace perflab::track {
namespace {

// ---- names ------------------------------------------------------------------

// C++ names demangled; anything else (C names, names the demangler rejects) as is.
std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && demangled != nullptr) {
      std::string result(demangled);
      std::free(demangled);
      return result;
    }
    std::free(demangled);
  }
  return name;
}

// The mangled (C++) linkage name of a subprogram or inlined-subroutine DIE,
// or null. dwarf_attr_integrate follows DW_AT_abstract_origin and
// DW_AT_specification to the DIE that carries it. C functions with an asm
// label have an unmangled one ("__GI_qsort"): the source name is better.
const char* mangled_name_of(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (name == nullptr) {
    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  }
  return name != nullptr && name[0] == '_' && name[1] == 'Z' ? name : nullptr;
}

// The DIE that carries `die`'s DW_AT_name (itself or its origin), or nullopt.
std::optional<Dwarf_Die> named_origin_of(Dwarf_Die die) {
  for (int hops = 0; hops < 16; ++hops) {
    if (dwarf_hasattr(&die, DW_AT_name)) return die;
    Dwarf_Attribute attr;
    Dwarf_Attribute* origin = dwarf_attr(&die, DW_AT_abstract_origin, &attr);
    if (origin == nullptr) origin = dwarf_attr(&die, DW_AT_specification, &attr);
    if (origin == nullptr || dwarf_formref_die(origin, &die) == nullptr) return std::nullopt;
  }
  return std::nullopt;
}

// DWARF 6 codes, newer than elfutils 0.188's dwarf.h.
constexpr int kLangCplusplus17 = 0x2a;
constexpr int kLangCplusplus20 = 0x2b;

bool is_cplusplus(Dwarf_Die* die) {
  Dwarf_Die cu;
  if (dwarf_diecu(die, &cu, nullptr, nullptr) == nullptr) return false;
  switch (dwarf_srclang(&cu)) {
    case DW_LANG_C_plus_plus:
    case DW_LANG_C_plus_plus_03:
    case DW_LANG_C_plus_plus_11:
    case DW_LANG_C_plus_plus_14:
    case kLangCplusplus17:
    case kLangCplusplus20:
      return true;
    default:
      return false;
  }
}

// `named`'s DW_AT_name qualified by its enclosing namespaces and classes:
// "fixturelib::(anonymous namespace)::helper", for C++ functions without a
// linkage name (GCC emits none for internal linkage). No parameter list.
std::string qualified_name_of(Dwarf_Die* named) {
  Dwarf_Attribute attr;
  const char* name = dwarf_formstring(dwarf_attr(named, DW_AT_name, &attr));
  if (name == nullptr) return {};
  std::string qualified;
  Dwarf_Die* scopes = nullptr;
  const int count = dwarf_getscopes_die(named, &scopes);
  for (int i = count - 1; i >= 1; --i) {  // scopes[0] is `named`, the last one its CU
    const int tag = dwarf_tag(&scopes[i]);
    const char* scope = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_namespace) {
      qualified += scope != nullptr ? scope : "(anonymous namespace)";
      qualified += "::";
    } else if ((tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
                tag == DW_TAG_union_type) &&
               scope != nullptr) {
      qualified += scope;
      qualified += "::";
    }
  }
  std::free(scopes);
  return qualified + name;
}

// Where the inlined subroutine `die` was called: DW_AT_call_line, and
// DW_AT_call_file with the compilation directory of its CU.
struct CallSite {
  const char* file = nullptr;
  const char* comp_dir = nullptr;
  int line = 0;
};

CallSite call_site_of(Dwarf_Die* die) {
  CallSite site;
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &value) == 0) {
    site.line = static_cast<int>(value);
  }
  if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &value) != 0) return site;
  Dwarf_Die cu;
  Dwarf_Files* files = nullptr;
  std::size_t file_count = 0;
  if (dwarf_diecu(die, &cu, nullptr, nullptr) == nullptr) return site;
  if (dwarf_getsrcfiles(&cu, &files, &file_count) != 0 || value >= file_count) return site;
  site.file = dwarf_filesrc(files, value, nullptr, nullptr);
  site.comp_dir = dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &attr));
  return site;
}

// ---- ELF layout and load bias --------------------------------------------------

struct LoadSegment {
  std::uint64_t vaddr = 0;
  std::uint64_t offset = 0;
  std::uint64_t file_size = 0;
  bool executable = false;
};

struct ElfLayout {
  bool usable = false;  // an ET_EXEC or ET_DYN file with PT_LOAD segments
  bool fixed = false;   // ET_EXEC: loaded at its link addresses, bias 0
  std::vector<LoadSegment> loads;
};

ElfLayout read_elf_layout(const std::string& path) {
  ElfLayout layout;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return layout;
  if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
    GElf_Ehdr header;
    std::size_t count = 0;
    if (elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &header) != nullptr &&
        (header.e_type == ET_EXEC || header.e_type == ET_DYN) && elf_getphdrnum(elf, &count) == 0) {
      for (std::size_t i = 0; i < count; ++i) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) continue;
        if (phdr.p_type != PT_LOAD || phdr.p_filesz == 0) continue;
        layout.loads.push_back(
            {phdr.p_vaddr, phdr.p_offset, phdr.p_filesz, (phdr.p_flags & PF_X) != 0});
      }
      layout.fixed = header.e_type == ET_EXEC;
      layout.usable = !layout.loads.empty();
    }
    elf_end(elf);
  }
  ::close(fd);
  return layout;
}

// The load bias (runtime address minus link-time address) that `mapping`
// implies: it maps `file_offset` at `start`, and a PT_LOAD maps file offset o
// at p_vaddr + (o - p_offset). The kernel maps a segment from the page holding
// p_offset, so a mapping can start below p_offset, and the last page of one
// segment can be the first of the next: then the segment with the mapping's
// permission, then the one starting later, is the one mapped.
std::optional<std::uint64_t> load_bias(const ElfLayout& layout, const MappedModule& mapping,
                                       std::uint64_t page_size) {
  if (layout.fixed) return 0;
  const LoadSegment* best = nullptr;
  std::uint64_t best_page = 0;
  for (const LoadSegment& segment : layout.loads) {
    const std::uint64_t first_page = segment.offset & ~(page_size - 1);
    if (mapping.file_offset < first_page) continue;
    if (mapping.file_offset >= segment.offset + segment.file_size) continue;
    const bool same_permission = segment.executable == mapping.executable;
    const bool best_same_permission = best != nullptr && best->executable == mapping.executable;
    if (best == nullptr || (same_permission && !best_same_permission) ||
        (same_permission == best_same_permission && first_page > best_page)) {
      best = &segment;
      best_page = first_page;
    }
  }
  if (best == nullptr) return std::nullopt;
  // Unsigned arithmetic wraps, so the result is right whichever term is larger.
  return mapping.start - (best->vaddr + (mapping.file_offset - best->offset));
}

// ---- ELF symbol tables ---------------------------------------------------------

struct ElfSymbol {
  std::uint64_t address = 0;
  std::uint64_t size = 0;      // 0: extends to the next symbol
  const char* name = nullptr;  // in libelf's string table, alive as long as the Dwfl
};

// The module's function symbols sorted by address, one per address.
// dwfl_module_addrsym scans the whole table on every call; this is a binary search.
std::vector<ElfSymbol> read_function_symbols(Dwfl_Module* module) {
  struct Candidate {
    ElfSymbol symbol;
    int rank;  // lower is preferred among symbols at one address
  };
  std::vector<Candidate> candidates;
  const int count = dwfl_module_getsymtab(module);
  for (int i = 0; i < count; ++i) {
    GElf_Sym sym;
    GElf_Addr address = 0;
    GElf_Word section = 0;
    Elf* elf = nullptr;
    Dwarf_Addr bias = 0;
    const char* name = dwfl_module_getsym_info(module, i, &sym, &address, &section, &elf, &bias);
    if (name == nullptr || name[0] == '\0' || section == SHN_UNDEF) continue;
    const int type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
    // Prefer a sized symbol, then global over weak over local, then fewer
    // leading underscores: "malloc" rather than "__libc_malloc".
    const int binding = GELF_ST_BIND(sym.st_info);
    const int binding_rank = binding == STB_GLOBAL ? 0 : binding == STB_WEAK ? 1 : 2;
    const auto underscores = static_cast<int>(std::string_view(name).find_first_not_of('_'));
    const int rank = (sym.st_size == 0 ? 1000 : 0) + binding_rank * 100 + std::min(underscores, 99);
    std::uint64_t size = sym.st_size;
    if (size == 0) {
      // A sizeless symbol (assembly, _init) ends with its section at the latest:
      // _init must not claim the PLT that follows.
      GElf_Shdr header;
      Elf_Scn* scn = elf != nullptr ? elf_getscn(elf, section) : nullptr;
      if (scn != nullptr && gelf_getshdr(scn, &header) != nullptr &&
          address - bias >= header.sh_addr && address - bias < header.sh_addr + header.sh_size) {
        size = header.sh_addr + header.sh_size - (address - bias);
      }
    }
    candidates.push_back({{address, size, name}, rank});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.symbol.address != b.symbol.address ? a.symbol.address < b.symbol.address
                                                : a.rank < b.rank;
  });
  std::vector<ElfSymbol> symbols;
  for (const Candidate& candidate : candidates) {
    if (symbols.empty() || symbols.back().address != candidate.symbol.address) {
      symbols.push_back(candidate.symbol);
    }
  }
  return symbols;
}

// The function symbol holding `address`, or null.
const ElfSymbol* symbol_at(const std::vector<ElfSymbol>& symbols, std::uint64_t address) {
  auto it = std::upper_bound(
      symbols.begin(), symbols.end(), address,
      [](std::uint64_t value, const ElfSymbol& symbol) { return value < symbol.address; });
  if (it == symbols.begin()) return nullptr;
  --it;
  if (it->size != 0 && address - it->address >= it->size) return nullptr;
  return &*it;
}

// ---- per-CU index of functions and inlined calls ------------------------------

// One address range of a subprogram or inlined-subroutine DIE. Ranges nest as
// the DIEs do: an inlined call's ranges lie inside its caller's.
struct ScopeNode {
  Dwarf_Addr low = 0;
  Dwarf_Addr high = 0;  // exclusive
  Dwarf_Die die{};
  std::vector<std::uint32_t> children;  // sorted by low
};

// dwarf_getscopes walks the whole CU on every call, far too slow for 100k
// addresses in big CUs; this walks each CU once and then answers by binary
// search at each nesting level.
struct CuIndex {
  std::vector<ScopeNode> nodes;
  std::vector<std::uint32_t> roots;  // sorted by low

  void build(Dwarf_Die* cu) {
    add_children(cu, {}, 0);
    auto by_low = [this](std::uint32_t a, std::uint32_t b) { return nodes[a].low < nodes[b].low; };
    std::stable_sort(roots.begin(), roots.end(), by_low);
    for (ScopeNode& node : nodes)
      std::stable_sort(node.children.begin(), node.children.end(), by_low);
  }

  // The DIEs whose ranges hold `pc`, innermost first, ending with the
  // subprogram they belong to.
  std::vector<Dwarf_Die> scopes_at(Dwarf_Addr pc) const {
    std::vector<std::uint32_t> chain;  // outermost first
    const std::vector<std::uint32_t>* level = &roots;
    for (;;) {
      auto it = std::upper_bound(
          level->begin(), level->end(), pc,
          [this](Dwarf_Addr value, std::uint32_t node) { return value < nodes[node].low; });
      // Siblings do not overlap in sane DWARF; tolerate a little overlap anyway.
      std::optional<std::uint32_t> found;
      for (int tries = 0; it != level->begin() && tries < 4 && !found; ++tries) {
        --it;
        if (pc < nodes[*it].high) found = *it;
      }
      if (!found) break;
      chain.push_back(*found);
      level = &nodes[*found].children;
    }
    std::vector<Dwarf_Die> scopes;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      Dwarf_Die die = nodes[*it].die;
      scopes.push_back(die);
      if (dwarf_tag(&die) == DW_TAG_subprogram) break;
    }
    return scopes;
  }

 private:
  static constexpr int kMaxDepth = 200;

  void add_children(Dwarf_Die* parent, const std::vector<std::uint32_t>& enclosing, int depth) {
    Dwarf_Die child;
    if (depth > kMaxDepth || dwarf_child(parent, &child) != 0) return;
    do {
      switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram:
        case DW_TAG_inlined_subroutine: {
          // A declaration or abstract instance has no ranges, but can still
          // hold code: the member functions of a local class (a lambda's).
          const std::vector<std::uint32_t> pieces = add_ranges(child, enclosing);
          add_children(&child, pieces.empty() ? enclosing : pieces, depth + 1);
          break;
        }
        // Other scopes that can hold code-bearing DIEs. GCC nests some member
        // function definitions in their class (a lambda's destructor).
        case DW_TAG_lexical_block:
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
        case DW_TAG_interface_type:
        case DW_TAG_try_block:
        case DW_TAG_catch_block:
          add_children(&child, enclosing, depth + 1);
          break;
        default:
          break;
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  // Adds a node per address range of `die` under the enclosing node that holds
  // it (or as a root); returns the new nodes.
  std::vector<std::uint32_t> add_ranges(Dwarf_Die& die,
                                        const std::vector<std::uint32_t>& enclosing) {
    std::vector<std::uint32_t> pieces;
    Dwarf_Addr base = 0;
    Dwarf_Addr low = 0;
    Dwarf_Addr high = 0;
    for (std::ptrdiff_t offset = 0;
         (offset = dwarf_ranges(&die, offset, &base, &low, &high)) > 0;) {
      if (low >= high) continue;
      const auto index = static_cast<std::uint32_t>(nodes.size());
      nodes.push_back({low, high, die, {}});
      std::vector<std::uint32_t>* siblings = &roots;
      for (std::uint32_t parent : enclosing) {
        if (nodes[parent].low <= low && low < nodes[parent].high) {
          siblings = &nodes[parent].children;
          break;
        }
      }
      siblings->push_back(index);
      pieces.push_back(index);
    }
    return pieces;
  }
};

// The address ranges of a module's compilation units, sorted, from the CU DIEs.
struct CuRange {
  Dwarf_Addr low = 0;
  Dwarf_Addr high = 0;  // exclusive
  Dwarf_Die cu{};
};

struct ModuleCus {
  Dwarf_Addr bias = 0;
  std::vector<CuRange> ranges;
};

ModuleCus read_cu_ranges(Dwfl_Module* module) {
  ModuleCus cus;
  Dwarf* dwarf = dwfl_module_getdwarf(module, &cus.bias);
  if (dwarf == nullptr) return cus;
  Dwarf_CU* unit = nullptr;
  Dwarf_Die cu;
  std::uint8_t unit_type = 0;
  while (dwarf_get_units(dwarf, unit, &unit, nullptr, &unit_type, &cu, nullptr) == 0) {
    if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton) continue;
    Dwarf_Addr base = 0;
    Dwarf_Addr low = 0;
    Dwarf_Addr high = 0;
    for (std::ptrdiff_t offset = 0; (offset = dwarf_ranges(&cu, offset, &base, &low, &high)) > 0;) {
      if (low < high) cus.ranges.push_back({low, high, cu});
    }
  }
  std::sort(cus.ranges.begin(), cus.ranges.end(),
            [](const CuRange& a, const CuRange& b) { return a.low < b.low; });
  return cus;
}

// Resolves only through explicitly reported modules; debug info the standard
// way (build-id and debuglink under /usr/lib/debug, debuginfod if configured).
char* g_debuginfo_path = nullptr;
const Dwfl_Callbacks kDwflCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &g_debuginfo_path,
};

// A stretch of addresses and the mapping that owns it.
struct AddressSpan {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t mapping = 0;
};

// Non-overlapping spans sorted by start; where mappings overlap the later one
// in `mappings` owns the addresses.
std::vector<AddressSpan> spans_of(const std::vector<MappedModule>& mappings) {
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint32_t>> spans;  // start -> end, mapping
  for (std::uint32_t i = 0; i < mappings.size(); ++i) {
    const std::uint64_t start = mappings[i].start;
    const std::uint64_t end = mappings[i].end;
    if (start >= end) continue;
    auto it = spans.lower_bound(start);
    if (it != spans.begin()) {
      auto previous = std::prev(it);
      const auto [previous_end, previous_mapping] = previous->second;
      if (previous_end > start) {
        previous->second.first = start;
        if (previous_end > end) spans.emplace(end, std::pair{previous_end, previous_mapping});
      }
    }
    while (it != spans.end() && it->first < end) {
      const auto [span_end, span_mapping] = it->second;
      it = spans.erase(it);
      if (span_end > end) {
        spans.emplace(end, std::pair{span_end, span_mapping});
        break;
      }
    }
    spans[start] = {end, i};
  }
  std::vector<AddressSpan> result;
  result.reserve(spans.size());
  for (const auto& [start, value] : spans) {
    if (start < value.first) result.push_back({start, value.first, value.second});
  }
  return result;
}

}  // namespace

// ---- Symbolizer::Impl -------------------------------------------------------------

class Symbolizer::Impl {
 public:
  Impl(std::vector<MappedModule> mappings, SymbolizerOptions options)
      : mappings_(std::move(mappings)), options_(options) {
    elf_version(EV_CURRENT);
    dwfl_ = dwfl_begin(&kDwflCallbacks);
    if (dwfl_ == nullptr) {
      throw std::runtime_error(std::string("cannot initialise libdwfl (") + dwfl_errmsg(-1) + ")");
    }
    spans_ = spans_of(mappings_);
    report_modules();
  }

  ~Impl() { dwfl_end(dwfl_); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const std::vector<ProfileFrame>& frames_of(std::uint64_t address) {
    if (auto it = cache_.find(address); it != cache_.end()) return it->second;
    return cache_.emplace(address, resolve(address)).first->second;
  }

 private:
  // Reports each ELF file once per load bias (a file mapped twice is two
  // modules). Mappings that later ones cover entirely are left out, so
  // libdwfl never sees two modules at one address.
  void report_modules() {
    modules_.assign(mappings_.size(), nullptr);
    std::vector<bool> visible(mappings_.size(), false);
    for (const AddressSpan& span : spans_) visible[span.mapping] = true;

    const long page_size = ::sysconf(_SC_PAGESIZE);
    std::unordered_map<std::string, ElfLayout> layouts;
    std::map<std::pair<std::string, std::uint64_t>, Dwfl_Module*> reported;
    dwfl_report_begin(dwfl_);
    for (std::size_t i = 0; i < mappings_.size(); ++i) {
      const MappedModule& mapping = mappings_[i];
      if (!visible[i] || mapping.deleted) continue;  // a deleted file's path may hold another file
      auto layout = layouts.find(mapping.path);
      if (layout == layouts.end()) {
        layout = layouts.emplace(mapping.path, read_elf_layout(mapping.path)).first;
      }
      if (!layout->second.usable) continue;
      const auto bias = load_bias(layout->second, mapping,
                                  page_size > 0 ? static_cast<std::uint64_t>(page_size) : 4096);
      if (!bias) continue;
      auto [it, inserted] = reported.try_emplace({mapping.path, *bias}, nullptr);
      if (inserted) {
        // add_p_vaddr: the module's bias is `base` itself.
        it->second = dwfl_report_elf(dwfl_, mapping.path.c_str(), mapping.path.c_str(), -1, *bias,
                                     /*add_p_vaddr=*/true);
      }
      modules_[i] = it->second;
    }
    dwfl_report_end(dwfl_, nullptr, nullptr);
  }

  const AddressSpan* span_at(std::uint64_t address) const {
    auto it = std::upper_bound(
        spans_.begin(), spans_.end(), address,
        [](std::uint64_t value, const AddressSpan& span) { return value < span.start; });
    if (it == spans_.begin()) return nullptr;
    --it;
    return address < it->end ? &*it : nullptr;
  }

  std::vector<ProfileFrame> resolve(std::uint64_t address) {
    ProfileFrame frame;
    frame.address = address;
    const AddressSpan* span = span_at(address);
    if (span == nullptr) return {frame};
    frame.module = mappings_[span->mapping].path;
    Dwfl_Module* module = modules_[span->mapping];
    if (module == nullptr) return {frame};

    std::vector<Dwarf_Die> scopes;
    ProfileFrame innermost = frame;
    Dwarf_Addr bias = 0;
    std::optional<Dwarf_Die> cu;
    if (reads_dwarf(module)) cu = cu_at(module, address, bias);
    if (cu) {
      const Dwarf_Addr pc = address - bias;
      scopes = cu_index(module, *cu).scopes_at(pc);
      if (Dwarf_Line* line = dwarf_getsrc_die(&*cu, pc)) {
        int line_number = 0;
        if (const char* file = dwarf_linesrc(line, nullptr, nullptr);
            file != nullptr && dwarf_lineno(line, &line_number) == 0) {
          Dwarf_Attribute attr;
          innermost.file =
              source_path(file, dwarf_formstring(dwarf_attr(&*cu, DW_AT_comp_dir, &attr)));
          innermost.line = line_number;
        }
      }
    }
    if (scopes.empty()) {
      innermost.function = symbol_name(module, address);
      return {innermost};
    }

    std::vector<ProfileFrame> frames;
    frames.reserve(scopes.size());
    innermost.function = function_name(&scopes[0], scopes.size() == 1, module, address);
    frames.push_back(std::move(innermost));
    for (std::size_t i = 1; i < scopes.size(); ++i) {
      ProfileFrame caller = frame;
      caller.function = function_name(&scopes[i], i + 1 == scopes.size(), module, address);
      const CallSite site = call_site_of(&scopes[i - 1]);
      if (site.file != nullptr) caller.file = source_path(site.file, site.comp_dir);
      caller.line = site.line;
      frames.push_back(std::move(caller));
    }
    return frames;
  }

  // The name of the function of `die`. For the physical function (not
  // inlined), the ELF symbol when DWARF lacks a C++ linkage name: it is
  // qualified and has the parameter list.
  std::string function_name(Dwarf_Die* die, bool physical, Dwfl_Module* module,
                            std::uint64_t address) {
    if (const char* mangled = mangled_name_of(die)) return demangled(mangled);
    const std::optional<Dwarf_Die> named = named_origin_of(*die);
    const bool cplusplus = is_cplusplus(die);
    if (physical && (cplusplus || !named)) {
      if (std::string symbol = symbol_name(module, address); !symbol.empty()) return symbol;
    }
    if (!named) return {};
    Dwarf_Die origin = *named;
    if (!cplusplus) {
      const char* name = dwarf_diename(&origin);
      return name != nullptr ? name : "";
    }
    auto [it, inserted] = qualified_names_.try_emplace(origin.addr);
    if (inserted) it->second = qualified_name_of(&origin);
    return it->second;
  }

  // Whether to read the module's DWARF, or take names from its symbol table.
  bool reads_dwarf(Dwfl_Module* module) {
    auto [it, inserted] = reads_dwarf_.try_emplace(module, true);
    if (!inserted || options_.compressed_debug_files) return it->second;
    const std::string debug_file = separate_debug_file(module);
    if (!debug_file.empty()) it->second = !has_compressed_dwarf(debug_file.c_str());
    return it->second;
  }

  // The compilation unit holding `address`, and the bias of its DWARF.
  std::optional<Dwarf_Die> cu_at(Dwfl_Module* module, std::uint64_t address, Dwarf_Addr& bias) {
    if (Dwarf_Die* cu = dwfl_module_addrdie(module, address, &bias)) return *cu;
    // libdwfl finds CUs by .debug_aranges, which Clang does not emit: search
    // the CUs' own ranges then.
    auto [it, inserted] = cu_ranges_.try_emplace(module);
    if (inserted) it->second = read_cu_ranges(module);
    const ModuleCus& cus = it->second;
    bias = cus.bias;
    const Dwarf_Addr pc = address - bias;
    auto range = std::upper_bound(
        cus.ranges.begin(), cus.ranges.end(), pc,
        [](Dwarf_Addr value, const CuRange& cu_range) { return value < cu_range.low; });
    if (range == cus.ranges.begin() || pc >= std::prev(range)->high) return std::nullopt;
    return std::prev(range)->cu;
  }

  const CuIndex& cu_index(Dwfl_Module* module, Dwarf_Die cu) {
    auto [it, inserted] = cu_indexes_.try_emplace({module, dwarf_dieoffset(&cu)});
    if (inserted) it->second.build(&cu);
    return it->second;
  }

  std::string symbol_name(Dwfl_Module* module, std::uint64_t address) {
    auto [it, inserted] = symbols_.try_emplace(module);
    if (inserted) it->second = read_function_symbols(module);
    const ElfSymbol* symbol = symbol_at(it->second, address);
    return symbol != nullptr ? demangled(symbol->name) : std::string();
  }

  // `file` as an absolute, lexically normal path: relative names in the line
  // table are relative to the compilation directory. Cached by the name's
  // address in libdw's file table.
  const std::string& source_path(const char* file, const char* comp_dir) {
    auto [it, inserted] = source_paths_.try_emplace(file);
    if (inserted) {
      std::filesystem::path path(file);
      if (path.is_relative() && comp_dir != nullptr) path = std::filesystem::path(comp_dir) / path;
      it->second = path.lexically_normal().string();
    }
    return it->second;
  }

  // Demangling is most of the cost of a new address with long C++ names, and
  // a function has many addresses: cached by the name's address in the file's
  // string table (stable while the Dwfl lives).
  const std::string& demangled(const char* name) {
    auto [it, inserted] = demangled_.try_emplace(name);
    if (inserted) {
      std::string_view text = name;
      // .symtab names versioned definitions "memcpy@@GLIBC_2.14".
      if (const std::size_t at = text.find('@'); at != 0 && at != std::string_view::npos) {
        it->second = demangle(std::string(text.substr(0, at)).c_str());
      } else {
        it->second = demangle(name);
      }
    }
    return it->second;
  }

  std::vector<MappedModule> mappings_;
  SymbolizerOptions options_;
  std::vector<AddressSpan> spans_;
  std::vector<Dwfl_Module*> modules_;  // per mapping; null when its file is unusable
  Dwfl* dwfl_ = nullptr;
  std::unordered_map<std::uint64_t, std::vector<ProfileFrame>> cache_;
  std::unordered_map<Dwfl_Module*, std::vector<ElfSymbol>> symbols_;
  std::unordered_map<Dwfl_Module*, ModuleCus> cu_ranges_;
  std::unordered_map<Dwfl_Module*, bool> reads_dwarf_;
  std::map<std::pair<Dwfl_Module*, Dwarf_Off>, CuIndex> cu_indexes_;
  std::unordered_map<const void*, std::string> qualified_names_;  // by DIE address
  std::unordered_map<const char*, std::string> demangled_;        // by mangled name
  std::unordered_map<const char*, std::string> source_paths_;     // by name in the file table
};

// ---- Symbolizer -------------------------------------------------------------------

Symbolizer::Symbolizer(std::vector<MappedModule> mappings, SymbolizerOptions options)
    : impl_(std::make_unique<Impl>(std::move(mappings), options)) {}

Symbolizer::~Symbolizer() = default;
Symbolizer::Symbolizer(Symbolizer&&) noexcept = default;
Symbolizer& Symbolizer::operator=(Symbolizer&&) noexcept = default;

ProfileFrame Symbolizer::symbolize(std::uint64_t address) {
  return impl_->frames_of(address).back();
}

std::vector<ProfileFrame> Symbolizer::symbolize_inlined(std::uint64_t address) {
  return impl_->frames_of(address);
}

}  // namespace perflab::track
