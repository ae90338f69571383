// The hub's registry and fan-out: start and stop, who is connected (hello,
// welcome, detach), sending frames to people, dispatch and authorization.
#include "server/hub/hub_internal.hpp"

namespace calma {

hub::hub(asio::io_context& ioc, const config& cfg, store& st, metrics& m,
         const auth::token_signer& signer, const auth::user_directory& users, clock_fn clock,
         std::shared_ptr<const anger_engine> engine, const auth::revocations* revoked)
    : ioc_(ioc),
      strand_(asio::make_strand(ioc)),
      cfg_(cfg),
      store_(st),
      metrics_(m),
      signer_(signer),
      users_dir_(users),
      revoked_(revoked),
      users_snap_(users.snapshot()),
      users_version_(users.version()),
      clock_(std::move(clock)),
      engine_(std::move(engine)),
      prereader_(engine_),
      status_on_connect_(agent_status_from_string(cfg.routing.status_on_connect).value_or(agent_status::online)),
      router_(cfg.routing.router),
      conversations_from_(std::make_shared<address_limits>(
          limits::rate::per_minute(cfg.doors.conversations_per_min, cfg.doors.conversations_burst))),
      snapshot_timer_(strand_),
      deadline_timer_(strand_),
      snapshot_delay_(strand_) {}

void hub::set_scope(int index, std::vector<std::string> stores, bool fallback) {
  shard_ = index;
  metrics_.count_shard(index);
  scope_.emplace(std::make_move_iterator(stores.begin()), std::make_move_iterator(stores.end()));
  scope_fallback_ = fallback;
}

bool hub::owns(std::string_view store) const {
  if (!scope_ || scope_->count(store)) return true;
  return scope_fallback_ && !cfg_.find_store(store);
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
    // A shard's own stores (shard 0 also takes those no longer configured: it reads them all).
    if (self->scope_ && !self->scope_fallback_ && !self->scope_->empty()) f.stores.assign(self->scope_->begin(), self->scope_->end());
    self->store_.list_conversations(f, [self, done = std::move(done)](auto r) mutable {
      self->on_strand([self, r = std::move(r), done = std::move(done)]() mutable {
        if (!r.ok()) return done("store: " + r.error);
        // Restore what was open: queued ones wait again (oldest first), assigned ones
        // keep their agent, who counts as gone until it reconnects.
        std::erase_if(r.value, [&](const conversation_record& rec) { return !self->owns(rec.shopper.store); });
        for (auto& rec : r.value) {
          auto& c = self->open_[rec.id];
          c.rec.assign(rec);
          self->start_monitor(c);
          self->shopper_open_[rec.shopper.id] = rec.id;
          if (rec.state == conversation_state::assigned && rec.agent_id) {
            self->router_.upsert_agent(*rec.agent_id, rec.agent_name, agent_status::offline);
            self->router_.assign(rec.id, *rec.agent_id, rec.updated_ts);
          } else {
            self->router_.enqueue(rec.id, rec.queue, rec.created_ts, 0, {}, rec.shopper.store,
                                  routing::is_vip(rec.shopper.context, self->cfg_.routing.router));
            c.shopper_gone_since = self->clock_();  // until the shopper says hello again
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
        // One conversation loaded (or the load failed: start() is done, once).
        auto one_done = [pending, finished](const std::string& err) {
          if (*pending == 0) return;
          if (!err.empty()) *pending = 0;
          if (!err.empty() || --*pending == 0) (*finished)(err);
        };
        for (auto& rec : r.value) {
          self->store_.read_messages(rec.id, 0, 1'000'000, [self, id = rec.id, one_done](auto m) {
            self->on_strand([self, id, one_done, m = std::move(m)] {
              if (!m.ok()) return one_done("store: " + m.error);
              auto* c = self->open_conversation(id);
              if (c) self->replay(*c, m.value);
              if (!c || !c->esc) return one_done({});
              // An escalation open after the replay: raised by an earlier hub
              // (its id and its news stand) or new; the trail says which.
              self->store_.read_audit(id, [self, id, one_done](auto a) {
                self->on_strand([self, id, one_done, a = std::move(a)] {
                  if (!a.ok()) return one_done("store: " + a.error);
                  if (auto* c = self->open_conversation(id)) self->settle_replayed_escalation(*c, a.value);
                  one_done({});
                });
              });
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
    self->stop_code_ = code;
    self->stop_reason_ = reason;
    self->snapshot_timer_.cancel();
    self->snapshot_delay_.cancel();
    for (auto& [id, t] : self->grace_timers_) t->cancel();
    for (auto& [id, c] : self->open_)
      self->cancel_deadline(c);
    self->deadline_timer_.cancel();
    self->metrics_.set_shard_queue(self->shard_, 0, 0);
    for (auto& [id, s] : self->sessions_)
      if (auto c = s.conn.lock()) c->close(code, reason);
  });
}

struct hub::vacate_wait {
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point until;
  std::function<void()> done;
};

void hub::when_vacated(std::chrono::milliseconds within, std::function<void()> done) {
  auto w = std::shared_ptr<vacate_wait>(
      new vacate_wait{asio::steady_timer(strand_), std::chrono::steady_clock::now() + within, std::move(done)});
  asio::post(strand_, [self = shared_from_this(), w] { self->poll_vacated(w); });
}

void hub::poll_vacated(const std::shared_ptr<vacate_wait>& w) {
  if (!sessions_.empty() && std::chrono::steady_clock::now() >= w->until)
    spdlog::warn("hub shard {}: {} session(s) still attached after the wait; going on without them", shard_, sessions_.size());
  if (sessions_.empty() || std::chrono::steady_clock::now() >= w->until) return w->done();
  w->timer.expires_after(std::chrono::milliseconds(20));
  w->timer.async_wait([self = shared_from_this(), w](boost::system::error_code) { self->poll_vacated(w); });
}

void hub::step_down() {
  // Not through on_strand: this must run even once the node's lease is in
  // doubt (the decide gate closed), which is when it is called.
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;  // timers already due see it and do nothing
    self->deposed_ = true;  // nothing posted from now on runs
    self->snapshot_timer_.cancel();
    self->snapshot_delay_.cancel();
    for (auto& [id, t] : self->grace_timers_) t->cancel();
    for (auto& [id, c] : self->open_)
      self->cancel_deadline(c);
    self->metrics_.set_shard_queue(self->shard_, 0, 0);  // its queue is no longer this process's
    // Forgotten, not closed: no frame of this hub reaches them any more.
    for (const auto& [id, s] : self->sessions_)
      if (s.counted) --self->metrics_.connections(to_string(s.who.role));
    self->sessions_.clear();
    self->by_user_.clear();
    self->supervisor_conns_.clear();
    self->agent_conns_.clear();
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

void hub::send_to_supervisors(const std::string& store, const frame_ptr& f, std::uint64_t except) {
  for (auto id : supervisor_conns_) {
    if (id == except) continue;
    auto it = sessions_.find(id);
    if (it != sessions_.end() && it->second.serves(store)) send_to(id, f);
  }
}

void hub::send_to_store_staff(const std::string& store, const frame_ptr& f) {
  for (const auto* set : {&supervisor_conns_, &agent_conns_})
    for (auto id : *set) {
      auto it = sessions_.find(id);
      if (it != sessions_.end() && it->second.serves(store)) send_to(id, f);
    }
}

std::vector<std::string> hub::stores_of(const std::string& user_id) const {
  auto u = users().find(user_id);
  return u == users().end() ? std::vector<std::string>{} : u->second.stores;
}

bool hub::staff_serves(const std::string& user_id, const std::string& store) const {
  auto u = users().find(user_id);
  return u != users().end() && u->second.serves(store);
}

json hub::actor(const participant& p) { return json{{"role", to_string(p.role)}, {"id", p.id}, {"name", p.name}}; }

json hub::system_actor() { return json{{"role", "system"}, {"id", "calma"}, {"name", "Calma"}}; }

// Audit entries are appended behind the action (the action itself is already
// stored or refused): a failed append is logged and counted, never retried
// out of order.
void hub::record(const std::string& conversation_id, json by, std::string action, json extra) {
  json e{{"ts", clock_()}, {"action", std::move(action)}, {"by", std::move(by)}};
  for (auto& [k, v] : extra.items()) e[k] = v;
  store_.append_audit(conversation_id, e.dump(), [self = shared_from_this(), conversation_id](auto r) {
    if (r.ok()) return;
    ++self->metrics_.store_errors;
    spdlog::warn("store error, audit entry of {} not saved: {}", conversation_id, r.error);
  });
}

void hub::refresh_users() {
  const auto v = users_dir_.version();
  if (v == users_version_) return;
  users_version_ = v;
  users_snap_ = users_dir_.snapshot();
  // Staff removed or disabled lose their sessions; the others get their
  // (maybe changed) stores and seniority.
  std::vector<std::uint64_t> gone, moved;
  for (auto& [id, s] : sessions_) {
    if (!is_staff(s.who.role)) continue;
    auto u = users().find(s.who.id);
    if (u == users().end() || u->second.disabled || u->second.r != s.who.role) {
      gone.push_back(id);
      continue;
    }
    // With several hub shards the stores say which hubs serve the session
    // (shard_set): changed, it says hello again and is routed anew.
    if (scope_ && s.stores != u->second.stores) moved.push_back(id);
    s.stores = u->second.stores;
    s.who.name = u->second.name;
  }
  for (auto id : moved) {
    spdlog::info("closing session {} of {}: its stores changed in the users file (it reconnects)", id,
                 sessions_[id].who.id);
    if (auto c = sessions_[id].conn.lock()) c->close(static_cast<std::uint16_t>(protocol::close_code::restart), "your stores changed: reconnect");
  }
  for (const auto& a : router_.agents())
    if (auto u = users().find(a.id); u != users().end()) router_.set_profile(a.id, u->second.stores, u->second.senior);
  for (auto id : gone) {
    spdlog::info("closing session {} of {}: removed or disabled in the users file", id, sessions_[id].who.id);
    if (auto c = sessions_[id].conn.lock())
      c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "account disabled");
  }
}

void hub::send_to_conversation(const conv_entry& c, const frame_ptr& f, bool staff_only,
                               std::uint64_t except, bool and_all_supervisors) {
  if (!staff_only) send_to_user(c.rec.shopper.id, f, except);
  if (c.rec.agent_id) send_to_user(*c.rec.agent_id, f, except);
  if (and_all_supervisors) {
    for (auto id : supervisor_conns_) {
      if (id == except) continue;
      auto it = sessions_.find(id);
      if (it == sessions_.end() || !it->second.serves(c.rec.shopper.store)) continue;
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
  on_strand_from_session([self = shared_from_this(), c = std::move(c), h = std::move(h)]() mutable {
    self->do_hello(std::move(c), std::move(h));
  });
}

void hub::do_hello(std::shared_ptr<connection> c, protocol::hello h) {
  if (stopped_.set()) return c->close(stop_code_, stop_reason_);  // as its sessions were (1001; 1012 for a re-plan)
  const auto now = clock_();
  // Once per client: a fan-in's other legs (fan_in.hpp) are the same one.
  auto count_refusal = [&] {
    if (c->counted()) ++metrics_.auth_failures;
  };
  participant who;
  std::string shopper_token;
  std::string language, store;
  timestamp_ms token_exp = 0;
  if (h.token) {
    auto cl = signer_.verify(*h.token, now);
    if (cl && revoked_ && revoked_->revoked(auth::token_id(*h.token))) cl.reset();
    if (!cl) {
      count_refusal();
      spdlog::info("hello refused: bad or expired token");
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "bad or expired token");
    }
    who.role = cl->r;
    who.id = cl->sub;
    token_exp = cl->exp;
    if (is_staff(cl->r)) {
      auto u = users().find(cl->sub);
      if (u == users().end() || u->second.r != cl->r || u->second.disabled) {
        count_refusal();
        return c->close(static_cast<std::uint16_t>(protocol::close_code::auth),
                        u != users().end() && u->second.disabled ? "account disabled" : "unknown user");
      }
      who.name = u->second.name;
    } else {
      who.name = cl->name;
      shopper_token = *h.token;
      language = cl->lang;
      store = cl->store;
      if (!cfg_.find_store(store)) {
        count_refusal();
        return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "unknown store");
      }
    }
  } else {
    if (h.role && *h.role != role::shopper) {
      count_refusal();
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "staff must send a token");
    }
    auth::claims cl;
    cl.r = role::shopper;
    cl.sub = new_id("s_");
    cl.name = h.name.empty() ? std::string() : h.name;
    // No store named: the first configured one (the demo store by default).
    cl.store = h.store.empty() ? cfg_.stores.front().id : h.store;
    if (!cfg_.find_store(cl.store)) {
      count_refusal();
      spdlog::info("hello refused: unknown store");
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "unknown store");
    }
    // A store's widget only on that store's pages (the upgrade let any store's origin in).
    if (!origin_allowed(cfg_, cfg_.find_store(cl.store), c->origin(), c->host())) {
      count_refusal();
      spdlog::info("hello refused: origin not allowed for store {}", limits::log_safe(cl.store, 64));
      return c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "origin not allowed for this store");
    }
    cl.lang = h.language;
    cl.exp = now + static_cast<timestamp_ms>(cfg_.auth.shopper_token_ttl_s) * 1000;
    token_exp = cl.exp;
    shopper_token = signer_.sign(cl);
    who = participant{role::shopper, cl.sub, cl.name};
    language = cl.lang;
    store = cl.store;
  }

  // Another shard's store (a node whose plan differs routed it here): its
  // decisions are not this hub's to make. Asked to reconnect, not served.
  if (who.role == role::shopper && !owns(store)) {
    spdlog::warn("hello refused: store {} is not decided by this hub's shard", limits::log_safe(store, 64));
    return c->close(static_cast<std::uint16_t>(protocol::close_code::restart), "this store is decided elsewhere; reconnect");
  }
  const auto id = c->id();
  if (c->counted()) {
    --metrics_.connections_unauthenticated;
    ++metrics_.connections(to_string(who.role));
  }
  session_entry entry{c, who, language, store, {}, h.context, auth::token_id(h.token ? *h.token : shopper_token),
                      token_exp, std::string(c->address())};
  entry.counted = c->counted();
  if (is_staff(who.role)) entry.stores = stores_of(who.id);
  prereader_.know(id, who.role == role::shopper, entry.language);
  sessions_[id] = std::move(entry);
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
    if (auto u = users().find(who.id); u != users().end()) router_.set_profile(who.id, u->second.stores, u->second.senior);
    remember_presence(who.id);
  }
  if (who.role == role::shopper) shopper_back(who.id);
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
    if (const auto* st = cfg_.find_store(s.store))
      w["store"] = json{{"id", st->id}, {"name", st->name}, {"languages", st->languages},
                        {"open", offline_reason(st->id).empty()}};
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
          if (it == self->open_.end()) {
            list.push_back(protocol::summary_json(rec, false));
            continue;
          }
          // A shopper is never told of a seq it may not see (a whisper).
          auto j = protocol::summary_json(whole(it->second), false);
          j["last_seq"] = it->second.last_visible_seq;
          list.push_back(std::move(j));
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
    if (!s.serves(c.rec.shopper.store) && c.rec.agent_id != who.id) continue;
    auto j = protocol::summary_json(whole(c), true);
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
    if (!s.serves(c->rec.shopper.store)) continue;
    escs.push_back(escalation_json(*c));
  }
  w["escalations"] = std::move(escs);
  json stores = json::array();
  for (const auto& st : cfg_.stores)
    if (owns(st.id) && s.serves(st.id)) stores.push_back(json{{"id", st.id}, {"name", st.name}, {"languages", st.languages}});
  w["stores"] = std::move(stores);
  if (auto u = users().find(who.id); u != users().end()) w["senior"] = u->second.senior;
  if (const auto* a = router_.agent(who.id))
    w["presence"] = json{{"status", to_string(a->status)}, {"capacity", a->capacity}};
  send_to(conn_id, make_frame(w.dump()));
  // The board for this supervisor only: the others' snapshots did not change.
  // (Agents get none: they ask agents.list for colleagues to transfer to.)
  if (who.role == role::supervisor) send_snapshot_to(conn_id);
}

void hub::close_expired_sessions(timestamp_ms now) {
  for (auto& [id, s] : sessions_)
    if (s.token_exp > 0 && s.token_exp <= now)
      if (auto c = s.conn.lock()) c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "token expired");
}

void hub::users_changed() {
  on_strand([] {});  // every step takes the new table first (strand_step)
}

void hub::signed_out(std::string token_id) {
  on_strand([self = shared_from_this(), token_id = std::move(token_id)] {
    for (auto& [id, s] : self->sessions_)
      if (s.token_id == token_id)
        if (auto c = s.conn.lock()) c->close(static_cast<std::uint16_t>(protocol::close_code::auth), "signed out");
  });
}

void hub::detach(std::uint64_t conn_id, bool counted) {
  on_strand_from_session([self = shared_from_this(), conn_id, counted] {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) {
      if (counted) --self->metrics_.connections_unauthenticated;
      return;
    }
    const participant who = it->second.who;
    if (it->second.counted) --self->metrics_.connections(to_string(who.role));
    self->prereader_.forget(conn_id);
    self->sessions_.erase(it);
    self->supervisor_conns_.erase(conn_id);
    self->agent_conns_.erase(conn_id);
    auto& set = self->by_user_[who.id];
    set.erase(conn_id);
    if (!set.empty()) return;
    self->by_user_.erase(who.id);
    if (self->stopped_) return;
    if (who.role == role::shopper) return self->shopper_left(who.id, self->clock_());
    if (who.role != role::agent) return;
    self->start_grace(who.id);
  });
}

// The agent's last connection is gone: keep its chats for a grace period
// (a reload, a flaky network), then hand them to others.
void hub::start_grace(const std::string& agent_id) {
  auto t = std::make_unique<asio::steady_timer>(strand_);
  t->expires_after(std::chrono::seconds(cfg_.routing.disconnect_grace_s));
  t->async_wait([self = shared_from_this(), id = agent_id](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    busy_scope busy(self->metrics_, self->shard_);
    self->grace_timers_.erase(id);
    if (!self->by_user_.count(id)) self->agent_gone(id);
  });
  grace_timers_[agent_id] = std::move(t);
}

// ---------------------------------------------------------------------------
// dispatch

void hub::handle(std::uint64_t conn_id, protocol::client_message m) {
  // A message's words are read here, on the caller's thread, not on the strand.
  std::shared_ptr<preread> pre;
  if (const auto* cs = std::get_if<protocol::chat_send>(&m)) pre = prereader_.read(conn_id, cs->text);
  on_strand_from_session([self = shared_from_this(), conn_id, m = std::move(m), pre = std::move(pre)]() mutable {
    auto it = self->sessions_.find(conn_id);
    if (it == self->sessions_.end()) return;  // hello refused or gone
    auto& s = it->second;
    std::visit(
        [&](auto&& msg) {
          using T = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<T, protocol::chat_send>) self->on_chat_send(s, conn_id, std::move(msg), std::move(pre));
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
          else if constexpr (std::is_same_v<T, protocol::contact>) self->on_contact(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::followup_done>) self->on_followup_done(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::csat>) self->on_csat(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::causes_set>) self->on_causes_set(s, conn_id, msg);
          else if constexpr (std::is_same_v<T, protocol::agents_list>) self->on_agents_list(s, conn_id, msg);
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

// Staff act only on conversations of their stores; an agent only on those
// assigned to it; a shopper only on its own.
bool hub::may_see(const participant& who, const conversation_record& rec) const {
  return may_see(who, rec.shopper.id, rec.agent_id, rec.shopper.store);
}

bool hub::may_see(const participant& who, const open_record& rec) const {
  return may_see(who, rec.shopper.id, rec.agent_id, rec.shopper.store);
}

bool hub::may_see(const participant& who, const std::string& shopper_id, const std::optional<std::string>& agent_id,
                  const std::string& store) const {
  switch (who.role) {
    case role::shopper: return shopper_id == who.id;
    case role::agent: return agent_id == who.id && staff_serves(who.id, store);
    case role::supervisor:
      // A supervisor holding a conversation (takeover) keeps it whatever the store list says.
      return agent_id == who.id || staff_serves(who.id, store);
  }
  return false;
}

bool hub::may_act(const participant& who, const conv_entry& c) const { return may_see(who, c.rec); }

}  // namespace calma
