// This node's own clients: hellos, frames and detaches through the router to
// each shard's lane, to its hub when this node leads the shard, else relayed
// to the leader; held, re-targeted and adopted across leader changes.
#include "server/cluster/node.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "common/protocol/merge.hpp"
#include "server/cluster/node_internal.hpp"

namespace calma::cluster {

namespace asio = boost::asio;
using namespace node_detail;

// ---------------------------------------------------------------------------
// this node's clients: through the router (a shard each, or a fan-in's legs) to the lanes

void node::hello(std::shared_ptr<connection> c, protocol::hello h, std::string raw) {
  router_->hello(std::move(c), std::move(h), raw);
}

void node::handle(connection& c, protocol::client_message m, std::string raw) {
  router_->handle(c.shard(), c.id(), std::move(m), std::move(raw));
}

void node::detach(connection& c) { router_->detach(c.shard(), c.id()); }

void node::hello(std::uint32_t k, std::shared_ptr<connection> c, protocol::hello h, const std::string& raw) {
  on_strand([self = shared_from_this(), k, c = std::move(c), h = std::move(h), raw]() mutable {
    if (self->stopped_)
      return c->close(static_cast<std::uint16_t>(protocol::close_code::going_away), "server shutting down");
    // Its plan is not the cluster's: it would route clients to shards that hold other stores.
    if (self->plan_rejected_)
      return c->close(code_try_later, "this node plans other hub shards than the cluster; reconnect");
    if (k >= self->lanes_.size()) k = 0;
    auto& l = *self->lanes_[k];
    const auto id = c->id();
    const bool counted = c->counted();
    if (l.lease.is_leader() && l.hub && l.ready) {
      // Its hello is kept, to be said again to the next leader if this node steps the shard down alive.
      auto& s = l.sessions[id];
      s = session{c, route::local, l.hub, std::move(raw), h.token.has_value(), nullptr, counted};
      std::shared_ptr<connection> to_hub = std::move(c);
      if (!s.hello_final) to_hub = s.tap = std::make_shared<welcome_tap>(to_hub);
      l.hub->hello(std::move(to_hub), std::move(h));
      return;
    }
    if (!l.lease.is_leader() && !self->sub_->connected())
      return c->close(code_try_later, "no cluster leader reachable; try again");
    // Relayed to the shard's leader; or, while the shard changes leader (this
    // node's hub loading, the new leader not announced yet, or none known
    // yet), held: its hello goes to the next leader when it serves.
    auto& s = l.sessions[id];
    s = session{c, route::relayed, nullptr, std::move(raw), h.token.has_value(), nullptr, counted};
    if (counted) {
      --self->metrics_.connections_unauthenticated;
      ++self->metrics_.relayed_sessions;
    }
    const auto to = l.routes.add(id, self->now_ms(), l.lease.is_leader() ? std::string() : l.lease.leader());
    if (!to.empty()) self->relay_hello(l, id, s, to, false);
  });
}

void node::handle(std::uint32_t k, std::uint64_t conn_id, protocol::client_message m, std::string raw) {
  on_strand([self = shared_from_this(), k, conn_id, m = std::move(m), raw = std::move(raw)]() mutable {
    if (k >= self->lanes_.size()) return;
    auto& l = *self->lanes_[k];
    auto it = l.sessions.find(conn_id);
    if (it == l.sessions.end()) return;
    auto& s = it->second;
    if (s.r == route::local) {
      // A hub that no longer leads takes nothing more.
      if (s.bound && s.bound == l.hub) s.bound->handle(conn_id, std::move(m));
      return;
    }
    const auto* to = l.routes.find(conn_id);
    if (!to || to->leader.empty()) {
      if (auto c = s.conn.lock()) self->answer_gap(*c, m);
      return;
    }
    // A fan-in's page of colleagues asked of every shard may be wider than a
    // client may ask (any merged page exact): relayed, it is what a client may.
    if (auto* a = std::get_if<protocol::agents_list>(&m); a && a->limit > protocol::max_agents_page) {
      a->limit = protocol::max_agents_page;
      raw = protocol::agents_list_text(*a);
    }
    // Published to a leader that is gone (nobody listening) or not published
    // (Redis away): not delivered, so not stored: the client hears
    // `unavailable` for it and sends it again (same client_msg_id: stored once).
    auto wire = encode({relay_kind::frame, self->opts_.node_id, self->relay_conn(k, conn_id), 0, std::move(raw)});
    self->send_to_member(to->leader, std::move(wire), [self, conn = s.conn, m = std::move(m)](long long receivers) {
      if (receivers > 0) return;
      if (auto c = conn.lock()) self->answer_gap(*c, m);
    });
  });
}

void node::detach(std::uint32_t k, std::uint64_t conn_id, bool counted) {
  on_strand([self = shared_from_this(), k, conn_id, counted] {
    auto& l = *self->lanes_[k < self->lanes_.size() ? k : 0];
    auto it = l.sessions.find(conn_id);
    if (it == l.sessions.end()) {
      if (counted) --self->metrics_.connections_unauthenticated;  // refused before it said hello
      return;
    }
    auto& s = it->second;
    if (s.r == route::local) {
      if (s.bound) s.bound->detach(conn_id, counted);
    } else {
      if (s.counted) --self->metrics_.relayed_sessions;
      if (const auto* to = l.routes.find(conn_id); to && !to->leader.empty())
        self->send_to_member(to->leader, encode({relay_kind::detach, self->opts_.node_id, self->relay_conn(k, conn_id), 0, {}}));
      l.routes.remove(conn_id);
    }
    l.sessions.erase(it);
  });
}

void node::users_plan(const routing::shard_plan& p) {
  const bool outdated = p.shards != shards_.plan.shards || p.shard_of_store != shards_.plan.shard_of_store;
  if (plan_outdated_.exchange(outdated) == outdated) return;
  if (outdated)
    spdlog::warn("users file: the store groups changed ({} shard(s) for {} group(s) now); a cluster keeps the hub shards "
                 "it planned at start: restart every node to plan them again (until then /healthz says plan_outdated)",
                 p.shards, p.groups.size());
  else
    spdlog::info("users file: the store groups are as this cluster planned them again");
}

void node::users_changed() {
  on_strand([self = shared_from_this()] {
    for (auto& l : self->lanes_)
      if (l->hub) l->hub->users_changed();
  });
}

void node::relay_hello(lane& l, std::uint64_t conn_id, const session& s, const std::string& to, bool resumed) {
  auto c = s.conn.lock();
  if (!c) return;
  // What the leader's hub checks at hello besides the frame: the client's
  // address (limits per address), its Origin and Host (a store's origin).
  // RS (\x1e) cannot appear in a JSON text, so it ends each field.
  std::string payload = std::string(c->address()) + '\x1e' + std::string(c->origin()) + '\x1e' +
                        std::string(c->host()) + '\x1e' + s.hello;
  const std::uint16_t code = (resumed ? hello_resumed : 0) | (s.counted ? 0 : hello_uncounted);
  auto wire = encode({relay_kind::hello, opts_.node_id, relay_conn(l.k, conn_id), code, std::move(payload)});
  // Nobody listening (the leader died) or Redis away: the session is held
  // (kept open) for the next leader, which its hello goes to when it announces itself.
  send_to_member(to, std::move(wire), [self = shared_from_this(), k = l.k, conn_id, to](long long receivers) {
    if (receivers > 0) return;
    self->on_strand([self, k, conn_id, to] { self->lanes_[k]->routes.missed(conn_id, to, self->now_ms()); });
  });
}

void node::answer_gap(connection& c, const protocol::client_message& m) {
  if (std::holds_alternative<protocol::ping>(m)) return c.send(make_frame(R"({"type":"pong"})"));
  if (std::holds_alternative<protocol::typing>(m)) return;  // ephemeral: nothing to retry
  ++metrics_.cluster_gap_unavailable;
  c.send(make_frame(unavailable_frame(ref_of(m))));
}

void node::hold_relayed(lane& l) { l.routes.hold(now_ms()); }

void node::retarget_relayed(lane& l, const std::string& leader) {
  const auto ids = l.routes.retarget(now_ms(), leader);
  for (auto id : ids)
    if (auto it = l.sessions.find(id); it != l.sessions.end()) relay_hello(l, id, it->second, leader, true);
  metrics_.cluster_resumed += ids.size();
  if (!ids.empty())
    spdlog::info("cluster: {} sessions of this node said hello again to shard {}'s leader {}", ids.size(), l.k, leader);
}

void node::adopt_relayed(lane& l) {
  std::size_t n = 0;
  for (auto id : l.routes.take_all()) {
    auto it = l.sessions.find(id);
    if (it == l.sessions.end()) continue;
    auto& s = it->second;
    auto c = s.conn.lock();
    if (!c) continue;  // its detach is on its way
    auto parsed = protocol::parse_client_message(s.hello, cfg_.limits);
    if (!parsed.message || !std::holds_alternative<protocol::hello>(*parsed.message)) {
      c->close(code_restart, "the cluster's leader changed; reconnect");
      continue;
    }
    s = session{s.conn, route::local, l.hub, std::move(s.hello), s.hello_final, nullptr, s.counted};
    std::shared_ptr<connection> to_hub = std::move(c);
    if (!s.hello_final) to_hub = s.tap = std::make_shared<welcome_tap>(to_hub);
    if (s.counted) {
      --metrics_.relayed_sessions;
      ++metrics_.connections_unauthenticated;  // the hub counts it as one until its hello
    }
    l.hub->hello(std::move(to_hub), std::get<protocol::hello>(std::move(*parsed.message)));
    ++n;
  }
  metrics_.cluster_resumed += n;
  if (n) spdlog::info("cluster: {} sessions of this node said hello again to its own hub of shard {}", n, l.k);
}

void node::note_welcome(lane& l, std::uint64_t conn_id, session& s, const std::string& frame) {
  // Only the frames before a welcome are looked into (usually none).
  const auto* r = l.routes.find(conn_id);
  if (s.hello_final && (!r || r->welcomed)) return;
  if (!is_welcome(frame)) return;
  l.routes.welcomed(conn_id);
  if (s.hello_final) return;
  // A shopper: a later leader must resume this one, not make a new one.
  if (auto h = hello_after_welcome(s.hello, frame)) s.hello = std::move(*h);
  s.hello_final = true;
}

void node::close_all_local(std::uint16_t code, const std::string& reason) {
  for (auto& l : lanes_)
    for (auto& [id, s] : l->sessions)
      if (auto c = s.conn.lock()) c->close(code, reason);
}

void node::step_down_locals(lane& l) {
  const auto now = now_ms();
  l.routes.stepped_down(now);
  std::size_t n = 0;
  for (auto& [id, s] : l.sessions) {
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
    if (s.counted) ++metrics_.relayed_sessions;
    l.routes.add(id, now, {});  // held until the next leader serves
    ++n;
  }
  if (n) spdlog::info("cluster: {} clients of this node ({}) kept open, to say hello again to the next leader", n, what(l));
}

}  // namespace calma::cluster
