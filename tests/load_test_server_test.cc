// Tests of the load tests' own HTTP server (load_programs/test_http_server.cc)
// through LoadTestServer, with plain blocking sockets, so a failing load test
// can be blamed on the client and not on the fixture.
//
// The lead adds this to tests/load.cmake as:
//   perflab_add_test(load_test_server_test SOURCES load_test_server_test.cc LIBS Threads::Threads)
//   target_compile_definitions(load_test_server_test PRIVATE
//     PERFLAB_LOAD_TEST_SERVER="$<TARGET_FILE:load_test_server>")
//   add_dependencies(load_test_server_test load_test_server)
#include "load_test_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace {

using perflab::testing::LoadTestServer;

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";
constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

// A blocking client socket whose reads give up after `timeout` instead of hanging the test.
class Client {
 public:
  explicit Client(std::uint16_t port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connect_errno_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int connect_errno() const { return connect_errno_; }

  void send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << "send: " << std::strerror(errno);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until `size` bytes arrived, the peer closed, or an error (kept in last_errno()).
  std::string read(std::size_t size) {
    std::string out;
    while (out.size() < size && read_some(out, size - out.size()) > 0) {
    }
    return out;
  }

  std::string read_until_eof() {
    std::string out;
    while (read_some(out, 4096) > 0) {
    }
    return out;
  }

  // One response: headers, then a Content-Length body or chunks up to the last one.
  // One response; bytes of the next (pipelined) one stay for the next call.
  std::string read_response() {
    std::string out = std::exchange(pending_, std::string());
    while (out.find("\r\n\r\n") == std::string::npos && read_some(out, 4096) > 0) {
    }
    const std::size_t head_end = out.find("\r\n\r\n");
    if (head_end == std::string::npos) return out;
    std::size_t total = std::string::npos;
    const std::size_t length_at = out.find("Content-Length: ");
    if (length_at != std::string::npos && length_at < head_end) {
      total = head_end + 4 + std::stoul(out.substr(length_at + 16));
      while (out.size() < total && read_some(out, total - out.size()) > 0) {
      }
    } else {
      std::size_t end;
      while ((end = out.find("\r\n0\r\n\r\n", head_end)) == std::string::npos &&
             read_some(out, 4096) > 0) {
      }
      if (end != std::string::npos) total = end + 7;
    }
    if (total < out.size()) {
      pending_ = out.substr(total);
      out.resize(total);
    }
    return out;
  }

  int last_errno() const { return last_errno_; }

 private:
  ssize_t read_some(std::string& out, std::size_t at_most) {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, std::min(at_most, sizeof buffer), 0);
    if (n < 0) last_errno_ = errno;
    if (n > 0) out.append(buffer, static_cast<std::size_t>(n));
    return n;
  }

  int fd_ = -1;
  int connect_errno_ = 0;
  std::string pending_;
  int last_errno_ = 0;
};

// The body of a chunked response, or "<bad chunk>" if the framing is wrong.
std::string decode_chunked(const std::string& response) {
  std::size_t at = response.find("\r\n\r\n");
  if (at == std::string::npos) return "<bad chunk>";
  at += 4;
  std::string body;
  for (;;) {
    const std::size_t line_end = response.find("\r\n", at);
    if (line_end == std::string::npos) return "<bad chunk>";
    const std::size_t size = std::stoul(response.substr(at, line_end - at), nullptr, 16);
    if (size == 0) return response.compare(line_end, 4, "\r\n\r\n") == 0 ? body : "<bad chunk>";
    body += response.substr(line_end + 2, size);
    at = line_end + 2 + size;
    if (response.compare(at, 2, "\r\n") != 0) return "<bad chunk>";
    at += 2;
  }
}

TEST(LoadTestServerTest, AnswersWithOkByDefault) {
  LoadTestServer server({});
  EXPECT_EQ(server.url("/x"), "http://127.0.0.1:" + std::to_string(server.port()) + "/x");
  Client client(server.port());
  client.send(kGet);
  EXPECT_EQ(client.read_response(), kOk);
}

TEST(LoadTestServerTest, KeepsTheConnectionAliveAndCountsInStats) {
  LoadTestServer server({});
  {
    Client client(server.port());
    for (int i = 0; i < 3; ++i) {
      client.send(kGet);
      EXPECT_EQ(client.read_response(), kOk) << "request " << i + 1;
    }
  }
  server.stop();
  server.stop();  // idempotent
  EXPECT_EQ(server.stats(), "requests=3 connections=1 resets=0 closes=0\n");
}

TEST(LoadTestServerTest, AnswersPipelinedRequestsInOrder) {
  LoadTestServer server({"--status-every", "2:503"});
  Client client(server.port());
  client.send(std::string(kGet) + std::string(kGet) + std::string(kGet));
  EXPECT_EQ(client.read_response(), kOk);
  EXPECT_NE(client.read_response().find("HTTP/1.1 503 "), std::string::npos);
  EXPECT_EQ(client.read_response(), kOk);
}

TEST(LoadTestServerTest, CloseEveryTwoClosesOnTheSecondRequest) {
  LoadTestServer server({"--close-every", "2"});
  Client client(server.port());
  client.send(kGet);
  EXPECT_EQ(client.read_response(), kOk);
  client.send(kGet);
  EXPECT_EQ(client.read_until_eof(), "");
  EXPECT_EQ(client.last_errno(), 0) << "expected a clean EOF";
  server.stop();
  EXPECT_EQ(server.stats(), "requests=2 connections=1 resets=0 closes=1\n");
}

TEST(LoadTestServerTest, ResetEveryOneResetsTheConnection) {
  LoadTestServer server({"--reset-every", "1"});
  Client client(server.port());
  client.send(kGet);
  EXPECT_EQ(client.read_until_eof(), "");
  EXPECT_EQ(client.last_errno(), ECONNRESET);
  server.stop();
  EXPECT_NE(server.stats().find("resets=1"), std::string::npos);
}

TEST(LoadTestServerTest, GarbageEveryOneSendsNonHttpAndKeepsTheConnection) {
  LoadTestServer server({"--garbage-every", "1"});
  Client client(server.port());
  for (int i = 0; i < 2; ++i) {
    client.send(kGet);
    EXPECT_EQ(client.read(20), "this is not http\r\n\r\n");
  }
}

TEST(LoadTestServerTest, StatusEveryAnswersWithTheCode) {
  LoadTestServer server({"--status-every", "1:503"});
  Client client(server.port());
  client.send(kGet);
  EXPECT_EQ(client.read_response(),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 6\r\n"
            "Content-Type: text/plain\r\n\r\nerror\n");
}

TEST(LoadTestServerTest, SilentEveryNeverAnswers) {
  LoadTestServer server({"--silent-every", "1"});
  Client client(server.port(), std::chrono::milliseconds(150));
  client.send(kGet);
  EXPECT_EQ(client.read(1), "");
  EXPECT_EQ(client.last_errno(), EAGAIN);
}

TEST(LoadTestServerTest, TruncateEverySendsTenOfAHundredBytesThenCloses) {
  LoadTestServer server({"--truncate-every", "1"});
  Client client(server.port());
  client.send(kGet);
  const std::string response = client.read_until_eof();
  EXPECT_NE(response.find("Content-Length: 100\r\n"), std::string::npos);
  EXPECT_EQ(response.substr(response.find("\r\n\r\n") + 4), std::string(10, 'x'));
}

TEST(LoadTestServerTest, ConnectionCloseClosesAfterEachResponse) {
  LoadTestServer server({"--connection-close"});
  Client client(server.port());
  client.send(kGet);
  EXPECT_EQ(client.read_until_eof(),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
            "Connection: close\r\n\r\nok\n");
  EXPECT_EQ(client.last_errno(), 0);
}

TEST(LoadTestServerTest, ChunkedBodyDecodesToTheBody) {
  LoadTestServer server({"--chunked", "--body-size", "1000"});
  Client client(server.port());
  client.send(kGet);
  const std::string response = client.read_response();
  EXPECT_NE(response.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(decode_chunked(response), std::string(1000, 'x'));
}

TEST(LoadTestServerTest, BadRequestGets400AndClose) {
  LoadTestServer server({});
  Client client(server.port());
  client.send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(client.read_until_eof().rfind("HTTP/1.1 400 ", 0), 0u);
}

TEST(LoadTestServerTest, RequestLogHasMethodUrlAndBody) {
  LoadTestServer server({});
  {
    Client client(server.port());
    client.send(kGet);
    client.read_response();
    client.send("POST /submit?a=1 HTTP/1.1\r\nContent-Length: 7\r\n\r\nx=1\ny=2");
    client.read_response();
  }
  server.stop();
  EXPECT_EQ(server.request_log(), "GET / \nPOST /submit?a=1 x=1\\ny=2\n");
}

TEST(LoadTestServerTest, DelayUsDelaysEachResponseWithoutBlockingOthers) {
  LoadTestServer server({"--delay-us", "100000"});
  Client first(server.port());
  Client second(server.port());
  const auto start = std::chrono::steady_clock::now();
  first.send(kGet);
  second.send(kGet);
  EXPECT_EQ(first.read_response(), kOk);
  EXPECT_EQ(second.read_response(), kOk);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(100));
  EXPECT_LT(elapsed, std::chrono::milliseconds(190)) << "delays must overlap, not add up";
}

TEST(LoadTestServerTest, StallBlocksEveryConnection) {
  LoadTestServer server({"--stall-after", "1", "--stall-ms", "150"});
  Client first(server.port());
  Client second(server.port());
  const auto start = std::chrono::steady_clock::now();
  first.send(kGet);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // request 1 is the stalled one
  second.send(kGet);
  EXPECT_EQ(second.read_response(), kOk);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(140));
  EXPECT_EQ(first.read_response(), kOk);
}

TEST(LoadTestServerTest, BadArgumentsExitWithStatusTwo) {
  try {
    LoadTestServer server({"--no-such-flag"});
    FAIL() << "the server started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited with status 2"), std::string::npos) << e.what();
  }
}

TEST(LoadTestServerTest, UnusedLocalPortRefusesConnections) {
  const auto port = perflab::testing::unused_local_port();
  ASSERT_TRUE(port.has_value());
  Client client(*port);
  EXPECT_EQ(client.connect_errno(), ECONNREFUSED);
}

}  // namespace
