// RemoteUnwinder: libdwfl attached to a process whose threads its caller
// stops. elfutils rather than libunwind-ptrace: perflab links libdw already
// (the symbolizer), and libdwfl reads the stack with process_vm_readv, a
// page per call, where libunwind-ptrace's accessors read it one word per
// PTRACE_PEEKDATA system call.
#include "cpu_sampler_unwind.hpp"

#include <elfutils/libdwfl.h>
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace perflab::cli {
namespace {

// The CFI of the loaded files (.eh_frame, which every C and C++ object has
// for exceptions and unwinding) is enough: no separate debug files, whose
// search (debuginfod: the network) would hold the sampled thread stopped.
int no_separate_debuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                          GElf_Word, char**) {
  return -1;
}

const Dwfl_Callbacks kProcCallbacks = {
    dwfl_linux_proc_find_elf,
    no_separate_debuginfo,
    nullptr,
    nullptr,
};

constexpr std::chrono::seconds kReportInterval{1};

struct Walk {
  std::vector<std::uint64_t>* frames;
  std::size_t max_frames;
};

int on_frame(Dwfl_Frame* frame, void* arg) {
  auto* walk = static_cast<Walk*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
  // A return address is the instruction after the call; minus one is inside it.
  walk->frames->push_back(activation ? pc : pc - 1);
  return walk->frames->size() < walk->max_frames ? DWARF_CB_OK : DWARF_CB_ABORT;
}

}  // namespace

RemoteUnwinder::RemoteUnwinder(pid_t pid) : pid_(pid) {
  dwfl_ = dwfl_begin(&kProcCallbacks);
  if (dwfl_ == nullptr) {
    throw std::runtime_error(fmt::format("libdwfl: {}", dwfl_errmsg(-1)));
  }
  try {
    report_modules();
    // true: the caller stops the threads; libdwfl must not attach itself.
    if (const int error = dwfl_linux_proc_attach(dwfl_, pid_, true); error != 0) {
      throw std::runtime_error(fmt::format("cannot read the stacks of process {} ({})", pid_,
                                           error > 0 ? std::strerror(error) : dwfl_errmsg(-1)));
    }
  } catch (...) {
    dwfl_end(dwfl_);
    throw;
  }
}

RemoteUnwinder::~RemoteUnwinder() { dwfl_end(dwfl_); }

void RemoteUnwinder::report_modules() {
  reported_at_ = std::chrono::steady_clock::now();
  dwfl_report_begin(dwfl_);
  const int error = dwfl_linux_proc_report(dwfl_, pid_);
  dwfl_report_end(dwfl_, nullptr, nullptr);
  if (error != 0) {
    throw std::runtime_error(fmt::format("cannot read the memory map of process {} ({})", pid_,
                                         error > 0 ? std::strerror(error) : dwfl_errmsg(-1)));
  }
}

bool RemoteUnwinder::unwind(pid_t tid, std::vector<std::uint64_t>& frames, std::size_t max_frames) {
  frames.clear();
  if (max_frames == 0) return true;
  Walk walk{&frames, max_frames};
  // Nonzero when the walk stopped early, which an outermost frame without
  // CFI does too: the frames found are the answer either way.
  (void)dwfl_getthread_frames(dwfl_, tid, on_frame, &walk);
  if (frames.empty()) return false;
  if (dwfl_addrmodule(dwfl_, frames.front()) == nullptr &&
      std::chrono::steady_clock::now() - reported_at_ >= kReportInterval) {
    try {
      report_modules();  // for the next samples: this one is taken
    } catch (const std::exception&) {
      // The process is ending; its stacks are no longer wanted.
    }
  }
  return true;
}

}  // namespace perflab::cli
