// run_load with the system calls replaceable: the seam tests use to inject
// short writes, resets and errors.
#pragma once

#include "perflab/load.hpp"
#include "syscalls.hpp"

namespace perflab::load_detail {

/// run_load(), with `syscalls` for the request path's reads, writes and
/// connects. REQUIRES: `syscalls` outlives the call; its functions are called
/// from the load threads concurrently.
LoadResult run_load_with(const LoadSpec& spec, const LoadRunOptions& options,
                         const Syscalls& syscalls);

}  // namespace perflab::load_detail
