// ProfileWriter: a profile directory built under a temporary name and renamed
// into place, so readers never see a half-written run.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "perflab/profile.hpp"
#include "profile_internal.hpp"

namespace perflab {

namespace fs = std::filesystem;
using namespace profile_detail;

namespace {

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

std::string exists_message(const fs::path& final_path) {
  return "profile directory " + quoted(final_path) +
         " already exists; choose another name or remove it";
}

// Eight hex digits that differ between writers started in the same second.
std::string random_suffix() {
  std::uint64_t seed =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device device;
    seed ^= (static_cast<std::uint64_t>(device()) << 32) | device();
  } catch (...) {
    // No entropy source: the clock alone still separates writers in practice.
  }
  std::mt19937_64 mix(seed);
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(mix() & 0xffffffffu));
  return text;
}

[[noreturn]] void fail_to_create(const fs::path& final_path, const fs::path& temp_path, int error) {
  const fs::path parent = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  const std::string head = "cannot create profile directory " + quoted(final_path) + ": ";
  const std::string reason = " (" + error_text(error) + ")";
  switch (error) {
    case ENOENT:
      throw ProfileError(head + "parent directory " + quoted(parent) + " does not exist" + reason);
    case ENOTDIR:
      throw ProfileError(head + "parent " + quoted(parent) + " is not a directory" + reason);
    case EACCES:
    case EPERM:
    case EROFS:
      throw ProfileError(head + "parent directory " + quoted(parent) + " is not writable" + reason);
    default:
      throw ProfileError(head + "cannot create temporary directory " + quoted(temp_path) + reason);
  }
}

void check_file_name(const fs::path& final_path, const std::string& name) {
  const bool bad = name.empty() || name == "." || name.find('/') != std::string::npos ||
                   name.find("..") != std::string::npos || name.find('\0') != std::string::npos;
  if (bad) {
    throw ProfileError("profile " + quoted(final_path) + ": invalid file name '" + name +
                       "' (a plain name without '/' or '..' is required)");
  }
}

}  // namespace

ProfileWriter::ProfileWriter(fs::path final_path) {
  std::string text = final_path.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  final_path_ = text;
  const std::string name = final_path_.filename().string();
  if (name.empty() || name == "." || name == ".." || text == "/") {
    throw ProfileError("profile directory " + quoted(final_path_) +
                       ": not a usable directory name (give a path such as profiles/before)");
  }

  std::error_code ec;
  if (fs::exists(fs::symlink_status(final_path_, ec))) {
    throw ProfileError(exists_message(final_path_));
  }

  const fs::path parent = final_path_.parent_path();
  int error = EEXIST;
  for (int attempt = 0; attempt < 16 && error == EEXIST; ++attempt) {
    const std::string temp_name =
        "." + name + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix();
    temp_path_ = parent.empty() ? fs::path(temp_name) : parent / temp_name;
    error = make_directory(temp_path_);
  }
  if (error != 0) {
    const fs::path failed = std::exchange(temp_path_, fs::path());
    fail_to_create(final_path_, failed, error);
  }
}

ProfileWriter::~ProfileWriter() {
  if (!committed_ && !temp_path_.empty()) remove_tree(temp_path_);
}

void ProfileWriter::write_file(const std::string& name, std::string_view content) {
  if (committed_) {
    throw ProfileError("profile " + quoted(final_path_) + " is already committed; cannot write " +
                       name);
  }
  try {
    profile_detail::write_file(temp_path_ / name, content);
  } catch (const ProfileError&) {
    failed_ = true;  // a partial file must never be committed
    throw;
  }
  for (const std::string& written : files_) {
    if (written == name) return;
  }
  files_.push_back(name);
}

void ProfileWriter::write_summary(nlohmann::json summary) {
  if (!summary.is_object()) {
    throw ProfileError("profile " + quoted(final_path_) + ": " + kSummaryFile +
                       " must hold a JSON object, not " + summary.type_name());
  }
  summary["schema"] = kProfileSchema;
  write_file(kSummaryFile,
             summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void ProfileWriter::write_alloc_profile(const AllocProfile& profile) {
  check_site_frames(profile);
  // Everything is encoded before anything is written.
  const std::string pprof = gzip_compress(encode_pprof(profile));
  const std::string folded = format_folded(profile, FoldedValue::kAllocs);
  const std::string folded_bytes = format_folded(profile, FoldedValue::kBytes);
  const std::string timeline = format_timeline_csv(profile.timeline);
  write_file(kAllocsPprofFile, pprof);
  write_file(kAllocsFoldedFile, folded);
  write_file(kAllocsBytesFoldedFile, folded_bytes);
  write_file(kTimelineFile, timeline);
}

void ProfileWriter::write_text(const std::string& name, std::string_view content) {
  check_file_name(final_path_, name);
  write_file(name, content);
}

fs::path ProfileWriter::streamed_file_path(const std::string& name) {
  check_file_name(final_path_, name);
  if (committed_) {
    throw ProfileError("profile " + quoted(final_path_) + " is already committed; cannot write " +
                       name);
  }
  if (std::find(files_.begin(), files_.end(), name) == files_.end()) files_.push_back(name);
  return temp_path_ / name;
}

fs::path ProfileWriter::commit() {
  if (committed_) throw ProfileError("profile " + quoted(final_path_) + " is already committed");
  if (failed_) {
    throw ProfileError("profile " + quoted(final_path_) +
                       " not committed: an earlier write to it failed");
  }
  for (const std::string& name : files_) sync_path(temp_path_ / name);
  sync_path(temp_path_);
  const int error = rename_no_replace(temp_path_, final_path_);
  if (error == EEXIST) throw ProfileError(exists_message(final_path_));
  if (error != 0) {
    throw ProfileError("cannot rename " + quoted(temp_path_) + " to " + quoted(final_path_) + " (" +
                       error_text(error) + ")");
  }
  committed_ = true;
  // Makes the rename itself durable. It has happened: a failure here must not
  // report the profile as unwritten, so it is not an error.
  try {
    sync_path(final_path_.has_parent_path() ? final_path_.parent_path() : fs::path("."));
  } catch (const ProfileError&) {
  }
  return final_path_;
}

}  // namespace perflab
