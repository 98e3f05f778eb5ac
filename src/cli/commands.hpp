// The perflab subcommands. Each lives in its own file and registers itself on
// the root CLI::App here; main.cc stays glue.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace perflab::cli {

/// Adds one subcommand to `app`. The subcommand's callback returns through
/// `exit_code`; errors are thrown as CLI::Error or std::exception.
using CommandRegistrar = void (*)(CLI::App& app, int& exit_code);

/// Every subcommand, in the order `perflab --help` lists them.
const std::vector<CommandRegistrar>& command_registrars();

/// The words perflab was started with (argv), for the README.md of a profile.
/// Set once by main before parsing.
std::vector<std::string>& invocation();

/// Adds `baseline` (baseline_command.cc; built with the tracker's launcher).
void register_baseline_commands(std::vector<CommandRegistrar>& out);

/// Adds `bench` (bench_command.cc).
void register_bench_commands(std::vector<CommandRegistrar>& out);

/// Adds `compare` (compare_command.cc).
void register_compare_commands(std::vector<CommandRegistrar>& out);

/// Adds `load` (load_command.cc).
void register_load_commands(std::vector<CommandRegistrar>& out);

/// Adds `track` and `report` (track_command.cc).
void register_track_commands(std::vector<CommandRegistrar>& out);

}  // namespace perflab::cli
