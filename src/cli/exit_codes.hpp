// Exit codes shared by every perflab subcommand (DESIGN.md): a CI job acts on them.
#pragma once

namespace perflab::cli {

inline constexpr int kExitPass = 0;          // success; criteria passed
inline constexpr int kExitFail = 1;          // criteria failed
inline constexpr int kExitUsage = 2;         // usage or input error
inline constexpr int kExitInconclusive = 3;  // no verdict could be reached

}  // namespace perflab::cli
