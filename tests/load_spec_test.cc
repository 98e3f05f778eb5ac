// What `perflab load` is told to do: URLs, request templates and their
// rendering, the weighted mix, durations and rate schedules, load files and
// their validation. No network and no timing: these are pure functions.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../src/load/request_template.hpp"
#include "perflab/load.hpp"
#include "scratch_dir.hpp"

namespace perflab {
namespace {

using load_detail::RequestRenderer;
using load_detail::Rng;
using load_detail::TemplateContext;
using load_detail::TextTemplate;
using load_detail::weighted_cycle;
using nlohmann::json;

// The message of the LoadError `fn` throws, or "" when it throws none.
std::string load_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_LOAD_ERROR(statement, text)                                \
  do {                                                                    \
    const std::string message = load_error([&] { statement; });           \
    EXPECT_NE(message, "") << "no LoadError from " #statement;            \
    EXPECT_NE(message.find(text), std::string::npos)                      \
        << "message: " << message << "\nexpected to contain: " << (text); \
  } while (false)

std::string render(const TextTemplate& text, const TemplateContext& context, Rng& rng) {
  std::string out(text.max_size(), '\0');
  out.resize(text.render(out.data(), context, rng));
  return out;
}

std::string render(const RequestRenderer& renderer, const TemplateContext& context, Rng& rng) {
  std::string out(renderer.max_size(), '\0');
  out.resize(renderer.render(out.data(), context, rng));
  return out;
}

LoadSpec spec_for(const std::string& url) {
  LoadSpec spec;
  spec.url = parse_http_url(url);
  spec.requests.emplace_back();
  return spec;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// ---------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, UrlWithoutPortOrPathDefaultsToPort80AndSlash) {
  const HttpUrl url = parse_http_url("http://example.com");
  EXPECT_EQ(url.host, "example.com");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.target, "/");
  EXPECT_EQ(url.host_header, "example.com");
}

TEST(LoadSpecTest, UrlKeepsPortPathAndQueryAndPutsThePortInTheHostHeader) {
  const HttpUrl url = parse_http_url("http://127.0.0.1:8080/api/v1/items?limit=10&x=y");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.target, "/api/v1/items?limit=10&x=y");
  EXPECT_EQ(url.host_header, "127.0.0.1:8080");
}

TEST(LoadSpecTest, UrlWithOnlyAQueryAsksForTheRoot) {
  EXPECT_EQ(parse_http_url("http://h?q=1").target, "/?q=1");
}

TEST(LoadSpecTest, UrlWithExplicitPort80LeavesItOutOfTheHostHeader) {
  EXPECT_EQ(parse_http_url("http://h:80/").host_header, "h");
}

TEST(LoadSpecTest, UrlSchemeIsCaseInsensitive) {
  EXPECT_EQ(parse_http_url("HTTP://h/x").target, "/x");
}

TEST(LoadSpecTest, Ipv6LiteralLosesItsBracketsInHostButKeepsThemInHostHeader) {
  const HttpUrl url = parse_http_url("http://[::1]:9000/x");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 9000);
  EXPECT_EQ(url.host_header, "[::1]:9000");
  const HttpUrl plain = parse_http_url("http://[fe80::1]");
  EXPECT_EQ(plain.host_header, "[fe80::1]");
  EXPECT_EQ(plain.target, "/");
}

TEST(LoadSpecTest, HttpsIsRefusedBecauseThereIsNoTls) {
  EXPECT_LOAD_ERROR(parse_http_url("https://example.com/"), "TLS");
  EXPECT_LOAD_ERROR(parse_http_url("https://example.com/"), "https://example.com/");
}

TEST(LoadSpecTest, BadUrlsAreErrorsNamingTheUrlAndTheProblem) {
  EXPECT_LOAD_ERROR(parse_http_url("example.com/"), "scheme");
  EXPECT_LOAD_ERROR(parse_http_url("ftp://example.com/"), "http://");
  EXPECT_LOAD_ERROR(parse_http_url("http:///path"), "empty host");
  EXPECT_LOAD_ERROR(parse_http_url("http://:8080/"), "empty host");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:0/"), "port 0");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:65536/"), "65535");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:99999999999999999999/"), "65535");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:80x/"), "not a number");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:/"), "empty port");
  EXPECT_LOAD_ERROR(parse_http_url("http://h/a#top"), "fragment");
  EXPECT_LOAD_ERROR(parse_http_url("http://h/a b"), "spaces");
  EXPECT_LOAD_ERROR(parse_http_url("http://h/a\tb"), "control");
  EXPECT_LOAD_ERROR(parse_http_url("http://[::1/"), "']'");
  EXPECT_LOAD_ERROR(parse_http_url("http://[zz]/"), "IPv6");
  EXPECT_LOAD_ERROR(parse_http_url("http://user:pw@h/"), "credentials");
  EXPECT_LOAD_ERROR(parse_http_url("http://h:80x/"), "http://h:80x/");
}

TEST(LoadSpecTest, HighestPortIsAccepted) {
  EXPECT_EQ(parse_http_url("http://h:65535").port, 65535);
}

// ---------------------------------------------------------------------------
// Rng
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, RngsWithTheSameSeedAgreeAndOtherSeedsDiffer) {
  Rng a(42);
  Rng b(42);
  Rng c(43);
  int same_as_c = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    same_as_c += x == c.next();
  }
  EXPECT_LT(same_as_c, 2);
}

TEST(LoadSpecTest, RngBelowStaysInRangeAndReachesEveryValueOfASmallRange) {
  Rng rng(7);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const std::uint64_t value = rng.below(7);
    ASSERT_LT(value, 7u);
    ++seen[value];
  }
  // Expected 1000 each; 700 is over nine standard deviations away.
  for (int count : seen) EXPECT_GT(count, 700);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rng.below(1), 0u);
  const std::uint64_t huge = (std::uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(rng.below(huge), huge);
}

// ---------------------------------------------------------------------------
// Text templates
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, TemplateWithoutPlaceholdersIsStaticAndRendersAsWritten) {
  const auto text = TextTemplate::compile("/plain/path?x=1", "path");
  EXPECT_TRUE(text.is_static());
  EXPECT_EQ(text.max_size(), text.text().size());
  Rng rng(1);
  EXPECT_EQ(render(text, {}, rng), "/plain/path?x=1");
}

TEST(LoadSpecTest, TemplateRendersSeqConnAndThreadFromTheContext) {
  const auto text = TextTemplate::compile("s={seq} c={conn} t={thread}", "body");
  EXPECT_FALSE(text.is_static());
  EXPECT_EQ(text.max_size(), std::string("s= c= t=").size() + 20 + 10 + 10);
  Rng rng(1);
  EXPECT_EQ(render(text, {.seq = 12345, .conn = 7, .thread = 3}, rng), "s=12345 c=7 t=3");
  EXPECT_EQ(render(text, {.seq = UINT64_MAX, .conn = UINT32_MAX, .thread = 0}, rng),
            "s=18446744073709551615 c=4294967295 t=0");
}

TEST(LoadSpecTest, RandPlaceholderStaysBelowItsBound) {
  const auto text = TextTemplate::compile("{rand:10}", "path");
  Rng rng(3);
  std::set<std::string> values;
  for (int i = 0; i < 500; ++i) {
    const std::string value = render(text, {}, rng);
    ASSERT_EQ(value.size(), 1u);
    ASSERT_TRUE(value[0] >= '0' && value[0] <= '9') << value;
    values.insert(value);
  }
  EXPECT_EQ(values.size(), 10u);
  const auto one = TextTemplate::compile("x{rand:1}y", "path");
  EXPECT_EQ(render(one, {}, rng), "x0y");
  const auto largest = TextTemplate::compile("{rand:9223372036854775808}", "path");
  EXPECT_LE(render(largest, {}, rng).size(), 19u);
}

TEST(LoadSpecTest, UuidPlaceholderIsALowercaseVersion4Uuid) {
  const auto text = TextTemplate::compile("{uuid}", "body");
  EXPECT_EQ(text.max_size(), 36u);
  Rng rng(5);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string uuid = render(text, {}, rng);
    ASSERT_EQ(uuid.size(), 36u);
    for (std::size_t j = 0; j < uuid.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        EXPECT_EQ(uuid[j], '-') << uuid;
      } else {
        EXPECT_TRUE(is_lower_hex(uuid[j])) << uuid;
      }
    }
    EXPECT_EQ(uuid[14], '4') << uuid;                                          // version
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << uuid;  // variant
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(LoadSpecTest, TemplatesWithTheSameSeedRenderTheSameText) {
  const auto text = TextTemplate::compile("{uuid}/{rand:1000000}", "body");
  Rng a(99);
  Rng b(99);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(render(text, {}, a), render(text, {}, b));
}

TEST(LoadSpecTest, OtherBraceTextIsLiteral) {
  const std::string json_body =
      R"({"id": "{uuid", "n": {seq }, "x": {}, "{rand}": "{RAND:3}", "{seqx": "{ seq}"})";
  const auto text = TextTemplate::compile(json_body, "body");
  EXPECT_TRUE(text.is_static());
  Rng rng(1);
  EXPECT_EQ(render(text, {}, rng), json_body);
}

TEST(LoadSpecTest, PlaceholdersInsideJsonAreReplaced) {
  const auto text = TextTemplate::compile(R"({"seq": {seq}, "conn": "{conn}"})", "body");
  Rng rng(1);
  EXPECT_EQ(render(text, {.seq = 4, .conn = 2, .thread = 0}, rng), R"({"seq": 4, "conn": "2"})");
}

TEST(LoadSpecTest, BadRandBoundsAreErrorsNamingWhere) {
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:0}", "requests[2].path"), "requests[2].path");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:abc}", "body"), "{rand:abc}");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:}", "body"), "body");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:-1}", "body"), "body");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:9223372036854775809}", "body"), "2^63");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:99999999999999999999999}", "body"), "body");
  EXPECT_LOAD_ERROR(TextTemplate::compile("{rand:5", "body"), "not closed");
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, StaticGetRequestHasExactlyTheRequestLineHostAndHeaders) {
  LoadSpec spec = spec_for("http://example.com:8080/health");
  spec.headers = {{"Accept", "application/json"}};
  const RequestRenderer renderer(spec.requests[0], spec);
  ASSERT_TRUE(renderer.is_static());
  const std::string expected =
      "GET /health HTTP/1.1\r\nHost: example.com:8080\r\nAccept: application/json\r\n\r\n";
  EXPECT_EQ(renderer.static_bytes(), expected);
  Rng rng(1);
  EXPECT_EQ(render(renderer, {}, rng), expected);
  EXPECT_LE(expected.size(), renderer.max_size());
  EXPECT_FALSE(renderer.expects_no_body());
}

TEST(LoadSpecTest, StaticPostRequestCarriesItsBodyWithContentLength) {
  LoadSpec spec = spec_for("http://h/");
  spec.requests[0].method = "POST";
  spec.requests[0].target = "/rpc";
  spec.requests[0].body = R"({"a": 1})";
  const RequestRenderer renderer(spec.requests[0], spec);
  ASSERT_TRUE(renderer.is_static());
  EXPECT_EQ(renderer.static_bytes(),
            "POST /rpc HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n{\"a\": 1}");
}

TEST(LoadSpecTest, PostWithoutBodySendsContentLengthZero) {
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    LoadSpec spec = spec_for("http://h/x");
    spec.requests[0].method = method;
    const RequestRenderer renderer(spec.requests[0], spec);
    EXPECT_EQ(renderer.static_bytes(),
              std::string(method) + " /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  }
  LoadSpec spec = spec_for("http://h/x");
  spec.requests[0].method = "DELETE";
  EXPECT_EQ(RequestRenderer(spec.requests[0], spec).static_bytes(),
            "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(LoadSpecTest, TemplatedBodyGetsTheContentLengthOfEachRendering) {
  LoadSpec spec = spec_for("http://h/");
  spec.requests[0].method = "POST";
  spec.requests[0].target = "/items/{seq}";
  spec.requests[0].body = R"({"n": {seq}, "r": {rand:1000000}, "id": "{uuid}"})";
  const RequestRenderer renderer(spec.requests[0], spec);
  EXPECT_FALSE(renderer.is_static());
  Rng rng(11);
  for (std::uint64_t seq :
       {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{123456789}, UINT64_MAX}) {
    const std::string request = render(renderer, {.seq = seq, .conn = 0, .thread = 0}, rng);
    ASSERT_LE(request.size(), renderer.max_size());
    const std::string line = "POST /items/" + std::to_string(seq) + " HTTP/1.1\r\n";
    EXPECT_EQ(request.substr(0, line.size()), line);
    const std::size_t head_end = request.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const std::string body = request.substr(head_end + 4);
    EXPECT_NE(request.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
              std::string::npos)
        << request;
    EXPECT_EQ(body.substr(0, 7 + std::to_string(seq).size()),
              "{\"n\": " + std::to_string(seq) + ",");
    EXPECT_EQ(body.back(), '}');
  }
}

TEST(LoadSpecTest, TemplatedTargetWithStaticBodyRendersBoth) {
  LoadSpec spec = spec_for("http://h/");
  spec.requests[0].target = "/c/{conn}/t/{thread}";
  spec.requests[0].method = "PUT";
  spec.requests[0].body = "abc";
  const RequestRenderer renderer(spec.requests[0], spec);
  EXPECT_FALSE(renderer.is_static());
  Rng rng(1);
  EXPECT_EQ(render(renderer, {.seq = 0, .conn = 12, .thread = 3}, rng),
            "PUT /c/12/t/3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
}

TEST(LoadSpecTest, RequestHeadersOverrideLoadHeadersOfTheSameNameIgnoringCase) {
  LoadSpec spec = spec_for("http://h/");
  spec.headers = {{"Accept", "text/plain"}, {"X-Trace", "on"}};
  spec.requests[0].headers = {{"accept", "application/json"}};
  const RequestRenderer renderer(spec.requests[0], spec);
  EXPECT_EQ(renderer.static_bytes(),
            "GET / HTTP/1.1\r\nHost: h\r\nX-Trace: on\r\naccept: application/json\r\n\r\n");
}

TEST(LoadSpecTest, HostHeaderGivenByTheUserReplacesTheUrlHost) {
  LoadSpec spec = spec_for("http://10.0.0.1:8080/");
  spec.headers = {{"Host", "api.example.com"}};
  EXPECT_EQ(RequestRenderer(spec.requests[0], spec).static_bytes(),
            "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
}

TEST(LoadSpecTest, HeadRequestsExpectNoBody) {
  LoadSpec spec = spec_for("http://h/");
  spec.requests[0].method = "HEAD";
  EXPECT_TRUE(RequestRenderer(spec.requests[0], spec).expects_no_body());
}

TEST(LoadSpecTest, BadRequestsAreErrorsNamingTheRequest) {
  LoadSpec spec = spec_for("http://h/");
  spec.requests[0].name = "write";
  auto renderer_error = [&](const std::function<void(RequestSpec&)>& change) {
    RequestSpec request = spec.requests[0];
    change(request);
    return load_error([&] { RequestRenderer renderer(request, spec); });
  };
  std::string message = renderer_error([](RequestSpec& r) { r.method = "GE T"; });
  EXPECT_NE(message.find("\"write\""), std::string::npos) << message;
  EXPECT_NE(message.find("method"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.target = "items"; });
  EXPECT_NE(message.find("'/'"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.target = "/a b"; });
  EXPECT_NE(message.find("space"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.headers = {{"Bad Name", "x"}}; });
  EXPECT_NE(message.find("Bad Name"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.headers = {{"X", "a\r\nInjected: 1"}}; });
  EXPECT_NE(message.find("line break"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.headers = {{"content-length", "5"}}; });
  EXPECT_NE(message.find("content-length"), std::string::npos) << message;
  message = renderer_error([](RequestSpec& r) { r.body = "{rand:0}"; });
  EXPECT_NE(message.find("body"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------
// The weighted mix
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, WeightedCycleHasEachKindExactlyWeightTimes) {
  const std::vector<std::uint32_t> weights = {5, 1, 3, 7, 2};
  const auto cycle = weighted_cycle(weights);
  ASSERT_EQ(cycle.size(), 18u);
  for (std::size_t kind = 0; kind < weights.size(); ++kind) {
    EXPECT_EQ(std::count(cycle.begin(), cycle.end(), kind), weights[kind]) << kind;
  }
}

TEST(LoadSpecTest, WeightedCycleOfTenToOnePutsTheReadBetweenTwoHalvesOfWrites) {
  const std::vector<std::uint16_t> expected = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
  EXPECT_EQ(weighted_cycle({10, 1}), expected);
  const std::vector<std::uint16_t> three = {0, 1, 0, 2, 1, 0};
  EXPECT_EQ(weighted_cycle({3, 2, 1}), three);
}

TEST(LoadSpecTest, WeightedCycleOfTwoKindsNeverStraysHalfARequestFromTheIdealShare) {
  // Smooth weighted round-robin with two kinds: after any prefix of n requests
  // each kind has been sent within 1/2 of n * weight / total times, and so its
  // sends are never more than ceil(total / weight) apart.
  for (std::uint32_t a = 1; a <= 12; ++a) {
    for (std::uint32_t b = 1; b <= 12; ++b) {
      const auto cycle = weighted_cycle({a, b});
      const std::uint32_t total = a + b;
      std::uint32_t count_a = 0;
      for (std::uint32_t n = 1; n <= total; ++n) {
        count_a += cycle[n - 1] == 0;
        const std::int64_t deviation2 = 2 * (std::int64_t{count_a} * total - std::int64_t{n} * a);
        EXPECT_LE(std::abs(deviation2), std::int64_t{total}) << a << ":" << b << " at " << n;
      }
    }
  }
}

TEST(LoadSpecTest, WeightedCycleOfOneKindIsThatKind) {
  EXPECT_EQ(weighted_cycle({4}), (std::vector<std::uint16_t>{0, 0, 0, 0}));
}

TEST(LoadSpecTest, WeightedCycleRefusesEmptyZeroAndTooLargeMixes) {
  EXPECT_LOAD_ERROR(weighted_cycle({}), "request mix");
  EXPECT_LOAD_ERROR(weighted_cycle({1, 0}), "weight");
  EXPECT_LOAD_ERROR(weighted_cycle({600'000, 400'001}), "1000000");
  EXPECT_LOAD_ERROR(weighted_cycle(std::vector<std::uint32_t>(65536, 1)), "65535");
  EXPECT_EQ(weighted_cycle({600'000, 400'000}).size(), 1'000'000u);
}

// ---------------------------------------------------------------------------
// Durations and rates
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, DurationsAcceptUnitsAndBareSeconds) {
  EXPECT_DOUBLE_EQ(parse_duration_s("30s", "d"), 30);
  EXPECT_DOUBLE_EQ(parse_duration_s("500ms", "d"), 0.5);
  EXPECT_DOUBLE_EQ(parse_duration_s("250us", "d"), 250e-6);
  EXPECT_DOUBLE_EQ(parse_duration_s("2m", "d"), 120);
  EXPECT_DOUBLE_EQ(parse_duration_s("1h", "d"), 3600);
  EXPECT_DOUBLE_EQ(parse_duration_s("1.5s", "d"), 1.5);
  EXPECT_DOUBLE_EQ(parse_duration_s("12", "d"), 12);
  EXPECT_DOUBLE_EQ(parse_duration_s("0.25", "d"), 0.25);
}

TEST(LoadSpecTest, BadDurationsAreErrorsNamingWhat) {
  for (const char* text : {"", "abc", "-1s", "0", "0ms", "5x", "5 s", "5s ", "nan", "inf", "infs",
                           "1e999", "s", "10sec"}) {
    EXPECT_LOAD_ERROR(parse_duration_s(text, "--duration"), "--duration");
  }
  EXPECT_LOAD_ERROR(parse_duration_s("5x", "d"), "unit");
  EXPECT_LOAD_ERROR(parse_duration_s("-2s", "d"), "more than zero");
}

TEST(LoadSpecTest, RateTextGivesConstantRampOrSteps) {
  const RateSchedule constant = parse_rate_schedule("5000", 10, "--rate");
  ASSERT_EQ(constant.segments().size(), 1u);
  EXPECT_EQ(constant.segments()[0], (RateSegment{10, 5000, 5000}));

  const RateSchedule ramp = parse_rate_schedule("1000..5000", 20, "--rate");
  ASSERT_EQ(ramp.segments().size(), 1u);
  EXPECT_EQ(ramp.segments()[0], (RateSegment{20, 1000, 5000}));

  const RateSchedule steps = parse_rate_schedule("1000/10s,1000..4000/20s,0/5s", 99, "--rate");
  ASSERT_EQ(steps.segments().size(), 3u);
  EXPECT_EQ(steps.segments()[0], (RateSegment{10, 1000, 1000}));
  EXPECT_EQ(steps.segments()[1], (RateSegment{20, 1000, 4000}));
  EXPECT_EQ(steps.segments()[2], (RateSegment{5, 0, 0}));
  EXPECT_DOUBLE_EQ(steps.duration_s(), 35);

  const RateSchedule fractional = parse_rate_schedule("0.5..2.5/1m", 1, "--rate");
  EXPECT_EQ(fractional.segments()[0], (RateSegment{60, 0.5, 2.5}));
}

TEST(LoadSpecTest, BadRatesAreErrorsNamingWhat) {
  for (const char* text : {"", "abc", "-5", "5..", "..5", "1000/10s,2000", "1000/abc", "1000/",
                           "1000/10s,,0/5s", "inf", "nan", "5/10s,"}) {
    EXPECT_LOAD_ERROR(parse_rate_schedule(text, 10, "--rate"), "--rate");
  }
  // The schedule's own checks (no request at all, no duration) become LoadErrors too.
  EXPECT_LOAD_ERROR(parse_rate_schedule("0", 10, "--rate"), "--rate");
  EXPECT_LOAD_ERROR(parse_rate_schedule("100", 0, "--rate"), "--rate");
}

// ---------------------------------------------------------------------------
// Load files
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, MinimalLoadFileIsOneClosedLoopGetOfTheUrl) {
  const LoadSpec spec = parse_load_json(json{{"url", "http://h:8080/status"}});
  EXPECT_EQ(spec.url.host, "h");
  EXPECT_EQ(spec.url.target, "/status");
  EXPECT_EQ(spec.mode, LoadMode::kClosed);
  EXPECT_FALSE(spec.schedule.has_value());
  ASSERT_EQ(spec.requests.size(), 1u);
  EXPECT_EQ(spec.requests[0].name, "request");
  EXPECT_EQ(spec.requests[0].method, "GET");
  EXPECT_EQ(spec.requests[0].target, "");
  EXPECT_EQ(spec.threads, 1);
  EXPECT_EQ(spec.connections, 10);
  EXPECT_NO_THROW(validate_load_spec(spec));
}

TEST(LoadSpecTest, FullLoadFileSetsEveryField) {
  const json file = json::parse(R"({
    "url": "http://127.0.0.1:2113/rpc",
    "threads": 2, "connections": 64,
    "duration": "30s", "timeout": 2, "connect_timeout": "500ms",
    "seed": 18446744073709551615,
    "headers": {"Content-Type": "application/json"},
    "expect": {"status": [200, 201], "body_contains": "result"},
    "requests": [
      {"name": "write", "weight": 10,
       "body": ["stream.write", "account-{rand:1000}", {"id": "{uuid}", "type": "Deposited"}]},
      {"name": "read", "method": "GET", "path": "/streams/account-{rand:1000}",
       "headers": {"Accept": "text/plain"}, "expect": {"status": 200}}
    ]
  })");
  const LoadSpec spec = parse_load_json(file);
  EXPECT_EQ(spec.url.port, 2113);
  EXPECT_EQ(spec.threads, 2);
  EXPECT_EQ(spec.connections, 64);
  EXPECT_DOUBLE_EQ(spec.duration_s, 30);
  EXPECT_DOUBLE_EQ(spec.timeout_s, 2);
  EXPECT_DOUBLE_EQ(spec.connect_timeout_s, 0.5);
  EXPECT_EQ(spec.seed, UINT64_MAX);
  EXPECT_EQ(
      spec.headers,
      (std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"}}));
  EXPECT_EQ(spec.expect.statuses, (std::vector<int>{200, 201}));
  EXPECT_EQ(spec.expect.body_contains, "result");
  ASSERT_EQ(spec.requests.size(), 2u);
  const RequestSpec& write = spec.requests[0];
  EXPECT_EQ(write.name, "write");
  EXPECT_EQ(write.weight, 10u);
  EXPECT_EQ(write.method, "POST");  // a body makes POST the default
  EXPECT_EQ(write.target, "");
  EXPECT_EQ(write.body,
            R"(["stream.write","account-{rand:1000}",{"id":"{uuid}","type":"Deposited"}])");
  EXPECT_FALSE(write.expect.has_value());
  const RequestSpec& read = spec.requests[1];
  EXPECT_EQ(read.method, "GET");
  EXPECT_EQ(read.target, "/streams/account-{rand:1000}");
  ASSERT_TRUE(read.expect.has_value());
  EXPECT_EQ(read.expect->statuses, (std::vector<int>{200}));
  EXPECT_NO_THROW(validate_load_spec(spec));
}

// The example of docs/load.md: an event store's JSON-RPC mix of ten writes to one read.
TEST(LoadSpecTest, DocumentedExampleParsesValidatesAndRendersItsWrites) {
  const LoadSpec spec = parse_load_json(json::parse(R"({
    "url": "http://127.0.0.1:2113/rpc", "threads": 2, "connections": 32,
    "rate": 2000, "duration": "60s", "timeout": "2s", "seed": 7,
    "headers": {"Content-Type": "application/json"}, "expect": {"status": 200},
    "requests": [
      {"name": "write", "weight": 10,
       "body": ["stream.write", "account-{rand:1000}",
                {"id": "{uuid}", "type": "Deposited", "data": {"amount": 1}}]},
      {"name": "read", "weight": 1,
       "body": ["stream.read", "account-{rand:1000}", {"from": 0, "count": 10}],
       "expect": {"status": 200, "body_contains": "\"events\""}}]})"));
  validate_load_spec(spec);
  EXPECT_EQ(spec.mode, LoadMode::kOpen);
  EXPECT_DOUBLE_EQ(spec.duration_s, 60);
  EXPECT_EQ(spec.schedule->request_count(), 120'000u);

  const RequestRenderer write(spec.requests[0], spec);
  Rng rng(spec.seed);
  const std::string request = render(write, {}, rng);
  const std::string head =
      "POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:2113\r\nContent-Type: application/json\r\n"
      "Content-Length: ";
  ASSERT_EQ(request.substr(0, head.size()), head);
  const std::string body = request.substr(request.find("\r\n\r\n") + 4);
  const json parsed = json::parse(body);
  EXPECT_EQ(parsed[0], "stream.write");
  EXPECT_LT(std::stoi(parsed[1].get<std::string>().substr(8)), 1000);
  EXPECT_EQ(parsed[2]["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(parsed[2]["data"]["amount"], 1);
}

TEST(LoadSpecTest, RequestsGetDefaultNamesByIndex) {
  const LoadSpec spec =
      parse_load_json(json::parse(R"({"url": "http://h/", "requests": [{}, {"path": "/b"}]})"));
  EXPECT_EQ(spec.requests[0].name, "request0");
  EXPECT_EQ(spec.requests[1].name, "request1");
}

TEST(LoadSpecTest, StringBodyIsSentAsWritten) {
  const LoadSpec spec = parse_load_json(
      json::parse(R"({"requests": [{"body": "{\"raw\": {seq}}", "method": "PUT"}]})"));
  EXPECT_EQ(spec.requests[0].body, R"({"raw": {seq}})");
  EXPECT_EQ(spec.requests[0].method, "PUT");
}

TEST(LoadSpecTest, RateMakesTheLoadOpenLoopOverTheDuration) {
  const LoadSpec spec = parse_load_json(json::parse(R"({"rate": 500, "duration": "20s"})"));
  EXPECT_EQ(spec.mode, LoadMode::kOpen);
  ASSERT_TRUE(spec.schedule.has_value());
  EXPECT_EQ(spec.schedule->segments()[0], (RateSegment{20, 500, 500}));
  EXPECT_DOUBLE_EQ(spec.duration_s, 20);
}

TEST(LoadSpecTest, RateMayBeAStringARampOrSteps) {
  LoadSpec spec = parse_load_json(json::parse(R"({"rate": "100..200", "duration": 5})"));
  EXPECT_EQ(spec.schedule->segments()[0], (RateSegment{5, 100, 200}));

  spec = parse_load_json(json::parse(R"({"rate": {"ramp": {"from": 10, "to": 20.5}}})"));
  EXPECT_EQ(spec.schedule->segments()[0], (RateSegment{10, 10, 20.5}));  // default duration

  spec = parse_load_json(json::parse(R"({"mode": "open", "rate": {"steps": [
      {"rate": 1000, "duration": "10s"}, {"from": 1000, "to": 4000, "duration": 20},
      {"rate": 0, "duration": "5s"}]}})"));
  ASSERT_EQ(spec.schedule->segments().size(), 3u);
  EXPECT_EQ(spec.schedule->segments()[1], (RateSegment{20, 1000, 4000}));
  EXPECT_DOUBLE_EQ(spec.duration_s, 35);  // the steps' sum

  spec = parse_load_json(json::parse(R"({"rate": "100/1s,200/2s"})"));
  EXPECT_DOUBLE_EQ(spec.duration_s, 3);
}

TEST(LoadSpecTest, BodyFileIsReadRelativeToTheLoadFile) {
  testing::ScratchDir dir("load_spec");
  std::filesystem::create_directories(dir.path() / "bodies");
  std::ofstream(dir.path() / "bodies" / "order.json") << R"({"order": {seq}})";
  std::ofstream(dir.path() / "load.json")
      << R"({"url": "http://h/", "requests": [{"path": "/orders", "body_file": "bodies/order.json"}]})";
  const LoadSpec spec = parse_load_file(dir.path() / "load.json");
  EXPECT_EQ(spec.requests[0].body, R"({"order": {seq}})");
  EXPECT_EQ(spec.requests[0].method, "POST");
  EXPECT_NO_THROW(validate_load_spec(spec));
}

TEST(LoadSpecTest, UnreadableBodyFileIsAnErrorNamingIt) {
  testing::ScratchDir dir("load_spec");
  const json file = json::parse(R"({"requests": [{"body_file": "missing.json"}]})");
  const std::string message = load_error([&] { parse_load_json(file, dir.path()); });
  EXPECT_NE(message.find("requests[0].body_file"), std::string::npos) << message;
  EXPECT_NE(message.find("missing.json"), std::string::npos) << message;
}

TEST(LoadSpecTest, LoadFileErrorsNameTheFile) {
  testing::ScratchDir dir("load_spec");
  const auto path = dir.path() / "bad.json";
  std::ofstream(path) << "{\"threads\": 0}";
  std::string message = load_error([&] { parse_load_file(path); });
  EXPECT_EQ(message.rfind(path.string() + ": threads:", 0), 0u) << message;

  std::ofstream(path) << "{\"threads\": 2,\n \"url\": }";
  message = load_error([&] { parse_load_file(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;

  message = load_error([&] { parse_load_file(dir.path() / "absent.json"); });
  EXPECT_NE(message.find("absent.json"), std::string::npos) << message;
}

// Each bad load file and the text its error must contain (the field path first).
struct BadLoadFile {
  const char* json;
  const char* message;
};

class LoadSpecBadFileTest : public ::testing::TestWithParam<BadLoadFile> {};

TEST_P(LoadSpecBadFileTest, IsAnErrorThatStartsWithTheField) {
  const json file = json::parse(GetParam().json);
  const std::string message = load_error([&] { parse_load_json(file); });
  EXPECT_NE(message, "");
  EXPECT_NE(message.find(GetParam().message), std::string::npos)
      << "message: " << message << "\nexpected: " << GetParam().message;
}

INSTANTIATE_TEST_SUITE_P(
    LoadSpecTest, LoadSpecBadFileTest,
    ::testing::Values(
        BadLoadFile{R"([1, 2])", "must be a JSON object"},
        BadLoadFile{R"({"thread": 4})", "thread: unknown key (known keys: url, mode, threads"},
        BadLoadFile{R"({"url": 5})", "url: must be a string"},
        BadLoadFile{R"({"url": "https://h/"})", "url: "},
        BadLoadFile{R"({"url": "https://h/"})", "TLS"},
        BadLoadFile{R"({"mode": "fast"})", "mode: must be \"closed\" or \"open\""},
        BadLoadFile{R"({"mode": "open"})", "mode: \"open\" needs a \"rate\""},
        BadLoadFile{R"({"mode": "closed", "rate": 5})", "rate: "},
        BadLoadFile{R"({"threads": 0})", "threads: must be an integer from 1 to 256 (got 0)"},
        BadLoadFile{R"({"threads": 257})", "threads: "},
        BadLoadFile{R"({"threads": 2.5})", "threads: "},
        BadLoadFile{R"({"threads": "2"})", "threads: "},
        BadLoadFile{R"({"connections": 100001})", "connections: "},
        BadLoadFile{R"({"connections": -1})", "connections: "},
        BadLoadFile{R"({"duration": "10 s"})", "duration: "},
        BadLoadFile{R"({"duration": 0})", "duration: "},
        BadLoadFile{R"({"duration": -5})", "duration: "},
        BadLoadFile{R"({"timeout": "fast"})", "timeout: "},
        BadLoadFile{R"({"connect_timeout": true})", "connect_timeout: "},
        BadLoadFile{R"({"rate": -1})", "rate: "}, BadLoadFile{R"({"rate": [1]})", "rate: "},
        BadLoadFile{R"({"rate": "1000/10s,x"})", "rate: "}, BadLoadFile{R"({"rate": 0})", "rate: "},
        BadLoadFile{R"({"rate": {"ramp": {"from": 1}}})", "rate.ramp: needs"},
        BadLoadFile{R"({"rate": {"ramp": {"from": 1, "to": 2, "over": 3}}})", "rate.ramp.over"},
        BadLoadFile{R"({"rate": {"steps": []}})", "rate.steps: "},
        BadLoadFile{R"({"rate": {"steps": [{"rate": 1}]}})", "rate.steps[0]: needs a \"duration\""},
        BadLoadFile{R"({"rate": {"steps": [{"rate": 1, "from": 1, "to": 2, "duration": 1}]}})",
                    "rate.steps[0]: "},
        BadLoadFile{
            R"({"rate": {"steps": [{"rate": 1, "duration": 1}, {"rate": "x", "duration": 1}]}})",
            "rate.steps[1].rate: "},
        BadLoadFile{R"({"rate": "10/1s,20/2s", "duration": 10})", "duration: "},
        BadLoadFile{R"({"seed": -1})", "seed: "}, BadLoadFile{R"({"seed": "1"})", "seed: "},
        BadLoadFile{R"({"headers": ["a"]})", "headers: must be an object"},
        BadLoadFile{R"({"headers": {"X-A": 1}})", "headers.X-A: must be a string"},
        BadLoadFile{R"({"headers": {"Bad Name": "x"}})", "headers.Bad Name: "},
        BadLoadFile{R"({"headers": {"X": "a\r\nB: c"}})", "headers.X: "},
        BadLoadFile{R"({"expect": {"status": 99}})", "expect.status: "},
        BadLoadFile{R"({"expect": {"status": [200, 600]}})", "expect.status[1]: "},
        BadLoadFile{R"({"expect": {"status": []}})", "expect.status: "},
        BadLoadFile{R"({"expect": {"body": "x"}})", "expect.body: unknown key"},
        BadLoadFile{R"({"expect": {"body_contains": 5}})", "expect.body_contains: "},
        BadLoadFile{R"({"requests": []})", "requests: "},
        BadLoadFile{R"({"requests": {}})", "requests: "},
        BadLoadFile{R"({"requests": [5]})", "requests[0]: must be an object"},
        BadLoadFile{R"({"requests": [{}, {"weight": -3}]})",
                    "requests[1].weight: must be a positive integer (got -3)"},
        BadLoadFile{R"({"requests": [{}, {"weight": -3}]})", "(got -3)"},
        BadLoadFile{R"({"requests": [{"weight": 0}]})", "requests[0].weight: "},
        BadLoadFile{R"({"requests": [{"weight": 2000000}]})",
                    "requests[0].weight: must be at most 1000000"},
        BadLoadFile{R"({"requests": [{"weight": 600000}, {"weight": 400001}]})",
                    "requests: weights sum to 1000001"},
        BadLoadFile{R"({"requests": [{"name": "a b"}]})", "requests[0].name: "},
        BadLoadFile{R"({"requests": [{"name": "a,b"}]})", "requests[0].name: "},
        BadLoadFile{R"({"requests": [{"name": ""}]})", "requests[0].name: "},
        BadLoadFile{R"({"requests": [{"name": "x"}, {"name": "x"}]})",
                    "requests[1].name: \"x\" is already the name of requests[0]"},
        BadLoadFile{R"({"requests": [{"method": "GE T"}]})", "requests[0].method: "},
        BadLoadFile{R"({"requests": [{"method": 1}]})", "requests[0].method: "},
        BadLoadFile{R"({"requests": [{"path": "items"}]})",
                    "requests[0].path: must start with '/'"},
        BadLoadFile{R"({"requests": [{"path": "/a b"}]})", "requests[0].path: "},
        BadLoadFile{R"({"requests": [{"path": "/{rand:0}"}]})", "requests[0].path: "},
        BadLoadFile{R"({"requests": [{"body": "{rand:x}"}]})", "requests[0].body: "},
        BadLoadFile{R"({"requests": [{"body": "a", "body_file": "b"}]})", "requests[0]: "},
        BadLoadFile{R"({"requests": [{"headers": {"X": 1}}]})", "requests[0].headers.X: "},
        BadLoadFile{R"({"requests": [{"expect": {"status": "ok"}}]})",
                    "requests[0].expect.status: "},
        BadLoadFile{R"({"requests": [{"pth": "/"}]})", "requests[0].pth: unknown key"}));

TEST(LoadSpecTest, TooManyRequestKindsIsAnError) {
  json requests = json::array();
  for (int i = 0; i < 65; ++i) requests.push_back(json::object());
  EXPECT_LOAD_ERROR(parse_load_json(json{{"requests", requests}}), "requests: ");
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

TEST(LoadSpecTest, ValidationWantsAUrl) {
  LoadSpec spec;
  spec.requests.emplace_back();
  EXPECT_LOAD_ERROR(validate_load_spec(spec),
                    "no URL: give one on the command line or as \"url\" in the load file");
}

TEST(LoadSpecTest, ValidationRefusesSpecsThatCannotRun) {
  auto error_after = [](const std::function<void(LoadSpec&)>& change) {
    LoadSpec spec = spec_for("http://h/");
    change(spec);
    return load_error([&] { validate_load_spec(spec); });
  };
  EXPECT_EQ(error_after([](LoadSpec&) {}), "");
  EXPECT_NE(error_after([](LoadSpec& s) { s.requests.clear(); }).find("requests"),
            std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.threads = 0; }).find("threads"), std::string::npos);
  EXPECT_EQ(error_after([](LoadSpec& s) {
              s.threads = 4;
              s.connections = 2;
            }),
            "connections (2) must be >= threads (4): each thread needs at least one connection");
  EXPECT_NE(error_after([](LoadSpec& s) { s.mode = LoadMode::kOpen; }).find("rate"),
            std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.timeout_s = 0; }).find("timeout"), std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.connect_timeout_s = -1; }).find("connect_timeout"),
            std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.duration_s = 0; }).find("duration"), std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.requests[0].weight = 0; }).find("weight"),
            std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.requests.push_back(s.requests[0]); }).find("name"),
            std::string::npos);
  EXPECT_NE(error_after([](LoadSpec& s) { s.expect.statuses = {42}; }).find("expect"),
            std::string::npos);
}

TEST(LoadSpecTest, ValidationCompilesEveryRequestTemplate) {
  LoadSpec spec = spec_for("http://h/");
  RequestSpec bad;
  bad.name = "bad";
  bad.body = "{rand:abc}";
  spec.requests.push_back(bad);
  const std::string message = load_error([&] { validate_load_spec(spec); });
  EXPECT_NE(message.find("requests[1]"), std::string::npos) << message;
  EXPECT_NE(message.find("{rand:abc}"), std::string::npos) << message;
}

TEST(LoadSpecTest, OpenLoopSpecWithAScheduleIsValid) {
  LoadSpec spec = spec_for("http://h/");
  spec.mode = LoadMode::kOpen;
  spec.schedule = RateSchedule::constant(100, 5);
  spec.duration_s = 5;
  EXPECT_NO_THROW(validate_load_spec(spec));
}

}  // namespace
}  // namespace perflab
