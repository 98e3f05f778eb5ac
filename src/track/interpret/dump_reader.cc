#include "dump_reader.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "perflab/profile.hpp"

namespace perflab::track {
namespace {

class Cursor {
 public:
  Cursor(const std::string& data, const std::filesystem::path& file) : data_(data), file_(file) {}

  template <class T>
  T take(const char* what) {
    T value;
    need(sizeof value, what);
    std::memcpy(&value, data_.data() + at_, sizeof value);
    at_ += sizeof value;
    return value;
  }
  std::string take_bytes(std::uint64_t n, const char* what) {
    need(n, what);
    std::string out = data_.substr(at_, n);
    at_ += n;
    return out;
  }
  void need(std::uint64_t n, const char* what) const {
    if (n > data_.size() - at_)
      fail(std::string("truncated in ") + what + " (the process may have died while writing)");
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw ProfileError(file_.string() + ": " + why);
  }
  std::uint64_t at() const { return at_; }

 private:
  const std::string& data_;
  const std::filesystem::path& file_;
  std::uint64_t at_ = 0;
};

std::vector<std::string> split_cmdline(const std::string& text) {
  std::vector<std::string> argv;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    argv.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

void read_stacks(Cursor& in, std::uint64_t bytes, ProcessDump& dump) {
  const std::uint64_t end = in.at() + bytes;
  while (end - in.at() >= sizeof(DumpStack)) {
    const auto counts = in.take<DumpStack>("a stack");
    if (counts.depth > 4096)
      in.fail("stack depth " + std::to_string(counts.depth) + " is implausible");
    if (sizeof(std::uint64_t) * counts.depth > end - in.at())
      in.fail("a stack overruns its section");
    RawStack stack;
    stack.counts = counts;
    stack.frames.resize(counts.depth);
    for (auto& f : stack.frames) f = in.take<std::uint64_t>("a stack frame");
    if (counts.allocs != 0 || counts.frees != 0) dump.stacks.push_back(std::move(stack));
  }
  in.take_bytes(end - in.at(), "stack padding");
}

}  // namespace

ProcessDump read_dump(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw ProfileError(file.string() + ": cannot open (" + std::strerror(errno) + ")");
  const std::string data((std::istreambuf_iterator<char>(stream)),
                         std::istreambuf_iterator<char>());
  Cursor in(data, file);
  ProcessDump dump;
  dump.file = file;
  dump.header = in.take<DumpHeader>("the header");
  if (std::memcmp(dump.header.magic, kDumpMagic, sizeof kDumpMagic) != 0)
    in.fail("not a perflab track dump (bad magic)");
  // Layouts differ between versions (version 2's timeline samples had no
  // alloc_bytes): a mismatch means a recorder from another perflab build.
  if (dump.header.version != kDumpVersion)
    in.fail("dump version " + std::to_string(dump.header.version) +
            ", this perflab reads version " + std::to_string(kDumpVersion) +
            " only: the recorder (libperflab_track.so) is from another perflab build; use the "
            "one installed with this perflab (lib/perflab/ next to it)");
  bool ended = false;
  while (!ended) {
    const auto section = in.take<SectionHeader>("a section header");
    in.need(section.bytes, "a section");
    switch (section.kind) {
      case SectionKind::kTotals:
        if (section.bytes != sizeof(DumpTotals)) in.fail("totals section has the wrong size");
        dump.totals = in.take<DumpTotals>("totals");
        break;
      case SectionKind::kMaps:
        dump.maps = in.take_bytes(section.bytes, "maps");
        break;
      case SectionKind::kCmdline:
        dump.argv = split_cmdline(in.take_bytes(section.bytes, "cmdline"));
        break;
      case SectionKind::kStacks:
        read_stacks(in, section.bytes, dump);
        break;
      case SectionKind::kTimeline:
        if (section.bytes % sizeof(DumpSample) != 0)
          in.fail("timeline section has a partial sample");
        dump.timeline.resize(section.bytes / sizeof(DumpSample));
        for (auto& s : dump.timeline) s = in.take<DumpSample>("timeline");
        break;
      case SectionKind::kAllocator: {
        const std::string note = in.take_bytes(section.bytes, "allocator");
        if (note.rfind("defined-by ", 0) == 0) dump.malloc_defined_by = note.substr(11);
        if (note.rfind("bypassed ", 0) == 0) dump.allocator_bypassed = note.substr(9);
        break;
      }
      case SectionKind::kEnd:
        ended = true;
        break;
      default:
        in.take_bytes(section.bytes, "an unknown section");  // newer writers may add sections
    }
  }
  return dump;
}

std::vector<ProcessDump> read_dumps(const std::filesystem::path& dir,
                                    std::vector<std::filesystem::path>* silent) {
  std::vector<ProcessDump> dumps;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto& path = entry.path();
    if (path.extension() != ".dump") continue;
    if (entry.file_size(ec) == 0) {
      if (silent != nullptr) silent->push_back(path);
      continue;
    }
    ProcessDump dump = read_dump(path);
    const std::string stem = path.stem().string();
    const auto dash = stem.rfind('-');
    dump.sequence = dash == std::string::npos ? 0 : std::atoi(stem.c_str() + dash + 1);
    dumps.push_back(std::move(dump));
  }
  if (ec) throw ProfileError(dir.string() + ": cannot list dumps (" + ec.message() + ")");
  std::sort(dumps.begin(), dumps.end(), [](const ProcessDump& a, const ProcessDump& b) {
    return a.header.pid != b.header.pid ? a.header.pid < b.header.pid : a.sequence < b.sequence;
  });
  return dumps;
}

}  // namespace perflab::track
