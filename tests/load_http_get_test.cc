// perflab::http_get against the load tests' own server: bodies plain and
// chunked, Content-Type, and every way a GET fails naming the URL.
#include <gtest/gtest.h>

#include <string>

#include "load_test_server.hpp"
#include "perflab/load.hpp"

namespace perflab {
namespace {

using perflab::testing::LoadTestServer;

TEST(HttpGet, ReadsTheBodyOfA200) {
  LoadTestServer server({"--body-size", "3000"});
  const HttpGetResult got = http_get(parse_http_url(server.url("/metrics")), 5.0);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.size(), 3000u);
}

TEST(HttpGet, DecodesAChunkedBody) {
  LoadTestServer server({"--body-size", "5000", "--chunked"});
  const HttpGetResult got = http_get(parse_http_url(server.url("/")), 5.0);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.size(), 5000u);
  EXPECT_EQ(got.body.find("\r\n"), std::string::npos) << "chunk framing left in the body";
}

TEST(HttpGet, ReportsTheStatusOfAnError) {
  LoadTestServer server({"--status-every", "1:503"});
  EXPECT_EQ(http_get(parse_http_url(server.url("/")), 5.0).status, 503);
}

TEST(HttpGet, RefusesABodyOverTheLimit) {
  LoadTestServer server({"--body-size", "5000"});
  try {
    http_get(parse_http_url(server.url("/big")), 5.0, 1000);
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than 1000 bytes"), std::string::npos) << e.what();
  }
}

TEST(HttpGet, TimesOutOnASilentServer) {
  LoadTestServer server({"--silent-every", "1"});
  try {
    http_get(parse_http_url(server.url("/slow")), 0.3);
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("no complete response"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/slow"), std::string::npos) << e.what();
  }
}

TEST(HttpGet, FailsWhenTheResponseIsCutShort) {
  LoadTestServer server({"--truncate-every", "1", "--body-size", "2000"});
  EXPECT_THROW(http_get(parse_http_url(server.url("/")), 5.0), LoadError);
}

TEST(HttpGet, FailsOnGarbage) {
  LoadTestServer server({"--garbage-every", "1"});
  try {
    http_get(parse_http_url(server.url("/")), 5.0);
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("not a valid HTTP response"), std::string::npos)
        << e.what();
  }
}

TEST(HttpGet, FailsWhenNobodyListens) {
  const std::optional<std::uint16_t> port = perflab::testing::unused_local_port();
  ASSERT_TRUE(port.has_value());
  try {
    http_get(parse_http_url("http://127.0.0.1:" + std::to_string(*port) + "/metrics"), 2.0);
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace perflab
