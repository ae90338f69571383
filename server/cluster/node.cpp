// A node of a cluster on Redis: start, stop, and the leases of the hub shards
// (heartbeat, claims, taking and giving up a shard, its hub). Its clients are
// in node_clients.cpp, the relay in node_relay.cpp; server/cluster/README.md
// says how it all works.
#include "server/cluster/node.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "server/cluster/node_internal.hpp"

namespace calma::cluster {

namespace asio = boost::asio;
using namespace node_detail;

namespace {

// Every node, every renew interval, in one round trip, for every hub shard's
// lease (KEYS[2..n+1], ARGV[5] one ask per shard: 't' take it if free or
// renew it if ours, 'k' renew it if ours, 'g' delete it if ours: handed over):
// renew first (PEXPIRE needs no memory, so a Redis at maxmemory still
// renews); take a free one only under the plan the leases were taken with
// (KEYS[n+2], kept as long as a lease: two nodes with different plans must
// never lead one store twice; with several shards the leader's key, KEYS[n+4],
// is held as 'shards' too, so a node of an older version follows instead of
// leading every store, and one an older leader holds stops us taking any);
// then check in (the nodes sorted set, scored with Redis's own clock, so the
// nodes' clocks do not matter; pcall: a refused check-in must not cost a
// lease), note our plan (the hash KEYS[n+3]) and list the live members, the
// fresh ones of our plan (checked in within ARGV[4]: who may be preferred for a shard)
// and the stale ones (past ARGV[3]: their clients are dropped by the
// leaders; trimmed 30 s later, by when every leader has seen them). A node is
// known by its member id, "<node id>@<incarnation>": a restarted node is a
// new member. Returns {live, {fresh...}, {stale...}, plan ok, then each
// shard's holder ('' when free) and its lease's time left (ms)}.
constexpr const char* heartbeat_lua = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = ARGV[1]
local n = #ARGV[5]
local plan_key = KEYS[n + 2]
local plans = KEYS[n + 3]
local plan = redis.call('GET', plan_key)
local plan_ok = (not plan) or plan == ARGV[6]
-- Several shards: the leader's key is ours too ('shards'), so that a node of
-- an older version, which knows only that key, follows instead of leading
-- every store; one it holds (an older leader alive) means we take nothing.
local old = false
if n > 1 then
  old = redis.call('GET', KEYS[n + 4])
  if old and old ~= 'shards' then plan_ok = false end
end
-- Renewals and gives first (PEXPIRE and DEL need no memory: at maxmemory
-- they still work), then takes, each under pcall (a SET refused at
-- maxmemory must not stop the renewals).
local holders = {}
local holds = false
for i = 1, n do
  local key = KEYS[i + 1]
  local ask = string.sub(ARGV[5], i, i)
  local holder = redis.call('GET', key)
  if holder == me then
    if ask == 'g' then
      redis.call('DEL', key)
      holder = false
    else
      redis.call('PEXPIRE', key, ARGV[2])
      holds = true
    end
  end
  holders[i] = holder
end
for i = 1, n do
  if (not holders[i]) and string.sub(ARGV[5], i, i) == 't' and plan_ok then
    local ok = redis.pcall('SET', KEYS[i + 1], me, 'PX', ARGV[2])
    if type(ok) == 'table' and ok.ok then
      holders[i] = me
      holds = true
    end
  end
end
local shards = {}
for i = 1, n do
  shards[#shards + 1] = holders[i] or ''
  shards[#shards + 1] = redis.call('PTTL', KEYS[i + 1])
end
if holds then
  redis.pcall('SET', plan_key, ARGV[6], 'PX', ARGV[2])
  if n > 1 and ((not old) or old == 'shards') then redis.pcall('SET', KEYS[n + 4], 'shards', 'PX', ARGV[2]) end
end
redis.pcall('ZADD', KEYS[1], now, me)
redis.pcall('HSET', plans, me, ARGV[6])
local live = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[3]), '+inf')
-- Fresh members of our plan only: a node planning otherwise takes nothing, so it is nobody's choice.
local fresh = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[4]), '+inf')) do
  if redis.call('HGET', plans, m) == ARGV[6] then fresh[#fresh + 1] = m end
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]) - 30000)) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', plans, m)
end
local out = {live, fresh, stale, plan_ok and 1 or 0}
for _, v in ipairs(shards) do out[#out + 1] = v end
return out
)lua";

// A node leaving on purpose: give its leases up at once (only its own: a
// compare-and-delete per shard key, KEYS[3..]), check out (KEYS[1], and its
// plan from KEYS[2]), and say so to
// every other member (relay kind L): the leaders drop its clients now (their
// detach messages may not all have gone out), and the nodes whose shards it
// led ask for them at once instead of at their next heartbeat (nodes that
// do not know the shards' leader ignore it). ARGV[2]: channel prefix.
constexpr const char* release_lua = R"lua(
local us = string.char(31)
local left = 'L' .. us .. ARGV[1] .. us .. '0' .. us .. '0' .. us
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
for _, n in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if n ~= ARGV[1] then redis.call('PUBLISH', ARGV[2] .. n, left) end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
)lua";

}  // namespace

std::shared_ptr<node> node::create(asio::io_context& ioc, node_options o, const config& cfg, metrics& m,
                                   node_shards shards, hub_factory make_hub) {
  auto n = std::shared_ptr<node>(new node(ioc, std::move(o), cfg, m, std::move(shards), std::move(make_hub)));
  n->router_ = std::make_shared<shard_router>(cfg, *n->shards_.st, *n->shards_.signer, *n->shards_.users,
                                              n->shards_.plan, static_cast<shard_port&>(*n), &n->metrics_);
  return n;
}

std::string node::lease_key(const std::string& prefix, std::size_t shards, std::size_t k) {
  if (shards <= 1) return prefix + ":{cluster}:leader";
  return prefix + ":{cluster}:shard:" + std::to_string(k);
}

node::node(asio::io_context& ioc, node_options o, const config& cfg, metrics& m, node_shards shards,
           hub_factory make_hub)
    : ioc_(ioc),
      strand_(asio::make_strand(ioc)),
      opts_(std::move(o)),
      cfg_(cfg),
      metrics_(m),
      shards_(std::move(shards)),
      make_hub_(std::move(make_hub)),
      timer_(strand_),
      claims_(opts_.node_id, static_cast<std::size_t>(std::max(1, shards_.plan.shards)),
              claim_params{2 * opts_.lease.lease_ms, 2 * opts_.lease.renew_every_ms}) {
  const auto n = static_cast<std::size_t>(std::max(1, shards_.plan.shards));
  for (std::size_t k = 0; k < n; ++k)
    lanes_.push_back(std::make_unique<lane>(static_cast<std::uint32_t>(k), lease_key(opts_.key_prefix, n, k),
                                            opts_.node_id, opts_.lease,
                                            failover_params{opts_.lease.lease_ms, welcome_timeout_ms}));
  leaders_seen_.resize(n);
  limits_ = make_hub_();
  std::vector<std::pair<std::string, int>> stores;
  for (const auto& st : cfg_.stores) stores.emplace_back(st.id, shards_.plan.store_shard(st.id));
  plan_key_ = shard_claims::plan_key(n, stores);
}

node::~node() {
  if (cmd_) cmd_->stop();
  if (sub_) sub_->stop();
}


std::int64_t node::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string node::channel_of(const std::string& node_id) const { return opts_.key_prefix + ":node:" + node_id; }

std::uint64_t node::relay_conn(std::uint32_t k, std::uint64_t id) const {
  if (lanes_.size() <= 1) return id;
  return (id & conn_id_mask) | (static_cast<std::uint64_t>(k + 1) << shard_tag_shift);
}

node::lane* node::lane_of_relay(std::uint64_t conn, std::uint64_t* id) {
  const auto tag = conn >> shard_tag_shift;
  if (lanes_.size() <= 1 || tag == 0) {
    *id = conn;
    return lanes_.front().get();
  }
  *id = conn & conn_id_mask;
  return tag - 1 < lanes_.size() ? lanes_[tag - 1].get() : nullptr;
}

void node::ask_now() {
  // One heartbeat at a time when not leading: a second waits for the answer of the first.
  if (heartbeats_in_flight_ > 0) ask_again_ = true;
  else tick();
}

std::string node::what(const lane& l) const {
  return lanes_.size() <= 1 ? std::string("the cluster") : "shard " + std::to_string(l.k);
}

void node::set_leading() {
  int n = 0;
  for (const auto& l : lanes_) n += l->lease.is_leader() ? 1 : 0;
  leading_ = n;
  leads_first_ = lanes_.front()->lease.is_leader();
  metrics_.cluster_leader = n > 0 ? 1 : 0;
}

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
      // Relayed frames may have been lost either way. Every session relayed
      // through this link is held (kept open, its frames answered
      // `unavailable`) and says hello again once the link is back: the
      // welcome makes it catch up by seq. A leader forgets the clients of
      // other nodes (their nodes hold them too, or hear its announcement).
      self->relink_pending_ = true;
      std::size_t dropped = 0;
      for (auto& l : self->lanes_) {
        self->hold_relayed(*l);
        dropped += l->remotes.size();
        for (auto& [key, rc] : l->remotes)
          if (l->hub) l->hub->detach(rc->id(), rc->counted());
        l->remotes.clear();
      }
      if (dropped)
        spdlog::warn("cluster: lost the relay link ({}): forgetting {} remote clients until it is back", reason, dropped);
    });
  });
  sub_->set_on_ready([w] {
    // The relay link is back (subscribed again). For each shard: its leader
    // (this node) announces itself, and every node says its sessions' hello
    // again; a shard led elsewhere: its sessions say hello again to that leader.
    if (auto self = w.lock()) self->on_strand([self] {
      if (!self->relink_pending_ || self->stopped_) return;
      self->relink_pending_ = false;
      for (auto& l : self->lanes_) {
        if (l->lease.is_leader()) {
          if (l->hub && l->ready) self->announce(*l);
        } else if (!l->lease.leader().empty()) {
          self->retarget_relayed(*l, l->lease.leader());
        }
      }
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
  // New conversations let pass here are told to the other nodes at once (one
  // message per burst of them), which charge their own buckets: an address
  // gets its allowance once in the cluster, not once per shard leader.
  limits_->conversation_limits()->on_passed([w] {
    if (auto self = w.lock()) self->on_strand([self] { self->flush_quota(); });
  });
  cmd_->start();
  sub_->start();
  on_strand([self = shared_from_this()] { self->tick(); });
}

void node::flush_quota() {
  auto payload = encode_quota(limits_->conversation_limits()->drain());
  if (payload.empty() || stopped_ || fresh_peers_.empty()) return;
  const auto wire = encode({relay_kind::quota, opts_.node_id, 0, 0, std::move(payload)});
  for (const auto& m : fresh_peers_) send_to_member(m, wire);
}

void node::stop() {
  on_strand([self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    self->timer_.cancel();
    // Other nodes' clients are theirs to keep. The hubs forget them (before
    // they stop: the strand runs these first) rather than closing them;
    // their nodes hold them and say their hello to the next leader.
    for (auto& l : self->lanes_) {
      // Closed before the leases are given up: what is queued on the hubs'
      // strands decides nothing once another node may hold the keys.
      if (l->gate) l->gate->close();
      for (auto& [key, rc] : l->remotes)
        if (l->hub) l->hub->detach(rc->id(), rc->counted());
      l->remotes.clear();
      l->ready = false;
      if (l->hub) l->hub->stop();
    }
    self->close_all_local(static_cast<std::uint16_t>(protocol::close_code::going_away), "server shutting down");
    // What the outbox holds goes before the release script's `L`: a hello
    // queued just before would otherwise reach a leader after it dropped this
    // node's clients and leave it a client that nothing detaches.
    self->flush_outbox();
    const std::string p = self->opts_.key_prefix;
    std::vector<std::string> cmd{"EVAL", release_lua, std::to_string(2 + self->lanes_.size()), p + ":{cluster}:nodes",
                                 p + ":{cluster}:plans"};
    for (const auto& l : self->lanes_) cmd.push_back(l->key);
    cmd.push_back(self->opts_.node_id);
    cmd.push_back(p + ":node:");
    self->cmd_->command(std::move(cmd), [self](const redis::reply_or_error&) {
      self->sub_->stop();
      self->released_ = true;
    });
    self->leading_ = 0;
    self->leads_first_ = false;
  });
}

// ---------------------------------------------------------------------------
// the leases

void node::check_routes(lane& l) {
  const auto due = l.routes.on_tick(now_ms(), l.lease.is_leader() ? std::string() : l.lease.leader());
  if (!due.retarget_to.empty()) retarget_relayed(l, due.retarget_to);
  for (auto id : due.expired)
    if (auto it = l.sessions.find(id); it != l.sessions.end())
      if (auto c = it->second.conn.lock()) c->close(code_try_later, "no cluster leader answered; reconnect");
}

bool node::lease_clock_runs() const {
  return cluster::lease_clock_runs(opts_.lease, now_ms(), reachable_since_, peers_);
}

void node::update_gates() {
  for (auto& l : lanes_) {
    if (!l->gate || !l->lease.is_leader()) continue;
    l->gate->set_link(reachable_since_, peers_);
    l->gate->extend(l->lease.holds_until());
  }
}

void node::tick() {
  if (stopped_) return;
  // Time counts against our leases while Redis is reachable and the
  // heartbeats since it came back had their chance to renew them, and always
  // when other nodes were alive at the last check-in: one of them may take a
  // lease from a Redis we cannot reach (a partition), so we stop first.
  // Alone, we keep leading through a Redis outage (nobody could take over).
  if (lease_clock_runs())
    for (auto& l : lanes_) on_event(*l, l->lease.on_tick(now_ms()));
  update_gates();
  for (auto& l : lanes_) {
    if (l->lease.is_leader() && !l->hub) start_hub(*l);  // a start that failed is retried
    // Sessions held for a new leader whose announcement (relay R) did not
    // come (pub/sub may lose it): once the lease has had time to move, say
    // their hello to whoever Redis says leads (it ignores resumptions until
    // it is ready, and then announces itself anyway); and sessions with no
    // welcome for too long reconnect.
    check_routes(*l);
  }
  if (ticks_++ % 10 == 0) load_revocations();
  send_heartbeat();
  timer_.expires_after(std::chrono::milliseconds(opts_.lease.renew_every_ms));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void node::send_heartbeat() {
  // A leader renews every interval even while earlier renewals are still
  // unanswered (pipelined on the one connection, answered in order): each
  // answer confirms its leases from its own send time, so it takes no answer
  // at all, within `lease - margin`, to any renewal sent in that time to
  // step it down (one slow answer no longer costs the next renewal). A node
  // leading nothing asks one at a time (its answers time its next ask).
  const int most_in_flight = leading() ? renewals_in_flight(opts_.lease) : 1;
  if (heartbeats_in_flight_ >= most_in_flight) return;
  ++heartbeats_in_flight_;
  const auto sent = now_ms();
  std::string asks;
  for (const auto& l : lanes_) asks += static_cast<char>(claims_.ask(l->k, sent, l->lease.is_leader()));
  const std::string p = opts_.key_prefix;
  const bool several = lanes_.size() > 1;
  std::vector<std::string> cmd{"EVAL", heartbeat_lua, std::to_string(lanes_.size() + (several ? 4 : 3)),
                               p + ":{cluster}:nodes"};
  for (const auto& l : lanes_) cmd.push_back(l->key);
  cmd.push_back(p + ":{cluster}:plan");
  cmd.push_back(p + ":{cluster}:plans");
  if (several) cmd.push_back(lease_key(p, 1, 0));  // the leader's key, held as 'shards'

  cmd.push_back(opts_.node_id);
  cmd.push_back(std::to_string(opts_.lease.lease_ms));
  cmd.push_back(std::to_string(opts_.node_timeout_ms));
  // Fresh: checked in within half a lease. A dead node is nobody's preferred
  // member any more well before its leases run out.
  cmd.push_back(std::to_string(opts_.lease.lease_ms / 2));
  cmd.push_back(std::move(asks));
  cmd.push_back(plan_key_);
  cmd_->command(std::move(cmd), [self = shared_from_this(), sent](redis::reply_or_error r) {
    self->on_strand([self, sent, r = std::move(r)] { self->on_heartbeat(sent, r); });
  });
}

void node::on_heartbeat(std::int64_t sent, const redis::reply_or_error& r) {
  --heartbeats_in_flight_;
  if (stopped_) return;
  const auto n = lanes_.size();
  if (!r.ok() || !r.value.is_array() || r.value.elements.size() != 4 + 2 * n || !r.value.elements[1].is_array() ||
      !r.value.elements[2].is_array()) {
    spdlog::debug("cluster: heartbeat failed: {}", r.ok() ? r.value.str : r.error);
    return;
  }
  const auto& e = r.value.elements;
  const auto now = now_ms();
  // What a loaded machine does to the leases, for whoever reads the log after a step-down.
  if (const auto took = now - sent; leading() && took > opts_.lease.renew_every_ms)
    spdlog::warn("cluster: a lease renewal was answered after {} ms (renewed every {} ms; a leader steps down "
                 "{} ms after its last answered renewal was sent)",
                 took, opts_.lease.renew_every_ms, opts_.lease.lease_ms - opts_.lease.margin_ms);
  plan_rejected_ = e[3].integer != 1;
  if (plan_rejected_ && now - plan_warned_ > 60'000) {
    plan_warned_ = now;
    spdlog::error("cluster: the shards are leased under another plan than this node's ({}): it leads no shard until "
                  "every node has the same users file, stores and server.shards (its clients are refused: 1013)",
                  plan_key_);
  }
  std::vector<std::string> fresh, holders;
  for (const auto& m : e[1].elements) fresh.push_back(m.str);
  fresh_peers_.clear();
  for (const auto& m : fresh)
    if (m != opts_.node_id) fresh_peers_.push_back(m);
  for (std::size_t k = 0; k < n; ++k) holders.push_back(e[4 + 2 * k].str);
  std::vector<bool> was_giving;
  for (std::size_t k = 0; k < n; ++k) was_giving.push_back(claims_.is_giving(k));
  claims_.on_view(now, fresh, holders);
  peers_ = std::max<long long>(0, e[0].integer - 1);
  for (std::size_t k = 0; k < n; ++k) {
    auto& l = *lanes_[k];
    on_event(l, l.lease.on_reply(sent, holders[k]));
    l.pttl = e[5 + 2 * k].integer;
    // Handed over: the key is free now; the members ask for it at once.
    if (was_giving[k] && holders[k].empty())
      for (const auto& m : fresh)
        if (m != opts_.node_id) publish(m, encode({relay_kind::left, opts_.node_id, relay_conn(l.k, 0), 0, {}}));
  }
  set_leading();
  update_gates();
  maybe_settled();
  // A node asks again as soon as a lease it does not hold may have run out:
  // a dead leader is replaced then, not up to a renew interval later.
  timestamp_ms next = opts_.lease.renew_every_ms;
  for (const auto& l : lanes_) next = std::min(next, next_heartbeat_in(opts_.lease, l->lease.is_leader(), l->pttl));
  // A shard to hand over (a member that joined has settled): stepped down
  // now, and the key given back by a heartbeat sent at once.
  for (auto& l : lanes_)
    if (const auto to = claims_.hand_over(l->k, now, l->lease.is_leader()); !to.empty()) {
      spdlog::info("cluster: node {} hands shard {} over to {}", opts_.node_id, l->k, to);
      claims_.giving(l->k, now);
      on_event(*l, l->lease.step_down(now));
      set_leading();
      next = 0;
    }
  if (std::exchange(ask_again_, false)) next = 0;
  if (next < opts_.lease.renew_every_ms) {
    timer_.expires_after(std::chrono::milliseconds(next));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }
  for (const auto& gone : e[2].elements)
    for (auto& l : lanes_)
      if (l->lease.is_leader()) drop_remotes_of(*l, gone.str);
}

nlohmann::json node::status() const {
  std::lock_guard lk(leader_mu_);
  auto shards = nlohmann::json::array();
  for (std::size_t k = 0; k < leaders_seen_.size(); ++k)
    shards.push_back(
        {{"shard", k}, {"leader", leaders_seen_[k]}, {"stores", shards_.plan.stores_of(static_cast<int>(k))}});
  return nlohmann::json{{"member", opts_.node_id},
                        {"leading", leading_.load() > 0},
                        {"refusing_clients", plan_rejected_.load()},
                        {"plan_outdated", plan_outdated_.load()},
                        {"leader", leaders_seen_.empty() ? std::string() : leaders_seen_.front()},
                        {"shards", std::move(shards)}};
}

void node::on_event(lane& l, lease_event e, bool then_routes) {
  if (e == lease_event::none) return;
  std::string before;
  {
    std::lock_guard lk(leader_mu_);
    before = std::exchange(leaders_seen_[l.k], l.lease.leader());
  }
  set_leading();
  switch (e) {
    case lease_event::none: return;
    case lease_event::became_leader:
      spdlog::info("cluster: node {} now leads {}", opts_.node_id, what(l));
      claims_.cancel_giving(l.k);  // a hand-over under way is off: this hub will decide on the key
      // Sessions relayed to the previous leader stay open: they say hello to
      // this node's hub once it is ready (adopt_relayed).
      hold_relayed(l);
      l.remotes.clear();
      start_hub(l);
      return;
    case lease_event::lost_leadership:
      spdlog::warn("cluster: node {} no longer leads {} (leader now: '{}')", opts_.node_id, what(l), l.lease.leader());
      ++l.generation;
      l.ready = false;
      if (l.gate) l.gate->close();  // what is already queued on the hub's strand decides nothing either
      l.gate.reset();
      // Other nodes' clients stay open: their nodes re-target them to the
      // new leader when it announces itself (their frames meanwhile are
      // answered `unavailable`, here or by their node). The hub forgets them
      // (its gauges too); then it steps down: it decides nothing more and
      // forgets this node's own sessions without closing them, which become
      // relayed sessions held for the next leader (step_down_locals).
      for (auto& [key, rc] : l.remotes)
        if (l.hub) l.hub->detach(rc->id(), rc->counted());
      l.remotes.clear();
      if (l.hub) l.hub->step_down();
      l.hub.reset();
      step_down_locals(l);
      check_routes(l);  // the new leader is named already (it holds the key): the hellos go now
      return;
    case lease_event::leader_changed:
      spdlog::info("cluster: the leader of {} is node {}", what(l), l.lease.leader().empty() ? "(none)" : l.lease.leader());
      // Kept open: they say hello again when the new leader announces it
      // serves (relay R); new sessions wait for it too. (The first leader
      // this node learns of is no change: it serves already.)
      if (!before.empty()) hold_relayed(l);
      if (then_routes) check_routes(l);  // a stepped-down leader's sessions go to it at once (its announcement may be gone)
      return;
  }
}

void node::start_hub(lane& l) {
  l.hub = make_hub_();
  if (lanes_.size() > 1) l.hub->set_scope(static_cast<int>(l.k), shards_.plan.stores_of(static_cast<int>(l.k)), l.k == 0);
  // The node's limits outlive its hubs (a shard stepped down and taken again
  // remembers an address's flood) and are counted across the cluster (flush_quota).
  l.hub->share_limits_with(*limits_);
  l.ready = false;
  const auto gen = ++l.generation;
  // The hub asks before each step whether the lease surely holds; the first
  // "no" closes the gate and has this node step the shard down (a paused
  // leader's timers that came due meanwhile run before its own tick could say so).
  l.gate = std::make_shared<decide_gate>(opts_.lease);
  update_gates();
  const auto k = l.k;
  l.hub->set_decide_check([w = weak_from_this(), g = l.gate, k] {
    bool just_closed = false;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
    if (g->may_decide(now, &just_closed)) return true;
    if (just_closed)
      if (auto self = w.lock()) self->on_strand([self, g, k] { self->gate_closed(k, g); });
    return false;
  });
  l.hub->start([self = shared_from_this(), k, gen](std::string err) {
    self->on_strand([self, k, gen, err = std::move(err)] {
      auto& l = *self->lanes_[k];
      if (gen != l.generation || !l.hub) return;
      if (!err.empty()) {
        spdlog::error("cluster: cannot start leading shard {}: {} (retrying)", k, err);
        l.hub->stop();
        l.hub.reset();  // the next tick tries again while we hold the lease
        return;
      }
      l.ready = true;
      spdlog::info("cluster: node {} is serving as the leader of {}", self->opts_.node_id, self->what(l));
      self->adopt_relayed(l);
      self->maybe_settled();
      self->announce(l);
    });
  });
}

void node::gate_closed(std::uint32_t k, const std::shared_ptr<decide_gate>& g) {
  auto& l = *lanes_[k];
  if (g != l.gate || !l.lease.is_leader()) return;  // stepped down already
  spdlog::warn("cluster: node {}'s lease of shard {} is unconfirmed past its margin: its hub stopped deciding; "
               "stepping down",
               opts_.node_id, k);
  on_event(l, l.lease.step_down(now_ms()));
}

// Tells every node that this one now serves shard k as its leader (relay kind
// R, the shard in `conn`): sessions they relayed to a previous leader, even
// one of the same member id that stepped down and came back, say hello here
// again (a resumption).
void node::announce(const lane& l) {
  cmd_->command({"ZRANGE", opts_.key_prefix + ":{cluster}:nodes", "0", "-1"},
                [self = shared_from_this(), conn = relay_conn(l.k, 0)](redis::reply_or_error r) {
                  if (!r.ok() || !r.value.is_array()) return;
                  for (const auto& m : r.value.elements)
                    if (m.str != self->opts_.node_id)
                      self->publish(m.str, encode({relay_kind::reset, self->opts_.node_id, conn, 0, {}}));
                });
}

void node::maybe_settled() {
  if (!settled_ || stopped_) return;
  // Planning otherwise than the cluster, it may wait for ever for a shard
  // nobody else has: it listens, refusing its clients (1013) and saying why.
  for (const auto& l : lanes_) {
    if (plan_rejected_) break;
    const bool ready = l->lease.is_leader() ? l->hub && l->ready : !l->lease.leader().empty() && sub_->connected();
    if (!ready) return;
  }
  auto f = std::move(settled_);
  settled_ = nullptr;
  f();
}

}  // namespace calma::cluster
