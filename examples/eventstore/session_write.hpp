// The stream.write a connection has in the store: completed on the store's
// committer thread, handed back to the connection's worker, and finished
// there by the session (Owner::on_write_done()).
#pragma once

#include "connection.hpp"
#include "rpc.hpp"

namespace eventstore {

template <class Owner>
class SessionWrite final : public RpcWrite, public WorkerTask {
 public:
  SessionWrite(Worker& worker, Owner& owner) noexcept : worker_(worker), owner_(owner) {}

  void on_written() noexcept override { worker_.deliver(*this); }
  void run() override { owner_.on_write_done(); }

 private:
  Worker& worker_;
  Owner& owner_;
};

}  // namespace eventstore
