// The criteria language of DESIGN.md ("allocs_per_op <= -30%", "latency_p99_us
// <= 2000"), the table of metrics it may name, and the three-way verdict of one
// criterion against an estimated change or the candidate's figure.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "perflab/compare.hpp"

namespace perflab {

namespace {

using Op = Criterion::Op;

// A suggestion further than this from every known name would be noise.
constexpr std::size_t kMaxSuggestionEdits = 3;

// A bound written in decimal ("-30%") is rarely a binary fraction: 10 -> 7
// computes to a change of -0.30000000000000004. Values this close (relative)
// count as on the bound, where only strict versus non-strict decides.
constexpr double kBoundTolerance = 1e-9;

// The significance levels named when the configured one is not known (see
// infeasible_note).
constexpr double kCommonAlphas[] = {0.05, 0.01, 0.001};

// Beyond this, asking for more samples is not advice anyone can follow.
constexpr std::size_t kMaxSuggestedSamples = 1000;

std::vector<MetricInfo> make_metric_table() {
  const auto metric = [](const char* name, const char* unit, Better better, ChangeScale scale,
                         bool deterministic) {
    return MetricInfo{name, unit, better, scale, deterministic};
  };
  constexpr auto kLower = Better::kLower;
  constexpr auto kHigher = Better::kHigher;
  constexpr auto kRatio = ChangeScale::kRatio;
  // Figures that are often exactly 0 (error_rate, leaked_bytes) or that cross 0
  // (rss_growth) or sit in [0, 1] near an end (pool_hit_rate) have no usable
  // ratio: they change by a difference.
  constexpr auto kDiff = ChangeScale::kDifference;
  return {
      // DESIGN.md's canonical names, in report order.
      metric("throughput_rps", "req/s", kHigher, kRatio, false),
      metric("latency_p50_us", "us", kLower, kRatio, false),
      metric("latency_p90_us", "us", kLower, kRatio, false),
      metric("latency_p99_us", "us", kLower, kRatio, false),
      metric("latency_p999_us", "us", kLower, kRatio, false),
      metric("latency_max_us", "us", kLower, kRatio, false),
      metric("error_rate", "", kLower, kDiff, false),
      metric("allocs_per_op", "allocs", kLower, kRatio, true),
      metric("bytes_per_op", "B", kLower, kRatio, true),
      metric("alloc_rate_per_s", "allocs/s", kLower, kRatio, false),
      metric("peak_heap_bytes", "B", kLower, kRatio, false),
      metric("leaked_bytes", "B", kLower, kDiff, true),
      metric("cpu_per_op_us", "us", kLower, kRatio, false),
      metric("peak_rss_bytes", "B", kLower, kRatio, false),
      metric("rss_growth_bytes_per_s", "B/s", kLower, kDiff, false),
      metric("pool_hit_rate", "", kHigher, kDiff, false),
      // Google Benchmark's figures, for comparing benchmark results.
      metric("real_time_ns", "ns", kLower, kRatio, false),
      metric("cpu_time_ns", "ns", kLower, kRatio, false),
      metric("items_per_second", "items/s", kHigher, kRatio, false),
      metric("bytes_per_second", "B/s", kHigher, kRatio, false),
      metric("allocs_per_iteration", "allocs", kLower, kRatio, true),
  };
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the Levenshtein table at a time.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known name closest to `name`, when one is close enough to be a typo.
std::optional<std::string> closest_metric(std::string_view name) {
  std::optional<std::string> best;
  std::size_t best_distance = kMaxSuggestionEdits + 1;
  for (const MetricInfo& info : canonical_metrics()) {
    const std::size_t distance = edit_distance(name, info.name);
    if (distance < best_distance) {
      best_distance = distance;
      best = info.name;
    }
  }
  return best;
}

std::string known_metric_names() {
  std::string names;
  for (const MetricInfo& info : canonical_metrics()) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

const char* op_text(Op op) {
  switch (op) {
    case Op::kLessEqual:
      return "<=";
    case Op::kGreaterEqual:
      return ">=";
    case Op::kLess:
      return "<";
    case Op::kGreater:
      return ">";
  }
  return "?";
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Reads the criterion left to right; every error names the whole text.
class CriterionParser {
 public:
  explicit CriterionParser(std::string_view text) : text_(trim(text)) {}

  Criterion parse() {
    if (text_.empty())
      fail("empty criterion (expected METRIC OP VALUE, e.g. allocs_per_op <= -30%)");
    Criterion criterion;
    criterion.text = std::string(text_);
    const MetricInfo metric = parse_metric();
    criterion.metric = metric.name;
    criterion.op = parse_op();
    const double number = parse_number();
    skip_spaces();
    if (peek() == '%') {
      ++pos_;
      criterion.relative = true;
    }
    skip_spaces();
    if (pos_ < text_.size()) {
      fail("unexpected '" + std::string(text_.substr(pos_)) + "' after the value" +
           (criterion.relative ? "" : " (units are implied by the metric)"));
    }
    // + 0.0 turns "-0%" into +0, so reports print "+0%".
    criterion.value = (criterion.relative ? number / 100.0 : number) + 0.0;
    if (criterion.relative) check_relative(criterion, metric);
    return criterion;
  }

 private:
  static std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw CompareError("criterion '" + std::string(text_) + "': " + problem);
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  MetricInfo parse_metric() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    const std::string_view name = text_.substr(start, pos_ - start);
    if (name.empty()) fail("missing metric name (expected METRIC OP VALUE)");
    std::optional<MetricInfo> metric = find_metric(name);
    if (!metric) {
      std::string problem = "unknown metric '" + std::string(name) + "'";
      if (std::optional<std::string> suggestion = closest_metric(name)) {
        problem += " (did you mean " + *suggestion + "?)";
      }
      fail(problem + "; known metrics: " + known_metric_names());
    }
    return *metric;
  }

  Op parse_op() {
    skip_spaces();
    const std::size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view("<>=!").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    const std::string_view op = text_.substr(start, pos_ - start);
    if (op == "<=") return Op::kLessEqual;
    if (op == ">=") return Op::kGreaterEqual;
    if (op == "<") return Op::kLess;
    if (op == ">") return Op::kGreater;
    if (op.empty()) fail("missing operator after the metric (one of <= >= < >)");
    fail("unknown operator '" + std::string(op) + "' (use one of <= >= < >)");
  }

  // [+-] digits [. digits] [e [+-] digits], with a digit before or after the point.
  double parse_number() {
    skip_spaces();
    if (pos_ == text_.size()) fail("missing value after the operator");
    const std::size_t start = pos_;
    bool negative = false;
    if (peek() == '+' || peek() == '-') {
      negative = peek() == '-';
      ++pos_;
    }
    const std::size_t mantissa = pos_;
    std::size_t digits = 0;
    for (; is_digit(peek()); ++pos_) ++digits;
    if (peek() == '.') {
      ++pos_;
      for (; is_digit(peek()); ++pos_) ++digits;
    }
    if (digits > 0 && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      std::size_t exponent_digits = 0;
      for (; is_digit(peek()); ++pos_) ++exponent_digits;
      if (exponent_digits == 0) digits = 0;
    }
    if (digits == 0) fail("bad number '" + bad_token(start) + "'");
    // from_chars, unlike strtod, ignores the locale's decimal point; it takes
    // no '+' sign, so the sign is applied here.
    double value = 0;
    const char* first = text_.data() + mantissa;
    const char* last = text_.data() + pos_;
    const auto [end, error] = std::from_chars(first, last, value);
    if (error != std::errc() || end != last || !std::isfinite(value)) {
      fail("bad number '" + std::string(text_.substr(start, pos_ - start)) + "' (out of range)");
    }
    return negative ? -value : value;
  }

  // The offending word, up to the next space, for the error message.
  std::string bad_token(std::size_t start) const {
    std::size_t end = start;
    while (end < text_.size() && !is_space(text_[end])) ++end;
    return std::string(text_.substr(start, end - start));
  }

  void check_relative(const Criterion& criterion, const MetricInfo& metric) const {
    if (metric.scale == ChangeScale::kDifference) {
      // error_rate 0 -> 0.001 is +infinity percent; 0.01 -> 0.02 is +100% but
      // also +1 point. Either reading surprises someone, so ask for the bound.
      const std::string in_units =
          metric.unit.empty() ? "a fraction: 0.05 means 5%" : "in " + metric.unit;
      fail("a relative bound is ambiguous for " + metric.name +
           ", which is compared as a difference (it can be 0); write an absolute bound on the "
           "candidate instead: " +
           metric.name + " " + op_text(criterion.op) + " VALUE (" + in_units + ")");
    }
    if (criterion.value <= -1.0) {
      fail(metric.name + " cannot fall by 100% or more (a ratio stays above 0)");
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// -1, 0 or +1 as x is below, on or above the bound (within kBoundTolerance).
int compare_to_bound(double x, double bound) {
  if (!std::isfinite(x) || !std::isfinite(bound)) return x == bound ? 0 : (x < bound ? -1 : 1);
  const double tolerance = kBoundTolerance * std::max(std::fabs(x), std::fabs(bound));
  if (std::fabs(x - bound) <= tolerance) return 0;
  return x < bound ? -1 : 1;
}

bool satisfies(double x, Op op, double bound) {
  const int order = compare_to_bound(x, bound);
  switch (op) {
    case Op::kLessEqual:
      return order <= 0;
    case Op::kLess:
      return order < 0;
    case Op::kGreaterEqual:
      return order >= 0;
    case Op::kGreater:
      return order > 0;
  }
  return false;
}

// Every operator is monotone, so the interval's ends decide for all of it.
Verdict judge_interval(double low, double high, Op op, double bound) {
  if (std::isnan(low) || std::isnan(high)) return Verdict::kInconclusive;
  if (low > high) std::swap(low, high);
  const bool upper_bound = op == Op::kLessEqual || op == Op::kLess;
  const double worst = upper_bound ? high : low;
  const double best = upper_bound ? low : high;
  if (satisfies(worst, op, bound)) return Verdict::kPass;
  if (!satisfies(best, op, bound)) return Verdict::kFail;
  return Verdict::kInconclusive;
}

template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

// A fraction as a signed percentage: 1 decimal, more for small nonzero changes
// that would otherwise print as a misleading +0.0%.
std::string format_percent(double fraction) {
  if (std::isinf(fraction)) return fraction > 0 ? "+inf%" : "-inf%";
  const double percent = fraction * 100.0;
  if (percent != 0 && std::fabs(percent) < 0.05) return printf_string("%+.2g%%", percent);
  // + 0.0 so that a rounded -0.0 prints as +0.0.
  return printf_string("%+.1f%%", percent + 0.0);
}

// A bound as the user wrote it: "-30%", "+0%", "+12.5%".
std::string format_bound_percent(double fraction) {
  return printf_string("%+.6g%%", fraction * 100.0 + 0.0);
}

// Figures in plain digits up to 1e15 (byte counts read better as 12345678 B
// than 1.23457e+07 B); six significant digits for the rest.
std::string format_number(double value, bool with_sign) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e6 && magnitude < 1e15) {
    return printf_string(with_sign ? "%+.0f" : "%.0f", value);
  }
  return printf_string(with_sign ? "%+.6g" : "%.6g", value + 0.0);
}

std::string with_unit(std::string number, const MetricInfo& metric) {
  if (!metric.unit.empty()) number += " " + metric.unit;
  return number;
}

std::string format_value(double value, const MetricInfo& metric) {
  return with_unit(format_number(value, false), metric);
}

// "(-41.2% .. -35.0%)", or "(+5.0%)" when the interval is a point.
std::string format_range(double low, double high, const auto& format_one) {
  if (low == high) return "(" + format_one(low) + ")";
  return "(" + format_one(low) + " .. " + format_one(high) + ")";
}

// "95%" from 0.95, "95.2%" from 0.9523; "" when unknown. A coverage below 1
// gets the digits it needs not to read "100%".
std::string format_confidence(double confidence) {
  if (!(confidence > 0 && confidence <= 1)) return "";
  int digits = 3;
  while (digits < 6 && confidence < 1 &&
         printf_string("%.*g", digits, confidence * 100.0) == "100") {
    ++digits;
  }
  return printf_string("%.*g%%", digits, confidence * 100.0);
}

std::string describe(Verdict verdict, const std::string& subject, const std::string& range,
                     const std::string& criterion_bound, const std::string& bare_bound) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass: the whole " + subject + " " + range + " is within " + criterion_bound;
    case Verdict::kFail:
      return "fail: the whole " + subject + " " + range + " violates " + criterion_bound;
    case Verdict::kInconclusive:
      break;
  }
  return "inconclusive: the " + subject + " " + range + " straddles the bound " + bare_bound;
}

// The samples per side (or pairs) that can reach alpha at all.
std::optional<std::size_t> samples_needed(double alpha, bool paired) {
  for (std::size_t n = 1; n <= kMaxSuggestedSamples; ++n) {
    const double min_p = paired ? min_p_value_paired(n) : min_p_value_independent(n, n);
    if (min_p <= alpha) return n;
  }
  return std::nullopt;
}

// Why an infeasible estimate cannot decide, and what would. ShiftEstimate does
// not carry the configured alpha; it is below min_p_value (that is what
// infeasible means), so the common levels below it are the candidates.
std::string infeasible_note(const ShiftEstimate& change) {
  const auto count = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (!change.units.empty()) {
    // The histogram bootstrap: its reach grows with the units per side
    // (Student's t degrees of freedom) up to what B resamples can show.
    const std::size_t resamples = LatencyBootstrapOptions{}.resamples;
    std::string note = std::to_string(change.n_base) + " base and " +
                       std::to_string(change.n_candidate) + " candidate " + change.units +
                       " cannot reach the significance level (the smallest p-value the histogram "
                       "bootstrap can give is " +
                       printf_string("%.3g", change.min_p_value) + ")";
    std::string needs;
    for (double alpha : kCommonAlphas) {
      if (!(alpha < change.min_p_value)) continue;
      for (std::size_t n = 2; n <= kMaxSuggestedSamples; ++n) {
        if (min_p_value_bootstrap(n, n, resamples) > alpha) continue;
        if (!needs.empty()) needs += ", ";
        needs += "alpha " + printf_string("%g", alpha) + " needs at least " + std::to_string(n) +
                 " per side";
        break;
      }
    }
    return note + "; " + (needs.empty() ? "more units, or a larger alpha, are needed" : needs);
  }
  std::string counts;
  if (change.paired) {
    counts = count(change.n_base, "pair", "pairs");
  } else if (change.n_base == change.n_candidate) {
    counts = count(change.n_base, "sample per side", "samples per side");
  } else {
    counts = std::to_string(change.n_base) + " base and " +
             count(change.n_candidate, "candidate sample", "candidate samples");
  }
  std::string note =
      counts + " cannot reach the significance level (the smallest p-value they can give is " +
      printf_string("%.3g", change.min_p_value) + ")";
  std::string needs;
  for (double alpha : kCommonAlphas) {
    if (!(alpha < change.min_p_value)) continue;
    const std::optional<std::size_t> n = samples_needed(alpha, change.paired);
    if (!n) continue;
    if (!needs.empty()) needs += ", ";
    needs += "alpha " + printf_string("%g", alpha) + " needs at least " + std::to_string(*n) +
             (change.paired ? " pairs" : " per side");
  }
  return note + "; " + (needs.empty() ? "more samples are needed" : needs);
}

}  // namespace

const std::vector<MetricInfo>& canonical_metrics() {
  static const std::vector<MetricInfo> metrics = make_metric_table();
  return metrics;
}

std::optional<MetricInfo> find_metric(std::string_view name) {
  for (const MetricInfo& info : canonical_metrics()) {
    if (info.name == name) return info;
  }
  return std::nullopt;
}

Criterion parse_criterion(std::string_view text) { return CriterionParser(text).parse(); }

std::vector<Criterion> parse_criteria(const std::vector<std::string>& texts) {
  std::vector<Criterion> criteria;
  criteria.reserve(texts.size());
  for (const std::string& text : texts) criteria.push_back(parse_criterion(text));
  return criteria;
}

const char* verdict_name(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

// The change's own scale decides how the bound reads: on the ratio scale
// "<= -30%" means ratio <= 0.70; on the difference scale (which the parser
// never pairs with a relative bound, but code may) the value is taken as a
// bound on the difference candidate - base itself.
CriterionResult evaluate_relative(const Criterion& criterion, const MetricInfo& metric,
                                  const ShiftEstimate& change) {
  CriterionResult result;
  result.criterion = criterion;
  const bool ratio = change.scale == ChangeScale::kRatio;
  const double bound = ratio ? 1.0 + criterion.value : criterion.value;
  result.verdict = judge_interval(change.low, change.high, criterion.op, bound);

  const std::string bare_bound = ratio ? format_bound_percent(criterion.value)
                                       : with_unit(format_number(criterion.value, true), metric);
  const std::string criterion_bound = std::string(op_text(criterion.op)) + " " + bare_bound;
  const auto format_one = [&](double x) {
    return ratio ? format_percent(x - 1.0) : with_unit(format_number(x, true), metric);
  };
  const std::string range = format_range(change.low, change.high, format_one);
  const std::string confidence = format_confidence(change.confidence);
  const std::string subject =
      (confidence.empty() ? "" : confidence + " ") + "interval of the change";

  if (std::isnan(change.low) || std::isnan(change.high)) {
    result.reason = "inconclusive: the change in " + metric.name + " could not be estimated";
  } else if (!change.feasible) {
    // DESIGN.md: no claim the sample counts cannot support, either way. The
    // interval here is only as wide as the samples allow, below the
    // confidence asked for, so it decides nothing even when it clears the bound.
    const bool straddles = result.verdict == Verdict::kInconclusive;
    result.verdict = Verdict::kInconclusive;
    result.reason =
        "inconclusive: " + infeasible_note(change) + "; the " + subject + " " + range +
        (straddles
             ? " straddles the bound " + bare_bound
             : " alone would say " + std::string(op_text(criterion.op)) + " " + bare_bound +
                   " is " +
                   (judge_interval(change.low, change.high, criterion.op, bound) == Verdict::kPass
                        ? "met"
                        : "missed"));
  } else {
    result.reason = describe(result.verdict, subject, range, criterion_bound, bare_bound);
    if (result.verdict == Verdict::kInconclusive) result.reason += "; more samples would narrow it";
  }
  return result;
}

CriterionResult evaluate_absolute(const Criterion& criterion, const MetricInfo& metric,
                                  const MedianInterval& candidate, std::string_view subject_text) {
  CriterionResult result;
  result.criterion = criterion;
  result.verdict = judge_interval(candidate.low, candidate.high, criterion.op, criterion.value);
  const std::string bare_bound = format_value(criterion.value, metric);
  const std::string criterion_bound = std::string(op_text(criterion.op)) + " " + bare_bound;
  const auto format_one = [&](double x) { return format_value(x, metric); };
  const std::string range = format_range(candidate.low, candidate.high, format_one);
  const std::string subject = subject_text.empty()
                                  ? std::string("confidence interval of the candidate's median")
                                  : std::string(subject_text);
  if (std::isnan(candidate.low) || std::isnan(candidate.high)) {
    result.reason = "inconclusive: the candidate's " + metric.name + " could not be estimated";
    return result;
  }
  result.reason = describe(result.verdict, subject, range, criterion_bound, bare_bound);
  if (result.verdict == Verdict::kInconclusive) result.reason += "; more samples would narrow it";
  return result;
}

// Relative bounds compare candidate / base with 1 + the bound; a base of 0 has
// no ratio, so 0 -> 0 is no change and 0 -> anything else an infinite one.
// Difference-scale metrics take a relative value as a bound on candidate -
// base, as evaluate_relative does.
CriterionResult evaluate_exact(const Criterion& criterion, const MetricInfo& metric, double base,
                               double candidate) {
  CriterionResult result;
  result.criterion = criterion;
  const std::string pair =
      "(" + format_value(base, metric) + " -> " + format_value(candidate, metric) + ")";
  std::string subject;
  std::string bare_bound;
  double figure = 0;
  double bound = criterion.value;
  if (!criterion.relative) {
    figure = candidate;
    subject = "the exact value " + format_value(candidate, metric);
    bare_bound = format_value(criterion.value, metric);
  } else if (metric.scale == ChangeScale::kDifference) {
    figure = candidate - base;
    subject = "the exact change " + with_unit(format_number(figure, true), metric) + " " + pair;
    bare_bound = with_unit(format_number(criterion.value, true), metric);
  } else {
    // On the ratio scale, like evaluate_relative, so both read a bound the same way.
    double ratio = 1.0;
    if (base != 0) {
      ratio = candidate / base;
    } else if (candidate != 0) {
      ratio = std::copysign(std::numeric_limits<double>::infinity(), candidate);
    }
    figure = ratio;
    bound = 1.0 + criterion.value;
    subject = "the exact change " + format_percent(ratio - 1.0) + " " + pair;
    bare_bound = format_bound_percent(criterion.value);
  }
  const bool pass = satisfies(figure, criterion.op, bound);
  result.verdict = pass ? Verdict::kPass : Verdict::kFail;
  result.reason = std::string(pass ? "pass: " : "fail: ") + subject +
                  (pass ? " is within " : " violates ") + op_text(criterion.op) + " " + bare_bound;
  return result;
}

}  // namespace perflab
