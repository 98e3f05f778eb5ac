// CpuProfiler: which sampler a run uses, and the one interface baseline
// drives either through.
#include "cpu_profile.hpp"

#include <fmt/core.h>

#include <stdexcept>

#include "cpu_sampler.hpp"
#include "cpu_sampler_perf.hpp"

namespace perflab::cli {
namespace {

constexpr const char* kPerfHint =
    "install linux-perf, or allow sampling with: sysctl kernel.perf_event_paranoid=1";

// Above this share of missed samples the profile under-counts some code.
constexpr double kMissedWarningShare = 0.05;

}  // namespace

CpuSamplerRequest parse_cpu_sampler(std::string_view text) {
  if (text == "auto") return CpuSamplerRequest::kAuto;
  if (text == "perf") return CpuSamplerRequest::kPerf;
  if (text == "builtin") return CpuSamplerRequest::kBuiltin;
  throw std::invalid_argument(
      fmt::format("unknown CPU sampler '{}' (auto, perf or builtin)", text));
}

CpuSamplerChoice choose_cpu_sampler(CpuSamplerRequest request) {
  if (request == CpuSamplerRequest::kBuiltin) {
    if (auto why = PtraceSampler::unavailable_reason()) {
      throw std::runtime_error(
          fmt::format("the built-in sampler cannot trace the server here ({})", *why));
    }
    return {CpuSamplerKind::kBuiltin, "--cpu-sampler builtin"};
  }
  const std::optional<std::string> perf_why = PerfSampler::unavailable_reason();
  if (!perf_why) {
    return {CpuSamplerKind::kPerf,
            request == CpuSamplerRequest::kPerf ? "--cpu-sampler perf" : "perf can sample here"};
  }
  if (request == CpuSamplerRequest::kPerf) {
    throw std::runtime_error(
        fmt::format("perf cannot sample here ({}); {} (or use --cpu-sampler "
                    "builtin, perflab's own ptrace sampler)",
                    *perf_why, kPerfHint));
  }
  if (auto builtin_why = PtraceSampler::unavailable_reason()) {
    throw std::runtime_error(fmt::format(
        "neither sampler can sample here: perf cannot ({}; {}), and the built-in sampler cannot "
        "trace the server ({})",
        *perf_why, kPerfHint, *builtin_why));
  }
  return {CpuSamplerKind::kBuiltin, fmt::format("perf cannot sample here ({})", *perf_why)};
}

CpuProfiler::Pause::~Pause() {
  if (sampler_ != nullptr) sampler_->resume();
}

CpuProfiler::CpuProfiler(const CpuSamplerChoice& choice, pid_t pid,
                         const std::filesystem::path& work_dir) {
  if (choice.kind == CpuSamplerKind::kPerf) {
    perf_ = std::make_unique<PerfSampler>(pid, work_dir);
  } else {
    builtin_ = std::make_unique<PtraceSampler>(pid);
  }
}

CpuProfiler::~CpuProfiler() = default;  // each sampler stops itself, never throwing

CpuProfiler::Pause CpuProfiler::pause() {
  if (!builtin_) return Pause();
  builtin_->suspend();
  return Pause(builtin_.get());
}

void CpuProfiler::stop() {
  if (perf_) perf_->stop();
  if (builtin_) builtin_->stop();
}

CpuStacks CpuProfiler::collect() { return perf_ ? perf_->collect() : builtin_->collect(); }

std::vector<std::string> CpuProfiler::warnings() const {
  if (perf_) return perf_->warnings();
  const PtraceSamplerCounts counts = builtin_->counts();
  const std::uint64_t due = counts.samples + counts.missed;
  if (due > 0 &&
      static_cast<double>(counts.missed) > kMissedWarningShare * static_cast<double>(due)) {
    return {
        fmt::format("the built-in sampler missed {} of {} samples (threads that did not stop "
                    "within 50 ms, or whose stack could not be read)",
                    counts.missed, due)};
  }
  return {};
}

int CpuProfiler::sample_hz() const { return perf_ ? kPerfSampleHz : builtin_->sample_hz(); }

std::string CpuProfiler::tool() const {
  return perf_ ? kPerfTool : fmt::format("builtin ptrace {} Hz", builtin_->sample_hz());
}

}  // namespace perflab::cli
