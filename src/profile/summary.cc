// summary.json: reading it back with its schema checked, and the groups an
// allocation profile fills.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "perflab/profile.hpp"
#include "profile_internal.hpp"

namespace perflab {

namespace fs = std::filesystem;

nlohmann::json read_summary(const fs::path& dir) {
  const fs::path path = dir / kSummaryFile;
  const std::string what = path.string();
  const std::optional<std::string> content = profile_detail::read_file_if_exists(path);
  if (!content) {
    throw ProfileError(what + ": missing (is '" + dir.string() + "' a perflab profile directory?)");
  }
  nlohmann::json summary;
  try {
    summary = nlohmann::json::parse(*content);
  } catch (const nlohmann::json::parse_error& error) {
    throw ProfileError(what + ": not valid JSON at byte " + std::to_string(error.byte) + " (" +
                       error.what() + ")");
  }
  if (!summary.is_object()) {
    throw ProfileError(what + ": expected a JSON object at the top level, found " +
                       summary.type_name());
  }
  const auto schema = summary.find("schema");
  if (schema == summary.end()) {
    throw ProfileError(what + ": no \"schema\" field (expected \"" + kProfileSchema + "\")");
  }
  if (!schema->is_string()) {
    throw ProfileError(what + ": \"schema\" is a " + schema->type_name() + ", not a string");
  }
  const std::string& tag = schema->get_ref<const std::string&>();
  if (tag != kProfileSchema) {
    const bool ours = tag.rfind("perflab.profile/", 0) == 0;
    throw ProfileError(what + ": " + (ours ? "unsupported" : "unknown") + " schema \"" + tag +
                       "\" (this perflab reads \"" + kProfileSchema + "\")");
  }
  return summary;
}

nlohmann::json alloc_summary_json(const AllocProfile& profile, std::optional<std::uint64_t> ops) {
  nlohmann::json alloc = {
      {"allocs", profile.allocs},
      {"frees", profile.frees},
      {"bytes", profile.bytes},
      {"peak_heap_bytes", profile.peak_heap_bytes},
      {"leaked_bytes", profile.leaked_bytes},
      {"leaked_objects", profile.leaked_objects},
      {"temporary", profile.temporary},
  };
  if (profile.duration_s > 0 && std::isfinite(profile.duration_s)) {
    alloc["alloc_rate_per_s"] = static_cast<double>(profile.allocs) / profile.duration_s;
  }
  if (ops && *ops > 0) {
    alloc["allocs_per_op"] = static_cast<double>(profile.allocs) / static_cast<double>(*ops);
    alloc["bytes_per_op"] = static_cast<double>(profile.bytes) / static_cast<double>(*ops);
  }
  nlohmann::json memory = nlohmann::json::object();
  if (profile.peak_rss_bytes > 0) memory["peak_rss_bytes"] = profile.peak_rss_bytes;
  if (const std::optional<double> growth = rss_growth_per_s(profile.timeline)) {
    memory["rss_growth_bytes_per_s"] = *growth;
  }
  nlohmann::json groups = {{"alloc", std::move(alloc)}};
  if (!memory.empty()) groups["memory"] = std::move(memory);
  return groups;
}

}  // namespace perflab
