// pprof Profile message -> AllocProfile, and read_alloc_profile(). Input is
// untrusted: every index and id is checked before use, so a corrupt file is a
// ProfileError, never a crash.
#include <charconv>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "profile.pb.h"
#include "profile_internal.hpp"

namespace perflab {

namespace fs = std::filesystem;

namespace profile_detail {

namespace {

constexpr std::size_t kMaxInflatedBytes = std::size_t{1} << 30;
// Inlined locations multiply frames; a crafted file must not exhaust memory.
constexpr std::size_t kMaxSiteFrames = std::size_t{1} << 26;

class Decoder {
 public:
  Decoder(const pprof::Profile& in, const std::string& what) : in_(in), what_(what) {}

  AllocProfile decode() {
    check_string_table();
    find_sample_types();
    read_mappings();
    read_functions();
    read_locations();
    read_samples();
    read_totals();
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ProfileError(what_ + ": " + message);
  }

  const std::string& text(std::int64_t index, const char* field) const {
    if (index < 0 || index >= in_.string_table_size()) {
      fail(std::string(field) + " refers to string " + std::to_string(index) +
           ", but the string table has " + std::to_string(in_.string_table_size()) + " entries");
    }
    return in_.string_table(static_cast<int>(index));
  }

  void check_string_table() const {
    if (in_.string_table_size() == 0 || !in_.string_table(0).empty()) {
      fail("not a pprof profile (string_table[0] must be the empty string)");
    }
  }

  void find_sample_types() {
    const char* const wanted[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    std::string present;
    for (int i = 0; i < in_.sample_type_size(); ++i) {
      const pprof::ValueType& type = in_.sample_type(i);
      const std::string& name = text(type.type(), "sample_type.type");
      present += (present.empty() ? "" : ", ") + name + "/" + text(type.unit(), "sample_type.unit");
      for (int k = 0; k < 4; ++k) {
        if (name == wanted[k] && value_index_[k] < 0) value_index_[k] = i;
      }
    }
    for (int k = 0; k < 4; ++k) {
      if (value_index_[k] < 0) {
        fail(std::string("not an allocation profile: no ") + wanted[k] + " sample type (it has " +
             (present.empty() ? "none" : present) + ")");
      }
    }
  }

  void read_mappings() {
    for (const pprof::Mapping& mapping : in_.mapping()) {
      if (mapping.id() == 0) fail("a mapping has id 0");
      if (!module_of_mapping_.try_emplace(mapping.id(), out_.modules.size()).second) {
        fail("mapping id " + std::to_string(mapping.id()) + " appears twice");
      }
      ProfileModule& module = out_.modules.emplace_back();
      module.path = text(mapping.filename(), "mapping.filename");
      module.start = mapping.memory_start();
      module.limit = mapping.memory_limit();
      module.file_offset = mapping.file_offset();
      module.build_id = text(mapping.build_id(), "mapping.build_id");
    }
  }

  void read_functions() {
    for (const pprof::Function& function : in_.function()) {
      if (function.id() == 0) fail("a function has id 0");
      const std::pair<std::string, std::string> name_file{
          text(function.name(), "function.name"), text(function.filename(), "function.filename")};
      if (!functions_.try_emplace(function.id(), name_file).second) {
        fail("function id " + std::to_string(function.id()) + " appears twice");
      }
    }
  }

  // A location becomes one frame per line (inlined functions first), or one
  // address-only frame when it has no line.
  void read_locations() {
    for (const pprof::Location& location : in_.location()) {
      if (location.id() == 0) fail("a location has id 0");
      std::string module;
      if (location.mapping_id() != 0) {
        const auto mapping = module_of_mapping_.find(location.mapping_id());
        if (mapping == module_of_mapping_.end()) {
          fail("location " + std::to_string(location.id()) + " refers to mapping " +
               std::to_string(location.mapping_id()) + ", which does not exist");
        }
        module = out_.modules[mapping->second].path;
      }
      std::vector<std::uint32_t> frames;
      ProfileFrame address_only;
      address_only.address = location.address();
      address_only.module = module;
      auto add_frame = [&](ProfileFrame frame) {
        if (out_.frames.size() >= UINT32_MAX) fail("too many frames");
        frames.push_back(static_cast<std::uint32_t>(out_.frames.size()));
        out_.frames.push_back(std::move(frame));
      };
      for (const pprof::Line& line : location.line()) {
        ProfileFrame frame = address_only;
        if (line.function_id() != 0) {
          const auto function = functions_.find(line.function_id());
          if (function == functions_.end()) {
            fail("location " + std::to_string(location.id()) + " refers to function " +
                 std::to_string(line.function_id()) + ", which does not exist");
          }
          frame.function = function->second.first;
          frame.file = function->second.second;
        }
        if (line.line() < 0 || line.line() > INT_MAX) {
          fail("location " + std::to_string(location.id()) + " has line number " +
               std::to_string(line.line()));
        }
        frame.line = static_cast<int>(line.line());
        add_frame(std::move(frame));
      }
      if (location.line_size() == 0) {
        add_frame(address_only);
      }
      if (!frames_of_location_.try_emplace(location.id(), std::move(frames)).second) {
        fail("location id " + std::to_string(location.id()) + " appears twice");
      }
    }
  }

  std::uint64_t value(const pprof::Sample& sample, int k, std::size_t index) const {
    const std::int64_t v = sample.value(value_index_[k]);
    if (v < 0) {
      fail("sample " + std::to_string(index) + " has the negative value " + std::to_string(v));
    }
    return static_cast<std::uint64_t>(v);
  }

  void read_samples() {
    const std::int64_t temporary_key = string_index("temporary");
    std::size_t total_frames = 0;
    for (int s = 0; s < in_.sample_size(); ++s) {
      const pprof::Sample& sample = in_.sample(s);
      const auto index = static_cast<std::size_t>(s);
      if (sample.value_size() != in_.sample_type_size()) {
        fail("sample " + std::to_string(index) + " has " + std::to_string(sample.value_size()) +
             " values for " + std::to_string(in_.sample_type_size()) + " sample types");
      }
      AllocSite site;
      site.allocs = value(sample, 0, index);
      site.bytes = value(sample, 1, index);
      site.leaked_objects = value(sample, 2, index);
      site.leaked_bytes = value(sample, 3, index);
      for (const std::uint64_t id : sample.location_id()) {
        const auto location = frames_of_location_.find(id);
        if (location == frames_of_location_.end()) {
          fail("sample " + std::to_string(index) + " refers to location " + std::to_string(id) +
               ", which does not exist");
        }
        total_frames += location->second.size();
        if (total_frames > kMaxSiteFrames) fail("the samples' call stacks are implausibly deep");
        site.frames.insert(site.frames.end(), location->second.begin(), location->second.end());
      }
      for (const pprof::Label& label : sample.label()) {
        text(label.key(), "label.key");
        if (label.key() == temporary_key && temporary_key > 0) {
          if (label.num() < 0) fail("sample " + std::to_string(index) + " has negative temporary");
          site.temporary = static_cast<std::uint64_t>(label.num());
        }
      }
      out_.sites.push_back(std::move(site));
    }
  }

  // Index of `wanted` in the string table, or -1.
  std::int64_t string_index(std::string_view wanted) const {
    for (int i = 1; i < in_.string_table_size(); ++i) {
      if (in_.string_table(i) == wanted) return i;
    }
    return -1;
  }

  // Totals travel as the comment "perflab: allocs=N frees=N ..."; a profile
  // written by another tool has none, so they are summed from the sites.
  void read_totals() {
    for (const AllocSite& site : out_.sites) {
      out_.allocs += site.allocs;
      out_.bytes += site.bytes;
      out_.temporary += site.temporary;
      out_.leaked_objects += site.leaked_objects;
      out_.leaked_bytes += site.leaked_bytes;
    }
    out_.frees = out_.allocs >= out_.leaked_objects ? out_.allocs - out_.leaked_objects : 0;
    const std::pair<std::string_view, std::uint64_t*> fields[] = {
        {"allocs", &out_.allocs},
        {"frees", &out_.frees},
        {"bytes", &out_.bytes},
        {"temporary", &out_.temporary},
        {"peak_heap_bytes", &out_.peak_heap_bytes},
        {"leaked_objects", &out_.leaked_objects},
        {"leaked_bytes", &out_.leaked_bytes},
        {"peak_rss_bytes", &out_.peak_rss_bytes}};
    for (const std::int64_t index : in_.comment()) {
      std::string_view comment = text(index, "comment");
      if (!comment.starts_with(kTotalsCommentPrefix)) continue;
      comment.remove_prefix(kTotalsCommentPrefix.size());
      while (!comment.empty()) {
        const std::size_t space = comment.find(' ');
        const std::string_view item = comment.substr(0, space);
        comment = space == std::string_view::npos ? std::string_view() : comment.substr(space + 1);
        const std::size_t equals = item.find('=');
        if (item.empty() || equals == std::string_view::npos) continue;
        const std::string_view name = item.substr(0, equals);
        const std::string_view number = item.substr(equals + 1);
        for (const auto& [field, target] : fields) {
          if (name != field) continue;  // names this perflab does not know are skipped
          std::uint64_t parsed = 0;
          const auto [end, error] =
              std::from_chars(number.data(), number.data() + number.size(), parsed);
          if (error != std::errc() || end != number.data() + number.size()) {
            fail("the totals comment's '" + std::string(item) + "' is not a count");
          }
          *target = parsed;
        }
      }
    }
    if (in_.duration_nanos() < 0) fail("duration_nanos is negative");
    out_.duration_s = static_cast<double>(in_.duration_nanos()) / 1e9;
  }

  const pprof::Profile& in_;
  const std::string& what_;
  AllocProfile out_;
  int value_index_[4] = {-1, -1, -1, -1};  // alloc_objects, alloc_space, inuse_objects, inuse_space
  std::unordered_map<std::uint64_t, std::size_t> module_of_mapping_;
  std::unordered_map<std::uint64_t, std::pair<std::string, std::string>> functions_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> frames_of_location_;
};

}  // namespace

AllocProfile decode_pprof(std::string_view bytes, const std::string& what) {
  pprof::Profile in;
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
      !in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw ProfileError(what + ": not a pprof profile (the protobuf message does not parse)");
  }
  return Decoder(in, what).decode();
}

}  // namespace profile_detail

AllocProfile read_alloc_profile(const fs::path& dir) {
  using namespace profile_detail;
  const fs::path pprof_path = dir / kAllocsPprofFile;
  const std::string what = pprof_path.string();
  const std::optional<std::string> compressed = read_file_if_exists(pprof_path);
  if (!compressed) {
    throw ProfileError(what + ": missing (the profile has no allocation profile)");
  }
  AllocProfile profile = decode_pprof(gzip_decompress(*compressed, what, kMaxInflatedBytes), what);

  const fs::path timeline_path = dir / kTimelineFile;
  if (const std::optional<std::string> timeline = read_file_if_exists(timeline_path)) {
    profile.timeline = parse_timeline_csv(*timeline, timeline_path.string());
  }
  return profile;
}

}  // namespace perflab
