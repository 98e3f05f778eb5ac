// Tests of src/track/interpret: parse_proc_maps on hand-written text, the
// Symbolizer on a real process, the fixture program of
// tests/track_symbolizer_fixtures (PIE and non-PIE), which prints its call
// sites, the lines they are on, and its own /proc/self/maps; and read_dump on
// hand-made dump files.
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "track/interpret/debug_files.hpp"
#include "track/interpret/dump_reader.hpp"
#include "track/interpret/proc_maps.hpp"
#include "track/interpret/profile_builder.hpp"
#include "track/interpret/symbolizer.hpp"

namespace perflab::track {
namespace {

// Hermetic: no network lookups of libc's debug info, whatever the host sets.
[[maybe_unused]] const bool kNoDebuginfod = (::unsetenv("DEBUGINFOD_URLS"), true);

// ---- parse_proc_maps ------------------------------------------------------------

TEST(ProcMapsTest, KeepsFileMappingsAndSkipsAnonymousPseudoAndMalformedLines) {
  const std::string text =
      "55d0c5a00000-55d0c5a02000 r--p 00000000 08:01 1234567                    /usr/bin/cat\n"
      "55d0c5a02000-55d0c5a07000 r-xp 00002000 08:01 1234567                    /usr/bin/cat\n"
      "55d0c6a00000-55d0c6a21000 rw-p 00000000 00:00 0                          [heap]\n"
      "7f0000000000-7f0000001000 r-xp 00001000 fd:02 42   /opt/my app/lib with  spaces.so\n"
      "7f0000001000-7f0000002000 r-xp 00000000 08:01 43                 /tmp/libgone.so (deleted)\n"
      "7f0000002000-7f0000003000 rw-p 00000000 00:00 0 \n"
      "7f0000003000-7f0000004000 rw-p 00000000 00:00 0\n"
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
      "7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
      "7f0000005000-7f0000006000 rw-s 00000000 00:0f 9             anon_inode:[perf_event]\n"
      "garbage line\n"
      "\n"
      "7f00-zzzz r-xp 00000000 08:01 1 /bad/hex.so\n"
      "7f0000009000-7f0000008000 r-xp 00000000 08:01 1 /bad/start_after_end.so\n"
      "7f000000a000-7f000000b000 r-xp\n"
      "7f000000c000-7f000000d000 r-xp 0000100g 08:01 1 /bad/offset.so\n"
      "7f000000c000-7f000000d000 r-xp 00001000 08:01 1x /bad/inode.so\n"
      "7f000000c000 r-xp 00001000 08:01 1 /bad/range.so\n"
      "7f0000010000-7f0000011000 r-xp 00000000 08:01 7 /windows/line/end.so\r\n"
      "7f000000e000-7f000000f000 r-xp 00003000 08:01 1 /no/trailing/newline.so";
  const std::vector<MappedModule> maps = parse_proc_maps(text);
  ASSERT_EQ(maps.size(), 6u);

  EXPECT_EQ(maps[0].start, 0x55d0c5a00000u);
  EXPECT_EQ(maps[0].end, 0x55d0c5a02000u);
  EXPECT_EQ(maps[0].file_offset, 0u);
  EXPECT_FALSE(maps[0].executable);
  EXPECT_EQ(maps[0].path, "/usr/bin/cat");
  EXPECT_FALSE(maps[0].deleted);

  EXPECT_EQ(maps[1].file_offset, 0x2000u);
  EXPECT_TRUE(maps[1].executable);
  EXPECT_EQ(maps[1].path, "/usr/bin/cat");

  EXPECT_EQ(maps[2].start, 0x7f0000000000u);
  EXPECT_EQ(maps[2].file_offset, 0x1000u);
  EXPECT_EQ(maps[2].path, "/opt/my app/lib with  spaces.so");

  EXPECT_EQ(maps[3].path, "/tmp/libgone.so");
  EXPECT_TRUE(maps[3].deleted);

  EXPECT_EQ(maps[4].path, "/windows/line/end.so");

  EXPECT_EQ(maps[5].start, 0x7f000000e000u);
  EXPECT_EQ(maps[5].end, 0x7f000000f000u);
  EXPECT_EQ(maps[5].file_offset, 0x3000u);
  EXPECT_EQ(maps[5].path, "/no/trailing/newline.so");
}

TEST(ProcMapsTest, KeepsEveryLineOfConcatenatedSnapshots) {
  const std::string snapshot = "1000-2000 r-xp 00000000 08:01 5 /lib/a.so\n";
  const std::vector<MappedModule> maps = parse_proc_maps(snapshot + snapshot);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[1].path, "/lib/a.so");
}

TEST(ProcMapsTest, EmptyOrBlankTextGivesNoMappings) {
  EXPECT_TRUE(parse_proc_maps("").empty());
  EXPECT_TRUE(parse_proc_maps("\n\n  \n").empty());
}

TEST(ProcMapsTest, ParsesTheMapsOfThisProcess) {
  std::ifstream file("/proc/self/maps");
  std::stringstream text;
  text << file.rdbuf();
  const std::vector<MappedModule> maps = parse_proc_maps(text.str());
  bool found_self = false;
  for (const MappedModule& mapping : maps) {
    std::error_code error;
    if (mapping.executable && std::filesystem::equivalent(mapping.path, "/proc/self/exe", error)) {
      found_self = true;
    }
  }
  EXPECT_TRUE(found_self);
}

// ---- the fixture program ----------------------------------------------------------

struct Site {
  std::uint64_t address = 0;
  int line = 0;
};

struct FixtureRun {
  int exit_status = -1;
  std::map<std::string, Site> sites;             // by label
  std::map<std::string, int> inline_call_lines;  // by the label of the site inlined there
  std::uint64_t qsort_address = 0;
  std::string maps;
};

FixtureRun run_fixture(const std::string& program) {
  FixtureRun run;
  const std::string command = "'" + program + "' '" + PERFLAB_FIXTURE_PLUGIN + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, n);
  run.exit_status = ::pclose(pipe);

  std::istringstream lines(output);
  bool in_maps = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "maps-begin" || line == "maps-end") {
      in_maps = line == "maps-begin";
      continue;
    }
    if (in_maps) {
      run.maps += line + "\n";
      continue;
    }
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "site") {
      std::string label;
      std::string address;
      Site site;
      words >> label >> address >> site.line;
      site.address = std::stoull(address, nullptr, 16);
      run.sites[label] = site;
    } else if (kind == "inline_call") {
      std::string label;
      int call_line = 0;
      words >> label >> call_line;
      run.inline_call_lines[label] = call_line;
    } else if (kind == "symbol") {
      std::string name;
      std::string address;
      words >> name >> address;
      if (name == "qsort") run.qsort_address = std::stoull(address, nullptr, 16);
    }
  }
  return run;
}

std::string filename_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  return std::filesystem::equivalent(a, b, error);
}

void expect_same_frame(const ProfileFrame& actual, const ProfileFrame& expected) {
  EXPECT_EQ(actual.address, expected.address);
  EXPECT_EQ(actual.function, expected.function);
  EXPECT_EQ(actual.file, expected.file);
  EXPECT_EQ(actual.line, expected.line);
  EXPECT_EQ(actual.module, expected.module);
}

// The separate debug file of `path` under /usr/lib/debug/.build-id, or "".
std::string debug_file_by_build_id(const std::string& path) {
  std::string result;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result;
  elf_version(EV_CURRENT);
  if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr)) {
    const void* id = nullptr;
    const ssize_t size = dwelf_elf_gnu_build_id(elf, &id);
    if (size > 1) {
      std::string hex;
      for (ssize_t i = 0; i < size; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", static_cast<const unsigned char*>(id)[i]);
        hex += byte;
      }
      result = "/usr/lib/debug/.build-id/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".debug";
    }
    elf_end(elf);
  }
  ::close(fd);
  return result;
}

// Every test runs against both builds of the fixture program.
class SymbolizerTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    run_ = run_fixture(GetParam());
    ASSERT_EQ(run_.exit_status, 0) << GetParam();
    ASSERT_FALSE(run_.maps.empty());
    maps_ = parse_proc_maps(run_.maps);
  }

  const Site& site(const std::string& label) {
    const auto it = run_.sites.find(label);
    if (it == run_.sites.end()) {
      ADD_FAILURE() << "the fixture printed no site " << label;
      static const Site kNone;
      return kNone;
    }
    return it->second;
  }

  // Expects the frame of site `label`: `function`, file `file`, the site's line,
  // and `module`.
  void expect_site(Symbolizer& symbolizer, const std::string& label, const std::string& function,
                   const std::string& file, const std::string& module) {
    SCOPED_TRACE(label);
    const Site& call = site(label);
    const ProfileFrame frame = symbolizer.symbolize(call.address);
    EXPECT_EQ(frame.address, call.address);
    EXPECT_EQ(frame.function, function);
    EXPECT_EQ(filename_of(frame.file), file);
    EXPECT_TRUE(std::filesystem::path(frame.file).is_absolute()) << frame.file;
    EXPECT_EQ(frame.line, call.line);
    EXPECT_GT(frame.line, 0);
    EXPECT_TRUE(same_file(frame.module, module)) << frame.module << " is not " << module;
  }

  FixtureRun run_;
  std::vector<MappedModule> maps_;
};

TEST_P(SymbolizerTest, NamesFunctionsFilesAndLinesInTheExecutable) {
  Symbolizer symbolizer(maps_);
  expect_site(symbolizer, "main_widget_make_thing", "fixture::Widget::make_thing(int)", "main.cc",
              GetParam());
  expect_site(symbolizer, "main_twice", "int fixture::twice<int>(int)", "main.cc", GetParam());
  expect_site(symbolizer, "main_c_function", "fixture_c_function", "main.cc", GetParam());
}

TEST_P(SymbolizerTest, NamesFunctionsFilesAndLinesInTheLinkedLibrary) {
  Symbolizer symbolizer(maps_);
  expect_site(symbolizer, "lib_builder_build", "fixturelib::Builder::build(long, char const*)",
              "linked_lib.cc", PERFLAB_FIXTURE_LIB);
  expect_site(symbolizer, "lib_anonymous_helper",
              "fixturelib::(anonymous namespace)::anonymous_helper(int)", "linked_lib.cc",
              PERFLAB_FIXTURE_LIB);
  expect_site(symbolizer, "lib_c_function", "fixturelib_c_function", "linked_lib.cc",
              PERFLAB_FIXTURE_LIB);
}

TEST_P(SymbolizerTest, NamesFunctionsFilesAndLinesInTheDlopenedLibrary) {
  Symbolizer symbolizer(maps_);
  expect_site(symbolizer, "plugin_registry_add", "plugin::Registry<int>::add(int)", "plugin.cc",
              PERFLAB_FIXTURE_PLUGIN);
  expect_site(symbolizer, "plugin_entry", "fixture_plugin_entry", "plugin.cc",
              PERFLAB_FIXTURE_PLUGIN);
}

TEST_P(SymbolizerTest, ReportsTheInlinedCallerWithTheLineOfTheInlinedCall) {
  Symbolizer symbolizer(maps_);
  const Site& call = site("main_inlined_helper");
  const int inline_call_line = run_.inline_call_lines["main_inlined_helper"];
  ASSERT_GT(inline_call_line, 0);

  const ProfileFrame frame = symbolizer.symbolize(call.address);
  EXPECT_EQ(frame.function, "fixture::calls_inlined(int)");
  EXPECT_EQ(filename_of(frame.file), "main.cc");
  EXPECT_EQ(frame.line, inline_call_line);

  const std::vector<ProfileFrame> frames = symbolizer.symbolize_inlined(call.address);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "fixture::inlined_helper(int)");
  EXPECT_EQ(filename_of(frames[0].file), "main.cc");
  EXPECT_EQ(frames[0].line, call.line);
  EXPECT_TRUE(same_file(frames[0].module, GetParam()));
  expect_same_frame(frames[1], frame);
}

TEST_P(SymbolizerTest, QualifiesAnInlinedFunctionOfAnAnonymousNamespace) {
  Symbolizer symbolizer(maps_);
  const Site& call = site("lib_inlined_anonymous");
  const std::vector<ProfileFrame> frames = symbolizer.symbolize_inlined(call.address);
  ASSERT_EQ(frames.size(), 2u);
  // GCC gives it no linkage name (the name is rebuilt from its scopes, without
  // parameters); Clang does (demangled, with them).
  EXPECT_EQ(frames[0].function.rfind("fixturelib::(anonymous namespace)::inlined_anonymous", 0), 0u)
      << frames[0].function;
  EXPECT_EQ(filename_of(frames[0].file), "linked_lib.cc");
  EXPECT_EQ(frames[0].line, call.line);
  EXPECT_EQ(frames[1].function, "fixturelib::Builder::build(long, char const*)");
  EXPECT_EQ(frames[1].line, run_.inline_call_lines["lib_inlined_anonymous"]);
  EXPECT_GT(frames[1].line, 0);
  EXPECT_TRUE(same_file(frames[1].module, PERFLAB_FIXTURE_LIB));
}

TEST_P(SymbolizerTest, GivesOneInlinedFrameForACallOutsideInlinedCode) {
  Symbolizer symbolizer(maps_);
  const std::uint64_t address = site("lib_builder_build").address;
  const std::vector<ProfileFrame> frames = symbolizer.symbolize_inlined(address);
  ASSERT_EQ(frames.size(), 1u);
  expect_same_frame(frames[0], symbolizer.symbolize(address));
}

TEST_P(SymbolizerTest, NamesALibcFunctionFromLibcSymbols) {
  Symbolizer symbolizer(maps_);
  ASSERT_NE(run_.qsort_address, 0u);
  const ProfileFrame frame = symbolizer.symbolize(run_.qsort_address);
  EXPECT_EQ(frame.function, "qsort");
  EXPECT_EQ(filename_of(frame.module).rfind("libc.so", 0), 0u) << frame.module;
}

TEST_P(SymbolizerTest, NamesLibcFramesFromItsCompressedDebugPackageAndReadsLinesOnRequest) {
  std::string libc;
  for (const MappedModule& mapping : maps_) {
    if (filename_of(mapping.path).rfind("libc.so", 0) == 0) libc = mapping.path;
  }
  ASSERT_FALSE(libc.empty());
  const std::string debug_file = debug_file_by_build_id(libc);
  if (debug_file.empty() || !std::filesystem::exists(debug_file)) {
    GTEST_SKIP() << "no separate debug info for " << libc << " (libc6-dbg)";
  }
  // A call site inside libc (qsort calling the fixture's comparator), in a
  // function .dynsym does not name: only the debug file's symbol table does.
  const std::uint64_t address = site("libc_qsort_caller").address;
  Symbolizer names_only(maps_);
  const ProfileFrame named = names_only.symbolize(address);
  EXPECT_FALSE(named.function.empty());
  EXPECT_EQ(named.module, libc);
  if (has_compressed_dwarf(debug_file.c_str())) {
    EXPECT_TRUE(named.file.empty()) << named.file;
    EXPECT_EQ(named.line, 0);
  }

  Symbolizer full(maps_, SymbolizerOptions{.compressed_debug_files = true});
  const ProfileFrame frame = full.symbolize(address);
  EXPECT_FALSE(frame.function.empty());
  EXPECT_NE(filename_of(frame.file).find(".c"), std::string::npos) << frame.file;
  EXPECT_GT(frame.line, 0);
  EXPECT_EQ(frame.module, libc);
}

// Runs a shell command in `dir`; true when it succeeded.
bool run_in(const std::filesystem::path& dir, const std::string& command) {
  return std::system(("cd '" + dir.string() + "' && " + command + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_P(SymbolizerTest, ReadsAProjectsOwnSeparateDebugFileFoundByDebuglink) {
  perflab::testing::ScratchDir dir("symbolizer_debuglink");
  const std::filesystem::path lib = dir.path() / "libfixture.so";
  std::filesystem::copy_file(PERFLAB_FIXTURE_LIB, lib);
  // Debug info split off the way a project's build does it, and no build-id
  // copy under /usr/lib/debug: only .gnu_debuglink leads to it.
  ASSERT_TRUE(
      run_in(dir.path(),
             "objcopy --only-keep-debug libfixture.so libfixture.so.debug && "
             "objcopy --strip-debug --add-gnu-debuglink=libfixture.so.debug libfixture.so"));
  std::vector<MappedModule> maps = maps_;
  for (MappedModule& mapping : maps) {
    if (same_file(mapping.path, PERFLAB_FIXTURE_LIB)) mapping.path = lib.string();
  }
  const Site& call = site("lib_builder_build");
  {
    Symbolizer symbolizer(maps);
    const ProfileFrame frame = symbolizer.symbolize(call.address);
    EXPECT_EQ(frame.function, "fixturelib::Builder::build(long, char const*)");
    EXPECT_EQ(filename_of(frame.file), "linked_lib.cc");
    EXPECT_EQ(frame.line, call.line);
  }
  // Compressed, as distributions ship theirs: names by default, lines on request.
  ASSERT_TRUE(run_in(dir.path(), "objcopy --compress-debug-sections libfixture.so.debug"));
  ASSERT_TRUE(has_compressed_dwarf((dir.path() / "libfixture.so.debug").c_str()));
  Symbolizer names_only(maps);
  const ProfileFrame named = names_only.symbolize(call.address);
  EXPECT_EQ(named.function, "fixturelib::Builder::build(long, char const*)");
  EXPECT_EQ(named.line, 0);
  Symbolizer full(maps, SymbolizerOptions{.compressed_debug_files = true});
  EXPECT_EQ(full.symbolize(call.address).line, call.line);
}

TEST_P(SymbolizerTest, NeedsOnlyTheExecutableMappings) {
  std::vector<MappedModule> executable;
  for (const MappedModule& mapping : maps_) {
    if (mapping.executable) executable.push_back(mapping);
  }
  ASSERT_LT(executable.size(), maps_.size());
  Symbolizer all(maps_);
  Symbolizer only_executable(executable);
  for (const auto& [label, call] : run_.sites) {
    SCOPED_TRACE(label);
    expect_same_frame(only_executable.symbolize(call.address), all.symbolize(call.address));
  }
}

TEST_P(SymbolizerTest, GivesAnAddressOnlyFrameForAnAddressInNoMapping) {
  Symbolizer symbolizer(maps_);
  for (const std::uint64_t address :
       {std::uint64_t{0x10}, std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max()}) {
    const ProfileFrame frame = symbolizer.symbolize(address);
    EXPECT_EQ(frame.address, address);
    EXPECT_TRUE(frame.function.empty());
    EXPECT_TRUE(frame.file.empty());
    EXPECT_EQ(frame.line, 0);
    EXPECT_TRUE(frame.module.empty());
    EXPECT_EQ(symbolizer.symbolize_inlined(address).size(), 1u);
  }
}

TEST_P(SymbolizerTest, GivesModuleOnlyFramesForADeletedLibrary) {
  // The file at a deleted mapping's path, if any, is not the one that was mapped.
  for (MappedModule& mapping : maps_) {
    if (same_file(mapping.path, PERFLAB_FIXTURE_LIB)) mapping.deleted = true;
  }
  Symbolizer symbolizer(maps_);
  const ProfileFrame frame = symbolizer.symbolize(site("lib_builder_build").address);
  EXPECT_TRUE(same_file(frame.module, PERFLAB_FIXTURE_LIB)) << frame.module;
  EXPECT_TRUE(frame.function.empty());
  EXPECT_EQ(frame.line, 0);
  // The rest of the process is unaffected.
  EXPECT_EQ(symbolizer.symbolize(site("plugin_entry").address).function, "fixture_plugin_entry");
}

TEST_P(SymbolizerTest, LetsTheLaterOfOverlappingMappingsOwnTheirAddresses) {
  const std::uint64_t address = site("lib_c_function").address;
  const MappedModule replacement{address - 0x10, address + 0x10, 0, true, "/nonexistent/libnew.so"};

  std::vector<MappedModule> later = maps_;
  later.push_back(replacement);
  Symbolizer replaced(later);
  const ProfileFrame frame = replaced.symbolize(address);
  EXPECT_EQ(frame.module, "/nonexistent/libnew.so");
  EXPECT_TRUE(frame.function.empty());
  // Addresses of the library outside the replacement still resolve.
  EXPECT_EQ(replaced.symbolize(site("lib_builder_build").address).function,
            "fixturelib::Builder::build(long, char const*)");

  std::vector<MappedModule> earlier = maps_;
  earlier.insert(earlier.begin(), replacement);
  Symbolizer original(earlier);
  EXPECT_EQ(original.symbolize(address).function, "fixturelib_c_function");
}

TEST_P(SymbolizerTest, ResolvesEveryAddressOfTheProgramWithoutFailing) {
  Symbolizer symbolizer(maps_);
  std::size_t named = 0;
  std::size_t total = 0;
  for (const MappedModule& mapping : maps_) {
    if (!mapping.executable) continue;
    const std::uint64_t step = mapping.end - mapping.start > 0x10000 ? 61 : 1;
    for (std::uint64_t address = mapping.start; address < mapping.end; address += step) {
      const ProfileFrame frame = symbolizer.symbolize(address);
      ASSERT_EQ(frame.module, mapping.path);
      ++total;
      if (!frame.function.empty()) ++named;
    }
  }
  // Most code belongs to some function (libc and the fixtures have symbols).
  EXPECT_GT(named, total / 2);
}

TEST_P(SymbolizerTest, AnswersRepeatedAddressesFromItsCacheWithTheSameFrame) {
  Symbolizer symbolizer(maps_);
  const std::uint64_t address = site("main_twice").address;
  const ProfileFrame first = symbolizer.symbolize(address);
  expect_same_frame(symbolizer.symbolize(address), first);
  Symbolizer moved = std::move(symbolizer);
  expect_same_frame(moved.symbolize(address), first);
}

INSTANTIATE_TEST_SUITE_P(Programs, SymbolizerTest,
                         ::testing::Values(PERFLAB_FIXTURE_PIE, PERFLAB_FIXTURE_NOPIE),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.index == 0 ? "Pie" : "NonPie");
                         });

// ---- files that cannot be read ------------------------------------------------------

TEST(SymbolizerFilesTest, GivesModuleOnlyFramesForAMissingFile) {
  Symbolizer symbolizer({{0x100000, 0x200000, 0, true, "/nonexistent/libgone.so"}});
  const ProfileFrame frame = symbolizer.symbolize(0x180000);
  EXPECT_EQ(frame.address, 0x180000u);
  EXPECT_EQ(frame.module, "/nonexistent/libgone.so");
  EXPECT_TRUE(frame.function.empty());
  EXPECT_TRUE(frame.file.empty());
  EXPECT_EQ(frame.line, 0);
}

TEST(SymbolizerFilesTest, GivesModuleOnlyFramesForAFileThatIsNotElf) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("perflab_symbolizer_not_elf_" + std::to_string(::getpid()) + ".so");
  std::ofstream(path) << "not an ELF file\n";
  Symbolizer symbolizer({{0x100000, 0x200000, 0, true, path.string()}});
  const ProfileFrame frame = symbolizer.symbolize(0x100000);
  EXPECT_EQ(frame.module, path.string());
  EXPECT_TRUE(frame.function.empty());
  std::filesystem::remove(path);
}

// ---- dump files ----------------------------------------------------------------------

// A dump as the recorder writes it: header, totals, timeline, end.
std::string dump_bytes(std::uint32_t version, const DumpTotals& totals,
                       const std::vector<DumpSample>& timeline) {
  std::string out;
  // An empty vector's data() may be null, which append must not see.
  auto put = [&out](const void* data, std::size_t n) {
    if (n != 0) out.append(static_cast<const char*>(data), n);
  };
  DumpHeader header{};
  std::memcpy(header.magic, kDumpMagic, sizeof header.magic);
  header.version = version;
  header.mode = DumpMode::kCount;
  header.reason = DumpReason::kExit;
  header.pid = 4242;
  put(&header, sizeof header);
  const SectionHeader totals_section{SectionKind::kTotals, 0, sizeof totals};
  put(&totals_section, sizeof totals_section);
  put(&totals, sizeof totals);
  const SectionHeader timeline_section{SectionKind::kTimeline, 0,
                                       timeline.size() * sizeof(DumpSample)};
  put(&timeline_section, sizeof timeline_section);
  put(timeline.data(), timeline.size() * sizeof(DumpSample));
  const SectionHeader end{SectionKind::kEnd, 0, 0};
  put(&end, sizeof end);
  return out;
}

TEST(DumpReaderTest, CarriesEachTimelineSamplesAllocatedBytesIntoTheProfile) {
  perflab::testing::ScratchDir dir("dump_reader_timeline");
  DumpTotals totals{};
  totals.allocs = 30;
  totals.bytes = 3000;
  const std::vector<DumpSample> timeline = {{.time_ns = 500'000'000,
                                             .heap_bytes = 64,
                                             .rss_bytes = 4096,
                                             .allocs = 10,
                                             .alloc_bytes = 1000},
                                            {.time_ns = 1'000'000'000,
                                             .heap_bytes = 0,
                                             .rss_bytes = 8192,
                                             .allocs = 30,
                                             .alloc_bytes = 3000}};
  const std::filesystem::path file = dir.path() / "4242-0.dump";
  std::ofstream(file, std::ios::binary) << dump_bytes(kDumpVersion, totals, timeline);

  const ProcessDump dump = read_dump(file);
  ASSERT_EQ(dump.timeline.size(), 2u);
  EXPECT_EQ(dump.timeline[0].alloc_bytes, 1000u);
  EXPECT_EQ(dump.timeline[1].alloc_bytes, 3000u);

  const AllocProfile profile = build_alloc_profile(dump);
  const std::vector<TimelineSample> expected = {
      {.time_s = 0.5, .heap_bytes = 64, .rss_bytes = 4096, .allocs = 10, .alloc_bytes = 1000},
      {.time_s = 1.0, .heap_bytes = 0, .rss_bytes = 8192, .allocs = 30, .alloc_bytes = 3000}};
  EXPECT_EQ(profile.timeline, expected);
  EXPECT_EQ(profile.timeline.back().alloc_bytes, profile.bytes);
}

TEST(DumpReaderTest, RefusesADumpOfAnotherVersionNamingBothAndTheRecorder) {
  perflab::testing::ScratchDir dir("dump_reader_version");
  const std::filesystem::path file = dir.path() / "4242-0.dump";
  // Version 2 wrote timeline samples without alloc_bytes: never misread as 3's.
  std::ofstream(file, std::ios::binary) << dump_bytes(2, DumpTotals{}, {});
  try {
    read_dump(file);
    ADD_FAILURE() << "a version 2 dump was read";
  } catch (const ProfileError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("dump version 2"), std::string::npos) << message;
    EXPECT_NE(message.find("reads version " + std::to_string(kDumpVersion)), std::string::npos)
        << message;
    EXPECT_NE(message.find("libperflab_track.so"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace perflab::track
