// latency.hlog, written interval by interval while the run goes on.
#include <fstream>

#include "perflab/load.hpp"

namespace perflab {

struct LatencyLogRecorder::State {
  ProfileWriter& profile;
  LoadMode mode;
  LoadObserver* next;
  std::filesystem::path path;
  std::ofstream out;
  HistogramLogWriter writer;

  State(ProfileWriter& p, LoadMode m, LoadObserver* n)
      : profile(p),
        mode(m),
        next(n),
        path(p.streamed_file_path(kLatencyLogFile)),
        out(path, std::ios::binary | std::ios::trunc),
        writer(out) {}
};

LatencyLogRecorder::LatencyLogRecorder(ProfileWriter& profile, LoadMode mode, LoadObserver* next)
    : state_(std::make_unique<State>(profile, mode, next)) {
  if (!state_->out) {
    profile.mark_failed();
    throw ProfileError("cannot create " + state_->path.string());
  }
}

LatencyLogRecorder::~LatencyLogRecorder() = default;

void LatencyLogRecorder::on_start(double start_epoch_s) {
  state_->writer.write_comment(state_->mode == LoadMode::kOpen
                                   ? "perflab load, open loop: untagged = latency from each "
                                     "request's due time (corrected), Tag=service = from send"
                                   : "perflab load, closed loop: untagged and Tag=service = "
                                     "latency from send");
  state_->writer.write_comment("values in nanoseconds; Interval_Max in milliseconds");
  state_->writer.write_header(start_epoch_s);
  if (state_->next != nullptr) state_->next->on_start(start_epoch_s);
}

void LatencyLogRecorder::on_interval(const LoadInterval& interval) {
  state_->writer.write_interval(interval.start_s, interval.length_s, interval.latency);
  state_->writer.write_interval(interval.start_s, interval.length_s, interval.service, "service");
  if (state_->next != nullptr) state_->next->on_interval(interval);
}

void LatencyLogRecorder::finish() {
  state_->out.flush();
  state_->out.close();
  if (state_->out.fail()) {
    state_->profile.mark_failed();
    throw ProfileError("cannot write " + state_->path.string() + " (disk full?)");
  }
}

}  // namespace perflab
