// HdrHistogram's V2 compressed histogram encoding: a big-endian header, then
// the counts as zig-zag LEB128 varints with runs of empty counts collapsed,
// deflated with zlib. Decoding treats its input as hostile.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "base64.hpp"
#include "histogram_access.hpp"
#include "perflab/histogram.hpp"

namespace perflab {
namespace {

using detail::HistogramAccess;

// Cookies: a base identifying version and flavour, or-ed with 0x10 for the
// 8-byte word size HdrHistogram's V2 writers record.
constexpr std::uint32_t kV2EncodingCookie = 0x1c849303u | 0x10u;
constexpr std::uint32_t kV2CompressedEncodingCookie = 0x1c849304u | 0x10u;
constexpr std::uint32_t kV0CompressedCookieBase = 0x1c849309u;
constexpr std::uint32_t kV1CompressedCookieBase = 0x1c849302u;
constexpr std::uint32_t kV2DoubleCompressedCookieBase = 0x0c72124fu;
constexpr std::size_t kCompressedHeaderSize = 8;  // cookie, compressed length
constexpr std::size_t kHeaderSize = 40;           // the uncompressed header
constexpr std::size_t kMaxVarintSize = 9;         // the 9th byte carries 8 bits
// The payload is inflated and parsed this many bytes at a time, so that its
// announced length never sizes an allocation.
constexpr std::size_t kPayloadChunkSize = 4096;

// ---- big-endian fields ----

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint64_t get_u64(const std::uint8_t* p) {
  return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

// ---- zig-zag LEB128, HdrHistogram flavour (at most 9 bytes) ----

void put_varint(std::vector<std::uint8_t>& out, std::int64_t value) {
  // Zig-zag maps small magnitudes of either sign to small unsigned numbers.
  std::uint64_t v =
      (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      out.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));  // bits 56..63 whole, no continuation bit
}

// Reads one varint from [*p, end); false when it runs past end.
bool get_varint(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& value) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    if (p == end) return false;
    const std::uint8_t b = *p++;
    v |= std::uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      value = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
      return true;
    }
  }
  if (p == end) return false;
  v |= std::uint64_t{*p++} << 56;
  value = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  return true;
}

// ---- inflate ----

class Inflater {
 public:
  Inflater(const std::uint8_t* data, std::size_t size) {
    stream_.next_in = const_cast<Bytef*>(data);  // zlib's API is not const-correct
    stream_.avail_in = static_cast<uInt>(size);
    if (inflateInit(&stream_) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Produces exactly n bytes or throws naming why it could not. The n bytes
  // are bytes [offset, offset + n) of a `whole`-byte `what`, for the message.
  void read_exactly(std::uint8_t* out, std::size_t n, const char* what, std::size_t offset,
                    std::size_t whole) {
    stream_.next_out = out;
    stream_.avail_out = static_cast<uInt>(n);
    while (stream_.avail_out > 0) {
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_OK || (rc == Z_STREAM_END && stream_.avail_out == 0)) continue;
      if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) {
        throw HistogramFormatError("compressed histogram is truncated: the zlib stream ends " +
                                   std::to_string(offset + n - stream_.avail_out) +
                                   " bytes into the " + std::to_string(whole) + "-byte " + what);
      }
      if (rc == Z_MEM_ERROR) throw std::bad_alloc();
      throw HistogramFormatError(std::string("compressed histogram: zlib error in the ") + what +
                                 ": " + (stream_.msg != nullptr ? stream_.msg : "invalid data"));
    }
  }

 private:
  z_stream stream_{};
};

std::string hex32(std::uint32_t v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", v);
  return buffer;
}

[[noreturn]] void throw_bad_cookie(std::uint32_t cookie) {
  const std::uint32_t base = cookie & ~0xf0u;
  std::string why;
  if (cookie == kV2EncodingCookie) {
    why = "an uncompressed V2 encoding; only the compressed form (as in .hlog files) is read";
  } else if (base == kV0CompressedCookieBase || base == kV1CompressedCookieBase) {
    why = "a V0/V1 compressed encoding (pre-2.1 HdrHistogram), which is not supported";
  } else if (base == kV2DoubleCompressedCookieBase) {
    why = "a DoubleHistogram encoding, which is not supported";
  } else {
    why = "expected " + hex32(kV2CompressedEncodingCookie);
  }
  throw HistogramFormatError("bad histogram cookie " + hex32(cookie) + ": " + why);
}

// One non-empty count of a payload. Indexes fit 32 bits: no configuration has
// more than about 6.2 million counts.
struct DecodedCount {
  std::uint32_t index;
  std::int64_t count;
};

// The non-empty counts of a payload, checked against a counts array of
// `counts_length` before any such array exists. Memory grows with the bytes
// the zlib stream really holds (at most one entry per byte), never with the
// lengths the header announces.
struct DecodedPayload {
  std::vector<DecodedCount> counts;
  std::int64_t total = 0;
};

DecodedPayload decode_payload(Inflater& inflater, std::size_t payload_length,
                              std::size_t counts_length) {
  DecodedPayload decoded;
  // A varint cut by the end of a chunk is moved to the front of the next one;
  // it is at most kMaxVarintSize - 1 bytes.
  std::uint8_t chunk[kPayloadChunkSize + kMaxVarintSize];
  std::size_t carried = 0;
  std::size_t inflated = 0;
  std::size_t index = 0;
  while (inflated < payload_length) {
    const std::size_t n = std::min(kPayloadChunkSize, payload_length - inflated);
    inflater.read_exactly(chunk + carried, n, "counts payload", inflated, payload_length);
    inflated += n;
    const std::uint8_t* p = chunk;
    const std::uint8_t* const end = chunk + carried + n;
    carried = 0;
    while (p != end) {
      const std::uint8_t* const varint_start = p;
      std::int64_t value = 0;
      if (!get_varint(p, end, value)) {
        if (inflated == payload_length) {
          throw HistogramFormatError("histogram payload ends inside a varint at count index " +
                                     std::to_string(index));
        }
        carried = static_cast<std::size_t>(end - varint_start);
        std::memmove(chunk, varint_start, carried);
        break;
      }
      if (value < 0) {
        // A run of -value empty counts; -INT64_MIN does not exist, so reject it first.
        if (value == std::numeric_limits<std::int64_t>::min() ||
            static_cast<std::uint64_t>(-value) > counts_length - index) {
          throw HistogramFormatError("histogram payload skips past the end of its " +
                                     std::to_string(counts_length) + " counts at index " +
                                     std::to_string(index));
        }
        index += static_cast<std::size_t>(-value);
        continue;
      }
      if (index >= counts_length) {
        throw HistogramFormatError("histogram payload has more counts than the " +
                                   std::to_string(counts_length) + " its configuration allows");
      }
      if (value != 0) {
        if (__builtin_add_overflow(decoded.total, value, &decoded.total)) {
          throw HistogramFormatError("histogram counts overflow a 64-bit total at index " +
                                     std::to_string(index));
        }
        decoded.counts.push_back({static_cast<std::uint32_t>(index), value});
      }
      ++index;
    }
  }
  return decoded;
}

std::string mebibytes(std::size_t counts_length) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MiB",
                static_cast<double>(counts_length) * 8.0 / (1024.0 * 1024.0));
  return buffer;
}

}  // namespace

std::vector<std::uint8_t> encode_histogram(const Histogram& histogram) {
  const std::span<const std::int64_t> counts = HistogramAccess::counts(histogram);
  const auto last =
      std::find_if(counts.rbegin(), counts.rend(), [](std::int64_t c) { return c != 0; });
  const auto counts_limit = static_cast<std::size_t>(counts.rend() - last);

  std::vector<std::uint8_t> raw;
  raw.reserve(kHeaderSize + counts_limit * 2);
  put_u32(raw, kV2EncodingCookie);
  put_u32(raw, 0);  // payload length, patched below
  put_u32(raw, 0);  // normalizing index offset: we never shift
  put_u32(raw, static_cast<std::uint32_t>(histogram.significant_figures()));
  put_u64(raw, static_cast<std::uint64_t>(histogram.lowest_discernible_value()));
  put_u64(raw, static_cast<std::uint64_t>(histogram.highest_trackable_value()));
  put_u64(raw, std::bit_cast<std::uint64_t>(1.0));  // integer-to-double conversion ratio
  for (std::size_t i = 0; i < counts_limit;) {
    if (counts[i] != 0) {
      put_varint(raw, counts[i++]);
      continue;
    }
    std::size_t run = 1;
    while (i + run < counts_limit && counts[i + run] == 0) ++run;
    put_varint(raw, run == 1 ? 0 : -static_cast<std::int64_t>(run));
    i += run;
  }
  const auto payload_length = static_cast<std::uint32_t>(raw.size() - kHeaderSize);
  for (int k = 0; k < 4; ++k)
    raw[4 + k] = static_cast<std::uint8_t>(payload_length >> (24 - 8 * k));

  uLongf compressed_length = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> out(kCompressedHeaderSize + compressed_length);
  const int rc = compress2(out.data() + kCompressedHeaderSize, &compressed_length, raw.data(),
                           static_cast<uLong>(raw.size()), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) throw std::bad_alloc();  // with a compressBound() buffer only memory can fail
  out.resize(kCompressedHeaderSize + compressed_length);
  std::vector<std::uint8_t> header;
  put_u32(header, kV2CompressedEncodingCookie);
  put_u32(header, static_cast<std::uint32_t>(compressed_length));
  std::copy(header.begin(), header.end(), out.begin());
  return out;
}

std::string encode_histogram_base64(const Histogram& histogram) {
  return detail::base64_encode(encode_histogram(histogram));
}

Histogram decode_histogram(std::span<const std::uint8_t> bytes, std::size_t max_counts_length) {
  if (bytes.size() < kCompressedHeaderSize) {
    throw HistogramFormatError("compressed histogram is truncated: " +
                               std::to_string(bytes.size()) + " bytes, the header alone is 8");
  }
  const std::uint32_t cookie = get_u32(bytes.data());
  if (cookie != kV2CompressedEncodingCookie) throw_bad_cookie(cookie);
  const std::uint32_t compressed_length = get_u32(bytes.data() + 4);
  if (compressed_length > bytes.size() - kCompressedHeaderSize) {
    throw HistogramFormatError("compressed histogram is truncated: header announces " +
                               std::to_string(compressed_length) + " compressed bytes, " +
                               std::to_string(bytes.size() - kCompressedHeaderSize) +
                               " are present");
  }

  Inflater inflater(bytes.data() + kCompressedHeaderSize, compressed_length);
  std::uint8_t header[kHeaderSize];
  inflater.read_exactly(header, kHeaderSize, "histogram header", 0, kHeaderSize);
  const std::uint32_t inner_cookie = get_u32(header);
  if (inner_cookie != kV2EncodingCookie) {
    throw HistogramFormatError("bad inner histogram cookie " + hex32(inner_cookie) +
                               " in the compressed data: expected " + hex32(kV2EncodingCookie));
  }
  const std::uint32_t payload_length = get_u32(header + 4);
  const auto normalizing_offset = static_cast<std::int32_t>(get_u32(header + 8));
  const auto significant_figures = static_cast<std::int32_t>(get_u32(header + 12));
  const auto lowest = static_cast<std::int64_t>(get_u64(header + 16));
  const auto highest = static_cast<std::int64_t>(get_u64(header + 24));
  if (normalizing_offset != 0) {
    throw HistogramFormatError("histogram has normalizing index offset " +
                               std::to_string(normalizing_offset) +
                               " (a shifted histogram), which is not supported");
  }

  // The header chooses the size of the counts array: check it against the
  // caller's limit before anything is allocated.
  std::size_t counts_length = 0;
  try {
    counts_length = HistogramAccess::counts_length_for(lowest, highest, significant_figures);
  } catch (const std::invalid_argument& e) {
    throw HistogramFormatError(std::string("histogram header has an invalid configuration: ") +
                               e.what());
  }
  if (counts_length > max_counts_length) {
    throw HistogramFormatError(
        "histogram configuration (lowest_discernible_value " + std::to_string(lowest) +
        ", highest_trackable_value " + std::to_string(highest) + ", " +
        std::to_string(significant_figures) + " significant figures) needs " +
        std::to_string(counts_length) + " counts (" + mebibytes(counts_length) +
        "), more than max_counts_length = " + std::to_string(max_counts_length) +
        " allows; pass a larger limit to decode it");
  }
  if (payload_length > counts_length * kMaxVarintSize) {
    throw HistogramFormatError("histogram payload of " + std::to_string(payload_length) +
                               " bytes is larger than " + std::to_string(counts_length) +
                               " counts can encode to");
  }

  // Only a payload that decoded and checked out gets its counts array.
  const DecodedPayload payload = decode_payload(inflater, payload_length, counts_length);
  Histogram histogram(lowest, highest, significant_figures);
  const std::span<std::int64_t> counts = HistogramAccess::counts(histogram);
  for (const DecodedCount& c : payload.counts) counts[c.index] = c.count;
  HistogramAccess::set_total_count(histogram, payload.total);
  return histogram;
}

Histogram decode_histogram_base64(std::string_view base64, std::size_t max_counts_length) {
  std::string error;
  const std::optional<std::vector<std::uint8_t>> bytes = detail::base64_decode(base64, error);
  if (!bytes) throw HistogramFormatError(error);
  return decode_histogram(*bytes, max_counts_length);
}

}  // namespace perflab
