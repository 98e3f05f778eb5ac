// Small pieces every command that runs something and writes a profile needs:
// reading a file, naming a default profile directory, the host name, and
// stretching a load's rate to a new duration.
#pragma once

#include <optional>
#include <string>

#include "perflab/load.hpp"

namespace perflab::cli {

/// The file's bytes; nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

/// "profiles/<kind>-YYYYmmdd-HHMMSS" in local time (kind: "load", "baseline", ...).
std::string timestamped_profile_path(const std::string& kind);

/// This machine's host name, "unknown" when it has none.
std::string host_name();

/// Adds what makes two runs' loads the same to a `load` group: `schedule`
/// (open loop's segments) and `mix` (each request's name, weight, method and
/// path template), which compare checks before comparing two runs.
void describe_load(const LoadSpec& spec, nlohmann::json& load);

/// --duration given on the command line over a load file: sets the closed
/// loop's duration, and stretches a constant open-loop rate to it. Throws
/// LoadError for a ramp or steps, whose shape a duration cannot stretch.
void apply_duration(LoadSpec& spec, double duration_s);

}  // namespace perflab::cli
