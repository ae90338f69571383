#include "server/hub/hub.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/protocol/errors.hpp"

namespace calma {

using nlohmann::json;
using protocol::error_code;
namespace asio = boost::asio;

namespace {
std::string new_id(const char* prefix) { return prefix + auth::random_token(12); }
double round1(double v) { return std::round(v * 10.0) / 10.0; }
}  // namespace

hub::hub(asio::io_context& ioc, const config& cfg, store& st, metrics& m,
         const auth::token_signer& signer, const auth::user_table& users, clock_fn clock,
         std::shared_ptr<const anger_engine> engine)
    : ioc_(ioc),
      strand_(asio::make_strand(ioc)),
      cfg_(cfg),
      store_(st),
      metrics_(m),
      signer_(signer),
      users_(users),
      clock_(std::move(clock)),
      engine_(std::move(engine)),
      status_on_connect_(agent_status_from_string(cfg.routing.status_on_connect).value_or(agent_status::online)),
      router_(cfg.routing.router),
      snapshot_timer_(strand_),
      snapshot_delay_(strand_) {}

template <class F>
void hub::on_strand(F&& f) {
  asio::post(strand_, std::forward<F>(f));
}

// ---------------------------------------------------------------------------
// start / stop

void hub::start(std::function<void(std::string)> done) {
  on_strand([self = shared_from_this(), done = std::move(done)]() mutable {
    // What agents chose (status, capacity), then the open conversations.
    self->store_.list_presence([self, done = std::move(done)](auto p) mutable {
      self->on_strand([self, p = std::move(p), done = std::move(done)]() mutable {
        if (!p.ok()) return done("store: " + p.error);
        for (auto& r : p.value) self->remembered_[r.agent_id] = r;
        self->load_conversations(std::move(done));
      });
    });
  });
}

void hub::load_conversations(std::function<void(std::string)> done) {
  on_strand([self = shared_from_this(), done = std::move(done)]() mutable {
    conversation_filter f;
    f.open_only = true;
    f.limit = 1'000'000;
    self->store_.list_conversations(f, [self, done = std::move(done)](auto r) mutable {
      self->on_strand([self, r = std::move(r), done = std::move(done)]() {
        if (!r.ok()) return done("store: " + r.error);
        // Restore what was open: queued ones wait again (oldest first), assigned ones
        // keep their agent, who counts as gone until it reconnects.
        for (auto& rec : r.value) {
          auto& c = self->open_[rec.id];
          c.rec = rec;
          self->start_monitor(c);
          self->shopper_open_[rec.shopper.id] = rec.id;
          if (rec.state == conversation_state::assigned && rec.agent_id) {
            self->router_.upsert_agent(*rec.agent_id, rec.agent_name, agent_status::offline);
            self->router_.assign(rec.id, *rec.agent_id, rec.updated_ts);
          } else {
            self->router_.enqueue(rec.id, rec.queue, rec.created_ts);
          }
        }
        // Their agents count as gone until they reconnect within the grace period.
        for (const auto& a : self->router_.agents())
          if (a.load > 0) self->start_grace(a.id);
        self->update_queue_gauges();
        self->schedule_snapshot_timer();
        // The curves and open escalations are rebuilt by replaying each
        // conversation's stored messages through its monitor (it is
        // deterministic); then start() is done.
        auto pending = std::make_shared<std::size_t>(r.value.size());
        auto finished = std::make_shared<std::function<void(std::string)>>(std::move(done));
        if (*pending == 0) return (*finished)({});
        for (auto& rec : r.value) {
          self->store_.read_messages(rec.id, 0, 1'000'000, [self, id = rec.id, pending, finished](auto m) {
            self->on_strand([self, id, pending, finished, m = std::move(m)] {
              if (!m.ok()) {
                if (*pending != 0) (*finished)("store: " + m.error);
                *pending = 0;
                return;
              }
              if (auto* c = self->open_conversation(id)) self->replay(*c, m.value);
              if (*pending != 0 && --*pending == 0) (*finished)({});
            });
          });
        }
      });
    });
  });
}

void hub::stop(std::uint16_t code, std::string reason) {
  on_strand([self = shared_from_this(), code, reason = std::move(reason)] {
    self->stopped_ = true;
    self->snapshot_timer_.cancel();
    self->snapshot_delay_.cancel();
    for (auto& [id, t] : self->grace_timers_) t->cancel();
    for (auto& [id, c] : self->open_)
      if (c.deadline) c.deadline->cancel();
    for (auto& [id, s] : self->sessions_)
      if (auto c = s.conn.lock()) c->close(code, reason);
  });
}

// ---------------------------------------------------------------------------
// sending

void hub::send_to(std::uint64_t conn_id, const frame_ptr& f) {
  auto it = sessions_.find(conn_id);
  if (it == sessions_.end()) return;
  if (auto c = it->second.conn.lock()) c->send(f);
}

void hub::send_to_user(const std::string& user_id, const frame_ptr& f, std::uint64_t except) {
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return;
  for (auto id : it->second)
    if (id != except) send_to(id, f);
}

void hub::send_to_supervisors(const frame_ptr& f, std::uint64_t except) {
  for (auto id : supervisor_conns_)
    if (id != except) send_to(id, f);
}

void hub::send_to_conversation(const conv_entry& c, const frame_ptr& f, bool staff_only,
                               std::uint64_t except, bool and_all_supervisors) {
  if (!staff_only) send_to_user(c.rec.shopper.id, f, except);
  if (c.rec.agent_id) send_to_user(*c.rec.agent_id, f, except);
  if (and_all_supervisors) {
    for (auto id : supervisor_conns_) {
      if (id == except) continue;
      auto it = sessions_.find(id);
      // The assigned agent may be a supervisor (takeover): sent above already.
      if (it != sessions_.end() && c.rec.agent_id && it->second.who.id == *c.rec.agent_id) continue;
      send_to(id, f);
    }
    return;
  }
  for (const auto& [sup, mode] : c.joined)
    if (!c.rec.agent_id || sup != *c.rec.agent_id) send_to_user(sup, f, except);
}

void hub::send_error(std::uint64_t conn_id, error_code code, std::string message, std::string ref) {
  metrics_.error(code);
  send_to(conn_id, make_frame(protocol::make_error({code, std::move(message), std::move(ref)})));
}

// ---------------------------------------------------------------------------
// hello / welcome

void hub::hello(std::shared_ptr<connection> c, protocol::hello h) {
  on_strand([self = shared_from_this(), c = std::move(c), h = std::move(h)]() mutable {
    self->do_hello(std::move(c), std::move(h));
  });
}

void hub::do_hello(std::shared_ptr<connection> c, protocol::hello h) {
  if (stopped_) return c->close(static_cast<std::uint16_t>(protocol::close_code::going_away), "server shutting down");
  const auto now = clock_();
  participant who;
  std::string shopper_token;
  std::string language, store;
  if (h.token) {
    auto cl = signer_.verify(*h.token, now);
    if (!cl) {
      ++metrics_.auth_failures;
      spdlog::info("hello refused: bad or expired token");
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "bad or expired token");
    }
    who.role = cl->r;
    who.id = cl->sub;
    if (is_staff(cl->r)) {
      auto u = users_.find(cl->sub);
      if (u == users_.end() || u->second.r != cl->r) {
        ++metrics_.auth_failures;
        return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "unknown user");
      }
      who.name = u->second.name;
    } else {
      who.name = cl->name;
      shopper_token = *h.token;
      language = cl->lang;
      store = cl->store;
    }
  } else {
    if (h.role && *h.role != role::shopper) {
      ++metrics_.auth_failures;
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "staff must send a token");
    }
    auth::claims cl;
    cl.r = role::shopper;
    cl.sub = new_id("s_");
    cl.name = h.name.empty() ? std::string() : h.name;
    cl.store = h.store.empty() ? "demo" : h.store;
    cl.lang = h.language;
    cl.exp = now + static_cast<timestamp_ms>(cfg_.auth.shopper_token_ttl_s) * 1000;
    shopper_token = signer_.sign(cl);
    who = participant{role::shopper, cl.sub, cl.name};
    language = cl.lang;
    store = cl.store;
  }

  const auto id = c->id();
  --metrics_.connections_unauthenticated;
  ++metrics_.connections(to_string(who.role));
  sessions_[id] = session_entry{c, who, language, store};
  by_user_[who.id].insert(id);
  if (who.role == role::supervisor) supervisor_conns_.insert(id);
  if (who.role == role::agent) agent_conns_.insert(id);

  if (who.role == role::agent) {
    if (auto t = grace_timers_.find(who.id); t != grace_timers_.end()) {
      t->second->cancel();  // came back in time: keeps its status and chats
      grace_timers_.erase(t);
    }
    // Unknown, or restored from the store as offline (its chats after a restart):
    // back as it chose to be (after a restart or a new cluster leader), else the default.
    if (const auto* a = router_.agent(who.id); !a || a->status == agent_status::offline) {
      auto r = remembered_.find(who.id);
      if (r != remembered_.end() && r->second.status != agent_status::offline) {
        router_.upsert_agent(who.id, who.name, r->second.status);
        if (r->second.capacity > 0) router_.set_capacity(who.id, r->second.capacity);
      } else {
        router_.upsert_agent(who.id, who.name, status_on_connect_);
      }
    }
    remember_presence(who.id);
  }
  do_welcome(id, shopper_token);
  if (who.role == role::agent) {
    try_assign();
    mark_snapshot_dirty();
  }
}

void hub::do_welcome(std::uint64_t conn_id, const std::string& token) {
  auto& s = sessions_.at(conn_id);
  const auto who = s.who;
  json w{{"type", "welcome"}, {"user_id", who.id}, {"role", to_string(who.role)},
         {"name", who.name}, {"server_ts", clock_()}, {"node_id", cfg_.server.node_id}};
  // In a cluster: the node the client is connected to, and the leader serving it.
  if (auto c = s.conn.lock(); c && !c->node().empty()) {
    w["node_id"] = std::string(c->node());
    w["leader_id"] = cfg_.server.node_id;
  }
  if (who.role == role::shopper) {
    w["token"] = token;
    conversation_filter f;
    f.shopper_id = who.id;
    f.open_only = false;
    f.limit = 20;
    store_.list_conversations(f, [self = shared_from_this(), conn_id, w = std::move(w)](auto r) mutable {
      self->on_strand([self, conn_id, w = std::move(w), r = std::move(r)]() mutable {
        if (!self->sessions_.count(conn_id)) return;
        json list = json::array();
        // The hub's copy of an open conversation is the freshest.
        for (auto& rec : r.value) {
          auto it = self->open_.find(rec.id);
          list.push_back(protocol::summary_json(it != self->open_.end() ? it->second.rec : rec, false));
        }
        w["conversations"] = std::move(list);
        if (!r.ok()) w["warning"] = "store unavailable: conversations not listed";
        self->send_to(conn_id, make_frame(w.dump()));
        const auto& who = self->sessions_.at(conn_id).who;
        if (auto o = self->shopper_open_.find(who.id); o != self->shopper_open_.end())
          if (auto* c = self->open_conversation(o->second); c && c->rec.state == conversation_state::queued)
            self->send_to(conn_id, make_frame(self->queued_json(*c).dump()));
      });
    });
    return;
  }
  json list = json::array();
  for (const auto& [id, c] : open_) {
    if (who.role == role::agent && c.rec.agent_id != who.id) continue;
    auto j = protocol::summary_json(c.rec, true);
    j["anger"] = curve_json(c);
    if (!c.timeline.empty()) {
      j["level"] = point_json(c, c.timeline.back())["level"];
      j["phase"] = anger::phase_name(c.timeline.back().phase);
    }
    list.push_back(std::move(j));
  }
  w["conversations"] = std::move(list);
  json escs = json::array();
  for (const auto& [eid, conv] : escalations_) {
    const auto* c = open_conversation(conv);
    if (!c || !c->esc) continue;
    if (who.role == role::agent && c->rec.agent_id != who.id) continue;
    escs.push_back(escalation_json(*c));
  }
  w["escalations"] = std::move(escs);
  if (const auto* a = router_.agent(who.id))
    w["presence"] = json{{"status", to_string(a->status)}, {"capacity", a->capacity}};
  send_to(conn_id, make_frame(w.dump()));
  if (who.role == role::supervisor) send_snapshot();
}

void hub::detach(std::uint64_t conn_id) {
  on_strand([self = shared_from_this(), conn_id] {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) {
      --self->metrics_.connections_unauthenticated;
      return;
    }
    const participant who = it->second.who;
    --self->metrics_.connections(to_string(who.role));
    self->sessions_.erase(it);
    self->supervisor_conns_.erase(conn_id);
    self->agent_conns_.erase(conn_id);
    auto& set = self->by_user_[who.id];
    set.erase(conn_id);
    if (!set.empty()) return;
    self->by_user_.erase(who.id);
    if (who.role != role::agent || self->stopped_) return;
    self->start_grace(who.id);
  });
}

// The agent's last connection is gone: keep its chats for a grace period
// (a reload, a flaky network), then hand them to others.
void hub::start_grace(const std::string& agent_id) {
  auto t = std::make_unique<asio::steady_timer>(strand_);
  t->expires_after(std::chrono::seconds(cfg_.routing.disconnect_grace_s));
  t->async_wait([self = shared_from_this(), id = agent_id](const boost::system::error_code& ec) {
    if (ec) return;
    self->grace_timers_.erase(id);
    if (!self->by_user_.count(id)) self->agent_gone(id);
  });
  grace_timers_[agent_id] = std::move(t);
}

// ---------------------------------------------------------------------------
// dispatch

void hub::handle(std::uint64_t conn_id, protocol::client_message m) {
  on_strand([self = shared_from_this(), conn_id, m = std::move(m)]() mutable {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) return;  // hello refused or gone
    auto& s = it->second;
    std::visit(
        [&](auto&& msg) {
          using T = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<T, protocol::chat_send>) self->on_chat_send(s, conn_id, std::move(msg));
          else if constexpr (std::is_same_v<T, protocol::typing>) self->on_typing(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::read>) self->on_read(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::history>) self->on_history(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::conversation_close>) self->on_close(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::presence_set>) self->on_presence(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::conversation_transfer>) self->on_transfer(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::conversation_join>) self->on_join(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::conversation_takeover>) self->on_takeover(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::escalation_ack>) self->on_escalation_ack(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::escalation_resolve>) self->on_escalation_resolve(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::hello>) {
            self->send_error(conn_id, error_code::bad_request, "already said hello", "hello");
          } else if constexpr (std::is_same_v<T, protocol::ping>) {
            self->send_to(conn_id, make_frame(protocol::make_pong()));
          }
        },
        m);
  });
}

// ---------------------------------------------------------------------------
// authorization

hub::conv_entry* hub::open_conversation(const std::string& id) {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

bool hub::may_see(const participant& who, const conversation_record& rec) const {
  switch (who.role) {
    case role::shopper: return rec.shopper.id == who.id;
    case role::agent: return rec.agent_id == who.id;
    case role::supervisor: return true;
  }
  return false;
}

bool hub::may_act(const participant& who, const conv_entry& c) const { return may_see(who, c.rec); }

// ---------------------------------------------------------------------------
// chat

void hub::on_chat_send(session_entry& s, std::uint64_t conn_id, protocol::chat_send m) {
  const participant who = s.who;
  if (!m.conversation_id) {
    if (who.role != role::shopper)
      return send_error(conn_id, error_code::bad_request, "missing field 'conversation_id'", m.client_msg_id);
    // The resend of a message that opened a conversation (its ack was lost)
    // belongs to that conversation, even if it was closed since.
    if (auto f = opened_by_.find(who.id + '\x1f' + m.client_msg_id); f != opened_by_.end()) {
      std::string conv = f->second;
      return store_message(conn_id, who, conv, std::move(m), visibility::all, open_conversation(conv) != nullptr);
    }
    if (auto o = shopper_open_.find(who.id); o != shopper_open_.end()) {
      // A resend of the message that opened it, or the shopper writing on:
      // either way it belongs to the open conversation.
      return store_message(conn_id, who, o->second, std::move(m), visibility::all, true);
    }
    return open_conversation_for(conn_id, who, std::move(m));
  }
  const std::string conv_id = *m.conversation_id;
  if (auto* c = open_conversation(conv_id)) {
    if (who.role == role::supervisor) {
      auto j = c->joined.find(who.id);
      bool owns = c->rec.agent_id == who.id;
      if (!owns && (j == c->joined.end() || j->second == protocol::join_mode::monitor))
        return send_error(conn_id, error_code::forbidden,
                          "join the conversation in whisper or barge mode (or take it over) to write",
                          m.client_msg_id);
      auto vis = !owns && j->second == protocol::join_mode::whisper ? visibility::staff : visibility::all;
      return store_message(conn_id, who, conv_id, std::move(m), vis, true);
    }
    if (!may_act(who, *c))
      return send_error(conn_id, error_code::forbidden, "not your conversation", m.client_msg_id);
    return store_message(conn_id, who, conv_id, std::move(m), visibility::all, true);
  }
  // Not open: closed or unknown. A resend of a message stored before the
  // close must still be acked with its seq; anything new is refused.
  store_.get_conversation(conv_id, [self = shared_from_this(), conn_id, who, m = std::move(m)](auto r) mutable {
    self->on_strand([self, conn_id, who, m = std::move(m), r = std::move(r)]() mutable {
      if (!r.ok()) return self->send_error(conn_id, error_code::unavailable, "store unavailable: not stored, retry", m.client_msg_id);
      if (!r.value || !self->may_see(who, *r.value))
        return self->send_error(conn_id, error_code::not_found, "no such conversation", m.client_msg_id);
      std::string id = r.value->id;
      self->store_message(conn_id, who, id, std::move(m), visibility::all, false);
    });
  });
}

void hub::open_conversation_for(std::uint64_t conn_id, const participant& who, protocol::chat_send m) {
  const auto now = clock_();
  conversation_record rec;
  rec.id = new_id("c_");
  rec.shopper.id = who.id;
  rec.shopper.name = who.name;
  // The shopper's language and store come from its token.
  if (auto s = sessions_.find(conn_id); s != sessions_.end()) {
    rec.shopper.language = s->second.language;
    rec.shopper.store = s->second.store;
  }
  rec.state = conversation_state::queued;
  rec.queue = cfg_.routing.queues.front();
  rec.created_ts = rec.updated_ts = now;
  auto& entry = open_[rec.id];
  entry.rec = rec;
  start_monitor(entry);
  shopper_open_[who.id] = rec.id;
  if (opened_by_.size() >= 100'000) opened_by_.clear();  // bounded; only recent resends need it
  opened_by_[who.id + '\x1f' + m.client_msg_id] = rec.id;
  ++metrics_.conversations_opened;
  spdlog::info("conversation {} opened by shopper {} (language '{}')", rec.id, who.id, rec.shopper.language);

  store_.create_conversation(rec, [self = shared_from_this(), id = rec.id, created = now](auto r) {
    self->on_strand([self, id, created, r = std::move(r)] {
      auto* c = self->open_conversation(id);
      if (!c) return;
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        if (auto o = self->shopper_open_.find(c->rec.shopper.id); o != self->shopper_open_.end() && o->second == id)
          self->shopper_open_.erase(o);
        // The conversation never existed: a resend must open it again, not point here.
        for (auto it = self->opened_by_.begin(); it != self->opened_by_.end();)
          it = it->second == id ? self->opened_by_.erase(it) : std::next(it);
        self->open_.erase(id);
        return;  // the append issued after this fails too and answers `unavailable`
      }
      self->router_.enqueue(id, c->rec.queue, created);
      self->apply(*c, c->mon->on_queued(created));
      self->send_to_user(c->rec.shopper.id, make_frame(self->queued_json(*c).dump()));
      self->update_queue_gauges();
      // After the completions already queued (the first message's append):
      // the agent then gets that message in its history, not twice.
      self->on_strand([self] { self->try_assign(); });
      self->mark_snapshot_dirty();
    });
  });
  store_message(conn_id, who, rec.id, std::move(m), visibility::all, true);
}

void hub::store_message(std::uint64_t conn_id, const participant& who, std::string conversation_id,
                        protocol::chat_send m, visibility vis, bool allow_new) {
  append_request req;
  req.allow_new = allow_new;
  req.message.conversation_id = std::move(conversation_id);
  req.message.ts = clock_();
  req.message.from = who;
  req.message.text = std::move(m.text);
  req.message.client_msg_id = std::move(m.client_msg_id);
  req.message.visibility = vis;
  store_.append_message(req, [self = shared_from_this(), conn_id, cmid = req.message.client_msg_id,
                              conv = req.message.conversation_id](auto r) {
    self->on_strand([self, conn_id, cmid, conv, r = std::move(r)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        return self->send_error(conn_id, error_code::unavailable, "store unavailable: not stored, retry", cmid);
      }
      const auto& msg = r.value.message;
      if (msg.seq == 0)
        return self->send_error(conn_id, error_code::bad_request, "conversation is closed", cmid);
      if (r.value.duplicate) {
        ++self->metrics_.messages_duplicate;
        return self->send_to(conn_id, make_frame(protocol::make_ack(cmid, conv, msg.seq)));
      }
      ++self->metrics_.messages_in;
      // Fan out first, then ack: once the sender holds its ack, every other
      // participant's copy is already queued ahead of anything later.
      if (auto* c = self->open_conversation(conv)) {
        if (msg.seq > c->rec.last_seq) c->rec.last_seq = msg.seq;
        c->rec.updated_ts = msg.ts;
        self->send_to_conversation(*c, make_frame(protocol::make_chat_message(msg)),
                                   msg.visibility == visibility::staff, conn_id);
        // The curve moves only on what the shopper wrote and on what staff
        // said to the shopper (a whisper does not calm anyone).
        if (msg.from.role == role::shopper) {
          if (!c->unanswered_since) c->unanswered_since = msg.ts;
          self->apply(*c, c->mon->catch_up(msg.ts));
          self->apply(*c, c->mon->on_customer_message(msg.ts, msg.text));
        } else if (msg.visibility == visibility::all) {
          c->unanswered_since.reset();
          self->apply(*c, c->mon->catch_up(msg.ts));
          self->apply(*c, c->mon->on_staff_message(msg.ts, msg.text));
        }
      }
      self->send_to(conn_id, make_frame(protocol::make_ack(cmid, conv, msg.seq)));
    });
  });
}

void hub::on_typing(session_entry& s, std::uint64_t conn_id, const protocol::typing& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", "typing");
  bool whisperer = s.who.role == role::supervisor && c->rec.agent_id != s.who.id &&
                   (!c->joined.count(s.who.id) || c->joined.at(s.who.id) != protocol::join_mode::barge);
  json j{{"type", "typing"}, {"conversation_id", m.conversation_id}, {"state", m.state},
         {"from", protocol::to_json(s.who)}};
  send_to_conversation(*c, make_frame(j.dump()), whisperer, 0);
  (void)conn_id;
}

void hub::on_read(session_entry& s, std::uint64_t conn_id, const protocol::read& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", "read");
  if (m.seq > c->rec.last_seq) return send_error(conn_id, error_code::bad_request, "seq is beyond the last message", "read");
  auto& mark = c->read_marks[s.who.id];
  if (m.seq <= mark) return;  // not news
  mark = m.seq;
  json j{{"type", "read"}, {"conversation_id", m.conversation_id}, {"seq", m.seq}, {"from", protocol::to_json(s.who)}};
  bool staff_only = s.who.role == role::supervisor && c->rec.agent_id != s.who.id;
  send_to_conversation(*c, make_frame(j.dump()), staff_only, conn_id);
}

void hub::send_history(const std::string& user_id, std::uint64_t only_conn, const std::string& conv_id,
                       std::int64_t after_seq, bool staff, std::int64_t upto) {
  const auto page = cfg_.history_page;
  store_.read_messages(conv_id, after_seq, page, [self = shared_from_this(), user_id, only_conn, conv_id, staff, page, upto](auto r) {
    self->on_strand([self, user_id, only_conn, conv_id, staff, page, upto, r = std::move(r)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        if (only_conn) self->send_error(only_conn, error_code::unavailable, "store unavailable, retry", "history");
        return;
      }
      json msgs = json::array();
      for (const auto& m : r.value)
        if ((staff || m.visibility == visibility::all) && (upto < 0 || m.seq <= upto))
          msgs.push_back(protocol::to_json(m));
      json j{{"type", "history"}, {"conversation_id", conv_id}, {"messages", std::move(msgs)},
             {"more", r.value.size() >= page}};
      auto f = make_frame(j.dump());
      if (only_conn) self->send_to(only_conn, f);
      else self->send_to_user(user_id, f);
    });
  });
}

void hub::on_history(session_entry& s, std::uint64_t conn_id, const protocol::history& m) {
  const participant who = s.who;
  if (auto* c = open_conversation(m.conversation_id)) {
    if (!may_see(who, c->rec) && !(who.role == role::supervisor))
      return send_error(conn_id, error_code::forbidden, "not your conversation", "history");
    return send_history(who.id, conn_id, m.conversation_id, m.after_seq, is_staff(who.role));
  }
  store_.get_conversation(m.conversation_id, [self = shared_from_this(), conn_id, who, m](auto r) {
    self->on_strand([self, conn_id, who, m, r = std::move(r)] {
      if (!r.ok()) return self->send_error(conn_id, error_code::unavailable, "store unavailable, retry", "history");
      if (!r.value) return self->send_error(conn_id, error_code::not_found, "no such conversation", "history");
      if (!self->may_see(who, *r.value)) return self->send_error(conn_id, error_code::forbidden, "not your conversation", "history");
      self->send_history(who.id, conn_id, m.conversation_id, m.after_seq, is_staff(who.role));
    });
  });
}

// ---------------------------------------------------------------------------
// lifecycle

// Assignments, transfers and acknowledgements are applied at once and saved
// behind; one the store did not take is saved again (its latest state) on the
// snapshot timer until it is, so a restart or a new leader finds it.
void hub::persist(const conversation_record& rec) {
  unsaved_.erase(rec.id);
  store_.update_conversation(rec, [self = shared_from_this(), id = rec.id](auto r) {
    if (r.ok()) return;
    ++self->metrics_.store_errors;
    spdlog::warn("store error, conversation {} not saved (will retry): {}", id, r.error);
    self->on_strand([self, id] { self->unsaved_.insert(id); });
  });
}

void hub::retry_unsaved() {
  auto ids = std::move(unsaved_);
  unsaved_.clear();
  for (const auto& id : ids)
    if (auto* c = open_conversation(id)) persist(c->rec);
}

json hub::queued_json(const conv_entry& c) const {
  return json{{"type", "conversation.queued"},
              {"conversation_id", c.rec.id},
              {"position", router_.position(c.rec.id)},
              {"estimated_wait_s", router_.estimated_wait_s(c.rec.id)},
              {"queue", c.rec.queue}};
}

json hub::assigned_json(const conv_entry& c) const {
  return json{{"type", "conversation.assigned"},
              {"conversation_id", c.rec.id},
              {"agent", json{{"id", c.rec.agent_id.value_or("")}, {"name", c.rec.agent_name}}},
              {"shopper", json{{"id", c.rec.shopper.id}, {"name", c.rec.shopper.name}, {"language", c.rec.shopper.language}}},
              {"state", to_string(c.rec.state)},
              {"last_seq", c.rec.last_seq}};
}

void hub::on_close(session_entry& s, std::uint64_t conn_id, const protocol::conversation_close& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", "conversation.close");
  if (!may_act(s.who, *c)) return send_error(conn_id, error_code::forbidden, "not your conversation", "conversation.close");
  // Stored first: a close the store did not take is refused, and nothing changes.
  conversation_record closed = c->rec;
  closed.state = conversation_state::closed;
  closed.closed_by = s.who.id;
  closed.close_reason = m.reason;
  closed.updated_ts = clock_();
  store_.update_conversation(closed, [self = shared_from_this(), conn_id, who = s.who, closed](auto r) {
    self->on_strand([self, conn_id, who, closed, r = std::move(r)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        return self->send_error(conn_id, error_code::unavailable, "store unavailable: not closed, retry",
                                "conversation.close");
      }
      self->finish_close(closed, who);
    });
  });
}

void hub::finish_close(const conversation_record& closed, const participant& by) {
  auto* c = open_conversation(closed.id);
  if (!c) return;  // closed meanwhile by someone else
  const auto now = closed.updated_ts;
  c->rec.state = conversation_state::closed;
  c->rec.closed_by = closed.closed_by;
  c->rec.close_reason = closed.close_reason;
  c->rec.updated_ts = now;
  router_.release(c->rec.id, now, true);
  ++metrics_.conversations_closed;
  spdlog::info("conversation {} closed by {}", closed.id, by.id);
  if (c->esc) end_escalation(*c, by, "conversation closed", true);
  c->mon->on_closed(now);
  if (c->deadline) c->deadline->cancel();
  json j{{"type", "conversation.closed"}, {"conversation_id", c->rec.id}, {"by", by.id},
         {"by_role", to_string(by.role)}, {"by_name", by.name}, {"reason", closed.close_reason}};
  send_to_conversation(*c, make_frame(j.dump()), false, 0, /*and_all_supervisors=*/true);
  if (auto o = shopper_open_.find(c->rec.shopper.id); o != shopper_open_.end() && o->second == c->rec.id)
    shopper_open_.erase(o);
  open_.erase(closed.id);
  update_queue_gauges();
  try_assign();
  send_queue_positions();
  mark_snapshot_dirty();
}

void hub::apply_assignment(const std::string& conv_id, const std::string& agent_id,
                           const std::optional<std::string>& previous_agent) {
  auto* c = open_conversation(conv_id);
  if (!c) return;
  const auto* a = router_.agent(agent_id);
  c->rec.state = conversation_state::assigned;
  c->rec.agent_id = agent_id;
  c->rec.agent_name = a ? a->name : agent_id;
  if (auto u = users_.find(agent_id); u != users_.end()) c->rec.agent_name = u->second.name;
  c->rec.updated_ts = clock_();
  persist(c->rec);
  ++metrics_.assignments;
  spdlog::info("conversation {} assigned to {}", conv_id, agent_id);
  if (c->handled_by.empty() || c->handled_by.back() != agent_id) c->handled_by.push_back(agent_id);
  auto f = make_frame(assigned_json(*c).dump());
  send_to_conversation(*c, f, false, 0, /*and_all_supervisors=*/true);
  if (previous_agent && *previous_agent != agent_id) send_to_user(*previous_agent, f);
  // Up to what was already fanned out: later messages reach the agent live.
  send_history(agent_id, 0, conv_id, 0, true, c->rec.last_seq);
  // The new agent learns where the curve stands and any open escalation.
  if (!c->timeline.empty()) send_to_user(agent_id, make_frame(point_json(*c, c->timeline.back()).dump()));
  if (c->esc) send_escalation(*c, true);
  apply(*c, c->mon->on_assigned(clock_()));
}

void hub::try_assign() {
  auto decided = router_.assign_waiting(clock_());
  for (const auto& a : decided) apply_assignment(a.conversation_id, a.agent_id, std::nullopt);
  if (!decided.empty()) {
    update_queue_gauges();
    send_queue_positions();
    mark_snapshot_dirty();
  }
}

void hub::send_queue_positions() {
  for (const auto& e : router_.queue_order())
    if (auto* c = open_conversation(e.conversation_id))
      send_to_user(c->rec.shopper.id, make_frame(queued_json(*c).dump()));
}

void hub::requeue(const std::string& conv_id, const std::string& queue,
                  const std::optional<std::string>& avoid_agent) {
  auto* c = open_conversation(conv_id);
  if (!c) return;
  const auto previous = c->rec.agent_id;
  router_.release(conv_id, clock_(), false);
  c->rec.state = conversation_state::queued;
  c->rec.agent_id.reset();
  c->rec.agent_name.clear();
  c->rec.queue = queue;
  c->rec.updated_ts = clock_();
  persist(c->rec);
  // Back in line by its original arrival: it has waited already.
  router_.enqueue(conv_id, queue, c->rec.created_ts, 0, avoid_agent.value_or(""));
  auto f = make_frame(queued_json(*c).dump());
  send_to_user(c->rec.shopper.id, f);
  if (previous) send_to_user(*previous, f);
  send_to_supervisors(f);
  apply(*c, c->mon->on_queued(clock_()));
}

void hub::agent_gone(const std::string& agent_id) {
  router_.set_status(agent_id, agent_status::offline);
  for (const auto& conv : router_.conversations_of(agent_id)) requeue(conv, open_[conv].rec.queue, agent_id);
  update_queue_gauges();
  try_assign();
  send_queue_positions();
  mark_snapshot_dirty();
}

// ---------------------------------------------------------------------------
// staff actions

void hub::on_presence(session_entry& s, std::uint64_t conn_id, const protocol::presence_set& m) {
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "presence is for staff", "presence.set");
  if (s.who.role == role::agent) {
    router_.upsert_agent(s.who.id, s.who.name, m.status);
    if (m.capacity) router_.set_capacity(s.who.id, *m.capacity);
    remember_presence(s.who.id);
  }
  const auto* a = router_.agent(s.who.id);
  json j{{"type", "presence"}, {"status", to_string(m.status)},
         {"capacity", a ? json(a->capacity) : json(m.capacity.value_or(0))}};
  send_to_user(s.who.id, make_frame(j.dump()));
  if (s.who.role == role::agent) {
    if (m.status == agent_status::offline) {
      agent_gone(s.who.id);
    } else {
      try_assign();
      mark_snapshot_dirty();
    }
  }
}

void hub::remember_presence(const std::string& agent_id) {
  const auto* a = router_.agent(agent_id);
  if (!a) return;
  presence_record p{agent_id, a->status, a->capacity, clock_()};
  remembered_[agent_id] = p;
  store_.put_presence(p, cfg_.routing.presence_ttl_s, [self = shared_from_this(), agent_id](auto r) {
    if (r.ok()) return;
    ++self->metrics_.store_errors;
    spdlog::warn("store error, presence of {} not saved: {}", agent_id, r.error);
  });
}

void hub::on_transfer(session_entry& s, std::uint64_t conn_id, const protocol::conversation_transfer& m) {
  const char* ref = "conversation.transfer";
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "transfers are for staff", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  if (!may_act(s.who, *c)) return send_error(conn_id, error_code::forbidden, "not your conversation", ref);
  const auto previous = c->rec.agent_id;
  if (m.to_queue) {
    auto& qs = cfg_.routing.queues;
    if (std::find(qs.begin(), qs.end(), *m.to_queue) == qs.end())
      return send_error(conn_id, error_code::not_found, "no such queue: " + *m.to_queue, ref);
    requeue(c->rec.id, *m.to_queue, previous);
    update_queue_gauges();
    try_assign();
    send_queue_positions();
    mark_snapshot_dirty();
    return;
  }
  const auto& target = *m.to_agent_id;
  auto u = users_.find(target);
  if (u == users_.end() || u->second.r != role::agent)
    return send_error(conn_id, error_code::not_found, "no such agent: " + target, ref);
  if (previous == target) return send_error(conn_id, error_code::bad_request, "already assigned to " + target, ref);
  const auto* a = router_.agent(target);
  if (!a || a->status != agent_status::online || !by_user_.count(target))
    return send_error(conn_id, error_code::bad_request, "agent " + target + " is not online", ref);
  // Supervisors may override a full agent; agents may not.
  if (s.who.role == role::agent && a->load >= a->capacity)
    return send_error(conn_id, error_code::bad_request, "agent " + target + " is at capacity", ref);
  router_.assign(c->rec.id, target, clock_());
  apply_assignment(c->rec.id, target, previous);
  update_queue_gauges();
  try_assign();  // the previous agent has a free slot now
  mark_snapshot_dirty();
}

void hub::on_join(session_entry& s, std::uint64_t conn_id, const protocol::conversation_join& m) {
  const char* ref = "conversation.join";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors join", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  c->joined[s.who.id] = m.mode;
  json j{{"type", "conversation.joined"}, {"conversation_id", c->rec.id}, {"mode", protocol::to_string(m.mode)},
         {"supervisor", protocol::to_json(s.who)}};
  auto f = make_frame(j.dump());
  send_to_user(s.who.id, f);
  if (c->rec.agent_id && *c->rec.agent_id != s.who.id) send_to_user(*c->rec.agent_id, f);
  send_history(s.who.id, 0, c->rec.id, 0, true, c->rec.last_seq);
}

void hub::on_takeover(session_entry& s, std::uint64_t conn_id, const protocol::conversation_takeover& m) {
  const char* ref = "conversation.takeover";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors take over", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  if (c->rec.agent_id == s.who.id) return send_error(conn_id, error_code::bad_request, "already yours", ref);
  const auto previous = c->rec.agent_id;
  // A supervisor holds chats like an agent but is never routed new ones.
  if (!router_.agent(s.who.id)) router_.upsert_agent(s.who.id, s.who.name, agent_status::away);
  router_.assign(c->rec.id, s.who.id, clock_());
  c->joined[s.who.id] = protocol::join_mode::barge;
  apply_assignment(c->rec.id, s.who.id, previous);
  update_queue_gauges();
  try_assign();
  mark_snapshot_dirty();
}

// ---------------------------------------------------------------------------
// supervisors' view

void hub::update_queue_gauges() {
  metrics_.queue_length = static_cast<std::int64_t>(router_.queued_count());
  metrics_.queue_oldest_enqueued_ms = router_.oldest_enqueued_ts().value_or(0);
}

void hub::mark_snapshot_dirty() {
  if (snapshot_pending_ || (supervisor_conns_.empty() && agent_conns_.empty())) return;
  snapshot_pending_ = true;
  // Coalesce: at most one snapshot per snapshot_min_gap, however many changes
  // (a burst of new conversations would otherwise send one per change).
  constexpr std::chrono::milliseconds snapshot_min_gap{250};
  auto due = last_snapshot_ + snapshot_min_gap;
  auto now = std::chrono::steady_clock::now();
  if (due <= now) {
    on_strand([self = shared_from_this()] {
      self->snapshot_pending_ = false;
      self->send_snapshot();
    });
    return;
  }
  snapshot_delay_.expires_after(due - now);
  snapshot_delay_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->snapshot_pending_ = false;
    if (!ec && !self->stopped_) self->send_snapshot();
  });
}

void hub::send_snapshot() {
  if (supervisor_conns_.empty() && agent_conns_.empty()) return;
  last_snapshot_ = std::chrono::steady_clock::now();
  const auto now = clock_();
  json agents = json::array();
  for (const auto& a : router_.agents()) {
    auto u = users_.find(a.id);
    if (u != users_.end() && u->second.r != role::agent) continue;
    agents.push_back(json{{"id", a.id}, {"name", a.name}, {"status", to_string(a.status)},
                          {"load", a.load}, {"capacity", a.capacity}, {"connected", by_user_.count(a.id) > 0}});
  }
  // Agents see their colleagues (to transfer to) but not the queue: waiting
  // conversations are not theirs to see.
  if (!agent_conns_.empty()) {
    auto f = make_frame(json{{"type", "queue.snapshot"}, {"ts", now}, {"queues", json::array()}, {"agents", agents}}.dump());
    for (auto id : agent_conns_) send_to(id, f);
  }
  if (supervisor_conns_.empty()) return;
  std::map<std::string, json> queues;
  for (const auto& q : cfg_.routing.queues) queues[q] = json::array();
  for (const auto& e : router_.queue_order()) {
    const auto* c = open_conversation(e.conversation_id);
    queues[e.queue].push_back(json{{"conversation_id", e.conversation_id},
                                   {"wait_s", (now - e.enqueued_ts) / 1000},
                                   {"level", c ? level_of(*c) : 0.0},
                                   {"shopper", c ? c->rec.shopper.name : ""}});
  }
  json qs = json::array();
  for (auto& [name, waiting] : queues) qs.push_back(json{{"name", name}, {"waiting", std::move(waiting)}});
  send_to_supervisors(make_frame(json{{"type", "queue.snapshot"}, {"ts", now}, {"queues", std::move(qs)},
                                      {"agents", std::move(agents)}}.dump()));
}

void hub::schedule_snapshot_timer() {
  if (stopped_) return;
  snapshot_timer_.expires_after(std::chrono::seconds(cfg_.routing.queue_snapshot_interval_s));
  snapshot_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    if (self->router_.queued_count() > 0) self->send_snapshot();
    self->retry_unsaved();
    self->schedule_snapshot_timer();
  });
}

// ---------------------------------------------------------------------------
// HTTP

void hub::conversation_detail(participant who, std::string id, std::function<void(http_answer)> done) {
  on_strand([self = shared_from_this(), who, id, done = std::move(done)]() mutable {
    self->store_.get_conversation(id, [self, who, id, done = std::move(done)](auto r) mutable {
      self->on_strand([self, who, id, done = std::move(done), r = std::move(r)]() mutable {
        auto err = [&](unsigned st, error_code c, std::string msg) {
          done({st, json{{"error", json{{"code", protocol::to_string(c)}, {"message", std::move(msg)}}}}});
        };
        if (!r.ok()) return err(503, error_code::unavailable, "store unavailable");
        if (!r.value) return err(404, error_code::not_found, "no such conversation");
        conversation_record rec = *r.value;
        json timeline = json::array();
        if (auto* c = self->open_conversation(id)) {
          rec = c->rec;
          for (const auto& p : c->timeline) {
            auto pj = self->point_json(*c, p);
            timeline.push_back(json{{"ts", p.ts}, {"level", pj["level"]}, {"phase", pj["phase"]}, {"cues", p.cues}});
          }
        }
        if (!self->may_see(who, rec)) return err(403, error_code::forbidden, "not your conversation");
        const bool open = self->open_conversation(id) != nullptr;
        self->store_.read_messages(id, 0, 1'000'000, [self, rec, open, timeline, done = std::move(done)](auto m) mutable {
          self->on_strand([self, rec, open, timeline, done = std::move(done), m = std::move(m)]() mutable {
            if (!m.ok())
              return done({503, json{{"error", json{{"code", "unavailable"}, {"message", "store unavailable"}}}}});
            if (!open) timeline = self->replayed_timeline(rec, m.value);
            json msgs = json::array();
            for (const auto& x : m.value) msgs.push_back(protocol::to_json(x));
            json conv = protocol::summary_json(rec, true);
            conv["closed_by"] = rec.closed_by;
            conv["close_reason"] = rec.close_reason;
            done({200, json{{"conversation", std::move(conv)}, {"messages", std::move(msgs)},
                            {"anger", std::move(timeline)}}});
          });
        });
      });
    });
  });
}

// ---------------------------------------------------------------------------
// anger curve and escalations


void hub::start_monitor(conv_entry& c) const {
  const auto& lex = *engine_->lexicons;
  auto lang = c.rec.shopper.language.empty() ? anger::no_lang : lex.find(c.rec.shopper.language);
  c.mon = std::make_unique<escalation::monitor>(*engine_->scorer, engine_->anger.curve, engine_->escalation,
                                                c.rec.created_ts, lang);
}

double hub::level_of(const conv_entry& c) const {
  return c.timeline.empty() ? 0.0 : round1(c.timeline.back().level);
}

json hub::point_json(const conv_entry& c, const anger::point& p) const {
  json j{{"type", "anger.update"},  {"conversation_id", c.rec.id}, {"ts", p.ts},
         {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"trend", round1(p.trend)},
         {"cues", p.cues}};
  if (p.eta_ms) j["eta_s"] = *p.eta_ms / 1000;
  // The coaching hint for the agent, in the conversation's language.
  const auto stage = c.mon->coaching();
  const auto& lex = *engine_->lexicons;
  auto lang = lex.find(c.rec.shopper.language);
  if (lang == anger::no_lang) lang = c.mon->last_score().lang;
  j["coaching_stage"] = stage;
  j["coaching"] = lex.coaching(lang, stage);
  return j;
}

json hub::curve_json(const conv_entry& c) const {
  json a = json::array();
  for (const auto& p : c.timeline)
    a.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"cues", p.cues}});
  return a;
}

json hub::escalation_json(const conv_entry& c) const {
  const auto& e = *c.esc;
  const auto now = clock_();
  json curve = json::array();
  for (const auto& p : c.timeline) curve.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}});
  json waiting{{"conversation_s", (now - c.rec.created_ts) / 1000}};
  if (c.rec.state == conversation_state::queued) waiting["queued_s"] = (now - c.rec.created_ts) / 1000;
  if (c.unanswered_since) waiting["unanswered_s"] = (now - *c.unanswered_since) / 1000;
  json j{{"type", "escalation.raised"},
         {"escalation_id", e.id},
         {"conversation_id", c.rec.id},
         {"reasons", e.reasons},
         {"severity", escalation::severity_name(e.sev)},
         {"level", level_of(c)},
         {"curve", std::move(curve)},
         {"transcript_tail", json::array()},
         {"raised_ts", e.raised_ts},
         {"waiting", std::move(waiting)},
         {"handled_by", c.handled_by},
         {"shopper", json{{"id", c.rec.shopper.id}, {"name", c.rec.shopper.name}, {"language", c.rec.shopper.language}}},
         {"agent", c.rec.agent_id ? json{{"id", *c.rec.agent_id}, {"name", c.rec.agent_name}} : json(nullptr)},
         {"acked", !e.acked_by.empty()},
         {"renotified", e.renotified}};
  if (!e.acked_by.empty()) j["acked_by"] = e.acked_by;
  return j;
}

void hub::send_escalation(conv_entry& c, bool update) {
  if (!c.esc) return;
  json j = escalation_json(c);
  if (update) j["update"] = true;
  // The supervisor needs the last messages: read them, then send.
  const std::int64_t tail = 10;
  store_.read_messages(c.rec.id, std::max<std::int64_t>(0, c.rec.last_seq - tail), tail,
                       [self = shared_from_this(), id = c.rec.id, j = std::move(j)](auto r) mutable {
    self->on_strand([self, id, j = std::move(j), r = std::move(r)]() mutable {
      if (r.ok())
        for (const auto& m : r.value) j["transcript_tail"].push_back(protocol::to_json(m));
      auto f = make_frame(j.dump());
      self->send_to_supervisors(f);
      if (auto* c = self->open_conversation(id); c && c->rec.agent_id) {
        // Unless the holder is a supervisor, who got it above.
        auto u = self->users_.find(*c->rec.agent_id);
        if (u == self->users_.end() || u->second.r != role::supervisor) self->send_to_user(*c->rec.agent_id, f);
      }
    });
  });
}

namespace {
// Feeds a conversation's stored history to a monitor in time order: queued at
// creation, assigned at the first staff answer (or at the last update if it
// is assigned), every message, then time up to `until`. `sink` gets every
// output. Whispers do not move the curve.
template <class Sink>
void feed_history(escalation::monitor& mon, const conversation_record& rec,
                  const std::vector<chat_message>& messages, timestamp_ms until, Sink&& sink) {
  sink(mon.on_queued(rec.created_ts));
  bool assigned = rec.state == conversation_state::queued;
  auto assign_at = [&](timestamp_ms ts) {
    if (assigned) return;
    assigned = true;
    sink(mon.on_assigned(ts));
  };
  // The stored acknowledgement of the open escalation, applied at its time.
  bool acked = rec.escalation_acked_ts == 0;
  auto ack_before = [&](timestamp_ms ts) {
    if (acked || rec.escalation_acked_ts > ts) return;
    acked = true;
    sink(mon.catch_up(rec.escalation_acked_ts));
    mon.on_acknowledged(rec.escalation_acked_ts);
  };
  for (const auto& m : messages) {
    ack_before(m.ts);
    if (m.from.role == role::shopper) {
      sink(mon.catch_up(m.ts));
      sink(mon.on_customer_message(m.ts, m.text));
    } else if (m.visibility == visibility::all) {
      assign_at(m.ts);
      sink(mon.catch_up(m.ts));
      sink(mon.on_staff_message(m.ts, m.text));
    }
  }
  assign_at(std::max(rec.updated_ts, rec.created_ts));
  ack_before(until);
  sink(mon.catch_up(until));
}
}  // namespace

void hub::replay(conv_entry& c, const std::vector<chat_message>& messages) {
  for (const auto& m : messages) {
    if (m.from.role == role::shopper) {
      if (!c.unanswered_since) c.unanswered_since = m.ts;
    } else if (m.visibility == visibility::all) {
      c.unanswered_since.reset();
    }
  }
  feed_history(*c.mon, c.rec, messages, clock_(), [&](escalation::output o) { apply(c, std::move(o)); });
  if (c.esc && c.rec.escalation_acked_ts != 0) {
    c.esc->acked_by = c.rec.escalation_acked_by;
    c.esc->acked_ts = c.rec.escalation_acked_ts;
  }
}

json hub::replayed_timeline(const conversation_record& rec, const std::vector<chat_message>& messages) const {
  // A closed conversation's curve, rebuilt from its messages (nothing is sent).
  conv_entry tmp;
  tmp.rec = rec;
  start_monitor(tmp);
  const timestamp_ms until = messages.empty() ? rec.updated_ts : std::max(rec.updated_ts, messages.back().ts);
  json out = json::array();
  feed_history(*tmp.mon, rec, messages, until, [&](const escalation::output& o) {
    for (const auto& p : o.points)
      out.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"cues", p.cues}});
  });
  return out;
}

void hub::raise_escalation(conv_entry& c, const escalation::decision& d) {
  if (!c.esc) {
    escalation_state e;
    e.id = new_id("e_");
    e.sev = d.sev;
    e.reasons = d.reasons;
    e.raised_ts = d.ts;
    c.esc = std::move(e);
    escalations_[c.esc->id] = c.rec.id;
    spdlog::info("escalation {} raised on conversation {}: {} ({})", c.esc->id, c.rec.id,
                 escalation::severity_name(c.esc->sev), fmt::join(c.esc->reasons, "; "));
    return send_escalation(c, false);
  }
  // One open escalation per conversation: a new reason joins it.
  for (const auto& r : d.reasons)
    if (std::find(c.esc->reasons.begin(), c.esc->reasons.end(), r) == c.esc->reasons.end()) c.esc->reasons.push_back(r);
  if (d.sev > c.esc->sev) c.esc->sev = d.sev;
  spdlog::info("escalation {} on conversation {} now {}: {}", c.esc->id, c.rec.id,
               escalation::severity_name(c.esc->sev), fmt::join(d.reasons, "; "));
  send_escalation(c, true);
}

void hub::end_escalation(conv_entry& c, const participant& by, const std::string& note, bool closed) {
  if (!c.esc) return;
  json j{{"type", "escalation.resolved"}, {"escalation_id", c.esc->id}, {"conversation_id", c.rec.id},
         {"by", by.id}, {"by_name", by.name}, {"note", note}, {"conversation_closed", closed}};
  auto f = make_frame(j.dump());
  send_to_supervisors(f);
  if (c.rec.agent_id) send_to_user(*c.rec.agent_id, f);
  escalations_.erase(c.esc->id);
  c.esc.reset();
  c.mon->on_resolved(clock_());
  if (c.rec.escalation_acked_ts != 0) {
    c.rec.escalation_acked_ts = 0;
    c.rec.escalation_acked_by.clear();
    if (c.rec.state != conversation_state::closed) persist(c.rec);
  }
}

void hub::apply(conv_entry& c, escalation::output out) {
  for (auto& p : out.points) {
    // Staff only: the agent and every supervisor; never the shopper.
    send_to_conversation(c, make_frame(point_json(c, p).dump()), /*staff_only=*/true, 0, /*and_all_supervisors=*/true);
    c.timeline.push_back(std::move(p));
    constexpr std::size_t max_points = 2000;  // a long chat's whole curve; older points fall off
    while (c.timeline.size() > max_points) c.timeline.pop_front();
    if (router_.is_queued(c.rec.id)) {
      // The angrier the customer, the sooner an agent takes it.
      router_.set_priority(c.rec.id, level_of(c));
      mark_snapshot_dirty();
    }
  }
  for (const auto& d : out.decisions) {
    switch (d.kind) {
      case escalation::decision_kind::escalate: raise_escalation(c, d); break;
      case escalation::decision_kind::renotify:
        if (c.esc) {
          c.esc->sev = d.sev;
          ++c.esc->renotified;
          spdlog::warn("escalation {} on conversation {} not acknowledged: re-notified as {}", c.esc->id, c.rec.id,
                       escalation::severity_name(c.esc->sev));
          send_escalation(c, true);
        }
        break;
      case escalation::decision_kind::warn_agent:
      case escalation::decision_kind::nudge_agent:
        if (c.rec.agent_id) {
          json j{{"type", "agent.alert"}, {"conversation_id", c.rec.id},
                 {"kind", d.kind == escalation::decision_kind::warn_agent ? "warning" : "nudge"},
                 {"reasons", d.reasons}, {"ts", d.ts}};
          send_to_user(*c.rec.agent_id, make_frame(j.dump()));
        }
        break;
    }
  }
  schedule_deadline(c);
}

void hub::schedule_deadline(conv_entry& c) {
  auto dl = c.mon->next_deadline();
  if (!dl || stopped_) {
    if (c.deadline) c.deadline->cancel();
    return;
  }
  if (!c.deadline) c.deadline = std::make_shared<asio::steady_timer>(strand_);
  c.deadline->expires_after(std::chrono::milliseconds(std::max<timestamp_ms>(0, *dl - clock_())));
  c.deadline->async_wait([self = shared_from_this(), id = c.rec.id](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    auto* c = self->open_conversation(id);
    if (!c) return;
    self->apply(*c, c->mon->catch_up(self->clock_()));
  });
}

void hub::on_escalation_ack(session_entry& s, std::uint64_t conn_id, const protocol::escalation_ack& m) {
  const char* ref = "escalation.ack";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors handle escalations", ref);
  auto it = escalations_.find(m.escalation_id);
  auto* c = it == escalations_.end() ? nullptr : open_conversation(it->second);
  if (!c || !c->esc) return send_error(conn_id, error_code::not_found, "no such open escalation: " + m.escalation_id, ref);
  if (c->esc->acked_by.empty()) {
    spdlog::info("escalation {} acknowledged by {}", c->esc->id, s.who.id);
    c->esc->acked_by = s.who.id;
    c->esc->acked_ts = clock_();
    c->rec.escalation_acked_ts = c->esc->acked_ts;
    c->rec.escalation_acked_by = c->esc->acked_by;
    persist(c->rec);
    c->mon->on_acknowledged(c->esc->acked_ts);
    schedule_deadline(*c);
  }
  json j{{"type", "escalation.acked"}, {"escalation_id", c->esc->id}, {"conversation_id", c->rec.id},
         {"by", c->esc->acked_by}, {"by_name", users_.count(c->esc->acked_by) ? users_.at(c->esc->acked_by).name : ""},
         {"ts", c->esc->acked_ts}};
  auto f = make_frame(j.dump());
  send_to_supervisors(f);
  if (c->rec.agent_id) send_to_user(*c->rec.agent_id, f);
}

void hub::on_escalation_resolve(session_entry& s, std::uint64_t conn_id, const protocol::escalation_resolve& m) {
  const char* ref = "escalation.resolve";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors handle escalations", ref);
  auto it = escalations_.find(m.escalation_id);
  auto* c = it == escalations_.end() ? nullptr : open_conversation(it->second);
  if (!c || !c->esc) return send_error(conn_id, error_code::not_found, "no such open escalation: " + m.escalation_id, ref);
  spdlog::info("escalation {} resolved by {}", c->esc->id, s.who.id);
  end_escalation(*c, s.who, m.note, false);
  schedule_deadline(*c);
}

}  // namespace calma
