// run_load: builds the plan, starts the load threads together, collects
// their interval histograms once per interval (for the observer and the
// totals), and merges what they counted after they join.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>

#include "load_thread.hpp"
#include "perflab/load.hpp"
#include "run_load_internal.hpp"
#include "syscalls.hpp"

namespace perflab {
namespace load_detail {
namespace {

std::int64_t to_ns(double seconds) { return std::llround(seconds * 1e9); }

RequestPlan make_request_plan(const RequestSpec& request, const LoadSpec& spec) {
  RequestPlan plan{request.name, RequestRenderer(request, spec), {}, {}};
  const ResponseExpectation& expect = request.expect ? *request.expect : spec.expect;
  if (expect.statuses.empty()) {
    for (int status = 200; status < 300; ++status)
      plan.good_status.set(static_cast<std::size_t>(status));
  }
  for (int status : expect.statuses) {
    if (status < 100 || status >= static_cast<int>(plan.good_status.size())) {
      throw LoadError("request \"" + request.name + "\": expected status " +
                      std::to_string(status) + " is not an HTTP status (100..599)");
    }
    plan.good_status.set(static_cast<std::size_t>(status));
  }
  plan.body_needle = expect.body_contains;
  return plan;
}

LoadPlan make_plan(const LoadSpec& spec, const LoadRunOptions& options, const Syscalls& syscalls) {
  validate_load_spec(spec);
  if (!(options.interval_s > 0) || !std::isfinite(options.interval_s)) {
    throw LoadError("interval: must be a positive number of seconds");
  }
  LoadPlan plan;
  std::vector<std::uint32_t> weights;
  for (const RequestSpec& request : spec.requests) {
    plan.requests.push_back(make_request_plan(request, spec));
    weights.push_back(request.weight);
    if (!plan.requests.back().renderer.is_static()) {
      plan.render_capacity =
          std::max(plan.render_capacity, plan.requests.back().renderer.max_size());
    }
    plan.longest_needle = std::max(plan.longest_needle, plan.requests.back().body_needle.size());
  }
  plan.cycle = weighted_cycle(weights);
  plan.mode = spec.mode;
  plan.schedule = spec.mode == LoadMode::kOpen ? spec.schedule : std::nullopt;
  plan.threads = spec.threads;
  plan.connections = spec.connections;
  plan.duration_ns =
      to_ns(spec.mode == LoadMode::kOpen ? spec.schedule->duration_s() : spec.duration_s);
  plan.timeout_ns = to_ns(spec.timeout_s);
  plan.connect_timeout_ns = to_ns(spec.connect_timeout_s);
  plan.interval_ns = to_ns(options.interval_s);
  plan.seed = spec.seed;
  plan.syscalls = &syscalls;
  return plan;
}

// Each connection is a descriptor; running out of them mid-run would look like
// a server refusing connections, so the soft limit is raised when that is
// enough, and the run refused before it starts when it is not.
void check_descriptor_limit(int connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  constexpr rlim_t kSpare = 64;  // epoll, files, the profile being written
  const auto needed = static_cast<rlim_t>(connections) + kSpare;
  if (needed <= limit.rlim_cur) return;
  limit.rlim_cur = static_cast<rlim_t>(raise_descriptor_limit());
  if (needed <= limit.rlim_cur) return;
  throw LoadError(std::to_string(connections) + " connections need about " +
                  std::to_string(needed) + " file descriptors, but the limit is " +
                  std::to_string(limit.rlim_cur) + ": raise it (ulimit -n " +
                  std::to_string(needed) + ") or use fewer connections");
}

double wall_clock_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Hands each interval's merged histograms to the observer and adds them to
// the run's totals, which are therefore built without a second histogram per
// thread on the request path.
class IntervalCollector {
 public:
  IntervalCollector(std::vector<std::unique_ptr<IntervalMailbox>>& mailboxes,
                    LoadObserver* observer, std::int64_t start_ns, std::int64_t interval_ns,
                    LoadResult& result)
      : mailboxes_(mailboxes),
        observer_(observer),
        start_ns_(start_ns),
        interval_ns_(interval_ns),
        result_(result) {}

  // Waits for every thread to publish interval `index` (or to finish), a
  // little past its end, then takes and reports it. Returns false once every
  // thread has finished.
  bool collect_next() {
    const std::int64_t end = start_ns_ + (index_ + 1) * interval_ns_;
    // Threads publish when they cross the boundary; allow them a moment
    // (their wakeups are due then) before reporting a short interval.
    const std::int64_t grace = std::min<std::int64_t>(interval_ns_ / 10, 50'000'000);
    std::int64_t now = now_ns();
    while (now < end + grace && !all_caught_up(now >= end)) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(
          std::min<std::int64_t>(std::max<std::int64_t>(end - now, 1'000'000), 20'000'000)));
      now = now_ns();
    }
    const bool finished = all_finished();
    const double start_s = static_cast<double>(index_ * interval_ns_) / 1e9;
    const double length_s =
        std::max(0.0, static_cast<double>(std::min(now, end) - start_ns_) / 1e9 - start_s);
    take(start_s, length_s);
    ++index_;
    return !finished;
  }

 private:
  bool all_caught_up(bool past_end) const {
    if (!past_end) return all_finished();
    for (const auto& mailbox : mailboxes_) {
      if (!mailbox->finished.load(std::memory_order_acquire) &&
          mailbox->published_through.load(std::memory_order_acquire) < index_) {
        return false;
      }
    }
    return true;
  }
  bool all_finished() const {
    return std::all_of(mailboxes_.begin(), mailboxes_.end(), [](const auto& mailbox) {
      return mailbox->finished.load(std::memory_order_acquire);
    });
  }

  void take(double start_s, double length_s) {
    latency_.reset();
    service_.reset();
    std::uint64_t completed = 0;
    std::uint64_t errors = 0;
    for (auto& mailbox : mailboxes_) {
      std::lock_guard<std::mutex> lock(mailbox->mutex);
      latency_.add(mailbox->latency);
      service_.add(mailbox->service);
      completed += mailbox->completed;
      errors += mailbox->errors;
      mailbox->latency.reset();
      mailbox->service.reset();
      mailbox->completed = 0;
      mailbox->errors = 0;
    }
    result_.latency.add(latency_);
    result_.service.add(service_);
    if (observer_ != nullptr && (length_s > 0 || completed + errors > 0)) {
      observer_->on_interval(
          LoadInterval{start_s, length_s, latency_, service_, completed, errors});
    }
  }

  std::vector<std::unique_ptr<IntervalMailbox>>& mailboxes_;
  LoadObserver* observer_;
  std::int64_t start_ns_;
  std::int64_t interval_ns_;
  LoadResult& result_;
  std::int64_t index_ = 0;
  Histogram latency_ = make_latency_histogram();
  Histogram service_ = make_latency_histogram();
};

void merge_thread(const ThreadTotals& totals, LoadResult& result) {
  result.LoadCounts::add(totals);
  for (std::size_t kind = 0; kind < totals.requests.size(); ++kind) {
    result.requests[kind].add(totals.requests[kind]);
  }
}

}  // namespace

LoadResult run_load_with(const LoadSpec& spec, const LoadRunOptions& options,
                         const Syscalls& syscalls) {
  LoadPlan plan = make_plan(spec, options, syscalls);
  plan.endpoint =
      first_reachable(resolve_endpoints(spec.url.host, spec.url.port), spec.connect_timeout_s);
  check_descriptor_limit(plan.connections);

  std::vector<std::unique_ptr<IntervalMailbox>> mailboxes;
  std::vector<std::unique_ptr<LoadThread>> workers;
  std::uint32_t first_connection = 0;
  for (int t = 0; t < plan.threads; ++t) {
    // Connections split as evenly as they go; the first threads take the remainder.
    const auto share = static_cast<std::uint32_t>(plan.connections / plan.threads +
                                                  (t < plan.connections % plan.threads ? 1 : 0));
    mailboxes.push_back(std::make_unique<IntervalMailbox>());
    workers.push_back(std::make_unique<LoadThread>(plan, t, first_connection, share,
                                                   *mailboxes.back(), options.stop));
    first_connection += share;
  }

  StartSignal start;
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  try {
    for (auto& worker : workers) {
      threads.emplace_back([&start, w = worker.get()] { w->run(start); });
    }
  } catch (...) {
    start.start_ns.store(-1, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    throw;
  }
  while (start.ready.load(std::memory_order_acquire) < plan.threads) std::this_thread::yield();

  LoadResult result;
  result.mode = plan.mode;
  result.threads = plan.threads;
  result.connections = plan.connections;
  for (const RequestPlan& request : plan.requests) {
    RequestResult kind;
    kind.name = request.name;
    result.requests.push_back(std::move(kind));
  }
  const std::int64_t start_ns = now_ns();
  try {
    if (options.observer != nullptr) options.observer->on_start(wall_clock_s());
    start.start_ns.store(start_ns, std::memory_order_release);
    IntervalCollector collector(mailboxes, options.observer, start_ns, plan.interval_ns, result);
    while (collector.collect_next()) {
    }
  } catch (...) {
    // An observer that failed (a full disk under latency.hlog) ends the run;
    // the threads are told, and joined before the error goes on.
    std::int64_t unstarted = 0;
    start.start_ns.compare_exchange_strong(unstarted, -1);
    start.abort.store(true);
    for (std::thread& thread : threads) thread.join();
    throw;
  }
  for (std::thread& thread : threads) thread.join();

  std::int64_t last_response_ns = start_ns;
  for (auto& worker : workers) {
    merge_thread(worker->totals(), result);
    last_response_ns = std::max(last_response_ns, worker->totals().last_response_ns);
  }
  if (result.requests.size() == 1) {
    result.requests[0].completed = result.completed;
    result.requests[0].errors = result.error_count();
    result.requests[0].latency = result.latency;
    result.requests[0].service = result.service;
  }
  result.duration_s = static_cast<double>(plan.duration_ns) / 1e9;
  result.elapsed_s = static_cast<double>(last_response_ns - start_ns) / 1e9;
  if (plan.mode == LoadMode::kOpen) result.target_rate = plan.schedule->mean_rate();
  // An interrupted run is judged on the time it ran, not on the plan.
  const double planned = result.interrupted ? result.elapsed_s : result.duration_s;
  result.achieved_rate = planned > 0 ? static_cast<double>(result.completed) / planned : 0;
  result.throughput_rps =
      result.elapsed_s > 0 ? static_cast<double>(result.completed) / result.elapsed_s : 0;
  return result;
}

}  // namespace load_detail

LoadResult run_load(const LoadSpec& spec, const LoadRunOptions& options) {
  return load_detail::run_load_with(spec, options, load_detail::real_syscalls());
}

}  // namespace perflab
