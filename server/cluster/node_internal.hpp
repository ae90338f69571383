// What the parts of server/cluster/node (node.cpp: start, stop and the
// leases; node_clients.cpp: this node's own clients; node_relay.cpp: the
// relay both ways) share: the relay codes, the connection types the leader's
// hub sees for clients of other nodes and for this node's own tokenless
// shoppers, and the hop onto the node's strand. Included by those files only.
#pragma once

#include <boost/asio/post.hpp>

#include <atomic>
#include <mutex>
#include <string>

#include "common/cluster/relay.hpp"
#include "common/protocol/errors.hpp"
#include "server/cluster/node.hpp"

namespace calma::cluster {

namespace node_detail {

constexpr auto code_restart = static_cast<std::uint16_t>(protocol::close_code::restart);
constexpr auto code_try_later = static_cast<std::uint16_t>(protocol::close_code::try_later);
/// Relay `H` code: a hello said again for a client already welcomed by a
/// previous leader (kept open across the leader change). Older nodes ignore
/// the code: to them it is a hello.
constexpr std::uint16_t hello_resumed = 1;
/// Relay `H` code bit: the session is a fan-in's second or later leg, not
/// counted in the connection gauges (the client is counted once, by its first).
constexpr std::uint16_t hello_uncounted = 2;
/// Relay `conn` of a session of shard k (with more than one shard): its
/// connection id with k + 1 in the top 16 bits, so each shard's leader keeps
/// it apart and its answers come back to that shard's session.
constexpr int shard_tag_shift = 48;
constexpr std::uint64_t conn_id_mask = (1ull << shard_tag_shift) - 1;
/// A relayed client whose hello (first or resumed) has no welcome after this
/// long is closed (1013): a lost announcement or a leader that never became
/// ready must not leave it waiting for ever. As long as a client waits for
/// its first welcome.
constexpr timestamp_ms welcome_timeout_ms = 10'000;

/// The ref an `error` answering this frame names (PROTOCOL.md): a chat.send's client_msg_id, else its type.
inline std::string ref_of(const protocol::client_message& m) {
  if (const auto* cs = std::get_if<protocol::chat_send>(&m)) return cs->client_msg_id;
  return std::string(protocol::type_name(m));
}

inline std::string unavailable_frame(std::string ref) {
  return protocol::make_error({protocol::error_code::unavailable,
                               "the cluster is changing leader: not delivered, send it again", std::move(ref)});
}

inline std::string remote_key(const std::string& node, std::uint64_t conn) {
  return node + '\x1f' + std::to_string(conn);
}

}  // namespace node_detail

// The leader's view of a client connected to another node: frames go back
// through that node's channel.
class node::remote_connection final : public connection {
 public:
  remote_connection(std::uint64_t id, std::string node_id, std::uint64_t edge_conn, std::weak_ptr<cluster::node> owner,
                    std::string address, std::string origin, std::string host, bool counted)
      : id_(id), node_(std::move(node_id)), edge_conn_(edge_conn), owner_(std::move(owner)),
        address_(std::move(address)), origin_(std::move(origin)), host_(std::move(host)), counted_(counted) {}
  bool counted() const override { return counted_; }
  std::string_view address() const override { return address_; }
  std::string_view origin() const override { return origin_; }
  std::string_view host() const override { return host_; }
  std::uint64_t id() const override { return id_; }
  void send(frame_ptr f) override {
    if (auto o = owner_.lock()) o->send_to_member(node_, encode({relay_kind::send, node_, edge_conn_, 0, *f}));
  }
  void close(std::uint16_t code, std::string reason) override {
    if (auto o = owner_.lock()) o->send_to_member(node_, encode({relay_kind::close, node_, edge_conn_, code, std::move(reason)}));
  }
  const std::string& node_id() const { return node_; }
  /// The node's name, without its incarnation.
  std::string_view node() const override {
    std::string_view n = node_;
    return n.substr(0, n.rfind('@'));
  }

 private:
  std::uint64_t id_;
  std::string node_;
  std::uint64_t edge_conn_;
  std::weak_ptr<cluster::node> owner_;
  std::string address_, origin_, host_;  // as the client's node saw them at the upgrade
  bool counted_;
};

// What the leader's hub sees of one of this node's own shoppers that said
// hello with no token: the connection itself, noting the first welcome the
// hub sends it (it carries the shopper's token), so that if this node steps
// down alive it says that shopper's hello again *as that shopper*. Every
// frame passes straight on; until the welcome each is searched for its type
// (the hub's frames are compact JSON: a string value cannot hold `"type":"`
// unescaped), after it only a flag is read. The welcome is kept as sent (a
// shared frame, no copy) and parsed only if this node steps down.
class node::welcome_tap final : public connection {
 public:
  explicit welcome_tap(const std::shared_ptr<connection>& c)
      : inner_(c), id_(c->id()), address_(c->address()), origin_(c->origin()), host_(c->host()) {}
  std::uint64_t id() const override { return id_; }
  std::string_view address() const override { return address_; }
  std::string_view origin() const override { return origin_; }
  std::string_view host() const override { return host_; }
  void send(frame_ptr f) override {
    if (!seen_.load(std::memory_order_acquire) && f->find(R"("type":"welcome")") != std::string::npos) {
      std::lock_guard lk(mu_);
      welcome_ = f;
      seen_.store(true, std::memory_order_release);
    }
    if (auto c = inner_.lock()) c->send(std::move(f));
  }
  void close(std::uint16_t code, std::string reason) override {
    if (auto c = inner_.lock()) c->close(code, std::move(reason));
  }
  /// The first welcome the hub sent (null: none yet).
  frame_ptr welcome() const {
    std::lock_guard lk(mu_);
    return welcome_;
  }

 private:
  std::weak_ptr<connection> inner_;
  std::uint64_t id_;
  std::string address_, origin_, host_;
  std::atomic<bool> seen_{false};
  mutable std::mutex mu_;
  frame_ptr welcome_;
};

template <class F>
void node::on_strand(F&& f) {
  boost::asio::post(strand_, std::forward<F>(f));
}

}  // namespace calma::cluster
