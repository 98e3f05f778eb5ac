// perflab: profile-driven optimization of native services.
// Glue only: parses the command line, dispatches to a subcommand, and turns
// every error into "perflab: error: ..." with exit code 2.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "perflab/version.hpp"

int main(int argc, char** argv) {
  using namespace perflab::cli;
  CLI::App app{
      "perflab: measure where a native service's allocations and latency come from,\n"
      "replace hot allocations with pools, and prove the change with a CI verdict.",
      "perflab"};
  app.set_version_flag("-V,--version", std::string("perflab ") + perflab::kVersion);
  app.require_subcommand(0, 1);
  app.footer("Exit codes: 0 pass, 1 criteria failed, 2 usage or input error, 3 inconclusive.");

  invocation().assign(argv, argv + argc);
  int exit_code = kExitPass;
  for (CommandRegistrar add : command_registrars()) add(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "perflab: error: {}\n", e.what());
    fmt::print(stderr, "Run 'perflab --help' for usage.\n");
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "perflab: error: {}\n", e.what());
    return kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    fmt::print("{}", app.help());
    return kExitPass;
  }
  return exit_code;
}
