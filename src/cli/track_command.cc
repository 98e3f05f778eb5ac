// perflab track -- CMD ARGS: runs a program under the LD_PRELOAD recorder and
// writes its allocation profile. Glue: the recorder lives in src/track/record,
// the interpretation in src/track/interpret, the files in src/profile.
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "perflab/profile.hpp"
#include "perflab/version.hpp"
#include "track/interpret/dump_reader.hpp"
#include "track/interpret/profile_builder.hpp"
#include "track_launch.hpp"

namespace perflab::cli {
namespace {

namespace fs = std::filesystem;

struct TrackOptions {
  std::vector<std::string> command;
  std::string output;
  std::string mode = "stacks";
  std::string unwind = "auto";
  std::string fork = "follow";
  int interval_ms = 100;
  std::size_t top = 10;
  bool quiet = false;
  bool system_lines = false;
};

std::string default_output(const std::string& program) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return "profiles/track-" + std::string(stamp) + "-" + fs::path(program).filename().string();
}

std::string readme(const TrackOptions& o, const std::string& status) {
  std::string command;
  for (const auto& a : o.command) command += (command.empty() ? "" : " ") + a;
  return fmt::format(
      "# perflab track profile\n\n"
      "    perflab track --mode {} --unwind {} --fork {} -- {}\n\n"
      "- perflab {}\n- the program {}\n\n"
      "Files: summary.json (figures), allocs.pb.gz (pprof: `go tool pprof -top allocs.pb.gz`),\n"
      "allocs.folded and allocs_bytes.folded (flame graphs), timeline.csv (heap and RSS over "
      "time),\n"
      "processes/ (one profile per other process or exec'd image, when there were any).\n"
      "`perflab report DIR` reprints the report. The environment of the run is not recorded.\n",
      o.mode, o.unwind, o.fork, command, kVersion, status);
}

// Writes one process image's profile files through `writer`.
void write_process(ProfileWriter& writer, const track::ProcessDump& dump, const std::string& status,
                   const AllocProfile& profile) {
  nlohmann::json summary = track::track_summary_json(dump, profile);
  summary["run"]["exit"] = status;
  writer.write_summary(std::move(summary));
  writer.write_alloc_profile(profile);
}

int run_track(const TrackOptions& o) {
  const LaunchPlan plan = plan_launch(o.command);  // throws UsageError
  const std::string output = o.output.empty() ? default_output(o.command[0]) : o.output;
  if (!o.output.empty() || fs::path(output).has_parent_path())
    fs::create_directories(fs::path(output).parent_path().empty() ? fs::path(".")
                                                                  : fs::path(output).parent_path());
  ProfileWriter writer(output);
  const fs::path dumps = writer.temp_path() / ".dumps";
  fs::create_directory(dumps);
  // Workers that drop privileges (nginx) must still be able to write their dump.
  ::chmod(writer.temp_path().c_str(), 0755);
  ::chmod(dumps.c_str(),
          0777);  // not sticky: a worker renames over the dump file root claimed for it

  LaunchEnv env;
  env.dump_dir = fs::absolute(dumps).string();
  env.mode = o.mode;
  env.unwind = o.unwind;
  env.fork = o.fork;
  env.interval_ms = o.interval_ms;
  const ChildResult child = launch_and_wait(plan, env);

  const track::SymbolizerOptions symbols{.compressed_debug_files = o.system_lines};
  std::vector<fs::path> silent;
  std::vector<track::ProcessDump> all = track::read_dumps(dumps, &silent);
  const track::ProcessDump* main = nullptr;
  for (const auto& d : all)
    if (d.header.pid == child.pid) main = &d;  // the last image of the traced pid
  std::size_t others = 0;
  for (const auto& d : all) {
    if (&d == main) continue;
    if (others == 0) fs::create_directory(writer.temp_path() / "processes");
    ++others;
    ProfileWriter sub(writer.temp_path() / "processes" /
                      fmt::format("{}-{}", d.header.pid, d.sequence));
    write_process(sub, d, "see the parent profile", track::build_alloc_profile(d, symbols));
    sub.commit();
  }
  if (main == nullptr) {
    fmt::print(stderr,
               "perflab: warning: {} left no allocation data (it {} before the recorder wrote "
               "anything)\n",
               o.command[0], child.status_text);
    writer.write_summary({{"run", {{"command", o.command}, {"exit", child.status_text}}}});
  } else {
    const AllocProfile profile = track::build_alloc_profile(*main, symbols);
    if (!main->malloc_defined_by.empty())
      fmt::print(stderr,
                 "perflab: warning: {} defines malloc itself, and its malloc comes before the "
                 "tracker's: only allocations that reach the tracker another way (operator new) "
                 "are in this profile\n",
                 main->malloc_defined_by);
    if (!main->allocator_bypassed.empty())
      fmt::print(stderr,
                 "perflab: note: the program links its own allocator ({}); under the tracker its "
                 "malloc calls were counted and bypassed to glibc's malloc\n",
                 main->allocator_bypassed);
    write_process(writer, *main, child.status_text, profile);
    if (!o.quiet) fmt::print(stderr, "\n{}", format_alloc_report(profile, o.top));
  }
  writer.write_text("README.md", readme(o, child.status_text));
  fs::remove_all(dumps);
  const fs::path final_path = writer.commit();
  if (!o.quiet) {
    fmt::print(stderr, "\nperflab: {} {}; profile written to {}", o.command[0], child.status_text,
               final_path.string());
    if (others > 0)
      fmt::print(stderr, " (+{} other process image{} in processes/)", others,
                 others == 1 ? "" : "s");
    fmt::print(stderr, "\n");
  }
  return child.exit_code;
}

void add_track_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<TrackOptions>();
  CLI::App* track = app.add_subcommand(
      "track", "Run a program under the allocation tracker and write its profile directory");
  track->footer(
      "Example: perflab track -o profiles/before -- ./server --port 8080\n"
      "Exits with the program's own exit status (128+N when killed by signal N); 2 when the\n"
      "program cannot be tracked (not found, statically linked) or the output cannot be written.");
  track->add_option("-o,--output", options->output,
                    "Profile directory to create (default: profiles/track-<time>-<program>)");
  track->add_option("--mode", options->mode, "stacks: full call stacks; count: totals only")
      ->check(CLI::IsMember({"stacks", "count"}))
      ->capture_default_str();
  track
      ->add_option("--unwind", options->unwind,
                   "Stack walk: fp (frame pointers), libunwind, or auto (fp when it agrees)")
      ->check(CLI::IsMember({"auto", "fp", "libunwind"}))
      ->capture_default_str();
  track
      ->add_option(
          "--fork", options->fork,
          "follow: forked children get their own profile (in processes/); ignore: not tracked")
      ->check(CLI::IsMember({"follow", "ignore"}))
      ->capture_default_str();
  track->add_option("--interval-ms", options->interval_ms, "Timeline sample interval")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  track->add_option("--top", options->top, "Call sites per table in the report")
      ->capture_default_str();
  track->add_flag("--system-lines", options->system_lines,
                  "Source lines in system libraries too, from their compressed debug packages\n"
                  "(libc6-dbg and such; slower: libc's takes ~50 ms to read). Without it,\n"
                  "such frames get function names only");
  track->add_flag("-q,--quiet", options->quiet, "Print no report");
  track->add_option("command", options->command, "The program and its arguments (after --)")
      ->required()
      ->expected(-1);
  track->callback([options, &exit_code] { exit_code = run_track(*options); });
}

void add_report_command(CLI::App& app, int& exit_code) {
  auto dir = std::make_shared<std::string>();
  auto top = std::make_shared<std::size_t>(10);
  CLI::App* report = app.add_subcommand("report", "Print the report of a saved profile directory");
  report->add_option("dir", *dir, "Profile directory")->required();
  report->add_option("--top", *top, "Call sites per table")->capture_default_str();
  report->callback([dir, top, &exit_code] {
    const AllocProfile profile = read_alloc_profile(*dir);
    fmt::print("{}", format_alloc_report(profile, *top));
    exit_code = kExitPass;
  });
}

}  // namespace

void register_track_commands(std::vector<CommandRegistrar>& out) {
  out.push_back(&add_track_command);
  out.push_back(&add_report_command);
}

}  // namespace perflab::cli
