// The string table every pprof encoder fills (allocations, CPU stacks).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "profile.pb.h"

namespace perflab::profile_detail {

/// Interns strings into Profile.string_table; index 0 is "" as pprof requires.
class PprofStringTable {
 public:
  explicit PprofStringTable(pprof::Profile* profile) : profile_(profile) { index(""); }

  std::int64_t index(const std::string& text) {
    const auto [it, inserted] = indices_.try_emplace(text, profile_->string_table_size());
    if (inserted) profile_->add_string_table(text);
    return it->second;
  }

 private:
  pprof::Profile* profile_;
  std::unordered_map<std::string, std::int64_t> indices_;
};

}  // namespace perflab::profile_detail
