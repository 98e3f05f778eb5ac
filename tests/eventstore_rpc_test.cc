// The event store's RPC layer in-process, over a real Store in a temporary
// directory, in both pool modes: every method's semantics and result shape,
// every class of bad request, byte-identical answers from the two modes, JSON
// escaping of hostile strings, the metrics, and the pooled mode's promise of
// no heap allocation per request beyond the store's own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <perflab/alloc.hpp>
#include <perflab/pool.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "errors.hpp"
#include "json_writer.hpp"
#include "metrics.hpp"
#include "request.hpp"
#include "rpc.hpp"
#include "rpc_plain.hpp"
#include "rpc_pooled.hpp"
#include "scratch_dir.hpp"
#include "store.hpp"
#include "uuid.hpp"

namespace eventstore {
namespace {

using nlohmann::json;
using perflab::testing::ScratchDir;

struct Reply {
  unsigned status = 0;
  std::string text;
  json body;
};

// One Store and one RPC service of a mode, in a directory of their own.
class Service {
 public:
  Service(PoolMode mode, const std::string& name)
      : dir_("eventstore_rpc_" + name),
        store_(std::make_unique<Store>((dir_.path() / "events.db").string())),
        metrics_(store_.get()),
        rpc_(make_rpc_service(mode, *store_, metrics_)) {}

  Reply call_text(const std::string& body) {
    const RpcReply reply = rpc_->call(body);
    Reply out{reply.status, reply.body, json()};
    out.body = json::parse(reply.body);  // every reply is JSON
    return out;
  }
  Reply call(const json& body) { return call_text(body.dump()); }

  Store& store() { return *store_; }
  Metrics& metrics() { return metrics_; }
  RpcService& rpc() { return *rpc_; }

 private:
  ScratchDir dir_;
  std::unique_ptr<Store> store_;
  Metrics metrics_;
  std::unique_ptr<RpcService> rpc_;
};

std::string mode_name(const ::testing::TestParamInfo<PoolMode>& info) {
  return info.param == PoolMode::on ? "Pooled" : "Plain";
}

class RpcTest : public ::testing::TestWithParam<PoolMode> {
 protected:
  RpcTest() : service_(GetParam(), GetParam() == PoolMode::on ? "pooled" : "plain") {}

  Reply call(const json& body) { return service_.call(body); }
  Reply call_text(const std::string& body) { return service_.call_text(body); }

  // A write that must succeed; returns its result.
  json write(const std::string& stream, const json& message, const json& options = nullptr) {
    json body = {"stream.write", stream, message};
    if (!options.is_null()) body.push_back(options);
    const Reply reply = call(body);
    EXPECT_EQ(reply.status, 200u) << reply.text;
    return reply.body;
  }

  void expect_error(const std::string& body, unsigned status, const std::string& code) {
    const Reply reply = call_text(body);
    EXPECT_EQ(reply.status, status) << body << " -> " << reply.text;
    ASSERT_TRUE(reply.body.contains("error")) << body << " -> " << reply.text;
    EXPECT_EQ(reply.body["error"]["code"], code) << body << " -> " << reply.text;
    EXPECT_TRUE(reply.body["error"]["message"].is_string()) << reply.text;
    EXPECT_FALSE(reply.body["error"]["message"].get<std::string>().empty());
  }

  Service service_;
};

const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kTime(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$)");

TEST_P(RpcTest, HealthReportsModeAndMessageCount) {
  Reply reply = call({"sys.health"});
  ASSERT_EQ(reply.status, 200u) << reply.text;
  EXPECT_EQ(reply.text, std::string(R"({"status":"ok","pool":")") +
                            (GetParam() == PoolMode::on ? "on" : "off") + R"(","messages":0})");
  write("account-1", {{"type", "Opened"}, {"data", json::object()}});
  EXPECT_EQ(call({"sys.health"}).body["messages"], 1);
}

TEST_P(RpcTest, WriteReturnsStreamAndGlobalPositions) {
  EXPECT_EQ(write("account-1", {{"type", "Opened"}, {"data", {{"a", 1}}}}),
            json({{"position", 0}, {"globalPosition", 1}}));
  EXPECT_EQ(write("account-1", {{"type", "Deposited"}, {"data", {{"a", 2}}}}),
            json({{"position", 1}, {"globalPosition", 2}}));
  EXPECT_EQ(write("account-2", {{"type", "Opened"}, {"data", {{"a", 3}}}}),
            json({{"position", 0}, {"globalPosition", 3}}));
  // Keys in the documented order.
  EXPECT_EQ(call_text(R"(["stream.write","account-3",{"type":"T","data":{}}])").text,
            R"({"position":0,"globalPosition":4})");
}

TEST_P(RpcTest, StreamGetReturnsMessagesWithEveryField) {
  write("account-1", {{"id", "m-1"}, {"type", "Opened"}, {"data", {{"owner", "ann"}}}});
  write("account-1", {{"type", "Deposited"},
                      {"data", {{"amount", 10}}},
                      {"metadata", {{"correlationStreamName", "transfer-1"}}}});
  const Reply reply = call({"stream.get", "account-1"});
  ASSERT_EQ(reply.status, 200u) << reply.text;
  ASSERT_EQ(reply.body.size(), 2u);
  const json& first = reply.body[0];
  EXPECT_EQ(first["id"], "m-1");
  EXPECT_EQ(first["streamName"], "account-1");
  EXPECT_EQ(first["type"], "Opened");
  EXPECT_EQ(first["position"], 0);
  EXPECT_EQ(first["globalPosition"], 1);
  EXPECT_EQ(first["data"], json({{"owner", "ann"}}));
  EXPECT_TRUE(first["metadata"].is_null());
  EXPECT_TRUE(std::regex_match(first["time"].get<std::string>(), kTime)) << first["time"];
  const json& second = reply.body[1];
  EXPECT_TRUE(std::regex_match(second["id"].get<std::string>(), kUuid)) << second["id"];
  EXPECT_EQ(second["position"], 1);
  EXPECT_EQ(second["metadata"], json({{"correlationStreamName", "transfer-1"}}));
  // The fields in the documented order.
  const std::string text = reply.text;
  std::size_t at = 0;
  for (const char* key : {"\"id\"", "\"streamName\"", "\"type\"", "\"position\"",
                          "\"globalPosition\"", "\"data\"", "\"metadata\"", "\"time\""}) {
    const std::size_t found = text.find(key, at);
    ASSERT_NE(found, std::string::npos) << key << " in " << text;
    at = found;
  }
}

TEST_P(RpcTest, StreamGetHonoursPositionAndBatchSize) {
  for (int i = 0; i < 5; ++i) write("account-1", {{"type", "T"}, {"data", {{"i", i}}}});
  write("account-2", {{"type", "T"}, {"data", json::object()}});
  Reply reply = call({"stream.get", "account-1", {{"position", 2}, {"batchSize", 2}}});
  ASSERT_EQ(reply.status, 200u) << reply.text;
  ASSERT_EQ(reply.body.size(), 2u);
  EXPECT_EQ(reply.body[0]["position"], 2);
  EXPECT_EQ(reply.body[1]["position"], 3);
  EXPECT_EQ(call({"stream.get", "account-1", {{"position", 4}}}).body.size(), 1u);
  EXPECT_EQ(call({"stream.get", "account-1", {{"position", 5}}}).text, "[]");
  EXPECT_EQ(call({"stream.get", "account-9"}).text, "[]");
  EXPECT_EQ(call({"stream.get", "account-1", nullptr}).body.size(), 5u);
}

TEST_P(RpcTest, StreamLastFiltersByTypeAndIsNullWhenNone) {
  write("account-1", {{"type", "Opened"}, {"data", {{"n", 1}}}});
  write("account-1", {{"type", "Deposited"}, {"data", {{"n", 2}}}});
  write("account-1", {{"type", "Withdrawn"}, {"data", {{"n", 3}}}});
  EXPECT_EQ(call({"stream.last", "account-1"}).body["data"]["n"], 3);
  EXPECT_EQ(call({"stream.last", "account-1", {{"type", "Deposited"}}}).body["data"]["n"], 2);
  const Reply none = call({"stream.last", "account-1", {{"type", "Closed"}}});
  EXPECT_EQ(none.status, 200u);
  EXPECT_EQ(none.text, "null");
  EXPECT_EQ(call({"stream.last", "account-2"}).text, "null");
}

TEST_P(RpcTest, StreamVersionIsLastPositionOrNull) {
  EXPECT_EQ(call({"stream.version", "account-1"}).text, "null");
  write("account-1", {{"type", "T"}, {"data", json::object()}});
  write("account-1", {{"type", "T"}, {"data", json::object()}});
  const Reply reply = call({"stream.version", "account-1"});
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.text, "1");
}

TEST_P(RpcTest, ExpectedVersionConflictIsA409WithDetails) {
  write("account-1", {{"type", "T"}, {"data", json::object()}}, {{"expectedVersion", -1}});
  write("account-1", {{"type", "T"}, {"data", json::object()}}, {{"expectedVersion", 0}});
  Reply reply = call({"stream.write",
                      "account-1",
                      {{"type", "T"}, {"data", json::object()}},
                      {{"expectedVersion", 0}}});
  EXPECT_EQ(reply.status, 409u) << reply.text;
  EXPECT_EQ(reply.body["error"]["code"], "STREAM_VERSION_CONFLICT");
  EXPECT_EQ(reply.body["error"]["details"],
            json({{"stream", "account-1"}, {"expected", 0}, {"actual", 1}}));
  // An empty stream's actual version is null.
  reply = call({"stream.write",
                "account-2",
                {{"type", "T"}, {"data", json::object()}},
                {{"expectedVersion", 3}}});
  EXPECT_EQ(reply.status, 409u) << reply.text;
  EXPECT_EQ(reply.body["error"]["details"],
            json({{"stream", "account-2"}, {"expected", 3}, {"actual", nullptr}}));
  // Nothing was written by the refused calls.
  EXPECT_EQ(call({"stream.version", "account-1"}).text, "1");
  EXPECT_EQ(call({"stream.version", "account-2"}).text, "null");
  // A null expectedVersion expects nothing.
  write("account-1", {{"type", "T"}, {"data", json::object()}}, {{"expectedVersion", nullptr}});
}

TEST_P(RpcTest, DuplicateIdIsA409) {
  write("account-1", {{"id", "same"}, {"type", "T"}, {"data", json::object()}});
  const Reply reply = call(
      {"stream.write", "account-2", {{"id", "same"}, {"type", "T"}, {"data", json::object()}}});
  EXPECT_EQ(reply.status, 409u) << reply.text;
  EXPECT_EQ(reply.body["error"]["code"], "DUPLICATE_ID");
}

TEST_P(RpcTest, GeneratedIdsAreDistinctUuids) {
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) write("account-1", {{"type", "T"}, {"data", json::object()}});
  for (const json& m : call({"stream.get", "account-1"}).body) {
    const std::string id = m["id"];
    EXPECT_TRUE(std::regex_match(id, kUuid)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_P(RpcTest, CategoryGetReadsInGlobalOrder) {
  write("account-1", {{"type", "A"}, {"data", {{"n", 1}}}});
  write("other-1", {{"type", "A"}, {"data", {{"n", 2}}}});
  write("account-2", {{"type", "A"}, {"data", {{"n", 3}}}});
  write("account-1", {{"type", "A"}, {"data", {{"n", 4}}}});
  Reply reply = call({"category.get", "account"});
  ASSERT_EQ(reply.status, 200u) << reply.text;
  std::vector<int> seen;
  for (const json& m : reply.body) seen.push_back(m["data"]["n"]);
  EXPECT_EQ(seen, (std::vector<int>{1, 3, 4}));
  reply = call({"category.get", "account", {{"position", 3}, {"batchSize", 1}}});
  ASSERT_EQ(reply.body.size(), 1u);
  EXPECT_EQ(reply.body[0]["globalPosition"], 3);
  EXPECT_EQ(call({"category.get", "nothing"}).text, "[]");
}

TEST_P(RpcTest, CategoryGetFiltersByCorrelation) {
  write("account-1", {{"type", "A"},
                      {"data", {{"n", 1}}},
                      {"metadata", {{"correlationStreamName", "transfer-7"}}}});
  write("account-2", {{"type", "A"},
                      {"data", {{"n", 2}}},
                      {"metadata", {{"correlationStreamName", "payment-1"}}}});
  write("account-3", {{"type", "A"}, {"data", {{"n", 3}}}});
  const Reply reply = call({"category.get", "account", {{"correlation", "transfer"}}});
  ASSERT_EQ(reply.status, 200u) << reply.text;
  ASSERT_EQ(reply.body.size(), 1u);
  EXPECT_EQ(reply.body[0]["data"]["n"], 1);
}

TEST_P(RpcTest, ConsumerGroupMembersPartitionTheCategory) {
  for (int i = 0; i < 40; ++i)
    write("account-" + std::to_string(i) + "+x", {{"type", "A"}, {"data", {{"i", i}}}});
  std::multiset<int> all;
  std::set<std::string> streams_by_member[3];
  for (int member = 0; member < 3; ++member) {
    const Reply reply =
        call({"category.get", "account", {{"consumerGroup", {{"member", member}, {"size", 3}}}}});
    ASSERT_EQ(reply.status, 200u) << reply.text;
    for (const json& m : reply.body) {
      all.insert(m["data"]["i"].get<int>());
      streams_by_member[member].insert(m["streamName"]);
    }
  }
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(std::set<int>(all.begin(), all.end()).size(), 40u);
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const std::string& s : streams_by_member[a])
        EXPECT_EQ(streams_by_member[b].count(s), 0u);
  expect_error(R"(["category.get","account",{"consumerGroup":{"member":3,"size":3}}])", 400,
               "INVALID_ARGUMENT");
  expect_error(R"(["category.get","account",{"consumerGroup":{"member":0}}])", 400,
               "INVALID_ARGUMENT");
}

TEST_P(RpcTest, MalformedBodiesAreInvalidRequest) {
  for (const char* body : {"",
                           " ",
                           "[",
                           "[\"sys.health\"",
                           "[\"sys.health\",]",
                           "{\"a\":1",
                           "nul",
                           "[tru]",
                           "[\"sys.health\"] x",
                           "[\"sys.health\"][]",
                           "[\"stream.get\",\"a-1\",{\"position\":01}]",
                           "[\"stream.write\",\"a-1\",{\"type\":\"T\",\"data\":{\"a\":}}]",
                           "[\"stream.write\",\"a-1\",{\"type\":\"T\",\"data\":{\"a\":1,}}]",
                           "[\"stream.write\",\"a-1\",{\"type\":\"T\",\"data\":{\"a\" 1}}]",
                           "[\"stream.get\",\"a-1\",{\"junk\":[1,2,}]",
                           "[\"stream.get\",\"a-\x01\"]",
                           "[\"stream.get\",\"a-\\q\"]",
                           "[\"x\xff\"]",
                           "[\"stream.get\",\"a-1\",{\"position\":1e400}]",
                           "[\"stream.get\",\"a-\\ud800\"]"}) {
    SCOPED_TRACE(body);
    expect_error(body, 400, "INVALID_REQUEST");
  }
}

TEST_P(RpcTest, BodiesThatAreNotACallAreInvalidRequest) {
  for (const char* body : {"{}", "{\"method\":\"sys.health\"}", "5", "\"sys.health\"", "null", "[]",
                           "[5]", "[null]", "[[\"sys.health\"]]", "[{\"a\":1}]"}) {
    SCOPED_TRACE(body);
    expect_error(body, 400, "INVALID_REQUEST");
  }
}

TEST_P(RpcTest, NestingIsLimited) {
  const auto nested = [](int depth) {
    // The body's array is level 1 and the message level 2: data's arrays start at 3.
    return "[\"stream.write\",\"a-1\",{\"type\":\"T\",\"data\":" + std::string(depth - 2, '[') +
           std::string(depth - 2, ']') + "}]";
  };
  // data here is an array (an argument error) up to the limit, and too deep past it.
  expect_error(nested(kMaxJsonDepth), 400, "INVALID_ARGUMENT");
  expect_error(nested(kMaxJsonDepth + 1), 400, "INVALID_REQUEST");
  const std::string deep_object = "[\"stream.write\",\"a-1\",{\"type\":\"T\",\"data\":" + [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    s += "1";
    for (int i = 0; i < 100000; ++i) s += "}";
    return s;
  }() + "}]";
  expect_error(deep_object, 400, "INVALID_REQUEST");
}

TEST_P(RpcTest, UnknownMethodIsA404ListingTheMethods) {
  const Reply reply = call({"stream.read", "a-1"});
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(reply.body["error"]["code"], "METHOD_NOT_FOUND");
  const std::string message = reply.body["error"]["message"];
  for (const char* method : {"stream.write", "stream.get", "stream.last", "stream.version",
                             "category.get", "sys.health"})
    EXPECT_NE(message.find(method), std::string::npos) << message;
}

TEST_P(RpcTest, WrongArgumentsAreInvalidArgument) {
  for (
      const char* body : {
          // missing, wrong types
          R"(["stream.write"])",
          R"(["stream.write","a-1"])",
          R"(["stream.write",5,{"type":"T","data":{}}])",
          R"(["stream.write","",{"type":"T","data":{}}])",
          R"(["stream.write","a-1",null])",
          R"(["stream.write","a-1",[]])",
          R"(["stream.write","a-1",{"data":{}}])",
          R"(["stream.write","a-1",{"type":"","data":{}}])",
          R"(["stream.write","a-1",{"type":7,"data":{}}])",
          R"(["stream.write","a-1",{"type":"T"}])",
          R"(["stream.write","a-1",{"type":"T","data":[1]}])",
          R"(["stream.write","a-1",{"type":"T","data":"{}"}])",
          R"(["stream.write","a-1",{"type":"T","data":null}])",
          R"(["stream.write","a-1",{"type":"T","data":{},"metadata":[]}])",
          R"(["stream.write","a-1",{"type":"T","data":{},"metadata":"x"}])",
          R"(["stream.write","a-1",{"id":5,"type":"T","data":{}}])",
          R"(["stream.write","a-1",{"id":"","type":"T","data":{}}])",
          R"(["stream.write","a-1",{"type":"T","data":{},"extra":1}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedVersion":"1"}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedVersion":1.5}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedVersion":1e2}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedVersion":9223372036854775808}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedVersion":-2}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{"expectedversion":1}])",
          R"(["stream.write","a-1",{"type":"T","data":{}},[]])",
          R"(["stream.write","a-1",{"type":"T","data":{}},{},{}])",
          R"(["stream.write","account",{"type":"T","data":{}}])",
          R"(["stream.get"])",
          R"(["stream.get","a-1",{"batchSize":0}])",
          R"(["stream.get","a-1",{"batchSize":-1}])",
          R"(["stream.get","a-1",{"position":-1}])",
          R"(["stream.get","a-1",{"position":"0"}])",
          R"(["stream.get","a-1",{"position":true}])",
          R"(["stream.get","a-1",{"count":1}])",
          R"(["stream.get","a-1",5])",
          R"(["stream.get","account"])",
          R"(["stream.get",["a-1"]])",
          R"(["stream.last","a-1",{"type":5}])",
          R"(["stream.last","a-1",{"type":""}])",
          R"(["stream.last","account"])",
          R"(["stream.version"])",
          R"(["stream.version","a-1",{}])",
          R"(["stream.version",{"a":1}])",
          R"(["category.get"])",
          R"(["category.get","account-1"])",
          R"(["category.get","account",{"batchSize":0}])",
          R"(["category.get","account",{"correlation":5}])",
          R"(["category.get","account",{"consumerGroup":5}])",
          R"(["category.get","account",{"consumerGroup":{"member":"0","size":2}}])",
          R"(["category.get","account",{"consumerGroup":{"member":0,"size":2,"x":1}}])",
          R"(["sys.health",1])",
      }) {
    SCOPED_TRACE(body);
    expect_error(body, 400, "INVALID_ARGUMENT");
  }
}

TEST_P(RpcTest, NullOptionsAndEscapedKeysAreAccepted) {
  EXPECT_EQ(
      call_text(R"(["stream.write","a-1",{"type":"T","data":{},"metadata":null,"id":null},null])")
          .status,
      200u);
  // Keys are compared unescaped; a key given twice keeps its last value.
  EXPECT_EQ(
      call_text(R"(["stream.write","a-1",{"\u0074ype":"T","data":{"x":1},"data":{"y":2}}])").status,
      200u);
  EXPECT_EQ(call({"stream.last", "a-1"}).body["data"], json({{"y", 2}}));
  EXPECT_EQ(call_text(R"(["stream.get","a-1",{"batchSize":"x","batchSize":1}])").body.size(), 1u);
}

TEST_P(RpcTest, HostileStringsRoundTrip) {
  const std::vector<std::string> hostile = {
      "quote\" backslash\\ slash/",         std::string("controls \x01\x02\x1f\x7f\b\f\n\r\t end"),
      std::string("nul \0 inside", 12),     "utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "</script><script>alert(1)</script>", "\\u0041 not an escape",
  };
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    const std::string& s = hostile[i];
    const std::string stream = "stream-" + std::to_string(i);
    write(stream, {{"id", "id-" + std::to_string(i) + s},
                   {"type", "type " + s},
                   {"data", {{"text", s}, {s, "as a key"}}},
                   {"metadata", {{"note", s}}}});
    const Reply reply = call({"stream.get", stream});
    ASSERT_EQ(reply.status, 200u) << reply.text;
    ASSERT_EQ(reply.body.size(), 1u);
    const json& m = reply.body[0];
    EXPECT_EQ(m["id"], "id-" + std::to_string(i) + s);
    EXPECT_EQ(m["type"], "type " + s);
    EXPECT_EQ(m["data"]["text"], s);
    EXPECT_EQ(m["data"][s], "as a key");
    EXPECT_EQ(m["metadata"]["note"], s);
    // No raw control character ever leaves the server.
    for (char c : reply.text) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << reply.text;
    // The hostile type works as a filter too.
    EXPECT_EQ(call({"stream.last", stream, {{"type", "type " + s}}}).body["id"],
              "id-" + std::to_string(i) + s);
  }
}

TEST_P(RpcTest, ErrorMessagesWithHostileTextAreValidJson) {
  const Reply reply = call_text("[\"no\\\"such\\\\method\\u0001\"]");
  EXPECT_EQ(reply.status, 404u);
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("no\"such\\method\x01"),
            std::string::npos);
  const Reply key = call_text(R"(["stream.get","a-1",{"we\"ird\n":1}])");
  EXPECT_EQ(key.status, 400u);
  EXPECT_NE(key.body["error"]["message"].get<std::string>().find("we\"ird\n"), std::string::npos);
}

TEST_P(RpcTest, HttpLevelErrorsHaveTheirCodes) {
  struct Case {
    RpcError error;
    unsigned status;
    const char* code;
  };
  for (const Case& c : {Case{not_found_error("/x"), 404, "NOT_FOUND"},
                        Case{method_not_allowed_error("/rpc", "POST"), 405, "METHOD_NOT_ALLOWED"},
                        Case{payload_too_large_error(10), 413, "PAYLOAD_TOO_LARGE"},
                        Case{header_too_large_error(10), 431, "HEADER_TOO_LARGE"},
                        Case{malformed_http_error("bad"), 400, "INVALID_REQUEST"}}) {
    const RpcReply reply = service_.rpc().error_reply(c.error);
    EXPECT_EQ(reply.status, c.status);
    EXPECT_EQ(json::parse(reply.body)["error"]["code"], c.code);
  }
}

TEST_P(RpcTest, MetricsCountRequestsByMethodAndErrorsByCode) {
  call({"sys.health"});
  call({"sys.health"});
  call({"stream.get", "a-1"});
  call_text("not json");
  call({"nope"});
  call({"stream.get", "account"});
  Metrics& m = service_.metrics();
  EXPECT_EQ(m.requests(Method::sys_health), 2u);
  EXPECT_EQ(m.requests(Method::stream_get), 2u);
  EXPECT_EQ(m.requests(std::nullopt), 2u);
  EXPECT_EQ(m.errors(ErrorCode::invalid_request), 1u);
  EXPECT_EQ(m.errors(ErrorCode::method_not_found), 1u);
  EXPECT_EQ(m.errors(ErrorCode::invalid_argument), 1u);
  const std::string text = m.openmetrics();
  EXPECT_NE(text.find("eventstore_rpc_requests_total{method=\"sys.health\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("eventstore_errors_total{code=\"INVALID_ARGUMENT\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("eventstore_connections_open 0\n"), std::string::npos);
  // A few writes start no checkpoint.
  EXPECT_NE(text.find("\neventstore_checkpoints_total 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\neventstore_checkpoint_held_seconds_total 0\n"), std::string::npos);
  EXPECT_NE(text.find("\neventstore_checkpoint_longest_hold_seconds 0\n"), std::string::npos);
  EXPECT_EQ(Metrics().openmetrics().find("checkpoint"), std::string::npos) << "no store, no rows";
  EXPECT_TRUE(text.ends_with("# EOF\n"));
  EXPECT_EQ(text.find("# EOF"), text.size() - 6) << "one EOF, at the end";
  if (GetParam() == PoolMode::on) {
    for (const char* pool :
         {"eventstore.request_bodies", "eventstore.responses", "eventstore.parsers"})
      EXPECT_NE(text.find(pool), std::string::npos) << pool;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, RpcTest, ::testing::Values(PoolMode::off, PoolMode::on), mode_name);

// ---------------------------------------------------------------------------
// The two modes side by side.

// Generated ids and times differ between runs, and health names the mode;
// everything else may not differ.
std::string normalized(std::string text) {
  static const std::regex pool("^\\{\"status\":\"ok\",\"pool\":\"o[nf]f?\"");
  text = std::regex_replace(text, pool, "{\"status\":\"ok\",\"pool\":\"MODE\"");
  static const std::regex time("\"time\":\"[^\"]*\"");
  static const std::regex uuid(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  text = std::regex_replace(text, time, "\"time\":\"T\"");
  return std::regex_replace(text, uuid, "UUID");
}

TEST(RpcModesTest, SameRequestsGetIdenticalResponses) {
  Service plain(PoolMode::off, "same_plain");
  Service pooled(PoolMode::on, "same_pooled");
  // Data is written compactly: the plain mode stores the dump of what it
  // parsed, the pooled mode the client's text.
  const std::vector<std::string> requests = {
      R"(["sys.health"])",
      R"(["stream.write","account-1",{"id":"a","type":"Opened","data":{"owner":"ann","n":[1,2.5,-3,true,null]}}])",
      R"(["stream.write","account-1",{"type":"Deposited","data":{"amount":10},"metadata":{"correlationStreamName":"transfer-1"}}])",
      R"(["stream.write","account-1",{"type":"Deposited","data":{"amount":5}},{"expectedVersion":1}])",
      R"(["stream.write","account-1",{"type":"Deposited","data":{"amount":5}},{"expectedVersion":0}])",
      R"(["stream.write","account-2",{"type":"Opened","data":{}},{"expectedVersion":4}])",
      R"(["stream.write","account-2",{"id":"a","type":"Opened","data":{}}])",
      R"(["stream.write","account-2",{"type":"Opened","data":{"s":"q\"b\\c\u0001\né"}}])",
      R"(["stream.write","other-1+x",{"type":"Opened","data":{"k":{"deep":{"er":[{}]}}}}])",
      R"(["stream.get","account-1"])",
      R"(["stream.get","account-1",{"position":1,"batchSize":1}])",
      R"(["stream.get","account-2"])",
      R"(["stream.last","account-1"])",
      R"(["stream.last","account-1",{"type":"Opened"}])",
      R"(["stream.last","account-1",{"type":"None"}])",
      R"(["stream.version","account-1"])",
      R"(["stream.version","account-9"])",
      R"(["category.get","account"])",
      R"(["category.get","account",{"position":2,"batchSize":2}])",
      R"(["category.get","account",{"correlation":"transfer"}])",
      R"(["category.get","account",{"consumerGroup":{"member":0,"size":2}}])",
      R"(["category.get","account",{"consumerGroup":{"member":1,"size":2}}])",
      R"(["category.get","other"])",
      R"(["sys.health"])",
      R"(not json)",
      R"({"a":1})",
      R"([])",
      R"([1])",
      R"(["nope",1,2])",
      R"(["stream.get"])",
      R"(["stream.get","account"])",
      R"(["stream.get","a-1",{"batchSize":0}])",
      R"(["stream.get","a-1",{"batchSize":1.0}])",
      R"(["stream.get","a-1",{"bogus":1,"other":2}])",
      R"(["stream.write","a-1",{"type":"T","data":[]}])",
      R"(["stream.write","a-1",{"type":"T","data":{}},{},{}])",
      R"(["category.get","account-1"])",
      R"(["category.get","account",{"consumerGroup":{"member":2,"size":2}}])",
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(request);
    const RpcReply a = plain.rpc().call(request);
    const RpcReply b = pooled.rpc().call(request);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(normalized(a.body), normalized(b.body));
  }
}

// Mutations of valid requests (every truncation, every byte replaced by a
// JSON-significant one): both modes must agree on status and error code,
// whatever they make of the bytes.
TEST(RpcModesTest, MutatedRequestsGetTheSameVerdict) {
  Service plain(PoolMode::off, "mutated_plain");
  Service pooled(PoolMode::on, "mutated_pooled");
  const std::vector<std::string> seeds = {
      R"(["stream.write","acc-1",{"id":"i","type":"T","data":{"a":[1,{"b":null}],"c":"d\u00e9"},"metadata":{"m":true}},{"expectedVersion":-1}])",
      R"(["category.get","acc",{"position":1,"batchSize":5,"correlation":"x","consumerGroup":{"member":0,"size":2}}])",
      R"(["stream.get","acc-1",{"position":0,"batchSize":10}])",
  };
  const std::string replacements = "[]{}\",:\\ 0-.etn\x01";
  std::size_t cases = 0;
  const auto check = [&](const std::string& body) {
    const RpcReply a = plain.rpc().call(body);
    const RpcReply b = pooled.rpc().call(body);
    ++cases;
    ASSERT_EQ(a.status, b.status) << body << "\nplain:  " << a.body << "\npooled: " << b.body;
    const json ja = json::parse(a.body);
    const json jb = json::parse(b.body);
    if (a.status != 200) {
      ASSERT_EQ(ja["error"]["code"], jb["error"]["code"]) << body;
      if (ja["error"]["code"] != "INVALID_REQUEST") {
        EXPECT_EQ(ja["error"]["message"], jb["error"]["message"]) << body;
      }
    }
  };
  for (const std::string& seed : seeds) {
    for (std::size_t n = 0; n <= seed.size(); ++n) check(seed.substr(0, n));
    for (std::size_t i = 0; i < seed.size(); ++i) {
      for (char c : replacements) {
        std::string body = seed;
        body[i] = c;
        check(body);
      }
    }
  }
  EXPECT_GT(cases, 1000u);
}

// ---------------------------------------------------------------------------
// Pieces.

TEST(JsonWriterTest, EscapesExactlyAsNlohmannDumps) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  all += "\xc3\xa9\xf0\x9f\x98\x80";
  perflab::Buffer out;
  JsonWriter w(out);
  w.begin_object();
  w.key(all);
  w.string(all);
  w.plain_key("n");
  w.integer(INT64_MIN);
  w.plain_key("list");
  w.begin_array();
  w.integer(0);
  w.null();
  w.boolean(true);
  w.raw(R"({"x":[]})");
  w.begin_object();
  w.end_object();
  w.end_array();
  w.end_object();
  nlohmann::ordered_json expected;
  expected[all] = all;
  expected["n"] = INT64_MIN;
  expected["list"] = {0, nullptr, true, {{"x", json::array()}}, json::object()};
  EXPECT_EQ(out.str(), expected.dump());
}

TEST(UuidTest, GeneratesDistinctVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    char buffer[kUuidLength];
    const std::string id(generate_uuid(buffer));
    ASSERT_TRUE(std::regex_match(id, kUuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

// ---------------------------------------------------------------------------
// Allocations, counted in-process by perflab::alloc (linked into this test).

// Allocations per call on this thread of `calls` invocations of f(i).
template <class F>
double allocs_per_call(int calls, F&& f) {
  const perflab::AllocCounts before = perflab::thread_alloc_counts();
  for (int i = 0; i < calls; ++i) f(i);
  return static_cast<double>((perflab::thread_alloc_counts() - before).allocs) / calls;
}

TEST(RpcAllocationTest, PooledModeAllocatesNothingBeyondTheStore) {
  ASSERT_TRUE(perflab::alloc_counting_active());
  ScratchDir dir("eventstore_rpc_allocs");
  Store store((dir.path() / "events.db").string());
  Metrics metrics;
  PooledRpc pooled(store, metrics);
  PlainRpc plain(store, metrics);
  const std::string data = R"({"amount":25,"currency":"EUR","note":"some text"})";
  const std::string metadata = R"({"correlationStreamName":"transfer-1"})";
  const auto body = [&](const char* prefix, int i) {
    return std::string(R"(["stream.write","account-)") + std::to_string(i % 50) + R"(",{"id":")" +
           prefix + std::to_string(i) + R"(","type":"Deposited","data":)" + data +
           R"(,"metadata":)" + metadata + "}]";
  };
  std::vector<std::string> bodies;
  for (int i = 0; i < 3000; ++i) bodies.push_back(body("p", i));
  perflab::Buffer in = pooled.request_bodies().get(1024);
  perflab::Buffer out = pooled.responses().get(1024);
  // Kept across calls, as a connection keeps its own.
  BlockingRpcWrite write;
  const auto pooled_write = [&](int i) {
    in.clear();
    in.append(bodies[static_cast<std::size_t>(i)]);
    ASSERT_EQ(pooled.handle(in, out, write), 200u) << out.view();
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back("s" + std::to_string(i));
  const auto store_write = [&](int i) {
    const std::string& id = ids[static_cast<std::size_t>(i)];
    store.write("account-" + std::to_string(i % 50), NewMessage{id, "Deposited", data, metadata});
  };
  // Warm up the pools, the parsers and SQLite's caches.
  for (int i = 0; i < 500; ++i) pooled_write(i);
  for (int i = 0; i < 500; ++i) store_write(i);
  // Interleaved rounds, so the store is in the same state for both.
  double store_only = 0;
  double pooled_total = 0;
  for (int round = 1; round < 6; ++round) {
    store_only += allocs_per_call(500, [&](int i) { store_write(round * 500 + i); });
    pooled_total += allocs_per_call(500, [&](int i) { pooled_write(round * 500 + i); });
  }
  store_only /= 5;
  pooled_total /= 5;
  // Counted on this thread, the one serving the request: SQLite allocates on
  // the store's committer thread. The store's own calls allocate here only for
  // a long stream name; the pooled layer around them adds nothing.
  EXPECT_LE(pooled_total, store_only + 0.05)
      << "pooled " << pooled_total << " store " << store_only;

  const std::string plain_body = body("q", 0);
  std::vector<std::string> plain_bodies;
  for (int i = 0; i < 500; ++i) plain_bodies.push_back(body("q", i));
  std::string reply;
  const double plain_total = allocs_per_call(
      500, [&](int i) { plain.handle(plain_bodies[static_cast<std::size_t>(i)], reply); });
  EXPECT_GE(plain_total, pooled_total + 20)
      << "plain " << plain_total << " pooled " << pooled_total;
  std::printf("allocations per stream.write: pooled %.2f, plain %.2f, store alone %.2f\n",
              pooled_total, plain_total, store_only);
}

TEST(RpcAllocationTest, PooledReadsAllocateNothingBeyondTheStore) {
  ScratchDir dir("eventstore_rpc_read_allocs");
  Store store((dir.path() / "events.db").string());
  Metrics metrics;
  PooledRpc pooled(store, metrics);
  for (int i = 0; i < 20; ++i) {
    const std::string id = "m" + std::to_string(i);
    store.write("account-1", NewMessage{id, "T", R"({"i":1})", ""});
  }
  const std::string request = R"(["stream.get","account-1",{"batchSize":20}])";
  perflab::Buffer in = pooled.request_bodies().get(1024);
  perflab::Buffer out = pooled.responses().get(1024);
  const auto pooled_read = [&](int) {
    in.clear();
    in.append(request);
    ASSERT_EQ(pooled.handle(in, out), 200u);
  };
  struct Discard final : MessageSink {
    void on_message(const MessageView&) override {}
  } discard;
  for (int i = 0; i < 200; ++i) pooled_read(i);
  const double store_only =
      allocs_per_call(1000, [&](int) { store.get_stream("account-1", 0, 20, discard); });
  const double pooled_total = allocs_per_call(1000, pooled_read);
  EXPECT_LE(pooled_total, store_only + 0.01)
      << "pooled " << pooled_total << " store " << store_only;
}

}  // namespace
}  // namespace eventstore
