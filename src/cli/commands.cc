#include "commands.hpp"

#include <fmt/core.h>

#include "exit_codes.hpp"
#include "perflab/version.hpp"

namespace perflab::cli {
namespace {

// `perflab version`: the version and what this build contains, for bug reports.
void add_version_command(CLI::App& app, int& exit_code) {
  CLI::App* version =
      app.add_subcommand("version", "Print perflab's version and build configuration");
  version->callback([&exit_code] {
    fmt::print("perflab {}\n", kVersion);
#ifdef __clang__
    fmt::print("compiler: clang {}.{}.{}\n", __clang_major__, __clang_minor__,
               __clang_patchlevel__);
#elif defined(__GNUC__)
    fmt::print("compiler: g++ {}.{}.{}\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
    fmt::print("components: pool histogram alloc profile load compare{}\n",
#ifdef PERFLAB_HAVE_TRACK
               " track"
#else
               ""
#endif
    );
    exit_code = kExitPass;
  });
}

}  // namespace

std::vector<std::string>& invocation() {
  static std::vector<std::string> words;
  return words;
}

const std::vector<CommandRegistrar>& command_registrars() {
  static const std::vector<CommandRegistrar> registrars = [] {
    std::vector<CommandRegistrar> all = {&add_version_command};
    register_load_commands(all);
    register_bench_commands(all);
    register_compare_commands(all);
#ifdef PERFLAB_HAVE_TRACK
    register_track_commands(all);
    register_baseline_commands(all);
#endif
    return all;
  }();
  return registrars;
}

}  // namespace perflab::cli
