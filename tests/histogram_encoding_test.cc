// The V2 compressed encoding: round trips, a histogram HdrHistogram (Java)
// encoded, and hostile input that must fail with HistogramFormatError.
#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "perflab/histogram.hpp"

namespace perflab {
namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// Encoded by HdrHistogram 2.1.11 (Java): Histogram(1, 3600000000L, 3) with
// v * 1000 recorded v times for v in 1..100, plus 0, 123456789 and 7 x 5000000.
constexpr const char* kJavaEncoded =
    "HISTFAAAARp4nC2I3yuEURRFvz3fYJKGkOTMkSRJSJLkuEiSJkmSNEmSJCRJcl1JmiRJMkiS0OR3kiRJkiQvHrz4D7ybp/"
    "uKxm61Vu1AOJLhOEhw4nP/iz99RqJO/Xf88Lyn/uLd9CV+JfkOvMkxNyXm+mNu2rEn3SLTIssi2yLHImCRa5F3inxToAtN"
    "kS42JbrMlOsKU6mrTLWuMbW6zjSMNEqTNKsWCUqrtKl26ZBO6VLdEpIe6VV90i8DMqiGZFhGZUyNy4RMypSalhmZlTk1D1"
    "lAaRi0CF4CL4NWwKvgNdA6eAO0Bd4G74B2wXvgfdAhOAo6Ap+Az0AX4EvwFegafAO6Bd+B70EP4EfwE+gZ/AJ6Bb/hI+Q/"
    "D3p+AM9pUCQ=";
// Histogram(1000, 10000000000L, 2) with 1234567 once and 999 three times.
constexpr const char* kJavaEncodedCoarse =
    "HISTFAAAACV4nJNpmSzMwMDAygABTBCK+QWIHcL9hMH+A1SGbTkXEwBxIQVm";

std::vector<std::uint8_t> be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
void append(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& more) {
  out.insert(out.end(), more.begin(), more.end());
}
void append64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  append(out, be32(static_cast<std::uint32_t>(v >> 32)));
  append(out, be32(static_cast<std::uint32_t>(v)));
}

// Builds a compressed encoding around an arbitrary header and payload, to
// reach the decoder's checks behind a valid zlib stream. The header announces
// payload.size() bytes unless announced_length says otherwise.
std::vector<std::uint8_t> craft(std::int32_t figures, std::int64_t lowest, std::int64_t highest,
                                const std::vector<std::uint8_t>& payload,
                                std::int32_t normalizing_offset = 0,
                                std::uint32_t inner_cookie = 0x1c849313,
                                std::optional<std::uint32_t> announced_length = std::nullopt) {
  std::vector<std::uint8_t> raw = be32(inner_cookie);
  append(raw, be32(announced_length.value_or(static_cast<std::uint32_t>(payload.size()))));
  append(raw, be32(static_cast<std::uint32_t>(normalizing_offset)));
  append(raw, be32(static_cast<std::uint32_t>(figures)));
  append64(raw, static_cast<std::uint64_t>(lowest));
  append64(raw, static_cast<std::uint64_t>(highest));
  append64(raw, std::bit_cast<std::uint64_t>(1.0));
  append(raw, payload);
  uLongf length = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> z(length);
  EXPECT_EQ(compress2(z.data(), &length, raw.data(), static_cast<uLong>(raw.size()), 6), Z_OK);
  z.resize(length);
  std::vector<std::uint8_t> out = be32(0x1c849314);
  append(out, be32(static_cast<std::uint32_t>(z.size())));
  append(out, z);
  return out;
}

std::string decode_error(const std::vector<std::uint8_t>& bytes,
                         std::size_t max_counts_length = kDefaultMaxCountsLength) {
  try {
    (void)decode_histogram(bytes, max_counts_length);
  } catch (const HistogramFormatError& e) {
    return e.what();
  }
  return "decoded";
}

std::string decode_base64_error(const std::string& text) {
  try {
    (void)decode_histogram_base64(text);
  } catch (const HistogramFormatError& e) {
    return e.what();
  }
  return "decoded";
}

Histogram sample_histogram() {
  Histogram h(1, 3'600'000'000, 3);
  std::mt19937_64 rng(99);
  std::lognormal_distribution<double> dist(8.0, 1.5);
  for (int i = 0; i < 5000; ++i) h.record_value(static_cast<std::int64_t>(dist(rng)));
  return h;
}

TEST(HistogramEncodingTest, EncodedHistogramDecodesToExactlyTheSameCounts) {
  struct Case {
    std::int64_t lowest, highest;
    int figures;
    std::vector<std::int64_t> values;
  };
  const std::vector<Case> cases = {
      {1, 3'600'000'000, 3, {}},
      {1, 3'600'000'000, 3, {0}},
      {1, 3'600'000'000, 3, {1, 2, 3, 1000, 1'000'000, 3'600'000'000}},
      {1, kInt64Max, 1, {kInt64Max, 0, 17}},
      {1, kInt64Max, 5, {kInt64Max, 1, 2}},
      {1000, 1'000'000'000'000, 2, {5, 999, 1000, 123'456'789'012}},
  };
  for (const Case& c : cases) {
    Histogram h(c.lowest, c.highest, c.figures);
    for (std::int64_t v : c.values) ASSERT_TRUE(h.record_value(v));
    // 1..INT64_MAX at 5 figures is over the default limit: pass exactly what it needs.
    const Histogram decoded = decode_histogram(encode_histogram(h), h.counts_length());
    EXPECT_EQ(decoded, h);
    EXPECT_EQ(decode_histogram_base64(encode_histogram_base64(h), h.counts_length()), h);
  }
  const Histogram h = sample_histogram();
  const Histogram decoded = decode_histogram_base64(encode_histogram_base64(h));
  EXPECT_EQ(decoded, h);
  EXPECT_EQ(decoded.value_at_percentile(99.9), h.value_at_percentile(99.9));
}

TEST(HistogramEncodingTest, LargeCountsSurviveTheNineByteVarint) {
  Histogram h(1, 1'000'000, 3);
  h.record_values(1, std::int64_t{1} << 62);
  h.record_values(2, 127);
  h.record_values(3, 128);
  h.record_values(900'000, (std::int64_t{1} << 56) + 1);
  EXPECT_EQ(decode_histogram(encode_histogram(h)), h);
}

TEST(HistogramEncodingTest, PayloadsSpanningManyChunksDecodeExactly) {
  // Counts of every magnitude give varints of 1 to 9 bytes (and runs of
  // empties), so varints straddle the boundaries of the decoder's 4 KiB chunks.
  Histogram h(1, 1'000'000, 3);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20'000; ++i) {
    // Up to 2^48 (7-byte varints), a few 2^58 (9 bytes); the total stays below 2^63.
    const std::int64_t count = i % 4000 == 0
                                   ? std::int64_t{1} << 58
                                   : static_cast<std::int64_t>(rng() >> (16 + rng() % 48));
    h.record_values(static_cast<std::int64_t>(rng() % 1'000'000), count);
  }
  ASSERT_GT(encode_histogram(h).size(), 4 * 4096u);  // even compressed
  EXPECT_EQ(decode_histogram(encode_histogram(h)), h);
}

TEST(HistogramEncodingTest, HeaderAloneCannotMakeTheDecoderAllocateMoreThanTheLimit) {
  // The largest configuration there is (6160384 counts, 47 MiB) behind an
  // empty payload: a valid empty histogram, but over the default limit.
  const std::vector<std::uint8_t> largest = craft(5, 1, kInt64Max, {});
  EXPECT_LT(largest.size(), 64u);
  EXPECT_NE(decode_error(largest).find("(lowest_discernible_value 1, highest_trackable_value " +
                                       std::to_string(kInt64Max) +
                                       ", 5 significant figures) needs 6160384 counts (47.0 "
                                       "MiB), more than max_counts_length = 1048576 allows"),
            std::string::npos)
      << decode_error(largest);
  // The reviewer's 36-byte bomb: it also announces 9 bytes per count (55 MB)
  // of payload and holds none. Rejected by the limit before the payload is read.
  const std::vector<std::uint8_t> bomb = craft(5, 1, kInt64Max, {}, 0, 0x1c849313, 6'160'384u * 9);
  EXPECT_NE(decode_error(bomb).find("more than max_counts_length"), std::string::npos);
  // With a limit that admits the configuration the announced length still
  // sizes nothing: the stream runs dry in the first 4 KiB chunk.
  EXPECT_NE(decode_error(bomb, 6'160'384)
                .find("truncated: the zlib stream ends 0 bytes into the 55443456-byte counts "
                      "payload"),
            std::string::npos)
      << decode_error(bomb, 6'160'384);
  // A payload cut several chunks in says where.
  const std::vector<std::uint8_t> ones(10'000, 0x02);
  EXPECT_NE(decode_error(craft(3, 1, 1'000'000, ones, 0, 0x1c849313, 10'500))
                .find("ends 10000 bytes into the 10500-byte counts payload"),
            std::string::npos);
  // The limit is inclusive: Histogram(1, 1000, 3) has 2048 counts.
  const std::vector<std::uint8_t> small = craft(3, 1, 1000, {0x02});
  EXPECT_EQ(decode_histogram(small, 2048).total_count(), 1);
  EXPECT_EQ(decode_histogram_base64(encode_histogram_base64(Histogram(1, 1000, 3)), 2048),
            Histogram(1, 1000, 3));
  EXPECT_NE(decode_error(small, 2047).find("needs 2048 counts"), std::string::npos);
  EXPECT_THROW((void)decode_histogram_base64(encode_histogram_base64(Histogram(1, 1000, 3)), 2047),
               HistogramFormatError);
}

TEST(HistogramEncodingTest, EncodingStartsWithTheV2CompressedCookie) {
  const std::vector<std::uint8_t> bytes = encode_histogram(sample_histogram());
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes[0], 0x1c);
  EXPECT_EQ(bytes[1], 0x84);
  EXPECT_EQ(bytes[2], 0x93);
  EXPECT_EQ(bytes[3], 0x14);
  const std::uint32_t length = (std::uint32_t{bytes[4]} << 24) | (std::uint32_t{bytes[5]} << 16) |
                               (std::uint32_t{bytes[6]} << 8) | bytes[7];
  EXPECT_EQ(length, bytes.size() - 8);
  EXPECT_EQ(encode_histogram_base64(sample_histogram()).substr(0, 5), "HISTF");
}

TEST(HistogramEncodingTest, DecodesWhatHdrHistogramJavaEncoded) {
  const Histogram h = decode_histogram_base64(kJavaEncoded);
  EXPECT_EQ(h.lowest_discernible_value(), 1);
  EXPECT_EQ(h.highest_trackable_value(), 3'600'000'000);
  EXPECT_EQ(h.significant_figures(), 3);
  EXPECT_EQ(h.total_count(), 5059);
  for (std::int64_t v = 1; v <= 100; ++v) EXPECT_EQ(h.count_at_value(v * 1000), v) << v;
  EXPECT_EQ(h.count_at_value(0), 1);
  EXPECT_EQ(h.count_at_value(123'456'789), 1);
  EXPECT_EQ(h.count_at_value(5'000'000), 7);
  // Figures Java printed for the same histogram.
  EXPECT_EQ(h.max(), 123'469'823);
  EXPECT_EQ(h.value_at_percentile(99), 100'031);
  EXPECT_NEAR(h.mean(), 98201.20557422415, 1e-6);

  const Histogram coarse = decode_histogram_base64(kJavaEncodedCoarse);
  EXPECT_EQ(coarse.lowest_discernible_value(), 1000);
  EXPECT_EQ(coarse.highest_trackable_value(), 10'000'000'000);
  EXPECT_EQ(coarse.significant_figures(), 2);
  EXPECT_EQ(coarse.total_count(), 4);
  EXPECT_EQ(coarse.count_at_value(999), 3);
  EXPECT_EQ(coarse.count_at_value(1'234'567), 1);
}

TEST(HistogramEncodingTest, TruncatedInputGivesAClearErrorAtEveryLength) {
  const std::vector<std::uint8_t> bytes = encode_histogram(sample_histogram());
  EXPECT_NE(decode_error({}).find("truncated"), std::string::npos);
  EXPECT_NE(decode_error({0x1c, 0x84, 0x93}).find("truncated"), std::string::npos);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    EXPECT_NE(decode_error(prefix).find("truncated"), std::string::npos) << n;
  }
  // A correct outer length around a cut zlib stream.
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.end() - 10);
  const auto length = static_cast<std::uint32_t>(cut.size() - 8);
  for (int k = 0; k < 4; ++k) cut[4 + k] = static_cast<std::uint8_t>(length >> (24 - 8 * k));
  const std::string error = decode_error(cut);
  EXPECT_TRUE(error.find("truncated") != std::string::npos ||
              error.find("zlib") != std::string::npos)
      << error;
}

TEST(HistogramEncodingTest, BadCookieNamesTheCookieFound) {
  std::vector<std::uint8_t> bytes = encode_histogram(sample_histogram());
  bytes[3] = 0x13;  // the uncompressed V2 cookie
  EXPECT_NE(decode_error(bytes).find("bad histogram cookie 0x1c849313: an uncompressed"),
            std::string::npos);
  bytes[3] = 0x12;  // V1 compressed
  EXPECT_NE(decode_error(bytes).find("V0/V1"), std::string::npos);
  bytes[0] = 0xde;
  EXPECT_NE(decode_error(bytes).find("bad histogram cookie 0xde849312"), std::string::npos);
  EXPECT_NE(decode_error(craft(3, 1, 1000, {}, 0, 0x12345678)).find("bad inner histogram cookie"),
            std::string::npos);
}

TEST(HistogramEncodingTest, InvalidHeadersAndPayloadsAreRejectedWithTheReason) {
  EXPECT_NE(decode_error(craft(9, 1, 1000, {})).find("invalid configuration"), std::string::npos);
  EXPECT_NE(decode_error(craft(3, 0, 1000, {})).find("lowest_discernible_value"),
            std::string::npos);
  EXPECT_NE(decode_error(craft(3, 1, 1, {})).find("highest_trackable_value"), std::string::npos);
  EXPECT_NE(decode_error(craft(3, 1, 1000, {}, 4)).find("normalizing index offset 4"),
            std::string::npos);
  EXPECT_EQ(decode_error(craft(3, 1, 1000, {})), "decoded");
  // Zig-zag 0x02 is a count of 1; 0x01 is a run of one empty count (-1).
  EXPECT_EQ(decode_error(craft(3, 1, 1000, {0x02, 0x01, 0x02})), "decoded");
  // A run of 2^31 empty counts skips past a 3072-count array.
  EXPECT_NE(
      decode_error(craft(3, 1, 1000, {0xff, 0xff, 0xff, 0xff, 0x0f})).find("skips past the end"),
      std::string::npos);
  // INT64_MIN as a run length: zig-zag 0xff..ff, nine bytes.
  EXPECT_NE(decode_error(craft(3, 1, 1000, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
                .find("skips past the end"),
            std::string::npos);
  EXPECT_NE(decode_error(craft(3, 1, 1000, {0x02, 0x80})).find("ends inside a varint"),
            std::string::npos);
  // Two counts of 2^62 overflow the total.
  const std::vector<std::uint8_t> huge = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
  std::vector<std::uint8_t> twice = huge;
  twice.insert(twice.end(), huge.begin(), huge.end());
  EXPECT_NE(decode_error(craft(3, 1, 1000, twice)).find("overflow"), std::string::npos);
  // More counts than the configuration has: 1000 with 1 figure has 32 + 16 * k counts.
  std::vector<std::uint8_t> too_many(Histogram(1, 1000, 1).counts_length() + 1, 0x02);
  EXPECT_NE(decode_error(craft(1, 1, 1000, too_many)).find("more counts"), std::string::npos);
  // A payload length far beyond what the counts can need.
  std::vector<std::uint8_t> padded(Histogram(1, 1000, 1).counts_length() * 9 + 1, 0x00);
  EXPECT_NE(decode_error(craft(1, 1, 1000, padded)).find("larger than"), std::string::npos);
}

TEST(HistogramEncodingTest, BadBase64IsRejectedNamingTheCharacter) {
  EXPECT_NE(decode_base64_error("HISTF*AA").find("invalid base64 character '*' at offset 5"),
            std::string::npos);
  EXPECT_NE(decode_base64_error("HIST FAA").find("invalid base64 character byte 0x20"),
            std::string::npos);
  EXPECT_NE(decode_base64_error("HISTF").find("truncated"), std::string::npos);
  EXPECT_NE(decode_base64_error("HI=T").find("invalid base64 character '='"), std::string::npos);
  EXPECT_NE(decode_base64_error("HIST===").find("padding"), std::string::npos);
  EXPECT_NE(decode_base64_error("").find("truncated"), std::string::npos);
  std::string unpadded = encode_histogram_base64(sample_histogram());
  while (unpadded.back() == '=') unpadded.pop_back();
  EXPECT_EQ(decode_base64_error(unpadded), "decoded");
}

TEST(HistogramEncodingTest, GarbageNeverCrashesTheDecoder) {
  const std::vector<std::uint8_t> valid = encode_histogram(sample_histogram());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  // Every single-byte corruption of a valid encoding: an error or some histogram, never UB.
  for (std::size_t i = 0; i < valid.size(); ++i) {
    std::vector<std::uint8_t> corrupted = valid;
    corrupted[i] ^= static_cast<std::uint8_t>(1 + byte(rng) % 255);
    try {
      (void)decode_histogram(corrupted);
    } catch (const HistogramFormatError&) {
    }
  }
  // Random bytes behind a valid cookie, and random text as base64.
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::uint8_t> bytes = {0x1c, 0x84, 0x93, 0x14};
    const int n = byte(rng);
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<std::uint8_t>(byte(rng)));
    EXPECT_THROW((void)decode_histogram(bytes), HistogramFormatError);
    std::string text(static_cast<std::size_t>(n), 'A');
    for (char& c : text) c = static_cast<char>(byte(rng));
    try {
      (void)decode_histogram_base64(text);
    } catch (const HistogramFormatError&) {
    }
  }
}

}  // namespace
}  // namespace perflab
