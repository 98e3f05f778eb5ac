#include "connection.hpp"

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <exception>

#include "metrics.hpp"

namespace eventstore {

Worker::Worker(const HttpLimits& limits, Metrics& metrics) : limits_(limits), metrics_(metrics) {
  arm_sweep();
}

Worker::~Worker() {
  // Connections still here were never run to completion (the loop did not
  // run); free them without running their handlers.
  while (connections_ != nullptr) delete connections_;
}

void Worker::run() {
  for (;;) {
    try {
      context_.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "eventstore: error in a request handler: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "eventstore: unknown error in a request handler\n");
    }
  }
}

void Worker::stop() {
  net::post(context_, [this] { begin_stop(); });
}

void Worker::deliver(WorkerTask& task) {
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    task.next_task_ = nullptr;
    if (inbox_tail_ != nullptr)
      inbox_tail_->next_task_ = &task;
    else
      inbox_head_ = &task;
    inbox_tail_ = &task;
    post = !inbox_posted_;
    inbox_posted_ = true;
  }
  if (post) net::post(context_, bind_memory(inbox_memory_, [this] { run_delivered(); }));
}

void Worker::run_delivered() {
  WorkerTask* task = nullptr;
  {
    std::lock_guard lock(inbox_mutex_);
    task = inbox_head_;
    inbox_head_ = inbox_tail_ = nullptr;
    inbox_posted_ = false;
  }
  while (task != nullptr) {
    // Read before run(): the task may be reused (delivered again) by it.
    WorkerTask* next = task->next_task_;
    // Caught here, not in run(): the tasks after this one must still run.
    try {
      task->run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "eventstore: error in a request handler: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "eventstore: unknown error in a request handler\n");
    }
    task = next;
  }
}

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  stop_deadline_ = ticks_ + limits_.shutdown_grace_seconds + 1;
  for (Connection* c = connections_; c != nullptr; c = c->next_) {
    if (c->awaiting_request_ && !c->request_started()) c->close_socket();
  }
  if (connections_ == nullptr) timer_.cancel();
}

void Worker::attach(Connection& connection) noexcept {
  connection.next_ = connections_;
  if (connections_ != nullptr) connections_->prev_ = &connection;
  connections_ = &connection;
}

void Worker::detach(Connection& connection) noexcept {
  if (connection.prev_ != nullptr)
    connection.prev_->next_ = connection.next_;
  else
    connections_ = connection.next_;
  if (connection.next_ != nullptr) connection.next_->prev_ = connection.prev_;
  // The last connection gone from a stopping worker: nothing is left to wait for.
  if (stopping_ && connections_ == nullptr) timer_.cancel();
}

void Worker::arm_sweep() {
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec && stopping_) return;
    sweep();
  });
}

void Worker::sweep() {
  ++ticks_;
  const bool past_grace = stopping_ && ticks_ >= stop_deadline_;
  for (Connection* c = connections_; c != nullptr; c = c->next_) {
    if (past_grace || c->deadline_ <= ticks_) c->close_socket();
  }
  if (stopping_ && connections_ == nullptr) return;
  arm_sweep();
}

Connection::Connection(Socket socket, Worker& worker)
    : socket_(std::move(socket)), worker_(worker) {
  worker_.attach(*this);
  worker_.metrics().connection_opened();
  boost::system::error_code ignored;
  // Each response goes out in one write; Nagle would only hold it back.
  socket_.set_option(tcp::no_delay(true), ignored);
  expire_in(worker_.limits().timeout_seconds);
}

Connection::~Connection() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  worker_.metrics().connection_closed();
  worker_.detach(*this);
}

void Connection::close_socket() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Connection::after_response(const boost::system::error_code& error, bool keep_alive,
                                bool linger) {
  if (error) return end();
  if (linger) return linger_close();
  // A server that began stopping while this response was on its way closes
  // the connection rather than wait for another.
  if (!keep_alive || stopping()) {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    return end();
  }
  start();
}

void Connection::linger_close() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  expire_in(limits().linger_seconds);
  drain();
}

void Connection::drain() {
  socket_.async_read_some(worker_.scratch(),
                          [this](const boost::system::error_code& ec, std::size_t) {
                            if (ec) return end();
                            drain();
                          });
}

}  // namespace eventstore
