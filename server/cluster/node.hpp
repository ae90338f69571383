// A calma-server node in a cluster: several nodes on one Redis, behind a load
// balancer, serving one set of conversations.
//
// The stores fall into hub shards (common/routing/shards.hpp: the stores an
// agent serves share one); each shard has a lease of its own in Redis
// (common/cluster/lease.hpp, one tracker per shard), and the node holding it
// *leads* that shard: its hub for that shard is the one place where the
// shard's routing, anger curves, escalations and deadlines are decided, for
// the clients of every node. Which node asks for which shard is
// common/cluster/shard_claims.hpp: the shards spread over the live nodes, and
// move back to a node that returns. Every node terminates its clients'
// WebSockets (TLS, limits, validation, rate limits); a client of a shard led
// elsewhere has its validated frames relayed to that shard's leader over
// Redis pub/sub, which answers through a `remote_connection` that publishes
// back to the client's node. A supervisor of stores on several shards gets a
// leg in each (shard_router's fan-in, on the client's node), local or
// relayed. So two nodes never assign one conversation, an agent's capacity is
// counted in one place, each deadline fires once and a supervisor sees each
// escalation once, by construction. With one shard there is one lease (the
// leader's) and this is the cluster as it always was.
//
// Failure: a node that stops checking in (SIGKILL, network) is dropped by
// the leaders after `node_timeout_ms`: its clients reconnect elsewhere, its
// agents get the usual grace period. A shard whose leader dies is taken when
// its lease expires by the node preferred next: it loads that shard's open
// conversations (the hub's start) and announces itself; the nodes with
// clients of that shard keep them open and say each one's hello to it again
// (a resumption), and the new welcome makes the client catch up by seq and
// resend what was not acked. Clients of the other shards are not touched.
// Frames in the gap are answered `unavailable` (not stored: sent again).
// Nothing acked is lost (acks are sent after the store took the message) and
// nothing is shown twice. See server/cluster/README.md.
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
#include "common/cluster/shard_claims.hpp"
#include "common/config/config.hpp"
#include "server/hub/front.hpp"
#include "server/hub/hub.hpp"
#include "server/hub/shard_router.hpp"
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

/// What the node routes with: the store (a fan-in's lookups), the token
/// signer and the staff table (a hello's shards), the plan of hub shards.
struct node_shards {
  store* st = nullptr;
  const auth::token_signer* signer = nullptr;
  const auth::user_directory* users = nullptr;
  routing::shard_plan plan;
};

class node final : public front, private shard_port, public std::enable_shared_from_this<node> {
 public:
  /// An unscoped hub (the node scopes it to the shard it leads).
  using hub_factory = std::function<std::shared_ptr<hub>()>;

  static std::shared_ptr<node> create(boost::asio::io_context& ioc, node_options o, const config& cfg, metrics& m,
                                      node_shards shards, hub_factory make_hub);
  ~node() override;

  /// The lease key of shard k of `shards`: the leader's key with one shard (as always), else one per shard.
  static std::string lease_key(const std::string& prefix, std::size_t shards, std::size_t k);

  /// Starts checking in. `settled` runs once (on the node's strand) when the
  /// node can serve clients: every shard led here with its hub loaded, or
  /// led by a known node with the relay link up.
  void start(std::function<void()> settled);
  /// Stops the hubs it leads, gives its leases up, closes this node's clients (1001).
  void stop();

  void hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) override;
  void handle(connection& c, protocol::client_message m, std::string raw) override;
  void detach(connection& c) override;

  /// Whether this node leads at least one shard.
  bool leading() const { return leading_.load() > 0; }
  /// Whether it leads shard 0 (one node at a time: the cluster's chores, such as the store's housekeeping).
  bool leads_first() const { return leads_first_.load(); }
  /// A token was signed out here: every node refuses it from now on, and the
  /// leaders close the sessions holding it.
  void signed_out(std::string token_id, timestamp_ms expires);
  /// This node's users table was replaced: the hubs it leads take it now.
  void users_changed();
  /// The shards the replaced users table plans (shard_router::plan_for): a
  /// cluster keeps the plan it started with, so when they differ (store groups
  /// joined or split) the node says so on /healthz (`plan_outdated`) and in the
  /// log until every node restarts.
  void users_plan(const routing::shard_plan& p);
  /// {"member", "leading", "leader", "shards": [{"shard", "leader"}]} for /healthz (any thread).
  nlohmann::json status() const;
  /// After stop(): the leases were given up (or Redis did not answer).
  bool released() const { return released_.load(); }
  std::string channel_of(const std::string& node_id) const;
  /// Publishes on the cluster's command connection (any thread); `done(receivers or -1)`.
  void publish(const std::string& node_id, std::string wire, std::function<void(long long)> done = {});
  /// To a member (any thread): a leader's frames for the member's clients, a
  /// follower's frames, hellos and detaches for the shard's leader. Queued and
  /// published in order, several in one PUBLISH (relay batch) when they pile
  /// up; `done(receivers or -1)` with the PUBLISH's answer (a batch's, for each
  /// entry in it).
  void send_to_member(const std::string& member, std::string wire, std::function<void(long long)> done = {});

 private:
  class remote_connection;
  class welcome_tap;
  enum class route { local, relayed };
  /// One of this node's clients (or a fan-in's leg) in one shard.
  struct session {
    std::weak_ptr<connection> conn;
    route r = route::local;
    std::shared_ptr<calma::hub> bound;  ///< local: the hub it said hello to
    /// The hello to say again to a new leader of its shard: the client's
    /// own, or, once a shopper was welcomed, the same with the token it was
    /// given (so a new leader resumes that shopper instead of making a new
    /// one). Relayed: where it is relayed to, held or welcomed: the lane's
    /// routes. Local: said again when this node steps the shard down alive.
    std::string hello;
    bool hello_final = false;  ///< `hello` holds a token (staff's from the start, a shopper's once welcomed)
    /// local, a shopper with no token yet: what the hub sees of its
    /// connection, keeping the welcome's token for a step-down.
    std::shared_ptr<welcome_tap> tap;
    bool counted = true;  ///< counted in the gauges (false: a fan-in's second or later leg)
  };
  /// One hub shard, as this node sees it: its lease, its hub while led here,
  /// this node's sessions of it, and (leading) the other nodes' clients of it.
  struct lane {
    lane(std::uint32_t k, std::string key, const std::string& self, const lease_params& p, failover_params f)
        : k(k), key(std::move(key)), lease(self, p), routes(f), reannounce(p.renew_every_ms) {}
    std::uint32_t k;
    std::string key;
    lease_tracker lease;
    relay_routes routes;           ///< this node's relayed sessions of the shard: to its leader, or held
    reannounce_limiter reannounce; ///< leading: members asked to say their clients' hello again
    std::int64_t pttl = -1;        ///< the lease's time left at the last heartbeat (-1: unknown)
    std::shared_ptr<calma::hub> hub;  ///< while leading
    std::shared_ptr<decide_gate> gate;
    bool ready = false;
    std::uint64_t generation = 0;
    std::unordered_map<std::uint64_t, session> sessions;  ///< this node's, after hello
    std::unordered_map<std::string, std::shared_ptr<remote_connection>> remotes;  ///< "<node>\x1f<relay conn>"
  };

  node(boost::asio::io_context& ioc, node_options o, const config& cfg, metrics& m, node_shards shards,
       hub_factory make_hub);
  template <class F>
  void on_strand(F&& f);
  // shard_port: a session of shard k, from shard_router (the session's thread).
  void hello(std::uint32_t k, std::shared_ptr<connection> c, protocol::hello h, const std::string& raw) override;
  void handle(std::uint32_t k, std::uint64_t conn_id, protocol::client_message m, std::string raw) override;
  void detach(std::uint32_t k, std::uint64_t conn_id, bool counted) override;

  void tick();
  void send_heartbeat();
  void load_revocations();
  void on_heartbeat(std::int64_t sent, const redis::reply_or_error& r);
  /// `then_routes`: whether a leader change re-targets held sessions now (not when the caller does it next).
  void on_event(lane& l, lease_event e, bool then_routes = true);
  void start_hub(lane& l);
  /// The hub found its gate's time passed (and closed it): step that shard down now.
  void gate_closed(std::uint32_t k, const std::shared_ptr<decide_gate>& g);
  void maybe_settled();
  void announce(const lane& l);
  void on_relay(std::string wire);
  void handle_relay(relay_message m);
  void flush_outbox();
  void relay_hello(lane& l, std::uint64_t conn_id, const session& s, const std::string& to, bool resumed);
  /// A relayed client's frame that no leader can take now: `unavailable`, naming its ref (a ping gets its pong).
  void answer_gap(connection& c, const protocol::client_message& m);
  /// The shard's leader is gone or changed: its relayed sessions wait (kept open) for the next one.
  void hold_relayed(lane& l);
  /// `leader` announced it serves the shard: its relayed sessions say hello to it again, as resumptions.
  void retarget_relayed(lane& l, const std::string& leader);
  /// This node now leads the shard, its hub ready: its relayed sessions say hello to it, locally.
  void adopt_relayed(lane& l);
  /// A relayed S frame: the first welcome of the session's leader is noted (and a shopper's token kept).
  void note_welcome(lane& l, std::uint64_t conn_id, session& s, const std::string& frame);
  void close_all_local(std::uint16_t code, const std::string& reason);
  /// This node stopped leading the shard while alive: its hub forgets its
  /// clients without closing them (hub::step_down) and they become relayed
  /// sessions, held until the next leader serves, then said hello again.
  void step_down_locals(lane& l);
  /// Held sessions are re-targeted, or closed after too long without a welcome, when due (routes.on_tick).
  void check_routes(lane& l);
  /// Whether time counts against our leases now (see tick()).
  bool lease_clock_runs() const;
  /// Tells each leading shard's gate until when its lease surely holds (after each heartbeat and tick).
  void update_gates();
  void drop_remotes_of(lane& l, const std::string& node_id);
  /// The relay `conn` field of shard k's session `id` (untagged with one shard, as always), and back.
  std::uint64_t relay_conn(std::uint32_t k, std::uint64_t id) const;
  lane* lane_of_relay(std::uint64_t conn, std::uint64_t* id);
  void set_leading();
  /// A lease was given up: ask Redis now (or as soon as the heartbeat out answers).
  void ask_now();
  /// "the cluster" with one shard, else "shard K" (for the log).
  std::string what(const lane& l) const;
  std::int64_t now_ms() const;
  /// Tells the other members the new conversations let pass here since the last time (relay kind Q).
  void flush_quota();

  boost::asio::io_context& ioc_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  node_options opts_;
  const config& cfg_;
  metrics& metrics_;
  node_shards shards_;
  hub_factory make_hub_;
  std::vector<std::string> fresh_peers_;  ///< the other fresh members of our plan, at the last heartbeat
  std::shared_ptr<hub> limits_;  ///< never started: holds the per-address limits every shard's hub shares
  std::shared_ptr<shard_router> router_;
  std::shared_ptr<redis::connection> cmd_;
  std::shared_ptr<redis::connection> sub_;
  boost::asio::steady_timer timer_;
  std::vector<std::unique_ptr<lane>> lanes_;
  shard_claims claims_;
  std::string plan_key_;
  std::atomic<int> leading_{0};
  std::atomic<bool> leads_first_{false};
  std::atomic<bool> released_{false};
  mutable std::mutex leader_mu_;
  std::vector<std::string> leaders_seen_;  ///< each shard's leader as last known, under leader_mu_

  // strand state
  bool stopped_ = false;
  int heartbeats_in_flight_ = 0;  ///< sent, not answered yet (a leader pipelines them: renewals_in_flight)
  bool ask_again_ = false;  ///< a leader released a lease while a heartbeat was out: ask again at its answer
  int ticks_ = 0;
  std::int64_t reachable_since_ = 0;  ///< when the command connection came up; 0 while down
  long long peers_ = 0;               ///< other live nodes at the last check-in
  std::int64_t plan_warned_ = 0;      ///< when a different plan in Redis was last logged
  std::atomic<bool> plan_outdated_{false};  ///< the users file now plans other shards than this node runs
  std::atomic<bool> plan_rejected_{false};  ///< the leases are held under another plan: clients are refused
  bool relink_pending_ = false;       ///< the relay link dropped: resync its clients when it is back
  std::function<void()> settled_;
  std::atomic<std::uint64_t> next_remote_id_{1ull << 62};
  std::mutex outbox_mu_;
  std::vector<outgoing> outbox_;  ///< in order; under outbox_mu_
  bool flush_posted_ = false;     ///< under outbox_mu_
};

}  // namespace calma::cluster
