// Load files and the command line's duration and rate syntax. Everything is
// checked here, before a run, and every error starts with the field it is
// about, so a typo in a 200-line load file is found in one read.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "perflab/load.hpp"
#include "request_template.hpp"

namespace perflab {
namespace {

using nlohmann::json;

constexpr int kMaxThreads = 256;
constexpr int kMaxConnections = 100'000;
constexpr std::size_t kMaxRequestKinds = 64;
constexpr std::uint64_t kMaxWeightSum = 1'000'000;
constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;
constexpr std::size_t kMaxShownValue = 60;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw LoadError(field + ": " + problem);
}

std::string child(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string item(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A JSON value as the user wrote it, shortened for a one-line message.
std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownValue) text = text.substr(0, kMaxShownValue - 3) + "...";
  return text;
}

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

void check_keys(const json& object, const std::string& field,
                std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (std::string_view name : known) found |= key == name;
    if (found) continue;
    std::string list;
    for (std::string_view name : known) {
      if (!list.empty()) list += ", ";
      list += name;
    }
    fail(child(field, key), "unknown key (known keys: " + list + ")");
  }
}

const json& require_object(const json& value, const std::string& field) {
  if (!value.is_object()) fail(field, "must be an object (got " + shown(value) + ")");
  return value;
}

const std::string& require_string(const json& value, const std::string& field) {
  if (!value.is_string()) fail(field, "must be a string (got " + shown(value) + ")");
  return value.get_ref<const std::string&>();
}

// An integer in [min, max]; `description` says what is accepted.
std::int64_t require_integer(const json& value, const std::string& field, std::int64_t min,
                             std::int64_t max, const std::string& description) {
  bool ok = value.is_number_integer();
  std::int64_t result = 0;
  if (ok && value.is_number_unsigned()) {
    const auto unsigned_value = value.get<std::uint64_t>();
    ok = unsigned_value <= static_cast<std::uint64_t>(max);
    result = static_cast<std::int64_t>(unsigned_value);
  } else if (ok) {
    result = value.get<std::int64_t>();
  }
  if (!ok || result < min || result > max) {
    fail(field, "must be " + description + " (got " + shown(value) + ")");
  }
  return result;
}

double require_rate(const json& value, const std::string& field) {
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
    fail(field, "must be a rate in requests per second, a number >= 0 (got " + shown(value) + ")");
  }
  return value.get<double>();
}

// Seconds as a number, or a duration string ("30s").
double require_seconds(const json& value, const std::string& field) {
  if (value.is_string()) return parse_duration_s(value.get_ref<const std::string&>(), field);
  if (!value.is_number() || !(value.get<double>() > 0)) {
    fail(field, "must be a number of seconds > 0 or a duration like \"30s\" or \"500ms\" (got " +
                    shown(value) + ")");
  }
  return value.get<double>();
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_headers(const json& value,
                                                               const std::string& field) {
  require_object(value, field);
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, header_value] : value.items()) {
    const std::string header_field = child(field, name);
    if (!is_token(name)) {
      fail(header_field, "not a valid header name (letters, digits and !#$%&'*+-.^_`|~)");
    }
    const std::string& text = require_string(header_value, header_field);
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      fail(header_field, "a header value cannot contain a line break");
    }
    headers.emplace_back(name, text);
  }
  return headers;
}

ResponseExpectation parse_expectation(const json& value, const std::string& field) {
  require_object(value, field);
  check_keys(value, field, {"status", "body_contains"});
  ResponseExpectation expect;
  const std::string range =
      "an HTTP status from " + std::to_string(kMinStatus) + " to " + std::to_string(kMaxStatus);
  if (auto it = value.find("status"); it != value.end()) {
    const std::string status_field = child(field, "status");
    if (it->is_array()) {
      if (it->empty()) fail(status_field, "must list at least one status");
      for (std::size_t i = 0; i < it->size(); ++i) {
        expect.statuses.push_back(static_cast<int>(
            require_integer((*it)[i], item(status_field, i), kMinStatus, kMaxStatus, range)));
      }
    } else {
      expect.statuses.push_back(static_cast<int>(require_integer(
          *it, status_field, kMinStatus, kMaxStatus, range + " or an array of them")));
    }
  }
  if (auto it = value.find("body_contains"); it != value.end()) {
    expect.body_contains = require_string(*it, child(field, "body_contains"));
  }
  return expect;
}

// An HdrHistogram log tag: no spaces or commas, or the log will not read back.
void check_request_name(const std::string& name, const std::string& field) {
  if (name.empty()) fail(field, "must not be empty");
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == ',' || byte <= 0x20 || byte == 0x7f) {
      fail(field, in_quotes(name) +
                      " has a space, comma or control character (it becomes a latency log tag)");
    }
  }
}

// The whole file, or the errno that stopped reading it.
std::string read_whole_file(const std::filesystem::path& path, int& error) {
  error = 0;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = errno;
    return {};
  }
  std::string text;
  char buffer[65536];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  if (std::ferror(file) != 0) error = errno != 0 ? errno : EIO;
  std::fclose(file);
  return text;
}

std::string read_body_file(const std::filesystem::path& path, const std::string& field) {
  int error = 0;
  std::string text = read_whole_file(path, error);
  if (error != 0) {
    fail(field, "cannot read " + in_quotes(path.string()) + " (" + std::strerror(error) + ")");
  }
  return text;
}

void check_target(const std::string& target, const std::string& field) {
  if (target.empty() || target.front() != '/') {
    fail(field, "must start with '/' (got " + in_quotes(target) + ")");
  }
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      fail(field, "has a space or control character (percent-encode it)");
    }
  }
  load_detail::TextTemplate::compile(target, field);
}

RequestSpec parse_request(const json& value, std::size_t index,
                          const std::filesystem::path& base_dir) {
  const std::string field = item("requests", index);
  require_object(value, field);
  check_keys(value, field,
             {"name", "weight", "method", "path", "headers", "body", "body_file", "expect"});
  RequestSpec request;
  request.name = "request" + std::to_string(index);
  if (auto it = value.find("name"); it != value.end()) {
    request.name = require_string(*it, child(field, "name"));
  }
  check_request_name(request.name, child(field, "name"));
  if (auto it = value.find("weight"); it != value.end()) {
    const std::string weight_field = child(field, "weight");
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > kMaxWeightSum) {
      fail(weight_field,
           "must be at most " + std::to_string(kMaxWeightSum) + " (got " + shown(*it) + ")");
    }
    request.weight = static_cast<std::uint32_t>(
        require_integer(*it, weight_field, 1, kMaxWeightSum, "a positive integer"));
  }
  if (auto it = value.find("path"); it != value.end()) {
    request.target = require_string(*it, child(field, "path"));
    check_target(request.target, child(field, "path"));
  }
  if (auto it = value.find("headers"); it != value.end()) {
    request.headers = parse_headers(*it, child(field, "headers"));
  }

  const auto body = value.find("body");
  const auto body_file = value.find("body_file");
  std::string body_field;
  if (body != value.end() && body_file != value.end()) {
    fail(field, "give \"body\" or \"body_file\", not both");
  } else if (body != value.end()) {
    body_field = child(field, "body");
    // Any other JSON value is sent as itself, so JSON-RPC bodies need no escaping.
    request.body = body->is_string() ? body->get<std::string>() : body->dump();
  } else if (body_file != value.end()) {
    body_field = child(field, "body_file");
    const std::filesystem::path relative = require_string(*body_file, body_field);
    request.body = read_body_file(base_dir / relative, body_field);
  }
  if (!body_field.empty()) {
    load_detail::TextTemplate::compile(request.body, body_field);
    request.method = "POST";
  }
  if (auto it = value.find("method"); it != value.end()) {
    const std::string method_field = child(field, "method");
    request.method = require_string(*it, method_field);
    if (!is_token(request.method)) {
      fail(method_field, in_quotes(request.method) + " is not an HTTP method (GET, POST, ...)");
    }
  }
  if (auto it = value.find("expect"); it != value.end()) {
    request.expect = parse_expectation(*it, child(field, "expect"));
  }
  return request;
}

std::vector<RequestSpec> parse_requests(const json& value, const std::filesystem::path& base_dir) {
  if (!value.is_array() || value.empty() || value.size() > kMaxRequestKinds) {
    fail("requests", "must be an array of 1 to " + std::to_string(kMaxRequestKinds) +
                         " request objects (got " + shown(value) + ")");
  }
  std::vector<RequestSpec> requests;
  std::map<std::string, std::size_t> names;
  std::uint64_t weight_sum = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    requests.push_back(parse_request(value[i], i, base_dir));
    const auto [it, inserted] = names.emplace(requests.back().name, i);
    if (!inserted) {
      fail(child(item("requests", i), "name"),
           in_quotes(it->first) + " is already the name of requests[" + std::to_string(it->second) +
               "]; names must be unique");
    }
    weight_sum += requests.back().weight;
  }
  if (weight_sum > kMaxWeightSum) {
    fail("requests", "weights sum to " + std::to_string(weight_sum) + "; at most " +
                         std::to_string(kMaxWeightSum) + " (divide them by a common factor)");
  }
  return requests;
}

RateSchedule make_schedule(const std::string& field, auto&& build) {
  try {
    return build();
  } catch (const std::invalid_argument& e) {
    fail(field, e.what());
  }
}

RateSchedule parse_rate_json(const json& value, double duration_s) {
  const std::string field = "rate";
  if (value.is_number()) {
    const double rate = require_rate(value, field);
    return make_schedule(field, [&] { return RateSchedule::constant(rate, duration_s); });
  }
  if (value.is_string()) {
    return parse_rate_schedule(value.get_ref<const std::string&>(), duration_s, field);
  }
  if (!value.is_object() || value.size() != 1) {
    fail(field,
         "must be a number, a string like \"1000..5000\", {\"ramp\": {\"from\": N, \"to\": M}} "
         "or {\"steps\": [...]} (got " +
             shown(value) + ")");
  }
  check_keys(value, field, {"ramp", "steps"});
  if (auto it = value.find("ramp"); it != value.end()) {
    const std::string ramp_field = "rate.ramp";
    require_object(*it, ramp_field);
    check_keys(*it, ramp_field, {"from", "to"});
    if (!it->contains("from") || !it->contains("to")) fail(ramp_field, "needs \"from\" and \"to\"");
    const double from = require_rate(it->at("from"), child(ramp_field, "from"));
    const double to = require_rate(it->at("to"), child(ramp_field, "to"));
    return make_schedule(ramp_field, [&] { return RateSchedule::ramp(from, to, duration_s); });
  }
  const std::string steps_field = "rate.steps";
  const json& steps = value.at("steps");
  if (!steps.is_array() || steps.empty()) {
    fail(steps_field,
         "must be a non-empty array of {\"rate\": N, \"duration\": D} or "
         "{\"from\": N, \"to\": M, \"duration\": D} (got " +
             shown(steps) + ")");
  }
  std::vector<RateSegment> segments;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string step_field = item(steps_field, i);
    const json& step = require_object(steps[i], step_field);
    check_keys(step, step_field, {"rate", "from", "to", "duration"});
    RateSegment segment;
    if (step.contains("rate") && !step.contains("from") && !step.contains("to")) {
      segment.start_rate = segment.end_rate =
          require_rate(step.at("rate"), child(step_field, "rate"));
    } else if (!step.contains("rate") && step.contains("from") && step.contains("to")) {
      segment.start_rate = require_rate(step.at("from"), child(step_field, "from"));
      segment.end_rate = require_rate(step.at("to"), child(step_field, "to"));
    } else {
      fail(step_field, "needs either \"rate\" or both \"from\" and \"to\"");
    }
    if (!step.contains("duration")) fail(step_field, "needs a \"duration\"");
    segment.duration_s = require_seconds(step.at("duration"), child(step_field, "duration"));
    segments.push_back(segment);
  }
  return make_schedule(steps_field, [&] { return RateSchedule(std::move(segments)); });
}

// A rate as the command line writes it: non-negative, finite, maybe fractional.
double parse_rate_text(std::string_view text, std::string_view what) {
  double rate = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() ||
      !std::isfinite(rate) || rate < 0) {
    throw LoadError(std::string(what) + ": " + in_quotes(text) +
                    " is not a rate (a number of requests per second >= 0)");
  }
  return rate;
}

// "RATE" or "FROM..TO" as a segment of `duration_s` seconds.
RateSegment parse_rate_range(std::string_view text, double duration_s, std::string_view what) {
  RateSegment segment;
  segment.duration_s = duration_s;
  const std::size_t dots = text.find("..");
  if (dots == std::string_view::npos) {
    segment.start_rate = segment.end_rate = parse_rate_text(text, what);
  } else {
    segment.start_rate = parse_rate_text(text.substr(0, dots), what);
    segment.end_rate = parse_rate_text(text.substr(dots + 2), what);
  }
  return segment;
}

}  // namespace

double parse_duration_s(std::string_view text, std::string_view what) {
  auto bad = [&](const std::string& problem) {
    throw LoadError(std::string(what) + ": " + in_quotes(text) + " " + problem);
  };
  double value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || parsed.ec != std::errc()) {
    bad("is not a duration (seconds, or a number with a unit: 250us, 500ms, 30s, 2m, 1h)");
  }
  const std::string_view unit = text.substr(static_cast<std::size_t>(parsed.ptr - text.data()));
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600},
  };
  double scale = 0;
  for (const auto& [name, seconds] : kUnits) {
    if (unit == name) scale = seconds;
  }
  if (scale == 0) bad("has an unknown unit (use us, ms, s, m or h)");
  if (!std::isfinite(value)) bad("is not a finite duration");
  if (!(value > 0)) bad("must be more than zero");
  return value * scale;
}

RateSchedule parse_rate_schedule(std::string_view text, double duration_s, std::string_view what) {
  const std::string field(what);
  if (text.find('/') == std::string_view::npos && text.find(',') == std::string_view::npos) {
    const RateSegment segment = parse_rate_range(text, duration_s, what);
    return make_schedule(field, [&] { return RateSchedule({segment}); });
  }
  std::vector<RateSegment> segments;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view step = text.substr(start, comma - start);
    const std::size_t slash = step.find('/');
    if (slash == std::string_view::npos) {
      throw LoadError(field + ": step " + in_quotes(step) +
                      " needs a duration: RATE/DURATION or FROM..TO/DURATION, e.g. 1000/10s");
    }
    const double step_s = parse_duration_s(step.substr(slash + 1), what);
    segments.push_back(parse_rate_range(step.substr(0, slash), step_s, what));
    start = comma + 1;
  }
  return make_schedule(field, [&] { return RateSchedule(std::move(segments)); });
}

LoadSpec parse_load_json(const json& json_value, const std::filesystem::path& base_dir) {
  if (!json_value.is_object()) {
    throw LoadError("load file: must be a JSON object (got " + shown(json_value) + ")");
  }
  check_keys(json_value, "",
             {"url", "mode", "threads", "connections", "duration", "timeout", "connect_timeout",
              "rate", "seed", "headers", "expect", "requests"});
  LoadSpec spec;
  auto field = [&](const char* key) -> const json* {
    const auto it = json_value.find(key);
    return it == json_value.end() ? nullptr : &*it;
  };

  if (const json* url = field("url")) {
    try {
      spec.url = parse_http_url(require_string(*url, "url"));
    } catch (const LoadError& e) {
      const std::string message = e.what();
      if (message.rfind("url:", 0) == 0) throw;
      fail("url", message);
    }
  }
  if (const json* threads = field("threads")) {
    spec.threads =
        static_cast<int>(require_integer(*threads, "threads", 1, kMaxThreads,
                                         "an integer from 1 to " + std::to_string(kMaxThreads)));
  }
  if (const json* connections = field("connections")) {
    spec.connections = static_cast<int>(
        require_integer(*connections, "connections", 1, kMaxConnections,
                        "an integer from 1 to " + std::to_string(kMaxConnections)));
  }
  const json* duration = field("duration");
  if (duration != nullptr) spec.duration_s = require_seconds(*duration, "duration");
  if (const json* timeout = field("timeout")) spec.timeout_s = require_seconds(*timeout, "timeout");
  if (const json* connect = field("connect_timeout")) {
    spec.connect_timeout_s = require_seconds(*connect, "connect_timeout");
  }
  if (const json* seed = field("seed")) {
    // Any 64-bit seed: non-negative JSON integers are stored unsigned.
    if (seed->is_number_unsigned()) {
      spec.seed = seed->get<std::uint64_t>();
    } else {
      spec.seed = static_cast<std::uint64_t>(require_integer(
          *seed, "seed", 0, std::numeric_limits<std::int64_t>::max(), "an integer >= 0"));
    }
  }
  if (const json* headers = field("headers")) spec.headers = parse_headers(*headers, "headers");
  if (const json* expect = field("expect")) spec.expect = parse_expectation(*expect, "expect");

  const json* rate = field("rate");
  if (rate != nullptr) {
    spec.schedule = parse_rate_json(*rate, spec.duration_s);
    const double planned = spec.schedule->duration_s();
    if (duration != nullptr && std::abs(planned - spec.duration_s) > 1e-9 * planned) {
      fail("duration", format_number(spec.duration_s) + " s differs from the rate steps' total " +
                           format_number(planned) + " s; leave \"duration\" out");
    }
  }
  spec.mode = rate != nullptr ? LoadMode::kOpen : LoadMode::kClosed;
  if (const json* mode = field("mode")) {
    const std::string& text = require_string(*mode, "mode");
    if (text == "open") {
      if (rate == nullptr) fail("mode", "\"open\" needs a \"rate\" (requests per second)");
      spec.mode = LoadMode::kOpen;
    } else if (text == "closed") {
      if (rate != nullptr) {
        fail("rate", "is only used in open loop; remove it or set \"mode\": \"open\"");
      }
      spec.mode = LoadMode::kClosed;
    } else {
      fail("mode", "must be \"closed\" or \"open\" (got " + shown(*mode) + ")");
    }
  }
  if (spec.mode == LoadMode::kOpen) spec.duration_s = spec.schedule->duration_s();

  if (const json* requests = field("requests")) {
    spec.requests = parse_requests(*requests, base_dir);
  } else {
    spec.requests.emplace_back();
  }
  return spec;
}

LoadSpec parse_load_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  int error = 0;
  const std::string text = read_whole_file(path, error);
  if (error != 0) {
    throw LoadError(name + ": cannot read the load file (" + std::strerror(error) + ")");
  }

  json json_value;
  try {
    json_value = json::parse(text);
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string message = e.what();
    if (const auto bracket = message.find("] ");
        message.front() == '[' && bracket != message.npos) {
      message = message.substr(bracket + 2);
    }
    throw LoadError(name + ": not valid JSON: " + message);
  }
  std::filesystem::path base_dir = path.parent_path();
  if (base_dir.empty()) base_dir = ".";
  try {
    return parse_load_json(json_value, base_dir);
  } catch (const LoadError& e) {
    throw LoadError(name + ": " + e.what());
  }
}

void validate_load_spec(const LoadSpec& spec) {
  if (spec.url.host.empty()) {
    throw LoadError("no URL: give one on the command line or as \"url\" in the load file");
  }
  if (spec.requests.empty()) fail("requests", "at least one request is needed");
  if (spec.requests.size() > 65535) fail("requests", "at most 65535 kinds of request");
  if (spec.threads < 1 || spec.threads > kMaxThreads) {
    fail("threads", "must be from 1 to " + std::to_string(kMaxThreads) + " (got " +
                        std::to_string(spec.threads) + ")");
  }
  if (spec.connections > kMaxConnections) {
    fail("connections", "must be at most " + std::to_string(kMaxConnections) + " (got " +
                            std::to_string(spec.connections) + ")");
  }
  if (spec.connections < spec.threads) {
    throw LoadError("connections (" + std::to_string(spec.connections) + ") must be >= threads (" +
                    std::to_string(spec.threads) + "): each thread needs at least one connection");
  }
  if (spec.mode == LoadMode::kOpen && !spec.schedule) {
    fail("rate", "open loop needs a rate schedule (requests per second)");
  }
  auto check_positive = [](const char* name, double seconds) {
    if (!(seconds > 0) || !std::isfinite(seconds)) {
      fail(name, "must be more than 0 seconds (got " + format_number(seconds) + ")");
    }
  };
  check_positive("duration", spec.duration_s);
  check_positive("timeout", spec.timeout_s);
  check_positive("connect_timeout", spec.connect_timeout_s);

  auto check_statuses = [](const ResponseExpectation& expect, const std::string& field) {
    for (int status : expect.statuses) {
      if (status < kMinStatus || status > kMaxStatus) {
        fail(field, "status " + std::to_string(status) + " is not an HTTP status (100 to 599)");
      }
    }
  };
  check_statuses(spec.expect, "expect");

  std::map<std::string, std::size_t> names;
  std::uint64_t weight_sum = 0;
  for (std::size_t i = 0; i < spec.requests.size(); ++i) {
    const RequestSpec& request = spec.requests[i];
    const std::string field = item("requests", i);
    check_request_name(request.name, child(field, "name"));
    if (const auto [it, inserted] = names.emplace(request.name, i); !inserted) {
      fail(child(field, "name"), in_quotes(request.name) + " is already the name of requests[" +
                                     std::to_string(it->second) + "]");
    }
    if (request.weight == 0) fail(child(field, "weight"), "must be a positive integer (got 0)");
    weight_sum += request.weight;
    if (request.expect) check_statuses(*request.expect, child(field, "expect"));
    try {
      load_detail::RequestRenderer renderer(request, spec);
    } catch (const LoadError& e) {
      fail(field, e.what());
    }
  }
  if (weight_sum > kMaxWeightSum) {
    fail("requests", "weights sum to " + std::to_string(weight_sum) + "; at most " +
                         std::to_string(kMaxWeightSum));
  }
}

}  // namespace perflab
