// --pool=off's HTTP session, written as Beast's examples write one: a parser
// emplaced per request, the request released into a
// request<string_body>, a response<string_body> made per request and kept
// alive by a shared_ptr in the write's handler.
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "metrics.hpp"
#include "routes.hpp"
#include "rpc_plain.hpp"
#include "session_write.hpp"
#include "sessions.hpp"

namespace eventstore {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

class PlainSession final : public Connection {
 public:
  PlainSession(Socket socket, Worker& worker, PlainRpc& rpc)
      : Connection(std::move(socket), worker), rpc_(rpc), write_(worker, *this) {}

  void start() override { read_request(); }

  // A stream.write is done: its reply goes out now, on the worker's thread.
  void on_write_done() {
    std::shared_ptr<Response> response = std::move(pending_response_);
    std::string body;
    response->result(rpc_.finish_write(write_, body));
    response->set(http::field::content_type, "application/json");
    response->body() = std::move(body);
    send(std::move(response), pending_keep_alive_ && !stopping(), false);
  }

 private:
  using Response = http::response<http::string_body>;

  bool request_started() const noexcept override {
    return buffer_.size() != 0 || (parser_ && parser_->got_some());
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(limits().max_header);
    parser_->body_limit(limits().max_body);
    set_awaiting_request(true);
    expire_in(limits().timeout_seconds);
    http::async_read_header(socket_, buffer_, *parser_,
                            [this](beast::error_code ec, std::size_t) { on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    set_awaiting_request(false);
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    expire_in(limits().timeout_seconds);
    if (expects_continue(parser_->get())) {
      net::async_write(socket_, net::buffer(kContinueResponse.data(), kContinueResponse.size()),
                       [this](beast::error_code error, std::size_t) {
                         if (error) return end();
                         read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(socket_, buffer_, *parser_, [this](beast::error_code ec, std::size_t) {
      if (ec) return on_read_error(ec);
      on_request();
    });
  }

  void on_read_error(beast::error_code ec) {
    switch (classify_read_error(ec)) {
      case ReadFailure::close:
        return end();
      case ReadFailure::payload_too_large:
        return send_final(rpc_.error_reply(payload_too_large_error(limits().max_body)));
      case ReadFailure::header_too_large:
        return send_final(rpc_.error_reply(header_too_large_error(limits().max_header)));
      case ReadFailure::malformed:
        return send_final(rpc_.error_reply(malformed_http_error(ec.message())));
    }
  }

  void on_request() {
    http::request<http::string_body> request = parser_->release();
    auto response = std::make_shared<Response>();
    response->version(request.version());
    try {
      const std::string_view target(request.target().data(), request.target().size());
      switch (route_of(request.method(), target)) {
        case Route::rpc: {
          std::string body;
          const unsigned status = rpc_.begin(request.body(), body, write_);
          if (status == kReplyPending) {
            // Nothing is pending on the socket meanwhile: a sweep that closes
            // it leaves this connection to end when the write's reply fails.
            pending_response_ = std::move(response);
            pending_keep_alive_ = request.keep_alive() && !stopping();
            return;
          }
          response->result(status);
          response->set(http::field::content_type, "application/json");
          response->body() = std::move(body);
          break;
        }
        case Route::metrics:
          response->result(http::status::ok);
          response->set(http::field::content_type, Metrics::kContentType);
          response->body() = metrics().openmetrics();
          break;
        case Route::not_found:
          set_error(*response, rpc_.error_reply(not_found_error(target)));
          break;
        case Route::rpc_method:
          set_error(*response, rpc_.error_reply(method_not_allowed_error("/rpc", "POST")));
          response->set(http::field::allow, "POST");
          break;
        case Route::metrics_method:
          set_error(*response, rpc_.error_reply(method_not_allowed_error("/metrics", "GET")));
          response->set(http::field::allow, "GET");
          break;
      }
    } catch (...) {
      set_error(*response, rpc_.error_reply(error_from_current_exception()));
    }
    send(std::move(response), request.keep_alive() && !stopping(), false);
  }

  static void set_error(Response& response, RpcReply reply) {
    response.result(reply.status);
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(reply.body);
  }

  // An error response after which the connection closes.
  void send_final(RpcReply reply) {
    auto response = std::make_shared<Response>();
    response->version(11);
    set_error(*response, std::move(reply));
    send(std::move(response), false, true);
  }

  void send(std::shared_ptr<Response> response, bool keep_alive, bool linger) {
    response->keep_alive(keep_alive);
    response->prepare_payload();
    expire_in(limits().timeout_seconds);
    Response& message = *response;
    http::async_write(
        socket_, message,
        [this, response = std::move(response), keep_alive, linger](
            beast::error_code ec, std::size_t) { after_response(ec, keep_alive, linger); });
  }

  PlainRpc& rpc_;
  SessionWrite<PlainSession> write_;
  std::shared_ptr<Response> pending_response_;  // while write_ is in the store
  bool pending_keep_alive_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void PlainSessions::start_session(Socket socket, Worker& worker) {
  (new PlainSession(std::move(socket), worker, rpc_))->start();
}

}  // namespace eventstore
