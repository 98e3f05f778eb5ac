#include "http_server.hpp"

#include <boost/asio/post.hpp>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace eventstore {
namespace {

std::vector<std::unique_ptr<Worker>> make_workers(const ServerOptions& options, Metrics& metrics) {
  if (options.threads == 0) throw std::invalid_argument("threads must be at least 1");
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < options.threads; ++i)
    workers.push_back(std::make_unique<Worker>(options.limits, metrics));
  return workers;
}

[[noreturn]] void throw_system_error(const boost::system::error_code& ec, const std::string& what) {
  throw std::system_error(ec.value(), std::generic_category(), what);
}

}  // namespace

HttpServer::HttpServer(const ServerOptions& options, SessionFactory& sessions, Metrics& metrics)
    : sessions_(sessions),
      workers_(make_workers(options, metrics)),
      acceptor_(workers_.front()->context()),
      retry_(workers_.front()->context()) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options.bind, ec);
  if (ec) throw_system_error(ec, "bad bind address " + options.bind);
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = options.bind + ":" + std::to_string(options.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) throw_system_error(ec, "cannot open a socket");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) throw_system_error(ec, "cannot set SO_REUSEADDR");
  acceptor_.bind(endpoint, ec);
  if (ec) throw_system_error(ec, "cannot bind " + where);
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw_system_error(ec, "cannot listen on " + where);
  endpoint_ = acceptor_.local_endpoint();
  accept();
}

HttpServer::~HttpServer() = default;

void HttpServer::accept() {
  Worker& worker = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_.async_accept(
      worker.context(), [this, &worker](const boost::system::error_code& ec, Socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
          // Out of descriptors or memory: retry shortly instead of spinning.
          retry_.expires_after(std::chrono::milliseconds(100));
          retry_.async_wait([this](const boost::system::error_code& error) {
            if (!error && acceptor_.is_open()) accept();
          });
          return;
        }
        net::post(worker.context(), [this, &worker, s = std::move(socket)]() mutable {
          if (worker.stopping()) return;  // s closes as it goes
          sessions_.start_session(std::move(s), worker);
        });
        accept();
      });
}

void HttpServer::close_listener() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  net::post(workers_.front()->context(), [this] { close_listener(); });
  for (auto& worker : workers_) worker->stop();
}

void HttpServer::run() {
  std::vector<std::thread> threads;
  threads.reserve(workers_.size() - 1);
  for (std::size_t i = 1; i < workers_.size(); ++i)
    threads.emplace_back([worker = workers_[i].get()] { worker->run(); });
  workers_.front()->run();
  for (auto& thread : threads) thread.join();
}

}  // namespace eventstore
