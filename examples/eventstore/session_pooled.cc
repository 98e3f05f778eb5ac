// --pool=on's HTTP session. Per connection, reused across its requests: the
// read buffer, an arena for header fields (request and response), and the
// storage of the parser, the response and its serializer. A request's body
// is read into a pooled, padded buffer; the response body is the pooled
// buffer the RPC layer wrote, sent through a serializer kept in the session
// (http::async_write on a message would allocate one per response).
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>

#include "arena.hpp"
#include "bodies.hpp"
#include "handler_memory.hpp"
#include "metrics.hpp"
#include "routes.hpp"
#include "rpc_pooled.hpp"
#include "session_write.hpp"
#include "sessions.hpp"

namespace eventstore {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Room for a typical request's and response's header fields together.
constexpr std::size_t kArenaBytes = 4096;

class PooledSession final : public Connection {
 public:
  PooledSession(Socket socket, Worker& worker, PooledRpc& rpc)
      : Connection(std::move(socket), worker),
        rpc_(rpc),
        write_(worker, *this),
        arena_(arena_block_, kArenaBytes) {}

  void start() override { read_request(); }

  // A stream.write is done: its reply goes out now, on the worker's thread.
  void on_write_done() {
    perflab::Buffer out = std::move(*pending_out_);
    pending_out_.reset();
    const unsigned status = rpc_.finish_write(write_, out);
    send(std::move(out), status, "application/json", {}, pending_version_,
         pending_keep_alive_ && !stopping(), false);
  }

 private:
  using Allocator = ArenaAllocator<char>;
  using Fields = http::basic_fields<Allocator>;
  using Parser = http::request_parser<PaddedRequestBody, Allocator>;
  using Response = http::response<BufferResponseBody, Fields>;
  using Serializer = http::serializer<false, BufferResponseBody, Fields>;

  bool request_started() const noexcept override {
    return buffer_.size() != 0 || (parser_ && parser_->got_some());
  }

  void read_request() {
    // The previous exchange is over: its fields are gone, the arena is free.
    arena_.reset();
    parser_.emplace(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(Allocator(arena_)));
    parser_->header_limit(limits().max_header);
    parser_->body_limit(limits().max_body);
    // Parse a body that came with the header in the same read at once,
    // saving a second pass through the read operation.
    parser_->eager(true);
    parser_->get().body().pool = &rpc_.request_bodies();
    set_awaiting_request(true);
    expire_in(limits().timeout_seconds);
    http::async_read_header(
        socket_, buffer_, *parser_,
        bind_memory(memory_, [this](beast::error_code ec, std::size_t) { on_header(ec); }));
  }

  void on_header(beast::error_code ec) {
    set_awaiting_request(false);
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    expire_in(limits().timeout_seconds);
    if (expects_continue(parser_->get())) {
      net::async_write(socket_, net::buffer(kContinueResponse.data(), kContinueResponse.size()),
                       bind_memory(memory_, [this](beast::error_code error, std::size_t) {
                         if (error) return end();
                         read_body();
                       }));
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     bind_memory(memory_, [this](beast::error_code ec, std::size_t) {
                       if (ec) return on_read_error(ec);
                       on_request();
                     }));
  }

  void on_read_error(beast::error_code ec) {
    switch (classify_read_error(ec)) {
      case ReadFailure::close:
        return end();
      case ReadFailure::payload_too_large:
        return send_final(payload_too_large_error(limits().max_body));
      case ReadFailure::header_too_large:
        return send_final(header_too_large_error(limits().max_header));
      case ReadFailure::malformed:
        return send_final(malformed_http_error(ec.message()));
    }
  }

  void on_request() {
    auto& request = parser_->get();
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive() && !stopping();
    perflab::Buffer out = rpc_.responses().get(512);
    unsigned status = 200;
    std::string_view content_type = "application/json";
    std::string_view allow;
    try {
      const std::string_view target(request.target().data(), request.target().size());
      switch (route_of(request.method(), target)) {
        case Route::rpc:
          status = rpc_.begin(request.body().buffer, out, write_);
          if (status == kReplyPending) {
            // Nothing is pending on the socket meanwhile: a sweep that closes
            // it leaves this connection to end when the write's reply fails.
            pending_out_.emplace(std::move(out));
            pending_version_ = version;
            pending_keep_alive_ = keep_alive;
            parser_.reset();
            return;
          }
          break;
        case Route::metrics: {
          const std::string text = metrics().openmetrics();
          out.append(text);
          content_type = Metrics::kContentType;
          break;
        }
        case Route::not_found:
          status = rpc_.render_error(not_found_error(target), out);
          break;
        case Route::rpc_method:
          status = rpc_.render_error(method_not_allowed_error("/rpc", "POST"), out);
          allow = "POST";
          break;
        case Route::metrics_method:
          status = rpc_.render_error(method_not_allowed_error("/metrics", "GET"), out);
          allow = "GET";
          break;
      }
    } catch (...) {
      status = rpc_.render_error(error_from_current_exception(), out);
    }
    // The request body goes back to its pool before the response is sent.
    parser_.reset();
    send(std::move(out), status, content_type, allow, version, keep_alive, false);
  }

  void send_final(const RpcError& error) {
    perflab::Buffer out = rpc_.responses().get(512);
    const unsigned status = rpc_.render_error(error, out);
    parser_.reset();
    send(std::move(out), status, "application/json", {}, 11, false, true);
  }

  void send(perflab::Buffer body, unsigned status, std::string_view content_type,
            std::string_view allow, unsigned version, bool keep_alive, bool linger) {
    response_.emplace(std::piecewise_construct, std::make_tuple(std::move(body)),
                      std::make_tuple(Allocator(arena_)));
    response_->result(status);
    response_->version(version);
    response_->set(http::field::content_type, content_type);
    if (!allow.empty()) response_->set(http::field::allow, allow);
    response_->content_length(response_->body().size());
    response_->keep_alive(keep_alive);
    serializer_.emplace(*response_);
    expire_in(limits().timeout_seconds);
    http::async_write(
        socket_, *serializer_,
        bind_memory(memory_, [this, keep_alive, linger](beast::error_code ec, std::size_t) {
          serializer_.reset();
          response_.reset();  // the body goes back to its pool
          after_response(ec, keep_alive, linger);
        }));
  }

  PooledRpc& rpc_;
  SessionWrite<PooledSession> write_;
  std::optional<perflab::Buffer> pending_out_;  // the reply's buffer while write_ is in the store
  unsigned pending_version_ = 11;
  bool pending_keep_alive_ = false;
  HandlerMemory memory_;
  beast::flat_buffer buffer_;
  alignas(std::max_align_t) std::byte arena_block_[kArenaBytes];
  Arena arena_;
  std::optional<Parser> parser_;
  std::optional<Response> response_;
  std::optional<Serializer> serializer_;
};

}  // namespace

void PooledSessions::start_session(Socket socket, Worker& worker) {
  (new PooledSession(std::move(socket), worker, rpc_))->start();
}

}  // namespace eventstore
