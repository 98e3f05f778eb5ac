// The event store's storage over real SQLite files: Message DB semantics of
// every method, argument checks, reopening, concurrent writers and readers, and
// that acknowledged writes survive SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.hpp"
#include "store.hpp"
#include "wal_batching_vfs.hpp"

namespace eventstore {
namespace {

using perflab::testing::ScratchDir;

// A MessageView copied out of the store's buffers.
struct Stored {
  std::string id;
  std::string stream_name;
  std::string type;
  std::int64_t position = 0;
  std::int64_t global_position = 0;
  std::string data;
  std::string metadata;
  std::string time;
};

class Collect final : public MessageSink {
 public:
  void on_message(const MessageView& m) override {
    messages.push_back({std::string(m.id), std::string(m.stream_name), std::string(m.type),
                        m.position, m.global_position, std::string(m.data), std::string(m.metadata),
                        std::string(m.time)});
  }
  std::vector<Stored> messages;
};

class Throwing final : public MessageSink {
 public:
  void on_message(const MessageView&) override { throw std::runtime_error("sink failed"); }
};

NewMessage message(std::string_view id, std::string_view type = "Event",
                   std::string_view data = "{}", std::string_view metadata = "") {
  return NewMessage{id, type, data, metadata};
}

std::vector<Stored> read_stream(Store& store, std::string_view stream, std::int64_t position = 0,
                                std::int64_t batch_size = 1000) {
  Collect sink;
  store.get_stream(stream, position, batch_size, sink);
  return sink.messages;
}

std::vector<Stored> read_category(Store& store, std::string_view category,
                                  CategoryQuery query = {}) {
  Collect sink;
  store.get_category(category, query, sink);
  return sink.messages;
}

// Every message of a category, paging through it with the default batch size.
std::vector<Stored> read_all(Store& store, std::string_view category, CategoryQuery query = {}) {
  std::vector<Stored> all;
  for (;;) {
    std::vector<Stored> batch = read_category(store, category, query);
    if (batch.empty()) return all;
    query.position = batch.back().global_position + 1;
    all.insert(all.end(), batch.begin(), batch.end());
  }
}

std::vector<std::string> ids_of(const std::vector<Stored>& messages) {
  std::vector<std::string> ids;
  for (const Stored& m : messages) ids.push_back(m.id);
  return ids;
}

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : dir_("eventstore_store"), path_((dir_.path() / "events.db").string()) {}

  ScratchDir dir_;
  std::string path_;
};

TEST(StoreNamesTest, CategoryIsThePartBeforeTheFirstDash) {
  EXPECT_EQ(category_of("account-123"), "account");
  EXPECT_EQ(category_of("account-123-456"), "account");
  EXPECT_EQ(category_of("account:command-1"), "account:command");
  EXPECT_EQ(category_of("account"), "account");
}

TEST(StoreNamesTest, CardinalIdIsTheIdUpToTheFirstPlus) {
  EXPECT_EQ(cardinal_id_of("account-123"), "123");
  EXPECT_EQ(cardinal_id_of("account-123+abc"), "123");
  EXPECT_EQ(cardinal_id_of("account-123-456+x+y"), "123-456");
  EXPECT_EQ(cardinal_id_of("account"), "");
}

TEST(StoreNamesTest, ConsumerGroupHashIsStable) {
  // 64-bit FNV-1a reference values: the hash must not change across builds,
  // or consumers would reshuffle streams among members.
  EXPECT_EQ(consumer_group_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(consumer_group_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(consumer_group_hash("foobar"), 0x85944171f73967e8ull);
}

TEST_F(StoreTest, PositionsStartAtZeroPerStreamAndGlobalPositionsIncreaseAcrossStreams) {
  Store store(path_);
  const WriteResult a0 = store.write("account-1", message("a0"));
  const WriteResult b0 = store.write("account-2", message("b0"));
  const WriteResult a1 = store.write("account-1", message("a1"));
  const WriteResult c0 = store.write("order-1", message("c0"));
  EXPECT_EQ(a0.position, 0);
  EXPECT_EQ(b0.position, 0);
  EXPECT_EQ(a1.position, 1);
  EXPECT_EQ(c0.position, 0);
  EXPECT_EQ(a0.global_position, 1);
  EXPECT_EQ(b0.global_position, 2);
  EXPECT_EQ(a1.global_position, 3);
  EXPECT_EQ(c0.global_position, 4);
  EXPECT_EQ(store.message_count(), 4);
}

TEST_F(StoreTest, StreamVersionIsAbsentForAnEmptyStreamAndTheLastPositionOtherwise) {
  Store store(path_);
  EXPECT_EQ(store.stream_version("account-1"), std::nullopt);
  store.write("account-1", message("a0"));
  EXPECT_EQ(store.stream_version("account-1"), 0);
  store.write("account-1", message("a1"));
  store.write("account-2", message("b0"));
  EXPECT_EQ(store.stream_version("account-1"), 1);
  EXPECT_EQ(store.stream_version("account-2"), 0);
  EXPECT_EQ(store.stream_version("account-3"), std::nullopt);
}

TEST_F(StoreTest, ExpectedVersionMinusOneWritesToAnEmptyStreamOnly) {
  Store store(path_);
  EXPECT_EQ(store.write("account-1", message("a0"), -1).position, 0);
  try {
    store.write("account-1", message("a1"), -1);
    FAIL() << "expected a VersionConflict";
  } catch (const VersionConflict& e) {
    EXPECT_EQ(e.stream(), "account-1");
    EXPECT_EQ(e.expected(), -1);
    EXPECT_EQ(e.actual(), 0);
    EXPECT_NE(std::string(e.what()).find("account-1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store.stream_version("account-1"), 0);
}

TEST_F(StoreTest, ExpectedVersionMatchingTheStreamWritesAndAMismatchCarriesTheActualVersion) {
  Store store(path_);
  store.write("account-1", message("a0"));
  store.write("account-1", message("a1"));
  EXPECT_EQ(store.write("account-1", message("a2"), 1).position, 2);
  try {
    store.write("account-1", message("a3"), 1);
    FAIL() << "expected a VersionConflict";
  } catch (const VersionConflict& e) {
    EXPECT_EQ(e.expected(), 1);
    EXPECT_EQ(e.actual(), 2);
  }
  try {
    store.write("account-9", message("z0"), 4);
    FAIL() << "expected a VersionConflict";
  } catch (const VersionConflict& e) {
    EXPECT_EQ(e.expected(), 4);
    EXPECT_EQ(e.actual(), std::nullopt);
  }
  EXPECT_EQ(store.message_count(), 3);
  // A conflict is a StoreError like every refused request.
  EXPECT_THROW(store.write("account-1", message("a3"), 0), StoreError);
}

TEST_F(StoreTest, DuplicateIdIsRefusedAndTheStoreStaysUsable) {
  Store store(path_);
  store.write("account-1", message("same"));
  EXPECT_THROW(store.write("account-2", message("same")), DuplicateId);
  EXPECT_THROW(store.write("account-1", message("same"), 0), DuplicateId);
  EXPECT_EQ(store.stream_version("account-2"), std::nullopt);
  EXPECT_EQ(store.write("account-1", message("next")).position, 1);
  EXPECT_EQ(store.write("account-2", message("other")).global_position, 3);
  EXPECT_EQ(store.message_count(), 3);
}

TEST_F(StoreTest, GetStreamReturnsTheMessagesAsWritten) {
  Store store(path_);
  store.write("account-1", message("a0", "Opened", R"({"owner":"ann"})", R"({"trace":"t1"})"));
  store.write("account-2", message("b0"));
  store.write("account-1", message("a1", "Deposited", R"({"amount":5})"));

  const std::vector<Stored> read = read_stream(store, "account-1");
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, "a0");
  EXPECT_EQ(read[0].stream_name, "account-1");
  EXPECT_EQ(read[0].type, "Opened");
  EXPECT_EQ(read[0].position, 0);
  EXPECT_EQ(read[0].global_position, 1);
  EXPECT_EQ(read[0].data, R"({"owner":"ann"})");
  EXPECT_EQ(read[0].metadata, R"({"trace":"t1"})");
  EXPECT_EQ(read[1].id, "a1");
  EXPECT_EQ(read[1].position, 1);
  EXPECT_EQ(read[1].global_position, 3);
  EXPECT_EQ(read[1].metadata, "");  // none written
  EXPECT_TRUE(read_stream(store, "account-3").empty());
}

TEST_F(StoreTest, TimeIsUtcIso8601WithMicrosecondsSetAtWrite) {
  Store store(path_);
  const std::time_t before = std::time(nullptr);
  store.write("account-1", message("a0"));
  const std::string time = read_stream(store, "account-1").at(0).time;
  ASSERT_EQ(time.size(), 27u) << time;
  std::tm parts{};
  int micros = -1;
  char zone = 0;
  ASSERT_EQ(
      std::sscanf(time.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6d%c", &parts.tm_year, &parts.tm_mon,
                  &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &micros, &zone),
      8)
      << time;
  EXPECT_EQ(zone, 'Z');
  EXPECT_GE(micros, 0);
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  const std::time_t written = timegm(&parts);
  EXPECT_GE(written, before);
  EXPECT_LE(written, std::time(nullptr));
}

TEST_F(StoreTest, GetStreamPagesByPositionAndBatchSize) {
  Store store(path_);
  for (int i = 0; i < 10; ++i) store.write("account-1", message("a" + std::to_string(i)));
  EXPECT_EQ(ids_of(read_stream(store, "account-1", 0, 3)),
            (std::vector<std::string>{"a0", "a1", "a2"}));
  EXPECT_EQ(ids_of(read_stream(store, "account-1", 3, 3)),
            (std::vector<std::string>{"a3", "a4", "a5"}));
  EXPECT_EQ(ids_of(read_stream(store, "account-1", 8, 3)), (std::vector<std::string>{"a8", "a9"}));
  EXPECT_TRUE(read_stream(store, "account-1", 10, 3).empty());
  Collect sink;
  EXPECT_EQ(store.get_stream("account-1", 5, 1000, sink), 5u);
}

TEST_F(StoreTest, BatchSizeAboveTheCapIsLowered) {
  Store store(path_);
  for (std::int64_t i = 0; i <= kMaxBatchSize; ++i) {
    store.write("account-1", message("a" + std::to_string(i)));
  }
  Collect sink;
  EXPECT_EQ(store.get_stream("account-1", 0, kMaxBatchSize * 10, sink),
            static_cast<std::size_t>(kMaxBatchSize));
  CategoryQuery query;
  query.batch_size = kMaxBatchSize + 1;
  EXPECT_EQ(store.get_category("account", query, sink), static_cast<std::size_t>(kMaxBatchSize));
}

TEST_F(StoreTest, GetLastReturnsTheLastMessageOrTheLastOfAType) {
  Store store(path_);
  Collect sink;
  EXPECT_FALSE(store.get_last("account-1", "", sink));
  store.write("account-1", message("a0", "Opened"));
  store.write("account-1", message("a1", "Deposited"));
  store.write("account-1", message("a2", "Deposited"));
  store.write("account-1", message("a3", "Withdrawn"));
  store.write("account-2", message("b0", "Deposited"));

  EXPECT_TRUE(store.get_last("account-1", "", sink));
  EXPECT_TRUE(store.get_last("account-1", "Deposited", sink));
  EXPECT_TRUE(store.get_last("account-1", "Opened", sink));
  EXPECT_FALSE(store.get_last("account-1", "Closed", sink));
  EXPECT_FALSE(store.get_last("account-3", "", sink));
  ASSERT_EQ(sink.messages.size(), 3u);
  EXPECT_EQ(sink.messages[0].id, "a3");
  EXPECT_EQ(sink.messages[0].position, 3);
  EXPECT_EQ(sink.messages[1].id, "a2");
  EXPECT_EQ(sink.messages[2].id, "a0");
}

TEST_F(StoreTest, GetCategoryReturnsItsStreamsInGlobalOrderAndPages) {
  Store store(path_);
  store.write("account-1", message("m1"));
  store.write("order-1", message("o1"));
  store.write("account-2", message("m2"));
  store.write("accounts-1", message("x1"));  // another category sharing a prefix
  store.write("account-1", message("m3"));
  store.write("account-3+x", message("m4"));

  EXPECT_EQ(ids_of(read_category(store, "account")),
            (std::vector<std::string>{"m1", "m2", "m3", "m4"}));
  CategoryQuery query;
  query.batch_size = 2;
  const std::vector<Stored> first = read_category(store, "account", query);
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{"m1", "m2"}));
  query.position = first.back().global_position + 1;
  EXPECT_EQ(ids_of(read_category(store, "account", query)), (std::vector<std::string>{"m3", "m4"}));
  query.position = 0;  // reads as 1
  EXPECT_EQ(read_category(store, "account", query).size(), 2u);
  query.position = 100;
  EXPECT_TRUE(read_category(store, "account", query).empty());
  EXPECT_TRUE(read_category(store, "nothing").empty());
}

TEST_F(StoreTest, ConsumerGroupMembersShareOutTheCategoryByStream) {
  Store store(path_);
  std::map<std::string, std::string> stream_of_id;
  for (int i = 0; i < 300; ++i) {
    const int entity = i % 37;
    // Compound ids go with their cardinal id's stream.
    const std::string stream = "cat-" + std::to_string(entity) + (i % 3 == 0 ? "+abc" : "");
    const std::string id = "m" + std::to_string(i);
    store.write(stream, message(id));
    stream_of_id[id] = stream;
  }
  store.write("other-1", message("not-in-category"));

  std::map<std::string, int> member_of_id;
  std::map<std::string, std::set<int>> members_of_cardinal_id;
  for (int member = 0; member < 3; ++member) {
    CategoryQuery query;
    query.consumer_group_member = member;
    query.consumer_group_size = 3;
    query.batch_size = 7;  // pages through the filter
    for (const Stored& m : read_all(store, "cat", query)) {
      EXPECT_TRUE(member_of_id.emplace(m.id, member).second) << m.id << " read twice";
      members_of_cardinal_id[std::string(cardinal_id_of(m.stream_name))].insert(member);
      EXPECT_EQ(consumer_group_hash(cardinal_id_of(m.stream_name)) % 3,
                static_cast<std::uint64_t>(member));
    }
  }
  EXPECT_EQ(member_of_id.size(), 300u);
  EXPECT_EQ(members_of_cardinal_id.size(), 37u);
  std::set<int> members_used;
  for (const auto& [cardinal_id, members] : members_of_cardinal_id) {
    EXPECT_EQ(members.size(), 1u) << "cat-" << cardinal_id << " is split among members";
    members_used.insert(*members.begin());
  }
  EXPECT_EQ(members_used.size(), 3u);
}

TEST_F(StoreTest, ConsumerGroupBatchIsFilledWithMatchingMessages) {
  Store store(path_);
  // Streams of member 0 of 2 are rare among the first messages, so a batch
  // counted over scanned rows would come back short.
  std::vector<std::string> member0;
  std::vector<std::string> member1;
  for (int i = 0; member0.size() < 5 || member1.size() < 50; ++i) {
    const std::string stream = "cat-" + std::to_string(i);
    if (consumer_group_hash(cardinal_id_of(stream)) % 2 == 0) {
      if (member0.size() < 5) member0.push_back(stream);
    } else if (member1.size() < 50) {
      member1.push_back(stream);
    }
  }
  for (const std::string& stream : member1) store.write(stream, message(stream + "/0"));
  for (const std::string& stream : member0) store.write(stream, message(stream + "/0"));
  CategoryQuery query;
  query.consumer_group_member = 0;
  query.consumer_group_size = 2;
  query.batch_size = 4;
  Collect sink;
  EXPECT_EQ(store.get_category("cat", query, sink), 4u);
  EXPECT_EQ(sink.messages.front().stream_name, member0[0]);
  query.consumer_group_size = 1;  // one member takes everything
  EXPECT_EQ(read_all(store, "cat", query).size(), 55u);
}

TEST_F(StoreTest, CorrelationKeepsMessagesCorrelatedToTheCategory) {
  Store store(path_);
  store.write("account-1", message("m1", "E", "{}", R"({"correlationStreamName":"order-1"})"));
  store.write("account-1", message("m2", "E", "{}", R"({"correlationStreamName":"orders-1"})"));
  store.write("account-2", message("m3", "E", "{}", R"({"correlationStreamName":"order"})"));
  store.write("account-2", message("m4"));
  store.write("account-3", message("m5", "E", "{}", R"({"other":"order-1"})"));
  store.write("account-3", message("m6", "E", "{}", "not json"));
  store.write("account-4", message("m7", "E", "{}", R"({"correlationStreamName":"order-9+x"})"));
  store.write("account-4", message("m8", "E", "{}", R"({"correlationStreamName":7})"));
  store.write("invoice-1", message("m9", "E", "{}", R"({"correlationStreamName":"order-1"})"));

  CategoryQuery query;
  query.correlation = "order";
  EXPECT_EQ(ids_of(read_category(store, "account", query)),
            (std::vector<std::string>{"m1", "m3", "m7"}));
  query.correlation = "orders";
  EXPECT_EQ(ids_of(read_category(store, "account", query)), (std::vector<std::string>{"m2"}));
  query.batch_size = 1;
  query.correlation = "order";
  query.position = 2;
  EXPECT_EQ(ids_of(read_category(store, "account", query)), (std::vector<std::string>{"m3"}));
}

TEST_F(StoreTest, InvalidArgumentsAreRefusedWithAMessageThatSaysWhatToDo) {
  Store store(path_);
  Collect sink;
  try {
    store.get_stream("account", 0, 10, sink);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("stream_name 'account' is a category"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("get_category"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.write("account", message("x")), InvalidArgument);
  EXPECT_THROW(store.write("-1", message("x")), InvalidArgument);
  EXPECT_THROW(store.get_last("account", "", sink), InvalidArgument);
  EXPECT_THROW(store.stream_version("account"), InvalidArgument);
  EXPECT_THROW(store.write("account-1", message("")), InvalidArgument);
  EXPECT_THROW(store.write("account-1", message("x", "")), InvalidArgument);
  EXPECT_THROW(store.write("account-1", message("x"), -2), InvalidArgument);
  EXPECT_THROW(store.get_stream("account-1", -1, 10, sink), InvalidArgument);
  EXPECT_THROW(store.get_stream("account-1", 0, 0, sink), InvalidArgument);

  try {
    store.get_category("account-1", {}, sink);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'account-1' is a stream name"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store.get_category("", {}, sink), InvalidArgument);
  const auto refused = [&](auto change) {
    CategoryQuery query;
    change(query);
    EXPECT_THROW(store.get_category("account", query, sink), InvalidArgument);
  };
  refused([](CategoryQuery& q) { q.consumer_group_member = 0; });
  refused([](CategoryQuery& q) { q.consumer_group_size = 2; });
  refused([](CategoryQuery& q) {
    q.consumer_group_member = 0;
    q.consumer_group_size = 0;
  });
  refused([](CategoryQuery& q) {
    q.consumer_group_member = 2;
    q.consumer_group_size = 2;
  });
  refused([](CategoryQuery& q) {
    q.consumer_group_member = -1;
    q.consumer_group_size = 2;
  });
  refused([](CategoryQuery& q) { q.batch_size = 0; });
  refused([](CategoryQuery& q) { q.position = -1; });
  refused([](CategoryQuery& q) { q.correlation = "order-1"; });
  EXPECT_TRUE(sink.messages.empty());
  EXPECT_EQ(store.message_count(), 0);
}

TEST_F(StoreTest, AThrowingSinkLeavesTheStoreUsable) {
  Store store(path_);
  store.write("account-1", message("a0"));
  store.write("account-1", message("a1"));
  Throwing throwing;
  EXPECT_THROW(store.get_stream("account-1", 0, 10, throwing), std::runtime_error);
  EXPECT_THROW(store.get_category("account", {}, throwing), std::runtime_error);
  EXPECT_THROW(store.get_last("account-1", "", throwing), std::runtime_error);
  // The abandoned reads hold no snapshot: a new write is visible.
  store.write("account-1", message("a2"));
  EXPECT_EQ(read_stream(store, "account-1").size(), 3u);
}

TEST_F(StoreTest, ReopeningAnExistingFileKeepsEverything) {
  {
    Store store(path_);
    store.write("account-1", message("a0", "Opened", R"({"x":1})", R"({"y":2})"));
    store.write("account-1", message("a1"));
    store.write("order-1", message("o0"));
  }
  Store store(path_);
  EXPECT_EQ(store.message_count(), 3);
  EXPECT_EQ(store.stream_version("account-1"), 1);
  const std::vector<Stored> read = read_stream(store, "account-1");
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].data, R"({"x":1})");
  EXPECT_EQ(read[0].metadata, R"({"y":2})");
  EXPECT_EQ(store.write("account-1", message("a2"), 1).global_position, 4);
  EXPECT_THROW(store.write("order-2", message("o0")), DuplicateId);
}

// Records on which thread and in which order the store finished it.
class RecordedWrite final : public AsyncWrite {
 public:
  void on_written() noexcept override {
    thread = std::this_thread::get_id();
    done.fetch_add(1);
    done.notify_all();
  }
  std::thread::id thread;
  std::atomic<int> done{0};
};

TEST_F(StoreTest, SubmittedWritesCompleteOnTheStoresThreadInOrderWithTheirOwnOutcome) {
  Store store(path_);
  store.write("account-1", message("taken"));
  constexpr int kWrites = 200;
  std::vector<std::string> ids;
  for (int i = 0; i < kWrites; ++i) ids.push_back("w" + std::to_string(i));
  std::vector<RecordedWrite> writes(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    RecordedWrite& w = writes[static_cast<std::size_t>(i)];
    w.stream_name = i % 2 == 0 ? "account-1" : "account-2";
    // Every 50th reuses an id: that write fails alone, the rest go on.
    w.message = message(i % 50 == 49 ? std::string_view("taken")
                                     : std::string_view(ids[static_cast<std::size_t>(i)]));
    store.submit(w);  // returns at once: nothing is waited for here
  }
  for (RecordedWrite& w : writes) w.done.wait(0);
  std::int64_t last_global = 1;
  std::map<std::string_view, std::int64_t> next_position{{"account-1", 1}, {"account-2", 0}};
  for (int i = 0; i < kWrites; ++i) {
    const RecordedWrite& w = writes[static_cast<std::size_t>(i)];
    EXPECT_EQ(w.done.load(), 1) << i;
    EXPECT_NE(w.thread, std::this_thread::get_id()) << i;
    if (i % 50 == 49) {
      ASSERT_TRUE(w.error) << i;
      EXPECT_THROW(std::rethrow_exception(w.error), DuplicateId);
      continue;
    }
    ASSERT_FALSE(w.error) << i;
    // Committed in the order submitted, within streams and across them.
    EXPECT_EQ(w.result.global_position, last_global + 1) << i;
    EXPECT_EQ(w.result.position, next_position[w.stream_name]++) << i;
    last_global = w.result.global_position;
  }
  EXPECT_EQ(store.message_count(), last_global);
}

TEST_F(StoreTest, SubmitRefusesABadWriteAtOnceAndNeverCompletesIt) {
  Store store(path_);
  RecordedWrite category;
  category.stream_name = "account";
  category.message = message("c");
  EXPECT_THROW(store.submit(category), InvalidArgument);
  RecordedWrite no_type;
  no_type.stream_name = "account-1";
  no_type.message = message("t", "");
  EXPECT_THROW(store.submit(no_type), InvalidArgument);
  store.write("account-1", message("after"));  // the committer has passed them by
  EXPECT_EQ(category.done.load(), 0);
  EXPECT_EQ(no_type.done.load(), 0);
  EXPECT_EQ(store.message_count(), 1);
}

TEST_F(StoreTest, ClosingTheStoreFinishesEverySubmittedWrite) {
  constexpr int kWrites = 300;
  std::vector<std::string> ids;
  for (int i = 0; i < kWrites; ++i) ids.push_back("c" + std::to_string(i));
  std::vector<RecordedWrite> writes(kWrites);
  {
    Store store(path_);
    for (int i = 0; i < kWrites; ++i) {
      RecordedWrite& w = writes[static_cast<std::size_t>(i)];
      w.stream_name = "account-9";
      w.message = message(ids[static_cast<std::size_t>(i)]);
      store.submit(w);
    }
  }  // the destructor, with writes still queued
  for (const RecordedWrite& w : writes) {
    EXPECT_EQ(w.done.load(), 1);
    EXPECT_FALSE(w.error);
  }
  Store reopened(path_);
  EXPECT_EQ(reopened.message_count(), kWrites);
  EXPECT_EQ(reopened.stream_version("account-9"), kWrites - 1);
}

TEST_F(StoreTest, EachCommitReachesTheWalInOneWriteAndIsReadableAtOnce) {
  Store store(path_);
  store.write("account-1", message("first"));
  const WalBatchingCounts before = wal_batching_counts();
  constexpr int kCommits = 100;
  for (int i = 0; i < kCommits; ++i) {
    const std::string id = "one-" + std::to_string(i);
    store.write("account-" + std::to_string(i % 7), message(id));
    // Read on another connection, through the default VFS: the commit is in
    // the file, not only in the writer's buffer.
    ASSERT_EQ(store.stream_version("account-" + std::to_string(i % 7)), i / 7 + (i % 7 == 1)) << i;
  }
  const WalBatchingCounts after = wal_batching_counts();
  const std::uint64_t requested = after.requested - before.requested;
  const std::uint64_t issued = after.issued - before.issued;
  // SQLite writes a header and a page per frame and touches at least the
  // table and three indexes per insert: >= 8 writes asked per commit, one made.
  EXPECT_GE(requested, 8u * kCommits);
  EXPECT_LE(issued, static_cast<std::uint64_t>(kCommits));
  EXPECT_GE(issued, static_cast<std::uint64_t>(kCommits) / 2);
}

TEST_F(StoreTest, FullDurabilityStoresTheSameWay) {
  StoreOptions options;
  options.durability = Durability::full;
  {
    Store store(path_, options);
    store.write("account-1", message("a0"));
    store.write("account-1", message("a1"), 0);
  }
  Store store(path_, options);
  EXPECT_EQ(ids_of(read_stream(store, "account-1")), (std::vector<std::string>{"a0", "a1"}));
}

TEST_F(StoreTest, AFileThatIsNotADatabaseIsAClearError) {
  std::ofstream(path_) << "these are not the pages you are looking for\n" << std::string(5000, 'x');
  try {
    Store store(path_);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path_), std::string::npos) << what;
    EXPECT_NE(what.find("not a database"), std::string::npos) << what;
  }
}

void run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST_F(StoreTest, AnotherSqliteDatabaseIsRefusedAndLeftAsItWas) {
  run_sql(path_, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
  try {
    Store store(path_);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not an event store"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));  // not converted to WAL
}

TEST_F(StoreTest, AnotherSchemaVersionIsRefused) {
  { Store store(path_); }
  run_sql(path_, "PRAGMA user_version = 99");
  try {
    Store store(path_);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, TheWalIsCheckpointedAndReusedUnderSteadyWrites) {
  Store store(path_);
  // Some 4 WAL pages of 4 KiB per write here: without checkpoints that
  // restart it, the WAL would pass 250 MiB.
  constexpr int kWrites = 16000;
  for (int i = 0; i < kWrites; ++i) {
    store.write("account-" + std::to_string(i % 1000), message("m" + std::to_string(i)));
  }
  EXPECT_LT(std::filesystem::file_size(path_ + "-wal"), 128u << 20);
  EXPECT_EQ(store.message_count(), kWrites);
  // Each restart of the WAL followed a checkpoint that ended holding writes.
  const CheckpointStats checkpoints = store.checkpoint_stats();
  EXPECT_GE(checkpoints.checkpoints, 1u);
  EXPECT_GT(checkpoints.writes_held_seconds, 0);
  EXPECT_GT(checkpoints.longest_hold_seconds, 0);
  EXPECT_LE(checkpoints.longest_hold_seconds, checkpoints.writes_held_seconds);
}

TEST_F(StoreTest, ConcurrentWritersLoseNothingAndConflictOnlyForReal) {
  Store store(path_);
  constexpr int kWriters = 4;
  constexpr int kWritesPerWriter = 150;
  const std::vector<std::string> shared = {"shared-0", "shared-1"};

  std::atomic<int> unreal_conflicts{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> bad_reads{0};
  std::atomic<bool> writing{true};
  // Per writer: stream -> (position -> id) of the writes it had acknowledged.
  std::vector<std::map<std::string, std::map<std::int64_t, std::string>>> acked(kWriters);

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kWritesPerWriter; ++i) {
        const std::string stream =
            i % 3 == 2 ? "own-" + std::to_string(w) : shared[static_cast<std::size_t>(i % 2)];
        const std::string id = std::to_string(w) + "/" + std::to_string(i);
        for (;;) {
          const std::optional<std::int64_t> seen = store.stream_version(stream);
          try {
            const WriteResult result = store.write(stream, message(id), seen.value_or(-1));
            acked[static_cast<std::size_t>(w)][stream][result.position] = id;
            break;
          } catch (const VersionConflict& e) {
            ++conflicts;
            // Versions only grow, so a real conflict saw an older one.
            if (!e.actual() || *e.actual() <= e.expected()) ++unreal_conflicts;
          }
        }
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (writing) {
        for (const std::string& stream : shared) {
          const std::vector<Stored> read = read_stream(store, stream);
          for (std::size_t i = 0; i < read.size(); ++i) {
            if (read[i].position != static_cast<std::int64_t>(i)) ++bad_reads;
            if (i > 0 && read[i].global_position <= read[i - 1].global_position) ++bad_reads;
          }
        }
        const std::vector<Stored> category = read_category(store, "shared");
        for (std::size_t i = 1; i < category.size(); ++i) {
          if (category[i].global_position <= category[i - 1].global_position) ++bad_reads;
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<std::size_t>(w)].join();
  writing = false;
  for (std::size_t t = kWriters; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(unreal_conflicts, 0);
  EXPECT_EQ(bad_reads, 0);
  EXPECT_EQ(store.message_count(), kWriters * kWritesPerWriter);
  std::map<std::string, std::map<std::int64_t, std::string>> expected;
  for (const auto& streams : acked) {
    for (const auto& [stream, writes] : streams) {
      for (const auto& [position, id] : writes) {
        EXPECT_TRUE(expected[stream].emplace(position, id).second)
            << stream << " position " << position << " acknowledged twice";
      }
    }
  }
  for (const auto& [stream, writes] : expected) {
    const std::vector<Stored> read = read_stream(store, stream);
    ASSERT_EQ(read.size(), writes.size()) << stream;
    for (std::size_t i = 0; i < read.size(); ++i) {
      EXPECT_EQ(read[i].position, static_cast<std::int64_t>(i)) << stream;
      EXPECT_EQ(read[i].id, writes.at(read[i].position)) << stream;
    }
  }
  RecordProperty("conflicts", conflicts.load());
}

TEST_F(StoreTest, ConcurrentWritesOfOneIdStoreItOnce) {
  Store store(path_);
  std::atomic<int> stored{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        try {
          store.write("account-" + std::to_string(t), message("id-" + std::to_string(i)));
          ++stored;
        } catch (const DuplicateId&) {
          ++duplicates;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stored, 40);
  EXPECT_EQ(duplicates, 5 * 40);
  EXPECT_EQ(store.message_count(), 40);
  EXPECT_EQ(read_all(store, "account").size(), 40u);
}

// Runs in a forked child: writes as fast as it can, reporting each
// acknowledged id on `fd`, until killed.
[[noreturn]] void write_until_killed(const std::string& path, int fd) {
  try {
    Store store(path);
    for (int i = 0;; ++i) {
      const std::string id = "id-" + std::to_string(i);
      store.write("durable-" + std::to_string(i % 7), message(id, "E", R"({"n":1})"));
      const std::string line = id + "\n";
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    }
  } catch (...) {
    _exit(4);
  }
}

TEST_F(StoreTest, AcknowledgedWritesSurviveSigkill) {
  // gtest runs tests one at a time and every Store above has joined its
  // threads, so the process has one thread here and fork() is safe.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    write_until_killed(path_, fds[1]);
  }
  ::close(fds[1]);

  // Enough acknowledged writes that the WAL is checkpointed while writing.
  constexpr int kAcksBeforeKill = 6000;
  std::set<std::string> acked;
  std::string pending;
  char buffer[4096];
  bool killed = false;
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // the child is gone and the pipe drained
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      acked.insert(pending.substr(0, end));
      pending.erase(0, end + 1);
    }
    if (!killed && acked.size() >= kAcksBeforeKill) {
      ASSERT_EQ(::kill(child, SIGKILL), 0);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own, status " << status;
  ASSERT_GE(acked.size(), static_cast<std::size_t>(kAcksBeforeKill));

  Store store(path_);
  std::set<std::string> stored;
  for (const Stored& m : read_all(store, "durable")) stored.insert(m.id);
  for (const std::string& id : acked) EXPECT_TRUE(stored.count(id)) << id << " was lost";
  for (int s = 0; s < 7; ++s) {
    const std::vector<Stored> read =
        read_stream(store, "durable-" + std::to_string(s), 0, kMaxBatchSize);
    for (std::size_t i = 0; i < read.size(); ++i) {
      ASSERT_EQ(read[i].position, static_cast<std::int64_t>(i));
    }
  }
  // The reopened store takes writes where the killed one stopped.
  const std::int64_t count = store.message_count();
  EXPECT_EQ(store.write("durable-0", message("after")).global_position, count + 1);
}

}  // namespace
}  // namespace eventstore
