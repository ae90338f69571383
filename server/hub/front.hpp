// What a client session talks to: the hub of this process, or, in a cluster,
// the node's relay to the leader's hub (server/cluster/node.hpp). `raw` is the
// frame as the client sent it (already validated), handed over for relaying.
#pragma once

#include <memory>
#include <string>

#include "common/protocol/messages.hpp"
#include "server/hub/connection.hpp"
#include "server/hub/shard_set.hpp"

namespace calma {

class front {
 public:
  virtual ~front() = default;
  virtual void hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) = 0;
  virtual void handle(connection& c, protocol::client_message m, std::string raw) = 0;
  virtual void detach(connection& c) = 0;
};

/// One node alone: straight to its hubs (one per shard).
class local_front final : public front {
 public:
  explicit local_front(std::shared_ptr<shard_set> h) : hubs_(std::move(h)) {}
  void hello(std::shared_ptr<connection> c, protocol::hello h, std::string) override {
    hubs_->hello(std::move(c), std::move(h));
  }
  void handle(connection& c, protocol::client_message m, std::string) override { hubs_->handle(c, std::move(m)); }
  void detach(connection& c) override { hubs_->detach(c); }

 private:
  std::shared_ptr<shard_set> hubs_;
};

}  // namespace calma
