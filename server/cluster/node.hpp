// A calma-server node in a cluster: several nodes on one Redis, behind a load
// balancer, serving one set of conversations.
//
// One node at a time is the leader (a lease in Redis, see
// common/cluster/lease.hpp). The leader runs the hub, the one place where
// routing, anger curves, escalations and their deadlines are decided, for the
// clients of every node. The other nodes are followers: they terminate their
// clients' WebSockets (TLS, limits, validation, rate limits) and relay each
// client's validated frames to the leader over Redis pub/sub; the leader's hub
// answers through a `remote_connection`, which publishes back to the client's
// node. So two nodes never assign one conversation, an agent's capacity is
// counted in one place, each deadline fires once and a supervisor sees each
// escalation once, by construction.
//
// Failure: a follower that stops checking in (SIGKILL, network) is dropped
// by the leader after `node_timeout_ms`: its clients reconnect elsewhere, its
// agents get the usual grace period. A leader that dies is replaced when its
// lease expires: the new leader loads the open conversations from the store
// (the hub's start) and announces itself; the other nodes keep their clients
// open and say each one's hello to it again (a resumption), and the new
// leader's welcome on the open connection makes the client catch up by seq
// and resend what was not acked. Frames in the gap are answered `unavailable`
// (not stored: sent again). Nothing acked is lost (acks are sent after the
// store took the message) and nothing is shown twice. See
// server/cluster/README.md ("Failover").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "common/cluster/failover.hpp"
#include "common/cluster/lease.hpp"
#include "common/cluster/relay.hpp"
#include "common/config/config.hpp"
#include "server/hub/front.hpp"
#include "server/auth/revocations.hpp"
#include "server/metrics.hpp"
#include "server/store/redis/connection.hpp"

namespace calma::cluster {

struct node_options {
  /// This process's member id, "<node id>@<incarnation>": unique per process
  /// run, so a node restarted under the same name is a new member (its old
  /// clients are dropped, frames for them never reach the new process).
  std::string node_id;
  std::string key_prefix = "calma";
  redis::connection_options redis;  ///< address, credentials, timeouts
  lease_params lease;
  std::int64_t node_timeout_ms = 2000;
  /// This process's signed-out tokens: kept in step with every node's (a
  /// sorted set in Redis, and a broadcast at each sign-out).
  auth::revocations* revoked = nullptr;
};

class node final : public front, public std::enable_shared_from_this<node> {
 public:
  using hub_factory = std::function<std::shared_ptr<shard_set>()>;

  static std::shared_ptr<node> create(boost::asio::io_context& ioc, node_options o, const config& cfg,
                                      metrics& m, hub_factory make_hub);
  ~node() override;

  /// Starts checking in. `settled` runs once (on the node's strand) when the
  /// node can serve clients: leading with its hub loaded, or following a
  /// known leader with its relay link up.
  void start(std::function<void()> settled);
  /// Stops the hub if leading, gives the lease up, closes this node's clients (1001).
  void stop();

  void hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) override;
  void handle(connection& c, protocol::client_message m, std::string raw) override;
  void detach(connection& c) override;

  bool leading() const { return leading_.load(); }
  /// A token signed out on this node: the sessions holding it are closed if this node leads
  /// (other nodes' HTTP APIs do not know of it: see the README).
  /// A token was signed out here: every node refuses it from now on, and the
  /// leader closes the sessions holding it.
  void signed_out(std::string token_id, timestamp_ms expires);
  /// This node's users table was replaced: its hubs, if leading, take it now.
  void users_changed();
  /// {"member", "leading", "leader"} for /healthz (any thread).
  nlohmann::json status() const;
  /// After stop(): the lease was given up (or Redis did not answer).
  bool released() const { return released_.load(); }
  std::string channel_of(const std::string& node_id) const;
  /// Publishes on the cluster's command connection (any thread); `done(receivers or -1)`.
  void publish(const std::string& node_id, std::string wire, std::function<void(long long)> done = {});
  /// Leader → a member, for its clients (any thread): queued and published in
  /// order, several in one PUBLISH (relay batch) when they pile up.
  void send_to_member(const std::string& member, std::string wire);

 private:
  class remote_connection;
  class welcome_tap;
  enum class route { local, relayed };
  struct session {
    std::weak_ptr<connection> conn;
    route r = route::local;
    std::shared_ptr<shard_set> bound;  ///< local: the hubs it said hello to
    /// The hello to say again to a new leader: the client's own, or, once a
    /// shopper was welcomed, the same with the token it was given (so a new
    /// leader resumes that shopper instead of making a new one). Relayed:
    /// where it is relayed to, held or welcomed: `routes_`. Local: said again
    /// when this node steps down alive (lost_leadership).
    std::string hello;
    bool hello_final = false;  ///< `hello` holds a token (staff's from the start, a shopper's once welcomed)
    /// local, a shopper with no token yet: what the hub sees of its
    /// connection, keeping the welcome's token for a step-down.
    std::shared_ptr<welcome_tap> tap;
    std::uint32_t shard = 0;  ///< local: the shard of `bound` serving it
  };

  node(boost::asio::io_context& ioc, node_options o, const config& cfg, metrics& m, hub_factory make_hub);
  template <class F>
  void on_strand(F&& f);
  void tick();
  void load_revocations();
  void on_heartbeat(std::int64_t sent, const redis::reply_or_error& r);
  void on_event(lease_event e);
  void start_hub();
  /// The hub found its gate's time passed (and closed it): step down now.
  void gate_closed(const std::shared_ptr<decide_gate>& g);
  void maybe_settled();
  void announce_leadership();
  void on_relay(std::string wire);
  void handle_relay(relay_message m);
  void flush_outbox();
  void relay_hello(std::uint64_t conn_id, const session& s, const std::string& to, bool resumed);
  /// A relayed client's frame that no leader can take now: `unavailable`, naming its ref (a ping gets its pong).
  void answer_gap(connection& c, const protocol::client_message& m);
  /// The leader is gone or changed: every relayed client waits (kept open) for the next one.
  void hold_relayed();
  /// `leader` announced it serves: every relayed client's hello goes to it again, marked as a resumption.
  void retarget_relayed(const std::string& leader);
  /// This node now leads, its hub ready: its relayed clients say hello to it, locally.
  void adopt_relayed();
  /// A relayed S frame: the first welcome of the session's leader is noted (and a shopper's token kept).
  void note_welcome(std::uint64_t conn_id, session& s, const std::string& frame);
  void close_all_local(std::uint16_t code, const std::string& reason);
  /// This node stopped leading while alive: its hub forgets its clients
  /// without closing them (hub::step_down) and they become relayed clients,
  /// held until the next leader serves, then said hello again as resumptions.
  void step_down_locals();
  /// Held clients are re-targeted, or closed after too long without a welcome, when due (routes_.on_tick).
  void check_routes();
  /// Whether time counts against our lease now (see tick()).
  bool lease_clock_runs() const;
  /// Tells the hub's gate until when the lease surely holds (after each heartbeat and tick).
  void update_gate();
  void drop_remotes_of(const std::string& node_id);
  std::int64_t now_ms() const;

  boost::asio::io_context& ioc_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  node_options opts_;
  const config& cfg_;
  metrics& metrics_;
  hub_factory make_hub_;
  std::shared_ptr<redis::connection> cmd_;
  std::shared_ptr<redis::connection> sub_;
  boost::asio::steady_timer timer_;
  lease_tracker lease_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> released_{false};
  mutable std::mutex leader_mu_;
  std::string leader_seen_;  ///< the leader as last known, under leader_mu_

  // strand state
  bool stopped_ = false;
  int heartbeats_in_flight_ = 0;  ///< sent, not answered yet (a leader pipelines them: renewals_in_flight)
  bool ask_again_ = false;  ///< the leader released its lease while a heartbeat was out: ask again at its answer
  int ticks_ = 0;
  std::int64_t reachable_since_ = 0;  ///< when the command connection came up; 0 while down
  long long peers_ = 0;               ///< other live nodes at the last check-in
  std::int64_t leader_pttl_ = -1;     ///< the lease's time left at the last heartbeat (-1: unknown)
  relay_routes routes_;               ///< where each relayed client is relayed to, or held
  reannounce_limiter reannounce_;     ///< leading: members asked to say their clients' hello again
  bool relink_pending_ = false;       ///< the relay link dropped: resync its clients when it is back
  std::function<void()> settled_;
  std::shared_ptr<shard_set> hub_;  ///< while leading: its hubs, one per shard
  std::shared_ptr<decide_gate> gate_;  ///< hub_'s: whether it may decide (lease surely ours)
  bool hub_ready_ = false;
  std::uint64_t hub_generation_ = 0;
  std::unordered_map<std::uint64_t, session> sessions_;  ///< this node's clients, after hello
  std::unordered_map<std::string, std::shared_ptr<remote_connection>> remotes_;  ///< "<node>\x1f<conn>"
  std::atomic<std::uint64_t> next_remote_id_{1ull << 62};
  std::mutex outbox_mu_;
  std::vector<std::pair<std::string, std::string>> outbox_;  ///< (member, wire), in order; under outbox_mu_
  bool flush_posted_ = false;                                ///< under outbox_mu_
};

}  // namespace calma::cluster
