#include "run_support.hpp"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

namespace perflab::cli {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return std::nullopt;
  return text.str();
}

std::string timestamped_profile_path(const std::string& kind) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return "profiles/" + kind + "-" + stamp;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

void describe_load(const LoadSpec& spec, nlohmann::json& load) {
  nlohmann::json segments = nlohmann::json::array();
  if (spec.mode == LoadMode::kOpen && spec.schedule) {
    for (const RateSegment& segment : spec.schedule->segments()) {
      segments.push_back({{"duration_s", segment.duration_s},
                          {"start_rps", segment.start_rate},
                          {"end_rps", segment.end_rate}});
    }
  }
  load["schedule"] = segments;
  nlohmann::json mix = nlohmann::json::array();
  for (const RequestSpec& request : spec.requests) {
    mix.push_back({{"name", request.name},
                   {"weight", request.weight},
                   {"method", request.method},
                   {"path", request.target}});
  }
  load["mix"] = mix;
}

void apply_duration(LoadSpec& spec, double duration_s) {
  spec.duration_s = duration_s;
  if (spec.mode != LoadMode::kOpen || !spec.schedule) return;
  const auto& segments = spec.schedule->segments();
  if (segments.size() != 1 || segments[0].start_rate != segments[0].end_rate) {
    throw LoadError("--duration cannot stretch the load file's ramp or steps; give --rate as well");
  }
  spec.schedule = RateSchedule::constant(segments[0].start_rate, duration_s);
}

}  // namespace perflab::cli
