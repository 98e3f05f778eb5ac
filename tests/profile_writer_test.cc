// ProfileWriter: a profile directory appears whole at its final path or not at
// all. Also read_summary(), whose errors must name the file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "perflab/profile.hpp"
#include "scratch_dir.hpp"

// Designated initializers name only the fields a test cares about; GCC 12
// warns about the others (which take their defaults), clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace perflab {
namespace {

namespace fs = std::filesystem;

// One scratch directory per test, named after the suite.
struct ScratchDir : perflab::testing::ScratchDir {
  ScratchDir() : perflab::testing::ScratchDir("profile_writer") {}
  // A test makes a read-only directory: give write back so it can be removed.
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(path() / "read_only", fs::perms::owner_all, fs::perm_options::add, ec);
  }
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void spit(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  return names;
}

// The ProfileError message of `action`, or "" when it throws none.
template <typename Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const ProfileError& error) {
    return error.what();
  }
  return "";
}

AllocProfile small_profile() {
  AllocProfile profile;
  profile.frames = {{.address = 0x1000, .function = "malloc"},
                    {.address = 0x2000, .function = "main", .file = "main.cc", .line = 7}};
  profile.sites = {{.frames = {0, 1}, .allocs = 3, .bytes = 96}};
  profile.allocs = 3;
  profile.bytes = 96;
  return profile;
}

TEST(ProfileWriterTest, NothingExistsAtTheFinalPathBeforeCommit) {
  ScratchDir scratch;
  const fs::path final_path = scratch.path() / "run1";
  ProfileWriter writer(final_path);
  writer.write_summary({{"run", {{"command", "./server"}}}});
  writer.write_alloc_profile(small_profile());
  writer.write_text("README.md", "# run1\n");

  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_EQ(writer.temp_path().parent_path(), scratch.path());
  EXPECT_EQ(writer.temp_path().filename().string().rfind(".run1.tmp-", 0), 0u)
      << writer.temp_path();
  EXPECT_TRUE(fs::is_regular_file(writer.temp_path() / "summary.json"));

  const fs::path temp_path = writer.temp_path();
  EXPECT_EQ(writer.commit(), final_path);
  EXPECT_TRUE(writer.committed());
  EXPECT_FALSE(fs::exists(temp_path));
  EXPECT_EQ(slurp(final_path / "README.md"), "# run1\n");
  for (const char* name :
       {kSummaryFile, kAllocsPprofFile, kAllocsFoldedFile, kAllocsBytesFoldedFile, kTimelineFile}) {
    EXPECT_TRUE(fs::is_regular_file(final_path / name)) << name;
  }
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"run1"});
}

TEST(ProfileWriterTest, DestructionWithoutCommitRemovesTheTemporaryDirectory) {
  ScratchDir scratch;
  const fs::path final_path = scratch.path() / "abandoned";
  fs::path temp_path;
  {
    ProfileWriter writer(final_path);
    writer.write_summary(nlohmann::json::object());
    writer.write_alloc_profile(small_profile());
    temp_path = writer.temp_path();
    ASSERT_TRUE(fs::is_directory(temp_path));
  }
  EXPECT_FALSE(fs::exists(temp_path));
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_TRUE(entries(scratch.path()).empty());
}

TEST(ProfileWriterTest, AnExistingFinalPathIsRefusedWithAHint) {
  ScratchDir scratch;
  const fs::path final_path = scratch.path() / "before";
  fs::create_directory(final_path);
  spit(final_path / "summary.json", "{}");

  const std::string message = error_of([&] { ProfileWriter writer(final_path); });
  EXPECT_NE(message.find("'" + final_path.string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_NE(message.find("choose another name or remove it"), std::string::npos) << message;
  EXPECT_EQ(slurp(final_path / "summary.json"), "{}");
  EXPECT_EQ(entries(scratch.path()), std::vector<std::string>{"before"});
}

TEST(ProfileWriterTest, AnExistingFileAtTheFinalPathIsRefusedToo) {
  ScratchDir scratch;
  spit(scratch.path() / "taken", "data");
  const std::string message = error_of([&] { ProfileWriter writer(scratch.path() / "taken"); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_EQ(slurp(scratch.path() / "taken"), "data");
}

TEST(ProfileWriterTest, CommitNeverReplacesAPathThatAppearedMeanwhile) {
  ScratchDir scratch;
  const fs::path final_path = scratch.path() / "raced";
  ProfileWriter writer(final_path);
  writer.write_text("README.md", "ours");
  fs::create_directory(final_path);  // empty: a plain rename(2) would replace it

  const std::string message = error_of([&] { writer.commit(); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_FALSE(writer.committed());
  EXPECT_TRUE(fs::is_empty(final_path));
}

TEST(ProfileWriterTest, AMissingParentIsNamedInTheError) {
  ScratchDir scratch;
  const fs::path parent = scratch.path() / "no_such_dir";
  const std::string message = error_of([&] { ProfileWriter writer(parent / "run"); });
  EXPECT_NE(message.find("'" + parent.string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  EXPECT_NE(message.find("(No such file or directory)"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(parent));
}

TEST(ProfileWriterTest, AParentThatIsAFileIsNamedInTheError) {
  ScratchDir scratch;
  const fs::path parent = scratch.path() / "plain_file";
  spit(parent, "");
  const std::string message = error_of([&] { ProfileWriter writer(parent / "run"); });
  EXPECT_NE(message.find("'" + parent.string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("is not a directory"), std::string::npos) << message;
}

TEST(ProfileWriterTest, AnUnwritableParentIsNamedInTheError) {
  ScratchDir scratch;
  fs::path parent = scratch.path() / "read_only";
  fs::create_directory(parent);
  fs::permissions(parent, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(parent.c_str(), W_OK) == 0) {
    // Root ignores permission bits; sysfs refuses mkdir to everyone.
    parent = "/sys";
    if (!fs::is_directory(parent) || ::mkdir("/sys/perflab_probe", 0700) == 0) {
      ::rmdir("/sys/perflab_probe");
      GTEST_SKIP() << "no unwritable directory available to this user (root without sysfs)";
    }
  }
  const std::string message = error_of([&] { ProfileWriter writer(parent / "run"); });
  EXPECT_NE(message.find("'" + parent.string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("is not writable ("), std::string::npos) << message;
}

TEST(ProfileWriterTest, ATrailingSlashIsIgnored) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path().string() + "/slashed/");
  EXPECT_EQ(writer.final_path(), scratch.path() / "slashed");
  EXPECT_EQ(writer.commit(), scratch.path() / "slashed");
  EXPECT_TRUE(fs::is_directory(scratch.path() / "slashed"));
}

TEST(ProfileWriterTest, AnUnusableNameIsRefused) {
  ScratchDir scratch;
  for (const fs::path& path : {fs::path("/"), scratch.path() / "..", fs::path("")}) {
    EXPECT_NE(error_of([&] { ProfileWriter writer(path); }).find("not a usable directory name"),
              std::string::npos)
        << path;
  }
}

TEST(ProfileWriterTest, WriteTextRejectsNamesThatLeaveTheDirectory) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "run");
  for (const char* name : {"../escape", "sub/file", "..", ".", "", "a..b"}) {
    const std::string message = error_of([&] { writer.write_text(name, "x"); });
    EXPECT_NE(message.find("invalid file name"), std::string::npos) << "'" << name << "'";
  }
  EXPECT_FALSE(fs::exists(scratch.path() / "escape"));
  EXPECT_TRUE(fs::is_empty(writer.temp_path()));
}

TEST(ProfileWriterTest, WritingOrCommittingAfterCommitIsAnError) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "done");
  writer.commit();
  EXPECT_NE(error_of([&] { writer.write_text("late.txt", "x"); }).find("already committed"),
            std::string::npos);
  EXPECT_NE(error_of([&] { writer.commit(); }).find("already committed"), std::string::npos);
  EXPECT_FALSE(fs::exists(scratch.path() / "done" / "late.txt"));
}

TEST(ProfileWriterTest, AFailedWriteBlocksTheCommit) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "run");
  fs::create_directory(writer.temp_path() / "busy");  // a write to "busy" fails: it is a directory
  EXPECT_NE(error_of([&] { writer.write_text("busy", "x"); }).find("cannot create"),
            std::string::npos);
  EXPECT_NE(error_of([&] { writer.commit(); }).find("an earlier write to it failed"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(scratch.path() / "run"));
}

TEST(ProfileWriterTest, ABadSiteIsRefusedBeforeAnyFileIsWritten) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "bad");
  AllocProfile profile = small_profile();
  profile.sites[0].frames.push_back(7);
  const std::string message = error_of([&] { writer.write_alloc_profile(profile); });
  EXPECT_NE(message.find("refers to frame 7"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_empty(writer.temp_path()));
}

TEST(ProfileWriterTest, SummaryCarriesTheSchemaTagAndReadsBack) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "run");
  const nlohmann::json summary = {{"run", {{"command", "./server --port 8080"}, {"duration", 2.5}}},
                                  {"schema", "something else"}};
  writer.write_summary(summary);
  const fs::path dir = writer.commit();

  const nlohmann::json back = read_summary(dir);
  EXPECT_EQ(back["schema"], "perflab.profile/1");
  EXPECT_EQ(back["run"], summary["run"]);
}

TEST(ProfileWriterTest, SummaryMustBeAJsonObject) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "run");
  const std::string message = error_of([&] { writer.write_summary(nlohmann::json::array()); });
  EXPECT_NE(message.find("must hold a JSON object, not array"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_empty(writer.temp_path()));
}

TEST(ProfileWriterTest, SummaryWithInvalidUtf8IsStillWritten) {
  ScratchDir scratch;
  ProfileWriter writer(scratch.path() / "run");
  writer.write_summary({{"run", {{"command", std::string("./a\xff")}}}});
  const nlohmann::json back = read_summary(writer.commit());
  EXPECT_EQ(back["run"]["command"], "./a\xEF\xBF\xBD");
}

// --- read_summary errors name the file ---

class ReadSummaryTest : public ::testing::Test {
 protected:
  std::string error_for(const std::string& content) {
    spit(scratch_.path() / "summary.json", content);
    return error_of([&] { read_summary(scratch_.path()); });
  }
  std::string file() const { return (scratch_.path() / "summary.json").string(); }

  ScratchDir scratch_;
};

TEST_F(ReadSummaryTest, AMissingFileIsNamed) {
  const std::string message = error_of([&] { read_summary(scratch_.path()); });
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, GarbageIsReportedWithItsPosition) {
  const std::string message = error_for("{\"schema\": \"perflab.profile/1\",\n  oops}");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON at byte 35"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, AnEmptyFileIsNotJson) {
  const std::string message = error_for("");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, AWrongSchemaIsNamed) {
  const std::string message = error_for(R"({"schema": "someone.else/3"})");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("unknown schema \"someone.else/3\""), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, ANewerSchemaIsUnsupported) {
  const std::string message = error_for(R"({"schema": "perflab.profile/2"})");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported schema \"perflab.profile/2\""), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, AMissingSchemaIsNamed) {
  const std::string message = error_for(R"({"run": {}})");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("no \"schema\""), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, ANonObjectIsRefused) {
  const std::string message = error_for("[1, 2]");
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("found array"), std::string::npos) << message;
}

TEST_F(ReadSummaryTest, ADirectoryInsteadOfTheFileIsAnError) {
  fs::create_directory(scratch_.path() / "summary.json");
  const std::string message = error_of([&] { read_summary(scratch_.path()); });
  EXPECT_NE(message.find(file()), std::string::npos) << message;
  EXPECT_NE(message.find("Is a directory"), std::string::npos) << message;
}

}  // namespace
}  // namespace perflab
