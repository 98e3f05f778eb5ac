// gzip for allocs.pb.gz: pprof requires the serialized profile gzip-compressed.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "profile_internal.hpp"

namespace perflab::profile_detail {

namespace {

constexpr int kGzipWindowBits = 15 + 16;     // 32 KiB window, gzip header and trailer
constexpr std::size_t kChunk = 1 << 16;      // output grows by this much per step
constexpr std::size_t kMaxInput = 1u << 30;  // zlib counts in 32-bit uInt

// Inflate or deflate state, ended on every path out.
class ZStream {
 public:
  enum class Mode { kDeflate, kInflate };
  explicit ZStream(Mode mode) : mode_(mode) {}
  ~ZStream() {
    if (!initialized_) return;
    if (mode_ == Mode::kDeflate) {
      deflateEnd(&stream_);
    } else {
      inflateEnd(&stream_);
    }
  }
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;

  z_stream* get() { return &stream_; }
  void set_initialized() { initialized_ = true; }

 private:
  Mode mode_;
  z_stream stream_{};
  bool initialized_ = false;
};

// zlib's API takes non-const input pointers but never writes through them.
Bytef* input_bytes(const char* data) { return reinterpret_cast<Bytef*>(const_cast<char*>(data)); }

// Hands zlib the next piece of input once it has used up the last one (zlib
// counts in uInt, so large inputs go in pieces).
void feed_input(z_stream& s, std::string_view data, std::size_t& consumed) {
  if (s.avail_in == 0 && consumed < data.size()) {
    const std::size_t take = std::min(kMaxInput, data.size() - consumed);
    s.next_in = input_bytes(data.data() + consumed);
    s.avail_in = static_cast<uInt>(take);
    consumed += take;
  }
}

// Gives zlib kChunk more bytes of output room; returns the size before.
std::size_t grow_output(z_stream& s, std::string& out) {
  const std::size_t used = out.size();
  out.resize(used + kChunk);
  s.next_out = reinterpret_cast<Bytef*>(out.data() + used);
  s.avail_out = static_cast<uInt>(kChunk);
  return used;
}

}  // namespace

std::string gzip_compress(std::string_view data) {
  ZStream z(ZStream::Mode::kDeflate);
  z_stream* s = z.get();
  if (deflateInit2(s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw ProfileError("gzip: cannot initialize zlib's deflate");
  }
  z.set_initialized();
  std::string out;
  std::size_t consumed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    feed_input(*s, data, consumed);
    const std::size_t used = grow_output(*s, out);
    rc = deflate(s, consumed == data.size() ? Z_FINISH : Z_NO_FLUSH);
    out.resize(used + kChunk - s->avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      throw ProfileError("gzip: deflate failed (zlib error " + std::to_string(rc) + ")");
    }
  }
  return out;
}

std::string gzip_decompress(std::string_view data, const std::string& what, std::size_t limit) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f ||
      static_cast<unsigned char>(data[1]) != 0x8b) {
    throw ProfileError(what + ": not gzip-compressed (no gzip header)");
  }
  ZStream z(ZStream::Mode::kInflate);
  z_stream* s = z.get();
  if (inflateInit2(s, kGzipWindowBits) != Z_OK) {
    throw ProfileError(what + ": cannot initialize zlib's inflate");
  }
  z.set_initialized();
  std::string out;
  std::size_t consumed = 0;
  for (;;) {
    feed_input(*s, data, consumed);
    const std::size_t used = grow_output(*s, out);
    const int rc = inflate(s, Z_NO_FLUSH);
    out.resize(used + kChunk - s->avail_out);
    if (out.size() > limit) {
      throw ProfileError(what + ": inflates to more than " + std::to_string(limit) + " bytes");
    }
    if (rc == Z_STREAM_END) {
      const std::size_t left = s->avail_in + (data.size() - consumed);
      if (left == 0) return out;
      // Concatenated gzip members form one stream (RFC 1952); anything else is not gzip.
      const std::string_view rest = data.substr(data.size() - left);
      if (rest.size() < 2 || static_cast<unsigned char>(rest[0]) != 0x1f ||
          static_cast<unsigned char>(rest[1]) != 0x8b) {
        throw ProfileError(what + ": " + std::to_string(left) +
                           " bytes of trailing data after the gzip stream");
      }
      if (inflateReset(s) != Z_OK) throw ProfileError(what + ": cannot reset zlib's inflate");
      continue;
    }
    if (rc == Z_OK) continue;
    // With fresh output space, no progress means the input ran out mid-stream.
    if (rc == Z_BUF_ERROR && s->avail_in == 0 && consumed == data.size()) {
      throw ProfileError(what + ": truncated gzip stream (the file ends early)");
    }
    const std::string detail = s->msg != nullptr ? s->msg : "zlib error " + std::to_string(rc);
    throw ProfileError(what + ": corrupt gzip stream (" + detail + ")");
  }
}

}  // namespace perflab::profile_detail
