// The relay both ways: the outbox that publishes what is queued for each
// member (batched), and the messages other nodes send here.
#include "server/cluster/node.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "server/cluster/node_internal.hpp"

namespace calma::cluster {

namespace asio = boost::asio;
using namespace node_detail;

void node::publish(const std::string& node_id, std::string wire, std::function<void(long long)> done) {
  cmd_->command({"PUBLISH", channel_of(node_id), std::move(wire)}, [done = std::move(done)](const redis::reply_or_error& r) {
    if (!done) return;
    if (r.ok() && r.value.kind == redis::redis_value::type::integer) return done(r.value.integer);
    done(-1);
  });
}

void node::send_to_member(const std::string& member, std::string wire, std::function<void(long long)> done) {
  bool post = false;
  {
    std::lock_guard lk(outbox_mu_);
    outbox_.push_back({member, std::move(wire), std::move(done)});
    post = !flush_posted_;
    flush_posted_ = true;
  }
  if (post) on_strand([self = shared_from_this()] { self->flush_outbox(); });
}

// Everything queued since the last flush, one PUBLISH per member (several if
// large): what the hubs sent in one turn of their strands, and what this
// node's clients sent while its strand was busy, goes out together. Each
// entry hears the answer of the PUBLISH that carried it.
void node::flush_outbox() {
  std::vector<outgoing> out;
  {
    std::lock_guard lk(outbox_mu_);
    out.swap(outbox_);
    flush_posted_ = false;
  }
  for (auto& p : group_for_publish(std::move(out))) {
    metrics_.relay_messages_out += p.messages;
    ++metrics_.relay_publishes_out;
    std::function<void(long long)> done;
    if (p.receipts.size() == 1) {
      done = std::move(p.receipts.front());
    } else if (!p.receipts.empty()) {
      done = [rs = std::move(p.receipts)](long long receivers) {
        for (const auto& r : rs) r(receivers);
      };
    }
    publish(p.member, std::move(p.wire), std::move(done));
  }
}

// ---------------------------------------------------------------------------
// frames from other nodes

void node::drop_remotes_of(lane& l, const std::string& node_id) {
  l.reannounce.forget(node_id);
  std::size_t n = 0;
  for (auto it = l.remotes.begin(); it != l.remotes.end();) {
    if (it->second->node_id() != node_id) {
      ++it;
      continue;
    }
    if (l.hub) l.hub->detach(it->second->id(), it->second->counted());
    it = l.remotes.erase(it);
    ++n;
  }
  if (n) spdlog::warn("cluster: node {} stopped checking in: dropping its clients ({} of {})", node_id, n, what(l));
}

void node::on_relay(std::string wire) {
  on_strand([self = shared_from_this(), wire = std::move(wire)] {
    auto m = decode(wire);
    if (!m) return spdlog::warn("cluster: malformed relay message ignored ({} bytes)", wire.size());
    // Stopping: a frame relayed here meanwhile is answered `unavailable` (sent
    // again to the next leader); nothing else is taken. Followers batch their
    // frames too, so this holds inside a batch.
    auto take = [&](relay_message one) {
      if (self->stopped_ && one.kind != relay_kind::frame) return;
      self->handle_relay(std::move(one));
    };
    if (m->kind != relay_kind::batch) return take(std::move(*m));
    auto parts = decode_batch(m->payload);
    if (!parts) return spdlog::warn("cluster: malformed relay batch ignored ({} bytes)", wire.size());
    for (auto& p : *parts) {
      auto one = decode(p);
      if (one && one->kind != relay_kind::batch) take(std::move(*one));
    }
  });
}

// One relay message, on the strand (a batch was unpacked by on_relay).
void node::handle_relay(relay_message msg) {
  auto refuse = [&](std::uint16_t code, const char* why) {
    publish(msg.node, encode({relay_kind::close, msg.node, msg.conn, code, why}));
  };
  if (msg.kind == relay_kind::revoked) {
    auto sp = msg.payload.find(' ');
    if (sp == std::string::npos || !opts_.revoked) return;
    const auto exp = std::strtoll(msg.payload.substr(0, sp).c_str(), nullptr, 10);
    auto id = msg.payload.substr(sp + 1);
    opts_.revoked->revoke(id, exp, now_ms());
    for (auto& l : lanes_)
      if (l->hub) l->hub->signed_out(id);
    return;
  }
  if (msg.kind == relay_kind::batch) return;  // never nested
  if (msg.kind == relay_kind::quota) {
    auto q = decode_quota(msg.payload);
    if (!q) return spdlog::warn("cluster: malformed quota message from {} ignored", limits::log_safe(msg.node, 64));
    for (const auto& [key, n] : *q) limits_->charge_conversations(key, n);
    return;
  }
  if (msg.kind == relay_kind::left && msg.conn == 0) {
    // A node stopping: the shards it led are free (ask for them at once), and its clients are gone.
    claims_.member_left(msg.node);
    bool ask = false;
    for (auto& l : lanes_) {
      if (l->lease.is_leader()) {
        drop_remotes_of(*l, msg.node);
      } else if (l->lease.released_by(msg.node)) {
        spdlog::info("cluster: shard {}'s leader {} gave its lease up: asking for it now", l->k, msg.node);
        hold_relayed(*l);
        ask = true;
      }
    }
    if (ask) ask_now();
    return;
  }
  std::uint64_t conn_id = 0;
  lane* lp = lane_of_relay(msg.conn, &conn_id);
  if (!lp) return spdlog::warn("cluster: a relay message for an unknown shard ignored (from {})", msg.node);
  auto& l = *lp;
  switch (msg.kind) {
    case relay_kind::hello: {
      if (!l.lease.is_leader() || !l.hub || !l.ready) {
        // A resumption too early (a follower's fallback): it comes again when
        // this node announces it serves; the client stays open meanwhile.
        if (msg.code & hello_resumed) return;
        return refuse(code_try_later, "this node does not lead the client's shard (now); reconnect");
      }
      const auto key = remote_key(msg.node, msg.conn);
      if (auto old = l.remotes.find(key); old != l.remotes.end()) {
        l.hub->detach(old->second->id(), old->second->counted());  // said again (a fan-in's leg, or a stale one): the new hello wins
        l.remotes.erase(old);
      }
      std::string_view rest = msg.payload;
      std::string fields[3];
      for (auto& f : fields) {
        auto rs = rest.find('\x1e');
        if (rs == std::string_view::npos)
          return refuse(static_cast<std::uint16_t>(protocol::close_code::auth), "malformed relayed hello");
        f = std::string(rest.substr(0, rs));
        rest.remove_prefix(rs + 1);
      }
      auto parsed = protocol::parse_client_message(rest, cfg_.limits);
      if (!parsed.message || !std::holds_alternative<protocol::hello>(*parsed.message))
        return refuse(static_cast<std::uint16_t>(protocol::close_code::auth), "the first frame must be a valid hello");
      const bool counted = !(msg.code & hello_uncounted);
      auto rc = std::make_shared<remote_connection>(next_remote_id_++, msg.node, msg.conn, weak_from_this(),
                                                    std::move(fields[0]), std::move(fields[1]), std::move(fields[2]),
                                                    counted);
      l.remotes[key] = rc;
      if (counted) ++metrics_.connections_unauthenticated;  // the hub counts it as one until it says hello
      l.hub->hello(rc, std::get<protocol::hello>(std::move(*parsed.message)));
      return;
    }
    case relay_kind::frame: {
      auto it = l.remotes.find(remote_key(msg.node, msg.conn));
      if (stopped_ || !l.lease.is_leader() || !l.hub || !l.ready) {
        // Relayed here by a node that does not know yet that this one no
        // longer leads the shard (or does not serve yet, or is stopping): not
        // handled, so the client hears `unavailable` and sends it again once re-targeted.
        ++metrics_.cluster_gap_unavailable;
        return publish(msg.node, encode({relay_kind::send, msg.node, msg.conn, 0,
                                         unavailable_frame(protocol::guess_ref(msg.payload))}));
      }
      if (it == l.remotes.end()) {
        // A client this leader never took (its resumption came while the hub
        // loaded and was ignored, and the frame overtook the announcement's
        // re-hello; or its node was dropped for not checking in): not
        // handled, `unavailable`, and its node is asked to say its clients'
        // hello again (relay R) rather than told to close it.
        ++metrics_.cluster_gap_unavailable;
        publish(msg.node, encode({relay_kind::send, msg.node, msg.conn, 0, unavailable_frame(protocol::guess_ref(msg.payload))}));
        if (l.reannounce.due(msg.node, now_ms())) {
          spdlog::info("cluster: a frame from a client of node {} shard {}'s leader does not know: asking it to say hello again",
                       msg.node, l.k);
          publish(msg.node, encode({relay_kind::reset, opts_.node_id, relay_conn(l.k, 0), 0, {}}));
        }
        return;
      }
      auto parsed = protocol::parse_client_message(msg.payload, cfg_.limits);
      if (parsed.message) l.hub->handle(it->second->id(), std::move(*parsed.message));
      return;
    }
    case relay_kind::detach: {
      auto it = l.remotes.find(remote_key(msg.node, msg.conn));
      if (it == l.remotes.end()) return;
      if (l.hub) l.hub->detach(it->second->id(), it->second->counted());
      l.remotes.erase(it);
      return;
    }
    case relay_kind::left:
      // One shard handed over (its key given back): ask for it at once.
      if (!l.lease.is_leader() && l.lease.released_by(msg.node)) {
        hold_relayed(l);
        ask_now();
      }
      return;
    case relay_kind::reset:
      if (l.lease.is_leader()) return;  // Redis, not a message, says who leads
      // The announcement re-targets every held session itself: once each, not
      // also through the leader change's eager re-target.
      on_event(l, l.lease.on_announce(now_ms(), msg.node), false);
      retarget_relayed(l, msg.node);
      return;
    case relay_kind::send:
    case relay_kind::close: {
      auto it = l.sessions.find(conn_id);
      if (it == l.sessions.end()) return;
      auto c = it->second.conn.lock();
      if (!c) return;
      if (msg.kind == relay_kind::send) {
        if (it->second.r == route::relayed) note_welcome(l, conn_id, it->second, msg.payload);
        return c->send(make_frame(std::move(msg.payload)));
      }
      return c->close(msg.code, std::move(msg.payload));
    }
    case relay_kind::batch:
    case relay_kind::revoked:
    case relay_kind::quota:
      return;
  }
}

// Signed-out tokens: a sorted set (token id scored by its expiry, trimmed
// as they expire) that a starting node reads, and a broadcast (relay kind T) so the others know at
// once; every 10th heartbeat each node reads the set again, in case it missed
// a broadcast while its subscription was down.
void node::signed_out(std::string token_id, timestamp_ms expires) {
  asio::post(strand_, [self = shared_from_this(), token_id = std::move(token_id), expires]() mutable {
    for (auto& l : self->lanes_)
      if (l->hub) l->hub->signed_out(token_id);
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
                    const auto exp = std::strtoll(e[i + 1].str.c_str(), nullptr, 10);
                    if (!self->opts_.revoked->revoked(e[i].str)) {
                      self->opts_.revoked->revoke(e[i].str, exp, now);
                      asio::post(self->strand_, [self, id = e[i].str] {
                        for (auto& l : self->lanes_)
                          if (l->hub) l->hub->signed_out(id);
                      });
                    }
                  }
                });
}

}  // namespace calma::cluster
