// AllocProfile -> pprof Profile message (allocs.pb.gz before compression).
//
// Sample values: alloc_objects/count, alloc_space/bytes, inuse_objects/count,
// inuse_space/bytes, where "in use" means still live when the run ended (the
// leak figures). One Location per frame (id = frame index + 1), one Function
// per distinct (name, file), one Mapping per module. Figures pprof has no
// field for travel as one comment "perflab: allocs=N frees=N ..." and a
// numeric sample label "temporary", which read_alloc_profile() reads back.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pprof_strings.hpp"
#include "profile.pb.h"
#include "profile_internal.hpp"

namespace perflab::profile_detail {

namespace {

using StringTable = profile_detail::PprofStringTable;

// pprof values are int64; a count beyond that is not a real count.
std::int64_t to_int64(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(value > kMax ? kMax : value);
}

std::int64_t duration_nanos(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) return 0;
  if (seconds >= 9.2e9) return std::numeric_limits<std::int64_t>::max();
  return std::llround(seconds * 1e9);
}

struct MappingSymbols {  // whether every location of a mapping is symbolized
  bool functions = true;
  bool filenames = true;
  bool line_numbers = true;
};

}  // namespace

void check_site_frames(const AllocProfile& profile) {
  for (std::size_t i = 0; i < profile.sites.size(); ++i) {
    for (const std::uint32_t frame : profile.sites[i].frames) {
      if (frame >= profile.frames.size()) {
        throw ProfileError("allocation profile: site " + std::to_string(i) + " refers to frame " +
                           std::to_string(frame) + ", but the profile has " +
                           std::to_string(profile.frames.size()) + " frames");
      }
    }
  }
}

std::string encode_pprof(const AllocProfile& profile) {
  check_site_frames(profile);
  pprof::Profile out;
  StringTable strings(&out);

  const std::pair<const char*, const char*> sample_types[] = {{"alloc_objects", "count"},
                                                              {"alloc_space", "bytes"},
                                                              {"inuse_objects", "count"},
                                                              {"inuse_space", "bytes"}};
  for (const auto& [type, unit] : sample_types) {
    pprof::ValueType* value_type = out.add_sample_type();
    value_type->set_type(strings.index(type));
    value_type->set_unit(strings.index(unit));
  }
  out.set_default_sample_type(strings.index("alloc_space"));

  // Mappings: the known modules in their order, then modules only frames name.
  std::unordered_map<std::string, std::uint64_t> mapping_ids;
  auto add_mapping = [&](const ProfileModule& module) {
    if (module.path.empty() || mapping_ids.contains(module.path)) return;
    pprof::Mapping* mapping = out.add_mapping();
    mapping->set_id(static_cast<std::uint64_t>(out.mapping_size()));
    mapping->set_memory_start(module.start);
    mapping->set_memory_limit(module.limit);
    mapping->set_file_offset(module.file_offset);
    mapping->set_filename(strings.index(module.path));
    if (!module.build_id.empty()) mapping->set_build_id(strings.index(module.build_id));
    mapping_ids.emplace(module.path, mapping->id());
  };
  for (const ProfileModule& module : profile.modules) add_mapping(module);
  for (const ProfileFrame& frame : profile.frames) {
    ProfileModule unknown_range;
    unknown_range.path = frame.module;
    add_mapping(unknown_range);
  }

  std::unordered_map<std::string, std::uint64_t> function_ids;  // key: name '\0' file
  std::vector<MappingSymbols> symbols(static_cast<std::size_t>(out.mapping_size()));
  for (std::size_t i = 0; i < profile.frames.size(); ++i) {
    const ProfileFrame& frame = profile.frames[i];
    pprof::Location* location = out.add_location();
    location->set_id(i + 1);
    location->set_address(frame.address);
    if (!frame.module.empty()) {
      const std::uint64_t mapping_id = mapping_ids.at(frame.module);
      location->set_mapping_id(mapping_id);
      MappingSymbols& known = symbols[mapping_id - 1];
      known.functions = known.functions && !frame.function.empty();
      known.filenames = known.filenames && !frame.file.empty();
      known.line_numbers = known.line_numbers && frame.line > 0;
    }
    if (frame.function.empty() && frame.file.empty() && frame.line == 0) continue;  // unsymbolized
    const auto [it, inserted] =
        function_ids.try_emplace(frame.function + '\0' + frame.file, out.function_size() + 1);
    if (inserted) {
      pprof::Function* function = out.add_function();
      function->set_id(it->second);
      function->set_name(strings.index(frame.function));
      function->set_system_name(strings.index(frame.function));
      function->set_filename(strings.index(frame.file));
    }
    pprof::Line* line = location->add_line();
    line->set_function_id(it->second);
    line->set_line(frame.line);
  }
  for (int i = 0; i < out.mapping_size(); ++i) {
    const MappingSymbols& known = symbols[static_cast<std::size_t>(i)];
    pprof::Mapping* mapping = out.mutable_mapping(i);
    mapping->set_has_functions(known.functions);
    mapping->set_has_filenames(known.filenames);
    mapping->set_has_line_numbers(known.line_numbers);
  }

  const std::int64_t temporary_key = strings.index("temporary");
  for (const AllocSite& site : profile.sites) {
    pprof::Sample* sample = out.add_sample();
    for (const std::uint32_t frame : site.frames) sample->add_location_id(frame + 1ull);
    sample->add_value(to_int64(site.allocs));
    sample->add_value(to_int64(site.bytes));
    sample->add_value(to_int64(site.leaked_objects));
    sample->add_value(to_int64(site.leaked_bytes));
    if (site.temporary > 0) {
      pprof::Label* label = sample->add_label();
      label->set_key(temporary_key);
      label->set_num(to_int64(site.temporary));
    }
  }

  const std::pair<const char*, std::uint64_t> totals[] = {
      {"allocs", profile.allocs},
      {"frees", profile.frees},
      {"bytes", profile.bytes},
      {"temporary", profile.temporary},
      {"peak_heap_bytes", profile.peak_heap_bytes},
      {"leaked_objects", profile.leaked_objects},
      {"leaked_bytes", profile.leaked_bytes},
      {"peak_rss_bytes", profile.peak_rss_bytes}};
  std::string comment(kTotalsCommentPrefix);
  for (const auto& [name, value] : totals) {
    comment += ' ';
    comment += name;
    comment += '=';
    comment += std::to_string(value);
  }
  out.add_comment(strings.index(comment));  // one line: pprof prints comments atop every report
  out.set_duration_nanos(duration_nanos(profile.duration_s));

  if (out.ByteSizeLong() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw ProfileError("allocation profile: too large for pprof (over 2 GiB serialized)");
  }
  std::string bytes;
  if (!out.SerializeToString(&bytes)) {
    throw ProfileError("allocation profile: protobuf serialization failed");
  }
  return bytes;
}

}  // namespace perflab::profile_detail
