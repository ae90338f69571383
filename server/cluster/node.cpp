#include "server/cluster/node.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "common/cluster/relay.hpp"
#include "common/protocol/errors.hpp"

namespace calma::cluster {

namespace asio = boost::asio;

namespace {

// Every node, every renew interval, in one round trip: take the lease if
// nobody holds it or renew it if we do (first: PEXPIRE needs no memory, so a
// Redis at maxmemory still renews), check in (the nodes sorted set, scored
// with Redis's own clock, so the nodes' clocks do not matter; pcall: a
// refused check-in must not cost the lease), count the live nodes and, when
// leading, collect the nodes that stopped checking in. A node is known by its
// member id, "<node id>@<incarnation>": a restarted node is a new member.
// Returns {holder, live nodes, the lease's time left (ms), stale member...}:
// a follower asks again just after that time (the leader may have died).
constexpr const char* heartbeat_lua = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  holder = ARGV[1]
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
redis.pcall('ZADD', KEYS[2], now, ARGV[1])
local live = redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[3]), '+inf')
local out = {holder, live, redis.call('PTTL', KEYS[1])}
if holder == ARGV[1] then
  local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
  for _, n in ipairs(stale) do
    if n ~= ARGV[1] then
      redis.call('ZREM', KEYS[2], n)
      out[#out + 1] = n
    end
  end
end
return out
)lua";

// A node leaving on purpose: give the lease up at once (only if ours: a
// compare-and-delete), check out, and say so (relay kind L): a follower tells
// the leader to drop its clients now (their detach messages may not all have
// gone out); a leader tells every other member that the lease is free, so
// they ask for it at once instead of at their next heartbeat (nodes that do
// not know this ignore an L when they do not lead). ARGV[2]: channel prefix.
constexpr const char* release_lua = R"lua(
local holder = redis.call('GET', KEYS[1])
local us = string.char(31)
local left = 'L' .. us .. ARGV[1] .. us .. '0' .. us .. '0' .. us
if holder == ARGV[1] then
  redis.call('DEL', KEYS[1])
  for _, n in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if n ~= ARGV[1] then redis.call('PUBLISH', ARGV[2] .. n, left) end
  end
elseif holder then
  redis.call('PUBLISH', ARGV[2] .. holder, left)
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
)lua";

constexpr auto code_restart = static_cast<std::uint16_t>(protocol::close_code::restart);
constexpr auto code_try_later = static_cast<std::uint16_t>(protocol::close_code::try_later);
/// Relay `H` code: a hello said again for a client already welcomed by a
/// previous leader (kept open across the leader change). Older nodes ignore
/// the code: to them it is a hello.
constexpr std::uint16_t hello_resumed = 1;
/// A relayed client whose hello (first or resumed) has no welcome after this
/// long is closed (1013): a lost announcement or a leader that never became
/// ready must not leave it waiting for ever. As long as a client waits for
/// its first welcome.
constexpr timestamp_ms welcome_timeout_ms = 10'000;

/// The ref an `error` answering this frame names (PROTOCOL.md): a chat.send's client_msg_id, else its type.
std::string ref_of(const protocol::client_message& m) {
  if (const auto* cs = std::get_if<protocol::chat_send>(&m)) return cs->client_msg_id;
  return std::string(protocol::type_name(m));
}

std::string unavailable_frame(std::string ref) {
  return protocol::make_error({protocol::error_code::unavailable,
                               "the cluster is changing leader: not delivered, send it again", std::move(ref)});
}

std::string remote_key(const std::string& node, std::uint64_t conn) {
  return node + '\x1f' + std::to_string(conn);
}

}  // namespace

// The leader's view of a client connected to another node: frames go back
// through that node's channel.
class node::remote_connection final : public connection {
 public:
  remote_connection(std::uint64_t id, std::string node_id, std::uint64_t edge_conn, std::weak_ptr<cluster::node> owner,
                    std::string address, std::string origin, std::string host)
      : id_(id), node_(std::move(node_id)), edge_conn_(edge_conn), owner_(std::move(owner)),
        address_(std::move(address)), origin_(std::move(origin)), host_(std::move(host)) {}
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

std::shared_ptr<node> node::create(asio::io_context& ioc, node_options o, const config& cfg, metrics& m,
                                   hub_factory make_hub) {
  return std::shared_ptr<node>(new node(ioc, std::move(o), cfg, m, std::move(make_hub)));
}

node::node(asio::io_context& ioc, node_options o, const config& cfg, metrics& m, hub_factory make_hub)
    : ioc_(ioc),
      strand_(asio::make_strand(ioc)),
      opts_(std::move(o)),
      cfg_(cfg),
      metrics_(m),
      make_hub_(std::move(make_hub)),
      timer_(strand_),
      lease_(opts_.node_id, opts_.lease),
      routes_(failover_params{opts_.lease.lease_ms, welcome_timeout_ms}),
      reannounce_(opts_.lease.renew_every_ms) {}

node::~node() {
  if (cmd_) cmd_->stop();
  if (sub_) sub_->stop();
}

template <class F>
void node::on_strand(F&& f) {
  asio::post(strand_, std::forward<F>(f));
}

std::int64_t node::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string node::channel_of(const std::string& node_id) const { return opts_.key_prefix + ":node:" + node_id; }

void node::start(std::function<void()> settled) {
  settled_ = std::move(settled);
  cmd_ = redis::connection::create(ioc_, opts_.redis);
  sub_ = redis::connection::create(ioc_, opts_.redis);
  std::weak_ptr<node> w = shared_from_this();
  sub_->set_subscription(channel_of(opts_.node_id), [w](std::string payload) {
    if (auto self = w.lock()) self->on_relay(std::move(payload));
  });
  sub_->set_on_down([w](const std::string& reason) {
    auto self = w.lock();
    if (!self) return;
    self->on_strand([self, reason] {
      // Relayed frames may have been lost either way. Every client relayed
      // through this link is held (kept open, its frames answered
      // `unavailable`) and says hello again once the link is back: the
      // welcome makes it catch up by seq. A leader forgets the clients of
      // other nodes (their nodes hold them too, or hear its announcement).
      self->relink_pending_ = true;
      self->hold_relayed();
      if (self->remotes_.empty()) return;
      spdlog::warn("cluster: lost the relay link ({}): forgetting {} remote clients until it is back", reason,
                   self->remotes_.size());
      for (auto& [key, rc] : self->remotes_)
        if (self->hub_) self->hub_->detach(*rc);
      self->remotes_.clear();
    });
  });
  sub_->set_on_ready([w] {
    // The relay link is back (subscribed again). A leader announces itself:
    // every node says its clients' hello again. A follower says its own
    // clients' hello again to the leader it knows.
    if (auto self = w.lock()) self->on_strand([self] {
      if (!self->relink_pending_ || self->stopped_) return;
      self->relink_pending_ = false;
      if (self->lease_.is_leader()) {
        if (self->hub_ && self->hub_ready_) self->announce_leadership();
        return;
      }
      if (!self->lease_.leader().empty()) self->retarget_relayed(self->lease_.leader());
    });
  });
  cmd_->set_on_ready([w] {
    // Back (or up for the first time): check in at once rather than at the next tick.
    if (auto self = w.lock()) self->on_strand([self, t = self->now_ms()] {
      self->reachable_since_ = t;
      self->tick();
    });
  });
  cmd_->set_on_down([w](const std::string&) {
    if (auto self = w.lock()) self->on_strand([self] { self->reachable_since_ = 0; });
  });
  cmd_->start();
  sub_->start();
  on_strand([self = shared_from_this()] { self->tick(); });
}

void node::stop() {
  on_strand([self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    self->timer_.cancel();
    // A leader: other nodes' clients are theirs to keep. The hub forgets them
    // (before it stops: the strand runs these first) rather than closing
    // them; their nodes hold them and say their hello to the next leader.
    for (auto& [key, rc] : self->remotes_)
      if (self->hub_) self->hub_->detach(*rc);
    self->remotes_.clear();
    self->hub_ready_ = false;
    if (self->hub_) self->hub_->stop();
    self->close_all_local(static_cast<std::uint16_t>(protocol::close_code::going_away), "server shutting down");
    const std::string p = self->opts_.key_prefix;
    self->cmd_->command({"EVAL", release_lua, "2", p + ":{cluster}:leader", p + ":{cluster}:nodes", self->opts_.node_id,
                         p + ":node:"},
                        [self](const redis::reply_or_error&) {
                          self->sub_->stop();
                          self->released_ = true;
                        });
    self->leading_ = false;
  });
}

void node::publish(const std::string& node_id, std::string wire, std::function<void(long long)> done) {
  cmd_->command({"PUBLISH", channel_of(node_id), std::move(wire)}, [done = std::move(done)](const redis::reply_or_error& r) {
    if (!done) return;
    if (r.ok() && r.value.kind == redis::redis_value::type::integer) return done(r.value.integer);
    done(-1);
  });
}

void node::send_to_member(const std::string& member, std::string wire) {
  bool post = false;
  {
    std::lock_guard lk(outbox_mu_);
    outbox_.emplace_back(member, std::move(wire));
    post = !flush_posted_;
    flush_posted_ = true;
  }
  if (post) on_strand([self = shared_from_this()] { self->flush_outbox(); });
}

// Everything queued since the last flush, one PUBLISH per member (several if
// large): what the hub sent in one turn of its strand goes out together.
void node::flush_outbox() {
  std::vector<std::pair<std::string, std::string>> out;
  {
    std::lock_guard lk(outbox_mu_);
    out.swap(outbox_);
    flush_posted_ = false;
  }
  constexpr std::size_t max_batch_bytes = 256 * 1024;
  std::unordered_map<std::string, std::vector<std::string>> by_member;
  std::vector<std::string> order;
  for (auto& [member, wire] : out) {
    auto& v = by_member[member];
    if (v.empty()) order.push_back(member);
    v.push_back(std::move(wire));
  }
  for (const auto& member : order) {
    auto& wires = by_member[member];
    std::vector<std::string> batch;
    std::size_t bytes = 0;
    auto send = [&] {
      if (batch.size() == 1) publish(member, std::move(batch.front()));
      else if (!batch.empty()) publish(member, encode_batch(member, batch));
      batch.clear();
      bytes = 0;
    };
    for (auto& w : wires) {
      if (bytes + w.size() > max_batch_bytes) send();
      bytes += w.size();
      batch.push_back(std::move(w));
    }
    send();
  }
}

// ---------------------------------------------------------------------------
// the lease

void node::check_routes() {
  const auto due = routes_.on_tick(now_ms(), lease_.is_leader() ? std::string() : lease_.leader());
  if (!due.retarget_to.empty()) retarget_relayed(due.retarget_to);
  for (auto id : due.expired)
    if (auto it = sessions_.find(id); it != sessions_.end())
      if (auto c = it->second.conn.lock()) c->close(code_try_later, "no cluster leader answered; reconnect");
}

bool node::lease_clock_runs() const {
  return cluster::lease_clock_runs(opts_.lease, now_ms(), reachable_since_, peers_);
}

void node::update_gate() {
  if (!gate_ || !lease_.is_leader()) return;
  gate_->set_link(reachable_since_, peers_);
  gate_->extend(lease_.holds_until());
}

void node::tick() {
  if (stopped_) return;
  // Time counts against our lease while Redis is reachable and the heartbeats
  // since it came back had their chance to renew it, and always when other
  // nodes were alive at the last check-in: one of them may take the lease
  // from a Redis we cannot reach (a partition), so we stop first. Alone, we
  // keep leading through a Redis outage (nobody could take over anyway).
  if (lease_clock_runs()) on_event(lease_.on_tick(now_ms()));
  update_gate();
  if (lease_.is_leader() && !hub_) start_hub();  // a start that failed is retried
  // Relayed clients held for a new leader whose announcement (relay R) did
  // not come (pub/sub may lose it): once the lease has had time to move, say
  // their hello to whoever Redis says leads (it ignores resumptions until it
  // is ready, and then announces itself anyway); and clients with no welcome
  // for too long reconnect.
  check_routes();
  if (ticks_++ % 10 == 0) load_revocations();
  // A leader renews every interval even while earlier renewals are still
  // unanswered (pipelined on the one connection, answered in order): each
  // answer confirms the lease from its own send time. One at a time, a
  // renewal that took just over an interval (a loaded machine: Redis or this
  // process waiting for a core) made the next tick skip its renewal, so the
  // next went out two intervals after the last confirmed one and had to be
  // answered within the rest of `lease - margin` (450 ms of the default
  // 1050): two slow answers in a row stepped a healthy leader down. Now it
  // takes no answer at all, within that time, to any renewal sent in it.
  // A follower asks one at a time (its answers time its next ask).
  const int most_in_flight = lease_.is_leader() ? renewals_in_flight(opts_.lease) : 1;
  if (heartbeats_in_flight_ < most_in_flight) {
    ++heartbeats_in_flight_;
    const auto sent = now_ms();
    const std::string p = opts_.key_prefix;
    cmd_->command({"EVAL", heartbeat_lua, "2", p + ":{cluster}:leader", p + ":{cluster}:nodes", opts_.node_id,
                   std::to_string(opts_.lease.lease_ms), std::to_string(opts_.node_timeout_ms)},
                  [self = shared_from_this(), sent](redis::reply_or_error r) {
                    self->on_strand([self, sent, r = std::move(r)] { self->on_heartbeat(sent, r); });
                  });
  }
  timer_.expires_after(std::chrono::milliseconds(opts_.lease.renew_every_ms));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void node::on_heartbeat(std::int64_t sent, const redis::reply_or_error& r) {
  --heartbeats_in_flight_;
  if (stopped_) return;
  if (!r.ok() || !r.value.is_array() || r.value.elements.empty() || !r.value.elements[0].is_string()) {
    spdlog::debug("cluster: heartbeat failed: {}", r.ok() ? r.value.str : r.error);
    return;
  }
  // What a loaded machine does to the lease, for whoever reads the log after a step-down.
  if (const auto took = now_ms() - sent; lease_.is_leader() && took > opts_.lease.renew_every_ms)
    spdlog::warn("cluster: a lease renewal was answered after {} ms (renewed every {} ms; the leader steps down "
                 "{} ms after its last answered renewal was sent)",
                 took, opts_.lease.renew_every_ms, opts_.lease.lease_ms - opts_.lease.margin_ms);
  on_event(lease_.on_reply(sent, r.value.elements[0].str));
  if (r.value.elements.size() > 1) peers_ = std::max<long long>(0, r.value.elements[1].integer - 1);
  leader_pttl_ = r.value.elements.size() > 2 ? r.value.elements[2].integer : -1;
  update_gate();
  maybe_settled();
  // A follower asks again as soon as the lease may have run out: a dead
  // leader is replaced then, not up to a renew interval later.
  if (const auto next = next_heartbeat_in(opts_.lease, lease_.is_leader(), leader_pttl_);
      next < opts_.lease.renew_every_ms) {
    timer_.expires_after(std::chrono::milliseconds(next));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }
  if (std::exchange(ask_again_, false)) {
    timer_.expires_after(std::chrono::milliseconds(0));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }
  if (!lease_.is_leader()) return;
  for (std::size_t i = 3; i < r.value.elements.size(); ++i) {
    const auto& gone = r.value.elements[i].str;
    spdlog::warn("cluster: node {} stopped checking in: dropping its clients", gone);
    drop_remotes_of(gone);
  }
}

nlohmann::json node::status() const {
  std::lock_guard lk(leader_mu_);
  return nlohmann::json{{"member", opts_.node_id}, {"leading", leading_.load()}, {"leader", leader_seen_}};
}

void node::on_event(lease_event e) {
  std::string before;
  if (e != lease_event::none) {
    std::lock_guard lk(leader_mu_);
    before = std::exchange(leader_seen_, lease_.leader());
  }
  metrics_.cluster_leader = lease_.is_leader() ? 1 : 0;
  switch (e) {
    case lease_event::none: return;
    case lease_event::became_leader:
      spdlog::info("cluster: node {} now leads the cluster", opts_.node_id);
      leading_ = true;
      // Clients relayed to the previous leader stay open: they say hello to
      // this node's hub once it is ready (adopt_relayed).
      hold_relayed();
      remotes_.clear();
      start_hub();
      return;
    case lease_event::lost_leadership:
      spdlog::warn("cluster: node {} no longer leads the cluster (leader now: '{}')", opts_.node_id, lease_.leader());
      leading_ = false;
      ++hub_generation_;
      hub_ready_ = false;
      if (gate_) gate_->close();  // what is already queued on the hub's strand decides nothing either
      gate_.reset();
      // Other nodes' clients stay open: their nodes re-target them to the
      // new leader when it announces itself (their frames meanwhile are
      // answered `unavailable`, here or by their node). The hub forgets them
      // (its gauges too); then it steps down: it decides nothing more and
      // forgets this node's own clients without closing them, which become
      // relayed clients held for the next leader (step_down_locals).
      for (auto& [key, rc] : remotes_)
        if (hub_) hub_->detach(*rc);
      remotes_.clear();
      if (hub_) hub_->step_down();
      hub_.reset();
      step_down_locals();
      check_routes();  // the new leader is named already (it holds the key): its hellos go now
      return;
    case lease_event::leader_changed:
      spdlog::info("cluster: the leader is node {}", lease_.leader());
      // Kept open: they say hello again when the new leader announces it
      // serves (relay R); new clients wait for it too. (The first leader this
      // node learns of is no change: it serves already.)
      if (!before.empty()) hold_relayed();
      check_routes();  // a stepped-down leader's clients go to it at once (its announcement may be gone)
      return;
  }
}

void node::start_hub() {
  hub_ = make_hub_();
  hub_ready_ = false;
  const auto gen = ++hub_generation_;
  // The hub asks before each step whether the lease surely holds; the first
  // "no" closes the gate and has this node step down (a paused leader's
  // timers that came due meanwhile run before its own tick could say so).
  gate_ = std::make_shared<decide_gate>(opts_.lease);
  update_gate();
  hub_->set_decide_check([w = weak_from_this(), g = gate_] {
    bool just_closed = false;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
    if (g->may_decide(now, &just_closed)) return true;
    if (just_closed)
      if (auto self = w.lock()) self->on_strand([self, g] { self->gate_closed(g); });
    return false;
  });
  hub_->start([self = shared_from_this(), gen](std::string err) {
    self->on_strand([self, gen, err = std::move(err)] {
      if (gen != self->hub_generation_ || !self->hub_) return;
      if (!err.empty()) {
        spdlog::error("cluster: cannot start leading: {} (retrying)", err);
        self->hub_->stop();
        self->hub_.reset();  // the next tick tries again while we hold the lease
        return;
      }
      self->hub_ready_ = true;
      spdlog::info("cluster: node {} is serving as the leader", self->opts_.node_id);
      self->adopt_relayed();
      self->maybe_settled();
      self->announce_leadership();
    });
  });
}

// Tells every node that this one now serves as the leader (relay kind R):
// clients they relayed to a previous leader, even one of the same member id
// that stepped down and came back, say hello here again (a resumption).
void node::gate_closed(const std::shared_ptr<decide_gate>& g) {
  if (g != gate_ || !lease_.is_leader()) return;  // stepped down already
  spdlog::warn("cluster: node {}'s lease is unconfirmed past its margin: its hub stopped deciding; stepping down",
               opts_.node_id);
  on_event(lease_.step_down(now_ms()));
}

void node::announce_leadership() {
  cmd_->command({"ZRANGE", opts_.key_prefix + ":{cluster}:nodes", "0", "-1"},
                [self = shared_from_this()](redis::reply_or_error r) {
                  if (!r.ok() || !r.value.is_array()) return;
                  for (const auto& m : r.value.elements)
                    if (m.str != self->opts_.node_id)
                      self->publish(m.str, encode({relay_kind::reset, self->opts_.node_id, 0, 0, {}}));
                });
}

void node::maybe_settled() {
  if (!settled_ || stopped_) return;
  const bool ready = lease_.is_leader() ? hub_ && hub_ready_ : !lease_.leader().empty() && sub_->connected();
  if (!ready) return;
  auto f = std::move(settled_);
  settled_ = nullptr;
  f();
}

// ---------------------------------------------------------------------------
// this node's clients

void node::hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) {
  on_strand([self = shared_from_this(), c = std::move(c), h = std::move(h), raw = std::move(raw)]() mutable {
    if (self->stopped_)
      return c->close(static_cast<std::uint16_t>(protocol::close_code::going_away), "server shutting down");
    const auto id = c->id();
    if (self->lease_.is_leader() && self->hub_ && self->hub_ready_) {
      // Its hello is kept, to be said again to the next leader if this node steps down alive.
      auto& s = self->sessions_[id];
      s = session{c, route::local, self->hub_, std::move(raw), h.token.has_value(), nullptr};
      std::shared_ptr<connection> to_hub = std::move(c);
      if (!s.hello_final) to_hub = s.tap = std::make_shared<welcome_tap>(to_hub);
      s.shard = self->hub_->hello(std::move(to_hub), std::move(h));
      return;
    }
    if (!self->lease_.is_leader() && (self->lease_.leader().empty() || !self->sub_->connected()))
      return c->close(code_try_later, "no cluster leader reachable; try again");
    // Relayed to the leader; or, while the cluster changes leader (this node's
    // hub loading, or the new leader not announced yet), held: its hello goes
    // to the next leader when it serves.
    auto& s = self->sessions_[id];
    s = session{c, route::relayed, nullptr, std::move(raw), h.token.has_value(), nullptr};
    --self->metrics_.connections_unauthenticated;
    ++self->metrics_.relayed_sessions;
    const auto to = self->routes_.add(id, self->now_ms(), self->lease_.is_leader() ? std::string() : self->lease_.leader());
    if (!to.empty()) self->relay_hello(id, s, to, false);
  });
}

void node::handle(connection& c, protocol::client_message m, std::string raw) {
  on_strand([self = shared_from_this(), conn_id = c.id(), m = std::move(m), raw = std::move(raw)]() mutable {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) return;
    if (it->second.r == route::local) {
      // A hub that no longer leads takes nothing more: its clients are being closed.
      if (it->second.bound == self->hub_) it->second.bound->handle(it->second.shard, conn_id, std::move(m));
      return;
    }
    auto& s = it->second;
    const auto* to = self->routes_.find(conn_id);
    if (!to || to->leader.empty()) {
      if (auto c = s.conn.lock()) self->answer_gap(*c, m);
      return;
    }
    // Published to a leader that is gone (nobody listening) or not published
    // (Redis away): not delivered, so not stored: the client hears
    // `unavailable` for it and sends it again (same client_msg_id: stored once).
    auto wire = encode({relay_kind::frame, self->opts_.node_id, conn_id, 0, std::move(raw)});
    self->publish(to->leader, std::move(wire), [self, conn = s.conn, m = std::move(m)](long long receivers) {
      if (receivers > 0) return;
      if (auto c = conn.lock()) self->answer_gap(*c, m);
    });
  });
}

void node::detach(connection& c) {
  on_strand([self = shared_from_this(), conn_id = c.id()] {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) {
      --self->metrics_.connections_unauthenticated;  // refused before it said hello
      return;
    }
    if (it->second.r == route::local) {
      it->second.bound->detach(it->second.shard, conn_id);
    } else {
      --self->metrics_.relayed_sessions;
      if (const auto* to = self->routes_.find(conn_id); to && !to->leader.empty())
        self->publish(to->leader, encode({relay_kind::detach, self->opts_.node_id, conn_id, 0, {}}));
      self->routes_.remove(conn_id);
    }
    self->sessions_.erase(it);
  });
}

void node::users_changed() {
  on_strand([self = shared_from_this()] {
    if (self->hub_) self->hub_->users_changed();
  });
}

void node::relay_hello(std::uint64_t conn_id, const session& s, const std::string& to, bool resumed) {
  auto c = s.conn.lock();
  if (!c) return;
  // What the leader's hub checks at hello besides the frame: the client's
  // address (limits per address), its Origin and Host (a store's origin).
  // RS (\x1e) cannot appear in a JSON text, so it ends each field.
  std::string payload = std::string(c->address()) + '\x1e' + std::string(c->origin()) + '\x1e' +
                        std::string(c->host()) + '\x1e' + s.hello;
  auto wire = encode({relay_kind::hello, opts_.node_id, conn_id, resumed ? hello_resumed : std::uint16_t{0}, std::move(payload)});
  // Nobody listening (the leader died) or Redis away: the client is held
  // (kept open) for the next leader, which its hello goes to when it announces itself.
  publish(to, std::move(wire), [self = shared_from_this(), conn_id, to](long long receivers) {
    if (receivers > 0) return;
    self->on_strand([self, conn_id, to] { self->routes_.missed(conn_id, to, self->now_ms()); });
  });
}

void node::answer_gap(connection& c, const protocol::client_message& m) {
  if (std::holds_alternative<protocol::ping>(m)) return c.send(make_frame(R"({"type":"pong"})"));
  if (std::holds_alternative<protocol::typing>(m)) return;  // ephemeral: nothing to retry
  ++metrics_.cluster_gap_unavailable;
  c.send(make_frame(unavailable_frame(ref_of(m))));
}

void node::hold_relayed() { routes_.hold(now_ms()); }

void node::retarget_relayed(const std::string& leader) {
  const auto ids = routes_.retarget(now_ms(), leader);
  for (auto id : ids)
    if (auto it = sessions_.find(id); it != sessions_.end()) relay_hello(id, it->second, leader, true);
  metrics_.cluster_resumed += ids.size();
  if (!ids.empty()) spdlog::info("cluster: {} clients of this node said hello again to the leader {}", ids.size(), leader);
}

void node::adopt_relayed() {
  std::size_t n = 0;
  for (auto id : routes_.take_all()) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    auto& s = it->second;
    auto c = s.conn.lock();
    if (!c) continue;  // its detach is on its way
    auto parsed = protocol::parse_client_message(s.hello, cfg_.limits);
    if (!parsed.message || !std::holds_alternative<protocol::hello>(*parsed.message)) {
      c->close(code_restart, "the cluster's leader changed; reconnect");
      continue;
    }
    s = session{s.conn, route::local, hub_, std::move(s.hello), s.hello_final, nullptr};
    std::shared_ptr<connection> to_hub = std::move(c);
    if (!s.hello_final) to_hub = s.tap = std::make_shared<welcome_tap>(to_hub);
    --metrics_.relayed_sessions;
    ++metrics_.connections_unauthenticated;  // the hub counts it as one until its hello
    s.shard = hub_->hello(std::move(to_hub), std::get<protocol::hello>(std::move(*parsed.message)));
    ++n;
  }
  metrics_.cluster_resumed += n;
  if (n) spdlog::info("cluster: {} clients of this node said hello again to its own hub", n);
}

void node::note_welcome(std::uint64_t conn_id, session& s, const std::string& frame) {
  // Only the frames before a welcome are looked into (usually none).
  const auto* r = routes_.find(conn_id);
  if (s.hello_final && (!r || r->welcomed)) return;
  if (!is_welcome(frame)) return;
  routes_.welcomed(conn_id);
  if (s.hello_final) return;
  // A shopper: a later leader must resume this one, not make a new one.
  if (auto h = hello_after_welcome(s.hello, frame)) s.hello = std::move(*h);
  s.hello_final = true;
}

void node::close_all_local(std::uint16_t code, const std::string& reason) {
  for (auto& [id, s] : sessions_)
    if (auto c = s.conn.lock()) c->close(code, reason);
}

void node::step_down_locals() {
  const auto now = now_ms();
  routes_.stepped_down(now);
  std::size_t n = 0;
  for (auto& [id, s] : sessions_) {
    if (s.r != route::local) continue;
    if (s.conn.expired()) continue;  // its detach is on its way (to a hub that drops it)
    if (s.tap) {
      if (auto w = s.tap->welcome()) {
        s.hello = hello_to_resume(s.hello, *w);
        s.hello_final = true;
      }
      s.tap.reset();
    }
    s.r = route::relayed;
    s.bound.reset();
    ++metrics_.relayed_sessions;
    routes_.add(id, now, {});  // held until the next leader serves
    ++n;
  }
  if (n) spdlog::info("cluster: {} clients of this node kept open, to say hello again to the next leader", n);
}

// ---------------------------------------------------------------------------
// frames from other nodes

void node::drop_remotes_of(const std::string& node_id) {
  reannounce_.forget(node_id);
  for (auto it = remotes_.begin(); it != remotes_.end();) {
    if (it->second->node_id() != node_id) {
      ++it;
      continue;
    }
    if (hub_) hub_->detach(*it->second);
    it = remotes_.erase(it);
  }
}

void node::on_relay(std::string wire) {
  on_strand([self = shared_from_this(), wire = std::move(wire)] {
    auto m = decode(wire);
    if (!m) return spdlog::warn("cluster: malformed relay message ignored ({} bytes)", wire.size());
    // Stopping: a frame relayed here meanwhile is answered `unavailable` (sent
    // again to the next leader); nothing else is taken.
    if (self->stopped_ && m->kind != relay_kind::frame) return;
    if (m->kind != relay_kind::batch) return self->handle_relay(std::move(*m));
    auto parts = decode_batch(m->payload);
    if (!parts) return spdlog::warn("cluster: malformed relay batch ignored ({} bytes)", wire.size());
    for (auto& p : *parts) {
      auto one = decode(p);
      if (one && one->kind != relay_kind::batch) self->handle_relay(std::move(*one));
    }
  });
}

// One relay message, on the strand (a batch was unpacked by on_relay).
void node::handle_relay(relay_message msg) {
  auto refuse = [&](std::uint16_t code, const char* why) {
    publish(msg.node, encode({relay_kind::close, msg.node, msg.conn, code, why}));
  };
  switch (msg.kind) {
    case relay_kind::hello: {
      if (!lease_.is_leader() || !hub_ || !hub_ready_) {
        // A resumption too early (a follower's fallback): it comes again when
        // this node announces it serves; the client stays open meanwhile.
        if (msg.code == hello_resumed) return;
        return refuse(code_try_later, "this node does not lead the cluster (now); reconnect");
      }
      const auto key = remote_key(msg.node, msg.conn);
      if (auto old = remotes_.find(key); old != remotes_.end()) {
        hub_->detach(*old->second);  // a stale one (should not happen): the new hello wins
        remotes_.erase(old);
      }
      std::string_view rest = msg.payload;
      std::string fields[3];
      for (auto& f : fields) {
        auto rs = rest.find('\x1e');
        if (rs == std::string_view::npos) return refuse(static_cast<std::uint16_t>(protocol::close_code::auth), "malformed relayed hello");
        f = std::string(rest.substr(0, rs));
        rest.remove_prefix(rs + 1);
      }
      auto parsed = protocol::parse_client_message(rest, cfg_.limits);
      if (!parsed.message || !std::holds_alternative<protocol::hello>(*parsed.message))
        return refuse(static_cast<std::uint16_t>(protocol::close_code::auth), "the first frame must be a valid hello");
      auto rc = std::make_shared<remote_connection>(next_remote_id_++, msg.node, msg.conn, weak_from_this(),
                                                    std::move(fields[0]), std::move(fields[1]), std::move(fields[2]));
      remotes_[key] = rc;
      ++metrics_.connections_unauthenticated;  // the hub counts it as one until it says hello
      hub_->hello(rc, std::get<protocol::hello>(std::move(*parsed.message)));
      return;
    }
    case relay_kind::frame: {
      auto it = remotes_.find(remote_key(msg.node, msg.conn));
      if (stopped_ || !lease_.is_leader() || !hub_ || !hub_ready_) {
        // Relayed here by a node that does not know yet that this one no
        // longer leads (or does not serve yet, or is stopping): not handled, so the client
        // hears `unavailable` and sends it again once re-targeted.
        ++metrics_.cluster_gap_unavailable;
        return publish(msg.node, encode({relay_kind::send, msg.node, msg.conn, 0,
                                         unavailable_frame(protocol::guess_ref(msg.payload))}));
      }
      if (it == remotes_.end()) {
        // A client this leader never took (its resumption came while the hub
        // loaded and was ignored, and the frame overtook the announcement's
        // re-hello; or its node was dropped for not checking in): not
        // handled, `unavailable`, and its node is asked to say its clients'
        // hello again (relay R) rather than told to close it.
        ++metrics_.cluster_gap_unavailable;
        publish(msg.node, encode({relay_kind::send, msg.node, msg.conn, 0, unavailable_frame(protocol::guess_ref(msg.payload))}));
        if (reannounce_.due(msg.node, now_ms())) {
          spdlog::info("cluster: a frame from a client of node {} this leader does not know: asking it to say hello again", msg.node);
          publish(msg.node, encode({relay_kind::reset, opts_.node_id, 0, 0, {}}));
        }
        return;
      }
      auto parsed = protocol::parse_client_message(msg.payload, cfg_.limits);
      if (parsed.message) hub_->handle(*it->second, std::move(*parsed.message));
      return;
    }
    case relay_kind::detach: {
      auto it = remotes_.find(remote_key(msg.node, msg.conn));
      if (it == remotes_.end()) return;
      if (hub_) hub_->detach(*it->second);
      remotes_.erase(it);
      return;
    }
    case relay_kind::batch: return;  // never nested
    case relay_kind::revoked: {
      auto sp = msg.payload.find(' ');
      if (sp == std::string::npos || !opts_.revoked) return;
      const auto exp = std::strtoll(msg.payload.substr(0, sp).c_str(), nullptr, 10);
      auto id = msg.payload.substr(sp + 1);
      opts_.revoked->revoke(id, exp, now_ms());
      if (hub_) hub_->signed_out(std::move(id));
      return;
    }
    case relay_kind::left:
      if (lease_.is_leader()) {
        spdlog::info("cluster: node {} left: dropping its clients", msg.node);
        drop_remotes_of(msg.node);
      } else if (lease_.released_by(msg.node)) {
        // The leader stopped and gave its lease up: the key is free now. Its
        // relayed clients wait for the next leader; ask for the lease at once.
        spdlog::info("cluster: the leader {} gave its lease up: asking for it now", msg.node);
        hold_relayed();
        if (heartbeats_in_flight_ > 0) ask_again_ = true;
        else tick();
      }
      return;
    case relay_kind::reset:
      if (lease_.is_leader()) return;  // Redis, not a message, says who leads
      on_event(lease_.on_announce(now_ms(), msg.node));
      retarget_relayed(msg.node);
      return;
    case relay_kind::send:
    case relay_kind::close: {
      auto it = sessions_.find(msg.conn);
      if (it == sessions_.end()) return;
      auto c = it->second.conn.lock();
      if (!c) return;
      if (msg.kind == relay_kind::send) {
        if (it->second.r == route::relayed) note_welcome(msg.conn, it->second, msg.payload);
        return c->send(make_frame(std::move(msg.payload)));
      }
      return c->close(msg.code, std::move(msg.payload));
    }
  }
}

// Signed-out tokens: a sorted set (token id scored by its expiry, trimmed
// as they expire) that a starting node reads, and a broadcast (relay kind T) so the others know at
// once; every 10th heartbeat each node reads the set again, in case it missed
// a broadcast while its subscription was down.
void node::signed_out(std::string token_id, timestamp_ms expires) {
  asio::post(strand_, [self = shared_from_this(), token_id = std::move(token_id), expires]() mutable {
    if (self->hub_) self->hub_->signed_out(token_id);
    const auto key = self->opts_.key_prefix + ":{cluster}:revoked";
    self->cmd_->command({"ZADD", key, std::to_string(expires), token_id}, [](const redis::reply_or_error&) {});
    const auto wire = encode({relay_kind::revoked, self->opts_.node_id, 0, 0, std::to_string(expires) + " " + token_id});
    self->cmd_->command({"ZRANGE", self->opts_.key_prefix + ":{cluster}:nodes", "0", "-1"},
                        [self, wire](redis::reply_or_error r) {
                          if (!r.ok() || !r.value.is_array()) return;
                          for (const auto& m : r.value.elements)
                            if (m.str != self->opts_.node_id) self->publish(m.str, wire);
                        });
  });
}

void node::load_revocations() {
  if (!opts_.revoked) return;
  const auto key = opts_.key_prefix + ":{cluster}:revoked";
  const auto now = now_ms();
  cmd_->command({"ZREMRANGEBYSCORE", key, "-inf", std::to_string(now)}, [](const redis::reply_or_error&) {});
  cmd_->command({"ZRANGEBYSCORE", key, std::to_string(now), "+inf", "WITHSCORES"},
                [self = shared_from_this(), now](redis::reply_or_error r) {
                  if (!r.ok() || !r.value.is_array()) return;
                  const auto& e = r.value.elements;
                  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
                    char* end = nullptr;
                    const auto exp = std::strtoll(e[i + 1].str.c_str(), &end, 10);
                    if (!self->opts_.revoked->revoked(e[i].str)) {
                      self->opts_.revoked->revoke(e[i].str, exp, now);
                      asio::post(self->strand_, [self, id = e[i].str] {
                        if (self->hub_) self->hub_->signed_out(id);
                      });
                    }
                  }
                });
}

}  // namespace calma::cluster
