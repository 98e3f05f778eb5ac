// Beast body types over perflab::Buffer, for the pooled mode: requests are
// read straight into a pooled buffer with the padding simdjson needs, and
// responses are sent from the pooled buffer the JSON writer filled, without a
// copy into a std::string.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstddef>
#include <cstdint>
#include <perflab/pool.hpp>
#include <utility>

namespace eventstore {

/// Bytes simdjson may read past the end of a JSON text (SIMDJSON_PADDING;
/// rpc_pooled.cc checks that the two agree).
inline constexpr std::size_t kJsonPadding = 64;

/// A request body read into a Buffer taken from `pool` (set `pool` before
/// reading; without one the buffer comes from the heap). The buffer always
/// keeps kJsonPadding bytes of capacity beyond its size.
struct PaddedRequestBody {
  struct value_type {
    perflab::BufferPool* pool = nullptr;
    perflab::Buffer buffer;
  };

  static std::uint64_t size(const value_type& body) noexcept { return body.buffer.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& content_length, boost::beast::error_code& ec) {
      // The parser has checked content_length against its body limit already.
      const std::size_t expected = content_length ? static_cast<std::size_t>(*content_length) : 0;
      if (body_.pool != nullptr && body_.buffer.capacity() == 0)
        body_.buffer = body_.pool->get(expected + kJsonPadding);
      body_.buffer.clear();
      body_.buffer.reserve(expected + kJsonPadding);
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      const std::size_t bytes = boost::asio::buffer_size(buffers);
      body_.buffer.reserve(body_.buffer.size() + bytes + kJsonPadding);
      for (const auto b : boost::beast::buffers_range_ref(buffers))
        body_.buffer.append(b.data(), b.size());
      ec = {};
      return bytes;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

/// A response body that is a Buffer, sent as one piece.
struct BufferResponseBody {
  using value_type = perflab::Buffer;

  static std::uint64_t size(const value_type& body) noexcept { return body.size(); }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body)
        : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (sent_ || body_.empty()) return boost::none;
      sent_ = true;
      return std::make_pair(const_buffers_type(body_.data(), body_.size()), false);
    }

   private:
    const value_type& body_;
    bool sent_ = false;
  };
};

}  // namespace eventstore
