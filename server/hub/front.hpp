// What a client session talks to: the hub of this process, or, in a cluster,
// the node's relay to the leader's hub (server/cluster/node.hpp). `raw` is the
// frame as the client sent it (already validated), handed over for relaying.
#pragma once

#include <memory>
#include <string>

#include "common/protocol/messages.hpp"
#include "server/hub/connection.hpp"
#include "server/hub/hub.hpp"

namespace calma {

class front {
 public:
  virtual ~front() = default;
  virtual void hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) = 0;
  virtual void handle(std::uint64_t conn_id, protocol::client_message m, std::string raw) = 0;
  virtual void detach(std::uint64_t conn_id) = 0;
};

/// One node alone: straight to its hub.
class local_front final : public front {
 public:
  explicit local_front(std::shared_ptr<hub> h) : hub_(std::move(h)) {}
  void hello(std::shared_ptr<connection> c, protocol::hello h, std::string) override {
    hub_->hello(std::move(c), std::move(h));
  }
  void handle(std::uint64_t conn_id, protocol::client_message m, std::string) override {
    hub_->handle(conn_id, std::move(m));
  }
  void detach(std::uint64_t conn_id) override { hub_->detach(conn_id); }

 private:
  std::shared_ptr<hub> hub_;
};

}  // namespace calma
